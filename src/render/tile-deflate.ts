import { endianness } from 'node:os';
import type { TileStore } from '../tiles/tile-store.js';
import { huffmanLengths, reversedCodes } from './huffman.js';
import type { MosaicPlan } from './render-region.js';

/*
 * A PNG's image data coded straight from the tiles, without rendering pixels, filtering them or
 * deflating them with zlib. The rows are filtered by Sub and coded as deflate literals (Huffman
 * only, as write-png.ts asks of zlib) with one code for many rows: then every byte of a tile row
 * after its first pixel codes to the same bits wherever the tile is placed (the Sub filter looks
 * back one pixel, within the tile), so each tile row is coded once and its bits copied, 32 at a
 * time, to every place it is used; only each tile row's first pixel (whose difference is with the
 * tile on its left) and each row's filter byte are coded one by one. The Adler-32 of the rows is
 * summed from each tile row's sums likewise.
 *
 * The code is chosen from a sample of a band's rows and kept until a band's sample would code
 * noticeably shorter with its own (photographs' filtered bytes vary little across an image: on the
 * bench's mosaic one code for all of it gave 18.54 MB against zlib's 18.56 MB). A deflate block
 * holds the bands coded with one code; a new code starts a new block.
 *
 * Cells may be smaller than the tiles (a print's exact size spreads them over its width, see
 * MosaicLayout): a cell shows the first pixels of its tile rows, whose bits are the first bits of
 * the tile rows' codes, so each coded tile row keeps the sums and bit count of every cell width.
 */

const END_OF_BLOCK = 256;
/** Literal/length symbols used: the 256 byte values and the end of a block. */
const LITERALS = 257;
const MAX_CODE_BITS = 15;
const MAX_CODE_LENGTH_BITS = 7;
/** The order in which a dynamic block's header gives the lengths of the code-length code (RFC 1951 3.2.7). */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const FILTER_SUB = 1;
const ADLER_MODULUS = 65521;
/**
 * One sampled row in this many of the first band's rows, which the first code is made from, and of
 * a later band's, which only decide whether it needs a code of its own (prime numbers, so that rows
 * at every height in tiles are seen).
 */
const SAMPLE_FIRST_EVERY = 11;
const SAMPLE_EVERY = 41;
/**
 * A band starts a new block with its own code when its sample would code this much shorter with
 * it, and the bits saved over the band exceed two blocks' headers.
 */
const NEW_CODE_GAIN = 0.01;
/** About the bits of a dynamic block's header (259 code lengths of 3-5 bits, and their code). */
const HEADER_BITS = 1100;
/** Words of coded tile rows kept (64 MB); when full, they are coded again as they are met. */
const CACHE_WORDS = 16 * 1024 * 1024;
/**
 * A coded tile row in the cache: its first pixel as placed (RGB in the low three bytes), then for
 * each cell width (see CellEdges) the bits of its bytes after the first pixel, their sum and
 * weighted sum (for Adler-32, modulo 65521) and the last pixel, then the bits of the widest, from
 * the least significant of the first word.
 */
const RECORD_FIRST = 1;
/** Words of a record's header for each cell width. */
const WIDTH_WORDS = 4;
/** Cell widths a mosaic may have (a print's cells spread by rounding have two). */
const MAX_CELL_WIDTHS = 4;
/**
 * Tile stores up to this size (27,000 tiles of 20 px) are coded so: the coded rows of all their
 * tiles both ways fit the cache at the bench's 6.5 bits a byte. Larger ones are rendered and
 * deflated by zlib, as with the cache emptied again and again their rows would be coded many
 * times.
 */
export const MAX_STORE_BYTES = 32 * 1024 * 1024;

/**
 * Where a mosaic's cells lie, as the coder needs it: cells side by side without grout, each at
 * most a tile, showing the top-left part of its tile (see MosaicLayout).
 */
interface CellEdges {
  /** The output's width in pixels. */
  width: number;
  /** Top edge of each grid row, and one more (the output's height). */
  rowStarts: Int32Array;
  /** The distinct widths of the cells, narrowest first. */
  widths: number[];
  /** Each column's width, as its place in `widths`. */
  widthOf: Uint8Array;
  /** The tallest cell: tile rows below it are never shown. */
  tallest: number;
}

/** The cells of `plan` over tiles of `store`, or undefined when they are not as TileRowDeflater codes them. */
function cellEdges(plan: MosaicPlan, store: TileStore): CellEdges | undefined {
  const { tileWidth, tileHeight } = store;
  const layout = plan.layout;
  if (!layout) {
    return {
      width: plan.columns * tileWidth,
      rowStarts: Int32Array.from({ length: plan.rows + 1 }, (_, row) => row * tileHeight),
      widths: [tileWidth],
      widthOf: new Uint8Array(plan.columns),
      tallest: tileHeight,
    };
  }
  // (Grout would put pixels of its own between cells.)
  if (layout.grout !== 0 || layout.tileWidth > tileWidth || layout.tileHeight > tileHeight) return undefined;
  const columnWidths = Array.from(
    { length: layout.columns },
    (_, column) => layout.columnStarts[column + 1]! - layout.columnStarts[column]!,
  );
  const widths = [...new Set(columnWidths)].sort((a, b) => a - b);
  if (widths.length > MAX_CELL_WIDTHS) return undefined;
  return {
    width: layout.width,
    rowStarts: layout.rowStarts,
    widths,
    widthOf: Uint8Array.from(columnWidths, (width) => widths.indexOf(width)),
    tallest: layout.tileHeight,
  };
}

/**
 * Codes the Sub-filtered rows of a mosaic's PNG band by band, top to bottom, as one raw deflate
 * stream (the zlib header and Adler-32 trailer are the caller's; `adler` sums the rows coded).
 */
export class TileRowDeflater {
  /** Adler-32's two sums over the filtered rows coded so far, each below 65521 (kept apart: numbers that fit 31 bits keep V8's optimised code on its fast path). */
  private sumA = 1;
  private sumB = 0;
  private readonly plan: MosaicPlan;
  private readonly store: TileStore;
  private readonly cells: CellEdges;
  private readonly rowBytes: number;
  /** Words of a record before its bits: the first pixel, and WIDTH_WORDS for each cell width. */
  private readonly recordHeader: number;
  private words = new Uint32Array(0);
  private bytes = new Uint8Array(0);
  /** Bits written in `words`. */
  private position = 0;
  /** The current block's code: lengths and bit-reversed codes of the 257 literals; undefined before the first band. */
  private lengths: Uint8Array | undefined;
  private codes: Uint16Array = new Uint16Array(LITERALS);
  /** The current code of each byte value as one number, its bit-reversed code | its length << 16 (one load in codeTile's loop). */
  private symbols = new Int32Array(LITERALS);
  /** Where each coded tile row's record starts in `cache` (-1: not coded with the current code), by (tile * 2 + mirrored) * tallest + row: 8 bytes a tile row. */
  private readonly cached: Int32Array;
  /** Records of coded tile rows (see RECORD_FIRST). */
  private cache = new Int32Array(1024);
  private cacheUsed = 0;
  /** The Sub-filtered bytes of one tile row after its first pixel, as far as the widest cell shows (see filteredRow), reused. */
  private readonly segment: Uint8Array;
  /** One tile row mirrored (see reversedRow), reused. */
  private readonly reversed: Buffer;

  /** Whether `plan` over `store` can be coded so (else render pixels and deflate them). */
  static supports(plan: MosaicPlan, store: TileStore): boolean {
    const cells = cellEdges(plan, store);
    if (!cells) return false;
    // (A tile's rows coded at worst must fit the cache: tiles of 1,024 px take 1.5 M words.)
    const tileWords = recordWords(cells.widths) * cells.tallest;
    return plan.tint === undefined && store.pixels.length <= MAX_STORE_BYTES && tileWords <= CACHE_WORDS && endianness() === 'LE';
  }

  constructor(plan: MosaicPlan, store: TileStore) {
    if (!TileRowDeflater.supports(plan, store)) throw new RangeError('the mosaic cannot be coded from its tiles');
    this.plan = plan;
    this.store = store;
    this.cells = cellEdges(plan, store)!;
    this.rowBytes = this.cells.width * 3;
    this.recordHeader = RECORD_FIRST + WIDTH_WORDS * this.cells.widths.length;
    this.cached = new Int32Array(store.count * 2 * this.cells.tallest).fill(-1);
    this.segment = new Uint8Array(Math.max(0, (this.cells.widths.at(-1)! - 1) * 3));
    this.reversed = Buffer.alloc(store.tileWidth * 3);
  }

  /** Adler-32 of the filtered rows coded so far. */
  get adler(): number {
    return ((this.sumB << 16) | this.sumA) >>> 0;
  }

  /**
   * The deflate data of rows [top, top + rows), continuing the rows before: all its whole bytes
   * (the last bits wait for the next band). A view, valid until the next call.
   */
  band(top: number, rows: number): Uint8Array {
    this.carry();
    this.reserve(rows);
    this.chooseCode(top, rows);
    for (let y = top; y < top + rows; y++) this.codeRow(y);
    return this.takeBytes();
  }

  /** The grid row that pixel row `y` lies in. */
  private gridRow(y: number): number {
    const { rowStarts } = this.cells;
    let low = 0;
    let high = rowStarts.length - 2;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (rowStarts[middle]! <= y) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /**
   * Codes row `y`: its filter type, then each cell's tile row, the first pixel's bytes coded here,
   * the rest copied from the cache. Bits are gathered in a local word (`pending`, `offset` bits of
   * it used) and stored as it fills.
   */
  private codeRow(y: number): void {
    const codes = this.codes;
    const lengths = this.lengths!;
    const words = this.words;
    const { tiles, mirrored, columns } = this.plan;
    const { widths, widthOf, rowStarts } = this.cells;
    const gridRow = this.gridRow(y);
    const rowInTile = y - rowStarts[gridRow]!;
    const planRow = gridRow * columns;
    const recordHeader = this.recordHeader;
    let word = this.position >>> 5;
    let offset = this.position & 31;
    let pending = offset === 0 ? 0 : words[word]!;
    /** Adds the `count` (at most 31) low bits of `value` (the rest zero). */
    const put = (value: number, count: number): void => {
      pending |= value << offset;
      offset += count;
      if (offset >= 32) {
        words[word++] = pending;
        offset -= 32;
        pending = value >>> (count - offset);
      }
    };
    let a = this.sumA;
    let b = this.sumB;
    put(codes[FILTER_SUB]!, lengths[FILTER_SUB]!);
    a += FILTER_SUB;
    b += a;
    // The pixel left of the row's first: zero, as the Sub filter has it.
    let red = 0;
    let green = 0;
    let blue = 0;
    for (let column = 0; column < columns; column++) {
      const cell = planRow + column;
      const flip = mirrored !== undefined && mirrored[cell] === 1 ? 1 : 0;
      const record = this.codedRow(tiles[cell]!, flip, rowInTile);
      const cache = this.cache;
      const firstPixel = cache[record]!;
      const dr = (firstPixel - red) & 0xff;
      const dg = ((firstPixel >>> 8) - green) & 0xff;
      const db = ((firstPixel >>> 16) - blue) & 0xff;
      put(codes[dr]!, lengths[dr]!);
      put(codes[dg]!, lengths[dg]!);
      put(codes[db]!, lengths[db]!);
      a += dr;
      b += a;
      a += dg;
      b += a;
      a += db;
      b += a;
      // The cell's width: the bits, sums and last pixel of the part of the tile row it shows.
      const variant = widthOf[column]!;
      const shown = record + RECORD_FIRST + variant * WIDTH_WORDS;
      const lastPixel = cache[shown + 3]!;
      red = lastPixel & 0xff;
      green = (lastPixel >>> 8) & 0xff;
      blue = lastPixel >>> 16;
      // Adler-32 over the row's bytes after the first pixel: b gains a for each of them, and their weighted sum.
      b = (b + (widths[variant]! - 1) * 3 * a + cache[shown + 2]!) % ADLER_MODULUS;
      a = (a + cache[shown + 1]!) % ADLER_MODULUS;
      // The tile row's bits: whole words, shifted into place ((x >>> 1) >>> (31 - offset) is
      // x >>> (32 - offset), and 0 for offset 0, which >>> 32 is not), then the rest (of a
      // narrower cell, the bits after them in the word are the wider one's: masked off).
      const bits = cache[shown]!;
      const from = record + recordHeader;
      const whole = bits >>> 5;
      for (let i = 0; i < whole; i++) {
        const value = cache[from + i]!;
        words[word++] = pending | (value << offset);
        pending = (value >>> 1) >>> (31 - offset);
      }
      const rest = bits & 31;
      if (rest > 0) put(cache[from + whole]! & ((1 << rest) - 1), rest);
    }
    words[word] = pending;
    this.position = word * 32 + offset;
    this.sumA = a;
    this.sumB = b;
  }

  /** The end of the deflate data: the last block's end and an empty final block, padded to a byte. */
  finish(): Uint8Array {
    this.carry();
    this.reserve(0);
    if (this.lengths) this.write(this.codes[END_OF_BLOCK]!, this.lengths[END_OF_BLOCK]!);
    // BFINAL 1, BTYPE 01 (fixed codes), and the fixed code's end of block: seven zero bits.
    this.write(0b011, 3);
    this.write(0, 7);
    this.position = (this.position + 7) & ~7;
    return this.takeBytes();
  }

  /** Makes room for `rows` rows coded at worst (15 bits a byte, and a block header). */
  private reserve(rows: number): void {
    const words = Math.ceil(((rows * (this.rowBytes + 1) + 1024) * MAX_CODE_BITS) / 32) + 2;
    if (words <= this.words.length) return;
    const grown = new Uint32Array(words);
    grown[0] = this.words[0] ?? 0;
    this.words = grown;
    this.bytes = new Uint8Array(grown.buffer);
  }

  /** The whole bytes written, as a view (valid until the next band or finish, which carry the bits of an unfinished byte over: see carry). */
  private takeBytes(): Uint8Array {
    return this.bytes.subarray(0, this.position >>> 3);
  }

  /** Moves the bits of an unfinished last byte to the start of the words, once its whole bytes are taken. */
  private carry(): void {
    const rest = this.position & 7;
    if (this.words.length > 0) this.words[0] = rest === 0 ? 0 : this.bytes[this.position >>> 3]! & ((1 << rest) - 1);
    this.position = rest;
  }

  /** Writes the `count` low bits of `value` (count at most 16), least significant first. */
  private write(value: number, count: number): void {
    const word = this.position >>> 5;
    const offset = this.position & 31;
    this.words[word] = offset === 0 ? value : this.words[word]! | (value << offset);
    if (offset + count > 32) this.words[word + 1] = value >>> (32 - offset);
    this.position += count;
  }

  /**
   * The cache record of a tile row (mirrored when `flip`) coded with the current code: all the
   * tile's rows are coded when one is first needed, one after another in the cache, so that the
   * rows of a tile placed in a band of rows are read from neighbouring memory.
   */
  private codedRow(tile: number, flip: number, rowInTile: number): number {
    const key = (tile * 2 + flip) * this.cells.tallest + rowInTile;
    const known = this.cached[key]!;
    if (known >= 0) return known;
    this.codeTile(tile, flip);
    return this.cached[key]!;
  }

  /** Codes every row of a tile that cells show (mirrored when `flip`) into the cache: see RECORD_FIRST. */
  private codeTile(tile: number, flip: number): void {
    const { tileWidth, tileBytes, pixels } = this.store;
    const { widths, tallest } = this.cells;
    const symbols = this.symbols;
    const most = recordWords(widths);
    if (this.cacheUsed + most * tallest > CACHE_WORDS) this.clearCache();
    if (this.cacheUsed + most * tallest > this.cache.length) {
      const grown = new Int32Array(Math.min(CACHE_WORDS, Math.max(this.cache.length * 2, this.cacheUsed + most * tallest)));
      grown.set(this.cache.subarray(0, this.cacheUsed));
      this.cache = grown;
    }
    const cache = this.cache;
    for (let row = 0; row < tallest; row++) {
      const record = this.cacheUsed;
      const rowStart = tile * tileBytes + row * tileWidth * 3;
      // The row's pixels as placed, left to right: a mirrored tile's row copied reversed.
      const placed = flip ? this.reversedRow(rowStart) : pixels;
      let at = flip ? 0 : rowStart;
      // The Sub-filtered bytes after the first pixel and their code, gathered in a local word as codeRow does.
      let sum = 0;
      let weighted = 0;
      const start = record + this.recordHeader;
      let word = start;
      let offset = 0;
      let pending = 0;
      for (let variant = 0, i = 0; variant < widths.length; variant++) {
        // Up to the last byte a cell of this width shows; then its bits and sums so far.
        for (const end = (widths[variant]! - 1) * 3; i < end; i++, at++) {
          const byte = (placed[at + 3]! - placed[at]!) & 0xff;
          // Adler-32's sums over these bytes: the second gains the first after each byte.
          sum += byte;
          weighted += sum;
          const symbol = symbols[byte]!;
          const length = symbol >>> 16;
          const value = symbol & 0xffff;
          pending |= value << offset;
          offset += length;
          if (offset >= 32) {
            cache[word++] = pending;
            offset -= 32;
            pending = value >>> (length - offset);
          }
        }
        const shown = record + RECORD_FIRST + variant * WIDTH_WORDS;
        const last = placedPixel(rowStart, tileWidth, flip, widths[variant]! - 1);
        cache[shown] = (word - start) * 32 + offset;
        cache[shown + 1] = sum % ADLER_MODULUS;
        cache[shown + 2] = weighted % ADLER_MODULUS;
        cache[shown + 3] = pixels[last]! | (pixels[last + 1]! << 8) | (pixels[last + 2]! << 16);
      }
      if (offset > 0) cache[word++] = pending;
      const first = placedPixel(rowStart, tileWidth, flip, 0);
      cache[record] = pixels[first]! | (pixels[first + 1]! << 8) | (pixels[first + 2]! << 16);
      this.cacheUsed = word;
      this.cached[(tile * 2 + flip) * tallest + row] = record;
    }
  }

  /** The tile row starting at `rowStart` mirrored, pixel by pixel, into a reused row. */
  private reversedRow(rowStart: number): Buffer {
    const { tileWidth, pixels } = this.store;
    const row = this.reversed;
    for (let x = 0, from = rowStart + (tileWidth - 1) * 3; x < tileWidth * 3; x += 3, from -= 3) {
      row[x] = pixels[from]!;
      row[x + 1] = pixels[from + 1]!;
      row[x + 2] = pixels[from + 2]!;
    }
    return row;
  }

  private clearCache(): void {
    this.cached.fill(-1);
    this.cacheUsed = 0;
  }

  /** The Sub-filtered bytes of a tile row (mirrored when `flip`) after its first pixel, as far as the widest cell shows, into `segment`. */
  private filteredRow(tile: number, flip: number, rowInTile: number): Uint8Array {
    const { tileWidth, tileBytes, pixels } = this.store;
    const segment = this.segment;
    const rowStart = tile * tileBytes + rowInTile * tileWidth * 3;
    // Pixels are read left to right as placed: backwards through a mirrored tile's rows.
    const step = flip ? -3 : 3;
    for (let i = 0, at = placedPixel(rowStart, tileWidth, flip, 0) + step; i < segment.length; i += 3, at += step) {
      segment[i] = pixels[at]! - pixels[at - step]!;
      segment[i + 1] = pixels[at + 1]! - pixels[at + 1 - step]!;
      segment[i + 2] = pixels[at + 2]! - pixels[at + 2 - step]!;
    }
    return segment;
  }

  /**
   * Keeps the current code for rows [top, top + rows), or starts a new block with a code made
   * for them (always for the first band), from the filtered bytes of a sample of the rows.
   */
  private chooseCode(top: number, rows: number): void {
    const counts = new Float64Array(LITERALS);
    let sampled = 0;
    const every = this.lengths ? SAMPLE_EVERY : SAMPLE_FIRST_EVERY;
    for (let y = top; y < top + rows; y += every) sampled += this.countRow(y, counts);
    // Every byte value can be coded (one not in the sample may still be met), and the block's end.
    for (let symbol = 0; symbol < LITERALS; symbol++) counts[symbol]!++;
    const lengths = huffmanLengths(counts, MAX_CODE_BITS);
    if (this.lengths) {
      const current = codedBits(counts, this.lengths);
      const own = codedBits(counts, lengths);
      const saved = ((current - own) / sampled) * rows * (this.rowBytes + 1);
      if (current - own <= own * NEW_CODE_GAIN || saved <= 2 * HEADER_BITS) return;
      this.write(this.codes[END_OF_BLOCK]!, this.lengths[END_OF_BLOCK]!);
    }
    this.lengths = lengths;
    this.codes = reversedCodes(lengths);
    this.symbols = Int32Array.from(this.codes, (code, symbol) => code | (lengths[symbol]! << 16));
    this.clearCache();
    this.writeHeader(lengths);
  }

  /** Adds the filtered bytes of row `y` to `counts`; gives how many. */
  private countRow(y: number, counts: Float64Array): number {
    const { tiles, mirrored, columns } = this.plan;
    const { tileWidth, tileBytes, pixels } = this.store;
    const { widths, widthOf, rowStarts } = this.cells;
    const gridRow = this.gridRow(y);
    const rowInTile = y - rowStarts[gridRow]!;
    const planRow = gridRow * columns;
    counts[FILTER_SUB]!++;
    let previous = -1;
    for (let column = 0; column < columns; column++) {
      const cell = planRow + column;
      const tile = tiles[cell]!;
      const flip = mirrored !== undefined && mirrored[cell] === 1 ? 1 : 0;
      const width = widths[widthOf[column]!]!;
      const rowStart = tile * tileBytes + rowInTile * tileWidth * 3;
      const first = placedPixel(rowStart, tileWidth, flip, 0);
      for (let c = 0; c < 3; c++) counts[(pixels[first + c]! - (previous < 0 ? 0 : pixels[previous + c]!)) & 0xff]!++;
      previous = placedPixel(rowStart, tileWidth, flip, width - 1);
      const segment = this.filteredRow(tile, flip, rowInTile);
      for (let i = 0; i < (width - 1) * 3; i++) counts[segment[i]!]!++;
    }
    return 1 + this.rowBytes;
  }

  /** A dynamic block's header (not the last block) for the literal code `lengths`, no length codes, two distance codes of 1 bit (unused). */
  private writeHeader(lengths: Uint8Array): void {
    const all = [...lengths, 1, 1];
    const { codeLengths, codeLengthCodes } = codeLengthCode(all);
    this.write(0, 1); // BFINAL: not the last block (an empty one ends the stream)
    this.write(0b10, 2); // BTYPE: dynamic codes
    this.write(LITERALS - 257, 5); // HLIT
    this.write(2 - 1, 5); // HDIST
    this.write(CODE_LENGTH_ORDER.length - 4, 4); // HCLEN
    for (const symbol of CODE_LENGTH_ORDER) this.write(codeLengths[symbol]!, 3);
    for (const length of all) this.write(codeLengthCodes[length]!, codeLengths[length]!);
  }
}

/** The code that codes a block's code lengths `all` (each as itself, no repeat codes). */
function codeLengthCode(all: number[]): { codeLengths: Uint8Array; codeLengthCodes: Uint16Array } {
  const counts = new Uint32Array(19);
  for (const length of all) counts[length]!++;
  const codeLengths = huffmanLengths(counts, MAX_CODE_LENGTH_BITS);
  return { codeLengths, codeLengthCodes: reversedCodes(codeLengths) };
}

/** Words of the cache a tile row takes at most for cells of `widths` (narrowest first): its record header and 15 bits a byte after the first pixel. */
function recordWords(widths: number[]): number {
  return RECORD_FIRST + WIDTH_WORDS * widths.length + Math.ceil(((widths.at(-1)! - 1) * 3 * MAX_CODE_BITS) / 32) + 1;
}

/** Where the pixel placed `x` px from a cell's left edge lies in the tile row starting at `rowStart` (mirrored when `flip`). */
function placedPixel(rowStart: number, tileWidth: number, flip: number, x: number): number {
  return flip ? rowStart + (tileWidth - 1 - x) * 3 : rowStart + x * 3;
}

/** Bits that coding symbols counted in `counts` with code `lengths` takes. */
function codedBits(counts: Float64Array, lengths: Uint8Array): number {
  let bits = 0;
  for (let symbol = 0; symbol < counts.length; symbol++) bits += counts[symbol]! * lengths[symbol]!;
  return bits;
}
