import { rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { TsmosaicError, reasonOf } from '../errors.js';
import type { TileStore } from '../index-store/tile-store.js';
import { encoderFor, type LibvipsFormat } from './encode.js';
import { temporaryPath } from './output-files.js';
import { renderRegion, type MosaicPlan, type Region } from './render-region.js';
import { writeVipsFile } from './vips-file.js';

/** Bytes of raw pixels rendered and written at a time: a few rows of even the widest mosaics. */
const BAND_BYTES = 8 * 1024 * 1024;
/** Bytes of raw pixels encoded on their own to estimate the size of the file. */
const SAMPLE_BYTES = 1024 * 1024;
/** How often the size of the file being encoded is looked at for the progress bar. */
const POLL_MS = 250;

/** Progress of writing one image: `render` in rows, `encode` in megabytes of the estimated file. */
export type ImageProgress = (stage: 'render' | 'encode', done: number, total: number) => void;

/**
 * Writes a mosaic of any size to one image file with memory that does not grow with it: the
 * canvas is rendered band by band (renderRegion) into a temporary libvips native (`.v`) file in
 * the output's folder, which sharp/libvips then encodes with sequential access, holding only a few
 * rows at a time. Both temporaries are removed in every case; the result is renamed into place.
 *
 * libvips gives no progress while encoding, so the `encode` progress is the size of the file being
 * written against an estimate from encoding one band the same way.
 * @throws {TsmosaicError} when the disk lacks room for the temporary file, or on a write error.
 */
export async function writeLargeImage(
  plan: MosaicPlan,
  store: TileStore,
  file: string,
  format: LibvipsFormat,
  options: {
    onProgress?: ImageProgress;
    signal?: AbortSignal;
    /** Renders a region of the plan (default renderRegion; the caller's may time it). */
    render?: (region: Region, into: Buffer) => Buffer;
  } = {},
): Promise<void> {
  const { onProgress, signal } = options;
  const renderPlan = options.render ?? ((region: Region, into: Buffer): Buffer => renderRegion(plan, store, region, into));
  const width = plan.columns * store.tileSize;
  const height = plan.rows * store.tileSize;
  const rawBytes = width * height * 3;
  await assertFreeSpace(file, rawBytes);
  const bandRows = Math.max(1, Math.floor(BAND_BYTES / (width * 3)));
  // writeVipsFile holds two bands at most (one rendered while the other is written): two buffers
  // used in turn, instead of a new one a band, whose garbage would pile up to ~100 MB before it is collected.
  const bands = [Buffer.allocUnsafe(bandRows * width * 3), Buffer.allocUnsafe(bandRows * width * 3)];
  let rendered = 0;
  const render = (top: number, rows: number): Buffer => renderPlan({ left: 0, top, width, height: rows }, bands[rendered++ % 2]!);

  const raw = temporaryPath(file, 'v');
  const encoded = temporaryPath(file);
  try {
    await writeVipsFile(raw, width, height, bandRows, render, (done) => onProgress?.('render', done, height), signal);
    signal?.throwIfAborted();

    const sampleRows = Math.min(height, Math.max(1, Math.floor(SAMPLE_BYTES / (width * 3))));
    const estimate = await estimateSize(render(Math.floor((height - sampleRows) / 2), sampleRows), width, height, format);
    const totalMb = Math.max(1, Math.round(estimate / 1e6));
    onProgress?.('encode', 0, totalMb);
    const poll = setInterval(() => {
      stat(encoded).then(
        ({ size }) => onProgress?.('encode', Math.min(Math.round(size / 1e6), totalMb - 1), totalMb),
        () => undefined,
      );
    }, POLL_MS);
    try {
      // libvips maps the .v file in windows and encodes it top to bottom: memory stays flat.
      const encoding = encoderFor(sharp(raw, { limitInputPixels: false, sequentialRead: true }), format, width, height).toFile(encoded);
      await untilDoneOrAborted(encoding, signal);
    } finally {
      clearInterval(poll);
    }
    await rename(encoded, file);
    onProgress?.('encode', totalMb, totalMb);
  } catch (error) {
    await Promise.all([rm(raw, { force: true }), rm(encoded, { force: true })]);
    if (signal?.aborted && error === signal.reason) throw error;
    if (error instanceof TsmosaicError) throw error;
    throw new TsmosaicError(`cannot write ${file}: ${reasonOf(error)}`, 1, { cause: error });
  }
  await rm(raw, { force: true });
}

/** The encoded size of the whole image, from encoding a band of it the same way. */
async function estimateSize(band: Buffer, width: number, height: number, format: LibvipsFormat): Promise<number> {
  const rows = band.length / (width * 3);
  const sample = await encoderFor(sharp(band, { raw: { width, height: rows, channels: 3 }, limitInputPixels: false }), format, width, rows).toBuffer();
  return (sample.length * height) / rows;
}

/**
 * Waits for `work`, or rejects at once with the abort reason: libvips cannot be stopped mid-encode,
 * so the caller removes its temporaries and the process may exit without waiting for it.
 */
async function untilDoneOrAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    work.catch(() => undefined);
  }
}

/**
 * Refuses to start when the output's disk cannot hold the temporary raw image (the encoded file
 * comes on top, usually smaller).
 * @throws {TsmosaicError}
 */
async function assertFreeSpace(file: string, rawBytes: number): Promise<void> {
  const folder = path.dirname(file);
  let free: number;
  try {
    const info = await statfs(folder);
    free = info.bavail * info.bsize;
  } catch {
    return;
  }
  if (free < rawBytes) {
    const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(1)} GB`;
    throw new TsmosaicError(
      `not enough free space in ${folder} to write ${path.basename(file)}: it needs ${gb(rawBytes)} for a temporary raw copy of the image, ${gb(free)} are free (deep zoom, -o name.dzi, needs no temporary copy)`,
    );
  }
}
