import { open, type FileHandle } from 'node:fs/promises';

/** Size of the header of a libvips native (`.v`) image file. */
export const VIPS_HEADER_BYTES = 64;
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

/**
 * Writes a libvips native image file band by band: `renderBand(top, rows)` gives raw RGB rows
 * [top, top + rows). The next band is rendered while the previous one is being written, so
 * rendering (CPU) and writing (disk) overlap; at most two bands are held at once.
 */
export async function writeVipsFile(
  file: string,
  width: number,
  height: number,
  bandRows: number,
  renderBand: (top: number, rows: number) => Buffer,
  onRows?: (done: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const handle = await open(file, 'wx');
  let writing: Promise<unknown> = Promise.resolve();
  try {
    await handle.write(vipsHeader(width, height), 0, VIPS_HEADER_BYTES, 0);
    let position = VIPS_HEADER_BYTES;
    for (let top = 0; top < height; top += bandRows) {
      signal?.throwIfAborted();
      const rows = Math.min(bandRows, height - top);
      const band = renderBand(top, rows);
      await writing;
      onRows?.(top);
      writing = writeFully(handle, band, position);
      position += band.length;
    }
    await writing;
    onRows?.(height);
  } finally {
    await writing.catch(() => undefined);
    await handle.close();
  }
}

/** FileHandle.write may write less than asked (rarely, on regular files); loops until done. */
async function writeFully(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

/**
 * Renders an image into a libvips native file band by band, with memory that does not grow with
 * it: `renderBand(top, rows, into)` gives rows [top, top + rows), drawn into `into` (or a part of
 * it). `onRows` gets the rows written so far.
 */
export async function renderVipsFile(
  file: string,
  width: number,
  height: number,
  renderBand: (top: number, rows: number, into: Buffer) => Buffer,
  onRows?: (done: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const bandRows = Math.max(1, Math.floor(BAND_BYTES / (width * 3)));
  // writeVipsFile holds two bands at most (one rendered while the other is written): two buffers
  // used in turn, instead of a new one a band, whose garbage would pile up to ~100 MB before it is collected.
  const bands = [Buffer.allocUnsafe(bandRows * width * 3), Buffer.allocUnsafe(bandRows * width * 3)];
  let rendered = 0;
  await writeVipsFile(file, width, height, bandRows, (top, rows) => renderBand(top, rows, bands[rendered++ % 2]!), onRows, signal);
}
