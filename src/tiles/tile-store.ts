import { areaAverage, toBytes } from '../raster/area-average.js';
import { TimeSlicer } from '../yield.js';
import type { TileShape } from './features.js';

/** Tiles to read one at a time: a store in memory or a file's (see TileReader). */
export interface StoredTiles {
  readonly tileWidth: number;
  readonly tileHeight: number;
  readonly count: number;
  tile(id: number): Buffer;
}

/**
 * The pixels of every tile: `count` tiles of `tileWidth` x `tileHeight` px, 8-bit RGB, stored one
 * after another (tile-major, each tile row-major), exactly as in an index's tiles.rgb.
 */
export class TileStore {
  readonly tileWidth: number;
  readonly tileHeight: number;
  readonly count: number;
  readonly pixels: Buffer;
  readonly tileBytes: number;

  constructor(pixels: Buffer, shape: TileShape, count: number) {
    this.tileBytes = shape.width * shape.height * 3;
    if (pixels.length !== this.tileBytes * count) {
      throw new RangeError(`tile store holds ${pixels.length} bytes, expected ${this.tileBytes * count}`);
    }
    this.pixels = pixels;
    this.tileWidth = shape.width;
    this.tileHeight = shape.height;
    this.count = count;
  }

  /** The size of its tiles. */
  get shape(): TileShape {
    return { width: this.tileWidth, height: this.tileHeight };
  }

  /** The pixels of one tile (a view, not a copy). */
  tile(id: number): Buffer {
    const start = id * this.tileBytes;
    return this.pixels.subarray(start, start + this.tileBytes);
  }

  /**
   * This store with every tile resized to `shape` by an exact area average (smaller: averaged;
   * larger: each pixel spread). It yields to the event loop every few milliseconds and stops there
   * when `signal` is aborted.
   */
  async scaledInterruptibly(shape: TileShape, signal?: AbortSignal): Promise<TileStore> {
    if (shape.width === this.tileWidth && shape.height === this.tileHeight) return this;
    const scaled = Buffer.alloc(shape.width * shape.height * 3 * this.count);
    const slicer = new TimeSlicer(signal);
    for (let id = 0; id < this.count; id++) {
      this.scaleTile(id, shape, scaled);
      if (id % 256 === 255) await slicer.pause();
    }
    return new TileStore(scaled, shape, this.count);
  }

  private scaleTile(id: number, shape: TileShape, into: Buffer): void {
    const reduced = toBytes(areaAverage(this.tile(id), this.tileWidth, this.tileHeight, 3, shape.width, shape.height));
    into.set(reduced, id * reduced.length);
  }
}
