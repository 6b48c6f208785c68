import { closeSync, openSync, writeSync } from 'node:fs';
import zlib from 'node:zlib';
import { yieldToEventLoop } from '../yield.js';

/*
 * PNG written band by band. Mosaics are usually coded straight from their tiles (writeCodedPng
 * with a TileRowDeflater, see tile-deflate.ts); otherwise (writePng) the rendered bands are
 * filtered here and deflated in parallel on libuv's thread pool: pigz's method. Each band of
 * filtered rows is a raw deflate stream of its own, ended by a sync flush (byte-aligned, not
 * final) and the last one finished, so their concatenation is one valid deflate stream; the zlib
 * header and the Adler-32 of all rows (summed as they are filtered) are written here. libvips
 * encodes PNG on one thread: on a 4000x2500 mosaic it took 0.6-0.75 s, these bands on two cores
 * ~0.4 s, and memory holds a few bands whatever the image size.
 */

/** Raw bytes of a band: a few hundred rows of everyday mosaics, a few rows of the widest. */
const BAND_BYTES = 2 * 1024 * 1024;
/** Bands being deflated at once: libuv's default pool has four threads. */
const DEFLATING = 4;
/**
 * How bands are deflated: Huffman coding only, no search for repeated strings. Photographs'
 * filtered rows barely repeat, so the search costs more than it saves: on the bench's 4000x2500
 * mosaic (30 MB raw, rows filtered by Sub, one thread) Huffman only gave 18.6 MB in 0.32-0.36 s,
 * level 1 15.7 MB in 0.44-0.62 s, level 6 15.3 MB in 1.27 s; the run-length strategy 18.5 MB in
 * 0.38-0.44 s. (libvips' PNG, no filter at level 6: 21.5 MB.) memLevel 9 codes 32K symbols a
 * block instead of 16K, so builds half as many Huffman trees: 10 % less time (0.33 s against
 * 0.37 s of CPU, two runs each) and 0.3 % smaller. (A Huffman coder written in JS was no faster.)
 */
const DEFLATE_OPTIONS = { level: 1, memLevel: 9, strategy: zlib.constants.Z_HUFFMAN_ONLY };
/**
 * Filter type of every row: Sub (each byte minus the one a pixel to its left). Against no filter
 * (as libvips writes), the bench's mosaic was 26 % smaller (15.9 MB against 21.5) and deflated
 * 20 % faster; Up and Average compressed about as well but took longer here.
 */
const FILTER_SUB = 1;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** zlib stream header: deflate, 32 KiB window, no dictionary, "fastest" level (informational). */
const ZLIB_HEADER = Buffer.from([0x78, 0x01]);

/**
 * Writes `width` x `height` RGB pixels to `file` (created, or truncated) as an 8-bit PNG.
 * `renderBand(top, rows)` gives raw interleaved rows [top, top + rows), top to bottom, or a promise
 * of them (earlier bands deflate meanwhile); the buffer it returns is read before it is called
 * again, so it may reuse one. On error or abort the
 * file is left for the caller to remove.
 * @throws the signal's reason when aborted; write or deflate errors.
 */
export async function writePng(
  file: string,
  width: number,
  height: number,
  renderBand: (top: number, rows: number) => Buffer | Promise<Buffer>,
  options: { onProgress?: (rowsWritten: number, height: number) => void; signal?: AbortSignal; density?: number } = {},
): Promise<void> {
  const { onProgress, signal } = options;
  const rowBytes = width * 3 + 1;
  const bandRows = pngBandRows(width, height);
  const png = openPng(file, width, height, options.density);
  // Bands in flight, oldest first; each with its own filtered copy, read by the pool while it works.
  const deflating: { rows: number; compressed: Promise<Buffer> }[] = [];
  const spare: Buffer[] = [];
  let rowsWritten = 0;
  let adler = 1;
  const writeOldest = async (): Promise<void> => {
    const band = deflating.shift()!;
    png.data(await band.compressed);
    rowsWritten += band.rows;
    onProgress?.(rowsWritten, height);
  };
  try {
    for (let top = 0; top < height; top += bandRows) {
      signal?.throwIfAborted();
      const rows = Math.min(bandRows, height - top);
      const pixels = await renderBand(top, rows);
      if (pixels.length < rows * (rowBytes - 1))
        throw new RangeError(`band at row ${top}: ${pixels.length} bytes for ${rows} rows of ${width} px`);
      const whole = spare.pop() ?? Buffer.allocUnsafe(bandRows * rowBytes);
      const filtered = whole.subarray(0, rows * rowBytes);
      adler = subFilter(pixels, filtered, rows, rowBytes - 1, adler);
      const compressed = deflateBand(filtered, top + rows === height);
      deflating.push({ rows, compressed });
      void compressed.then(
        () => spare.push(whole),
        () => undefined,
      );
      if (deflating.length >= DEFLATING) await writeOldest();
    }
    while (deflating.length > 0) await writeOldest();
    signal?.throwIfAborted();
    png.end(adler);
  } catch (error) {
    // Bands still deflating finish in the pool; their results are dropped.
    for (const band of deflating) band.compressed.catch(() => undefined);
    png.abandon();
    throw error;
  }
}

/** What codes a PNG's image data itself, band by band (see TileRowDeflater): the deflate data of its Sub-filtered rows. */
export interface PngRowCoder {
  /** The deflate data of rows [top, top + rows), continuing the rows before (bands come top to bottom). */
  band(top: number, rows: number): Uint8Array;
  /** The end of the deflate data, after the last band. */
  finish(): Uint8Array;
  /** Adler-32 of the filtered rows coded so far. */
  readonly adler: number;
}

/**
 * Writes a `width` x `height` 8-bit RGB PNG whose image data `coder` makes, in bands of the same
 * rows as writePng's; `ready(top, rows)` is awaited before each band is coded (rows placed).
 * On error or abort the file is left for the caller to remove.
 */
export async function writeCodedPng(
  file: string,
  width: number,
  height: number,
  coder: PngRowCoder,
  options: {
    ready?: (top: number, rows: number) => Promise<void>;
    onProgress?: (rowsWritten: number, height: number) => void;
    signal?: AbortSignal;
    density?: number;
  } = {},
): Promise<void> {
  const { ready, onProgress, signal } = options;
  const bandRows = pngBandRows(width, height);
  const png = openPng(file, width, height, options.density);
  try {
    for (let top = 0; top < height; top += bandRows) {
      // Coding and writing are synchronous, and rows placed ahead resolve as microtasks: yield, for signal handlers.
      await yieldToEventLoop(signal);
      const rows = Math.min(bandRows, height - top);
      await ready?.(top, rows);
      png.data(coder.band(top, rows));
      onProgress?.(top + rows, height);
    }
    png.data(coder.finish());
    png.end(coder.adler);
  } catch (error) {
    png.abandon();
    throw error;
  }
}

/**
 * A PNG being written to `file` (created, or truncated): its signature, header, resolution (pHYs,
 * when `density` pixels per inch are given) and the zlib stream's header are written; `data` adds
 * deflate data (an IDAT chunk), `end` the Adler-32 and the end, closing the file; `abandon` closes
 * it after an error.
 */
function openPng(
  file: string,
  width: number,
  height: number,
  density?: number,
): { data: (bytes: Uint8Array) => void; end: (adler: number) => void; abandon: () => void } {
  const descriptor = openSync(file, 'w');
  const write = (bytes: Uint8Array): void => {
    for (let written = 0; written < bytes.length;) written += writeSync(descriptor, bytes, written, bytes.length - written);
  };
  try {
    write(SIGNATURE);
    const header = Buffer.alloc(13);
    header.writeUInt32BE(width, 0);
    header.writeUInt32BE(height, 4);
    header[8] = 8; // bits per channel
    header[9] = 2; // colour type: RGB
    writeChunk(write, 'IHDR', header);
    if (density !== undefined) {
      // Pixels per metre on both axes, unit 1 (the metre).
      const resolution = Buffer.alloc(9);
      const perMetre = Math.round(density / 0.0254);
      resolution.writeUInt32BE(perMetre, 0);
      resolution.writeUInt32BE(perMetre, 4);
      resolution[8] = 1;
      writeChunk(write, 'pHYs', resolution);
    }
    writeChunk(write, 'IDAT', ZLIB_HEADER);
  } catch (error) {
    closeSync(descriptor);
    throw error;
  }
  return {
    data: (bytes) => writeChunk(write, 'IDAT', bytes),
    end: (adler) => {
      const trailer = Buffer.alloc(4);
      trailer.writeUInt32BE(adler, 0);
      writeChunk(write, 'IDAT', trailer);
      writeChunk(write, 'IEND', new Uint8Array(0));
      closeSync(descriptor);
    },
    abandon: () => {
      try {
        closeSync(descriptor);
      } catch {
        // the first error is the one to report
      }
    },
  };
}

/** Rows of the bands a `width` x `height` PNG is written in: BAND_BYTES of filtered rows. */
function pngBandRows(width: number, height: number): number {
  return Math.max(1, Math.min(height, Math.floor(BAND_BYTES / (width * 3 + 1))));
}

/** Raw deflate of one band on the thread pool, in one piece (the default 16 KiB chunks return to the main thread for each). */
function deflateBand(filtered: Buffer, last: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(
      filtered,
      {
        ...DEFLATE_OPTIONS,
        finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
        // deflate's worst case is 5 bytes per 16 KiB stored block over the input.
        chunkSize: filtered.length + Math.ceil(filtered.length / 16384) * 5 + 1024,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/**
 * The Adler-32 sums are reduced modulo 65521 after every row and every 2^18 words or bytes of a
 * row: below 2^53 in between (b grows by at most 65521 n + 255 n^2 / 2 over n bytes).
 */
const SUMS_REDUCED = 0x3ffff;

/**
 * Rows of `pixels` (`rowBytes` each, RGB) into `filtered` as PNG rows filtered by Sub, each after
 * its filter-type byte; gives the Adler-32 of the filtered bytes continued from `adler`.
 */
export function subFilter(pixels: Buffer, filtered: Buffer, rows: number, rowBytes: number, adler: number): number {
  let a = adler & 0xffff;
  let b = adler >>> 16;
  // Rows are filtered four bytes at a time as 32-bit words: in place when every row starts on a
  // word, else each copied first into an aligned scratch row (a print's 7087 px rows do not).
  const wordCount = Math.floor(rowBytes / 4);
  const aligned = rowBytes % 4 === 0 && pixels.byteOffset % 4 === 0;
  const scratch = aligned ? undefined : new Uint32Array(wordCount + 1);
  const scratchBytes = scratch && new Uint8Array(scratch.buffer);
  const all = aligned ? new Uint32Array(pixels.buffer, pixels.byteOffset, (rows * rowBytes) / 4) : undefined;
  const out = new DataView(filtered.buffer, filtered.byteOffset, filtered.length);
  for (let row = 0; row < rows; row++) {
    const from = row * rowBytes;
    const to = row * (rowBytes + 1) + 1;
    filtered[to - 1] = FILTER_SUB;
    a += FILTER_SUB;
    b += a;
    let words: Uint32Array;
    let first: number;
    if (all) {
      words = all;
      first = from / 4;
    } else {
      scratchBytes!.set(pixels.subarray(from, from + wordCount * 4));
      words = scratch!;
      first = 0;
    }
    let previous = 0;
    for (let word = 0, at = first; word < wordCount; word++, at++) {
      // The bytes three before these four: the last three of the previous word, the first of this one.
      const current = words[at]!;
      const before = (previous >>> 8) | (current << 24);
      // Four byte-wise differences modulo 256 in one word (no borrow between bytes).
      const difference = (((current | 0x80808080) - (before & 0x7f7f7f7f)) ^ ((current ^ ~before) & 0x80808080)) >>> 0;
      out.setUint32(to + word * 4, difference, true);
      // (Plain declarations: destructuring from an array literal is slow in code not yet optimised.)
      const d0 = difference & 0xff;
      const d1 = (difference >>> 8) & 0xff;
      const d2 = (difference >>> 16) & 0xff;
      const d3 = difference >>> 24;
      b += 4 * a + 4 * d0 + 3 * d1 + 2 * d2 + d3;
      a += d0 + d1 + d2 + d3;
      previous = current;
      if ((word & SUMS_REDUCED) === SUMS_REDUCED) {
        a %= 65521;
        b %= 65521;
      }
    }
    // The last bytes of a row that is not whole words.
    for (let i = wordCount * 4; i < rowBytes; i++) {
      // A Buffer keeps the differences modulo 256, as the filter wants.
      filtered[to + i] = pixels[from + i]! - (i >= 3 ? pixels[from + i - 3]! : 0);
      a += filtered[to + i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Writes one PNG chunk: length, type, data, CRC-32 of type and data. */
function writeChunk(write: (bytes: Uint8Array) => void, type: string, data: Uint8Array): void {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(zlib.crc32(data, zlib.crc32(head.subarray(4))) >>> 0, 0);
  write(head);
  write(data);
  write(tail);
}
