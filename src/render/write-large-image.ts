import { rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { TsmosaicError } from '../errors.js';
import { loadSharp } from '../load-sharp.js';
import { encoderFor, type LibvipsFormat } from './encode.js';
import { writeThroughTemporary } from '../files/publish.js';
import { writeVipsFile } from './vips-file.js';
import { untilDoneOrAborted } from '../yield.js';

/** Bytes of raw pixels rendered and written at a time: a few rows of even the widest mosaics. */
const BAND_BYTES = 8 * 1024 * 1024;
/** Bytes of raw pixels encoded on their own to estimate the size of the file. */
const SAMPLE_BYTES = 1024 * 1024;
/** How often the size of the file being encoded is looked at for the progress bar. */
const POLL_MS = 250;

/** Progress of writing one image: `render` in rows, `encode` in megabytes of the estimated file. */
export type ImageProgress = (stage: 'render' | 'encode', done: number, total: number) => void;

/**
 * Writes an image of any size to one file with memory that does not grow with it: the rows are
 * rendered band by band (`renderBand(top, rows, into)` gives rows [top, top + rows), into `into`)
 * into a temporary libvips native (`.v`) file in the output's folder, which sharp/libvips then
 * encodes with sequential access, holding only a few rows at a time. Both temporaries are removed
 * in every case; the result is renamed into place.
 *
 * libvips gives no progress while encoding, so the `encode` progress is the size of the file being
 * written against an estimate from encoding one band the same way. `beforePublish` runs once the
 * file is written, before it is renamed.
 * @throws {TsmosaicError} when the disk lacks room for the temporary file, or on a write error.
 */
export async function writeLargeImage(
  file: string,
  width: number,
  height: number,
  format: LibvipsFormat,
  renderBand: (top: number, rows: number, into: Buffer) => Buffer,
  options: { onProgress?: ImageProgress; signal?: AbortSignal; beforePublish?: () => Promise<void>; density?: number } = {},
): Promise<void> {
  const { onProgress, signal, beforePublish, density } = options;
  await assertFreeSpace(file, width * height * 3);
  const bandRows = Math.max(1, Math.floor(BAND_BYTES / (width * 3)));
  // writeVipsFile holds two bands at most (one rendered while the other is written): two buffers
  // used in turn, instead of a new one a band, whose garbage would pile up to ~100 MB before it is collected.
  const bands = [Buffer.allocUnsafe(bandRows * width * 3), Buffer.allocUnsafe(bandRows * width * 3)];
  let rendered = 0;
  const render = (top: number, rows: number): Buffer => renderBand(top, rows, bands[rendered++ % 2]!);

  let totalMb = 1;
  await writeThroughTemporary(
    file,
    async (encoded, temporary) => {
      // Beside the output, under the same lock: a killed build's raw file is removed by the next.
      const raw = temporary.sibling('v');
      try {
        await writeVipsFile(raw, width, height, bandRows, render, (done) => onProgress?.('render', done, height), signal);
        signal?.throwIfAborted();

        const sampleRows = Math.min(height, Math.max(1, Math.floor(SAMPLE_BYTES / (width * 3))));
        const estimate = await untilDoneOrAborted(
          estimateSize(render(Math.floor((height - sampleRows) / 2), sampleRows), width, height, format),
          signal,
        );
        totalMb = Math.max(1, Math.round(estimate / 1e6));
        onProgress?.('encode', 0, totalMb);
        const poll = setInterval(() => {
          stat(encoded).then(
            ({ size }) => onProgress?.('encode', Math.min(Math.round(size / 1e6), totalMb - 1), totalMb),
            () => undefined,
          );
        }, POLL_MS);
        try {
          // libvips maps the .v file in windows and encodes it top to bottom: memory stays flat.
          const sharp = await loadSharp();
          const encoding = encoderFor(sharp(raw, { limitInputPixels: false, sequentialRead: true }), format, width, height, density).toFile(
            encoded,
          );
          await untilDoneOrAborted(encoding, signal);
        } finally {
          clearInterval(poll);
        }
      } finally {
        // Freed before the output is synced and published.
        await rm(raw, { force: true });
      }
      await beforePublish?.();
    },
    signal,
  );
  onProgress?.('encode', totalMb, totalMb);
}

/** The encoded size of the whole image, from encoding a band of it the same way. */
async function estimateSize(band: Buffer, width: number, height: number, format: LibvipsFormat): Promise<number> {
  const rows = band.length / (width * 3);
  const sharp = await loadSharp();
  const sample = await encoderFor(
    sharp(band, { raw: { width, height: rows, channels: 3 }, limitInputPixels: false }),
    format,
    width,
    rows,
  ).toBuffer();
  return (sample.length * height) / rows;
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
