import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import type { TileShape } from './features.js';
import { TileStore } from './tile-store.js';

/**
 * Tiles of one shape kept in a file rather than in memory: the tiles a mosaic uses, drawn from the
 * original pictures at the output's tile size (a print's may be hundreds of pixels, and a gigapixel
 * mosaic use tens of thousands of them). Renderers read the tiles of the band they draw (see
 * `load`), so memory holds a band's.
 */
export class TileFile {
  readonly file: string;
  readonly tileWidth: number;
  readonly tileHeight: number;
  readonly tileBytes: number;
  /** By tile id: its slot in the file, or -1. */
  private readonly slots: Int32Array;
  private descriptor: number | undefined;
  private filled = 0;

  /** A new, empty tile file for tiles of `shape` of an index of `count` tiles. */
  constructor(file: string, shape: TileShape, count: number) {
    this.file = file;
    this.tileWidth = shape.width;
    this.tileHeight = shape.height;
    this.tileBytes = shape.width * shape.height * 3;
    this.slots = new Int32Array(count).fill(-1);
    this.descriptor = openSync(file, 'w+');
  }

  /** The size of its tiles. */
  get shape(): TileShape {
    return { width: this.tileWidth, height: this.tileHeight };
  }

  /** Whether tile `id` is in the file. */
  has(id: number): boolean {
    return this.slots[id]! >= 0;
  }

  /** Appends tile `id` (`tileBytes` bytes); a tile already there is kept. */
  add(id: number, pixels: Uint8Array): void {
    if (this.has(id)) return;
    if (pixels.length !== this.tileBytes) throw new RangeError(`expected a tile of ${this.tileBytes} bytes, received ${pixels.length}`);
    const position = this.filled * this.tileBytes;
    for (let written = 0; written < pixels.length;) {
      written += writeSync(this.open(), pixels, written, pixels.length - written, position + written);
    }
    this.slots[id] = this.filled++;
  }

  /** Makes the tiles written durable enough to be read back by other threads and processes (fsync). */
  sync(): void {
    fsyncSync(this.open());
  }

  /**
   * The tiles `ids` (each in the file) as a store of `ids.length` tiles in that order: tile `i` of
   * the store is tile `ids[i]`. Reads from the file (the page cache, mostly), into `into` when it
   * is large enough: a renderer reading band after band then holds one buffer, where tens of
   * megabytes a band waited for the garbage collector.
   */
  load(ids: ArrayLike<number>, into?: Buffer): TileStore {
    const bytes = ids.length * this.tileBytes;
    const pixels = into && into.length >= bytes ? into.subarray(0, bytes) : Buffer.allocUnsafe(bytes);
    for (let i = 0; i < ids.length; i++) {
      const slot = this.slots[ids[i]!]!;
      if (slot < 0) throw new RangeError(`tile ${ids[i]} is not in ${this.file}`);
      if (!readFully(this.open(), pixels.subarray(i * this.tileBytes, (i + 1) * this.tileBytes), slot * this.tileBytes)) {
        throw new Error(`${this.file} is shorter than its tiles`);
      }
    }
    return new TileStore(pixels, this.shape, ids.length);
  }

  close(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
  }

  private open(): number {
    if (this.descriptor === undefined) throw new Error(`${this.file} is closed`);
    return this.descriptor;
  }
}

/**
 * The part of a plan's tile ids `tiles` made local to a store of the distinct tiles they use: the
 * ids to load (in order of first use) and the same cells numbered by their place among them.
 */
export function localTiles(tiles: Uint16Array | Uint32Array): { ids: Uint32Array; local: Uint32Array } {
  const index = new Map<number, number>();
  const local = new Uint32Array(tiles.length);
  for (let cell = 0; cell < tiles.length; cell++) {
    const id = tiles[cell]!;
    let at = index.get(id);
    if (at === undefined) index.set(id, (at = index.size));
    local[cell] = at;
  }
  return { ids: Uint32Array.from(index.keys()), local };
}

/**
 * An index's tiles.rgb read a tile at a time, for builds that need few of its tiles: those whose
 * tiles are drawn from the original pictures read a stored tile for a picture whose original fails
 * (every picture's with --no-originals).
 */
export class TileReader {
  readonly tileWidth: number;
  readonly tileHeight: number;
  readonly tileBytes: number;
  private descriptor: number | undefined;

  /**
   * Over `descriptor`, an open file of `count` tiles of `shape` (checked by the caller), now owned
   * by the reader; `failure` makes the error thrown when a read fails (the file shrank, an I/O error).
   */
  constructor(
    descriptor: number,
    readonly file: string,
    shape: TileShape,
    readonly count: number,
    private readonly failure: (error: unknown) => Error,
  ) {
    this.descriptor = descriptor;
    this.tileWidth = shape.width;
    this.tileHeight = shape.height;
    this.tileBytes = shape.width * shape.height * 3;
  }

  /** The pixels of tile `id`, read from the file. */
  tile(id: number): Buffer {
    if (this.descriptor === undefined) throw new Error(`${this.file} is closed`);
    if (!Number.isInteger(id) || id < 0 || id >= this.count) throw new RangeError(`tile ${id} is not in ${this.file}`);
    const pixels = Buffer.allocUnsafe(this.tileBytes);
    try {
      if (!readFully(this.descriptor, pixels, id * this.tileBytes))
        throw new Error('is shorter than its tiles (changed while it was read)');
    } catch (error) {
      throw this.failure(error);
    }
    return pixels;
  }

  close(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
  }
}

/** Fills `into` from `descriptor` at `position`, read after read; false when the file ends first. */
function readFully(descriptor: number, into: Buffer, position: number): boolean {
  for (let read = 0; read < into.length;) {
    const got = readSync(descriptor, into, read, into.length - read, position + read);
    if (got === 0) return false;
    read += got;
  }
  return true;
}
