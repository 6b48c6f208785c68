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
  const bandRows = Math.max(1, Math.floor(BAND_BYTES / (width * 3)));
  // Two buffers used in turn (one rendered into while the other is written), instead of a new one
  // a band, whose garbage would pile up to ~100 MB before it is collected.
  const bands = [Buffer.allocUnsafe(bandRows * width * 3), Buffer.allocUnsafe(bandRows * width * 3)];
  const handle = await open(file, 'wx');
  let writing: Promise<unknown> = Promise.resolve();
  try {
    await handle.write(vipsHeader(width, height), 0, VIPS_HEADER_BYTES, 0);
    let position = VIPS_HEADER_BYTES;
    for (let top = 0, band = 0; top < height; top += bandRows, band++) {
      signal?.throwIfAborted();
      const rendered = renderBand(top, Math.min(bandRows, height - top), bands[band % 2]!);
      await writing;
      onRows?.(top);
      writing = writeFully(handle, rendered, position);
      position += rendered.length;
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
