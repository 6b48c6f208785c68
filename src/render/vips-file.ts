import { open, type FileHandle } from 'node:fs/promises';

/** Size of the header of a libvips native (`.v`) image file. */
const VIPS_HEADER_BYTES = 64;
/** Bytes of raw pixels rendered and written at a time: a few rows of even the widest mosaics. */
const BAND_BYTES = 8 * 1024 * 1024;

/**
 * The 64-byte header of a libvips native image file of 8-bit sRGB pixels: the magic number
 * (always most significant byte first; this one says the fields are little-endian), then width,
 * height, bands, bits per band (informational), band format (0 = uchar), coding (0 = none),
 * interpretation (22 = sRGB), x and y resolution (pixels per mm, float) and zeros. The pixels
 * follow, raw and interleaved; an XML extension block after them is optional.
 */
export function vipsHeader(width: number, height: number, bands = 3): Buffer {
  const header = Buffer.alloc(VIPS_HEADER_BYTES);
  header.writeUInt32BE(0xb6a6f208, 0);
  [width, height, bands, 8, 0, 0, 22].forEach((value, i) => header.writeUInt32LE(value, 4 + i * 4));
  header.writeFloatLE(1, 32);
  header.writeFloatLE(1, 36);
  return header;
}

/** Draws rows [top, top + rows) of an image as raw RGB into `into` (or a part of it) and returns them. */
export type BandRenderer = (top: number, rows: number, into: Buffer) => Buffer;

/** Columns [left, left + width) of an image, rendered into a libvips native file of their own. */
export interface VipsFilePart {
  file: string;
  left: number;
  width: number;
}

/**
 * Renders an image into a libvips native file band by band, with memory that does not grow with
 * it. The next band is rendered while the previous one is being written, so rendering (CPU) and
 * writing (disk) overlap. `onRows` gets the rows written so far.
 */
export async function renderVipsFile(
  file: string,
  width: number,
  height: number,
  renderBand: BandRenderer,
  onRows?: (done: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  await renderVipsFiles([{ file, left: 0, width }], width, height, renderBand, onRows, signal);
}

/**
 * renderVipsFile into several files, each holding a column range of the image (`parts`, which
 * together cover it): a reader of one range then maps rows of that range only, not of the whole
 * width (libvips maps a `.v` file in windows of whole rows).
 */
export async function renderVipsFiles(
  parts: readonly VipsFilePart[],
  width: number,
  height: number,
  renderBand: BandRenderer,
  onRows?: (done: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const bandRows = Math.max(1, Math.floor(BAND_BYTES / (width * 3)));
  // Two buffers used in turn (one rendered into while the other is written), instead of a new one
  // a band, whose garbage would pile up to ~100 MB before it is collected.
  const bands = [Buffer.allocUnsafe(bandRows * width * 3), Buffer.allocUnsafe(bandRows * width * 3)];
  const handles: FileHandle[] = [];
  let writing: Promise<unknown> = Promise.resolve();
  try {
    for (const part of parts) {
      const handle = await open(part.file, 'wx');
      handles.push(handle);
      await writeFully(handle, [vipsHeader(part.width, height)], 0);
    }
    for (let top = 0, band = 0; top < height; top += bandRows, band++) {
      signal?.throwIfAborted();
      const rows = Math.min(bandRows, height - top);
      const rendered = renderBand(top, rows, bands[band % 2]!);
      await writing;
      onRows?.(top);
      writing = Promise.all(
        parts.map((part, i) => writeFully(handles[i]!, rowsOf(rendered, width, rows, part), VIPS_HEADER_BYTES + top * part.width * 3)),
      );
    }
    await writing;
    onRows?.(height);
  } finally {
    await writing.catch(() => undefined);
    await Promise.all(handles.map((handle) => handle.close()));
  }
}

/** The pixels of columns [part.left, part.left + part.width) of `rows` rows of a `width` px wide band, as views. */
function rowsOf(band: Buffer, width: number, rows: number, part: VipsFilePart): Buffer[] {
  if (part.left === 0 && part.width === width) return [band.subarray(0, rows * width * 3)];
  return Array.from({ length: rows }, (_, row) => band.subarray((row * width + part.left) * 3, (row * width + part.left + part.width) * 3));
}

/** FileHandle.writev may write less than asked (rarely, on regular files); loops until done. */
async function writeFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let left = buffers;
  while (left.length > 0) {
    let { bytesWritten } = await handle.writev(left, position);
    position += bytesWritten;
    let done = 0;
    while (done < left.length && bytesWritten >= left[done]!.length) bytesWritten -= left[done++]!.length;
    left = left.slice(done);
    if (bytesWritten > 0) left[0] = left[0]!.subarray(bytesWritten);
  }
}
