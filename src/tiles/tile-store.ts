import { areaAverage, toBytes } from '../raster/area-average.js';
import { TimeSlicer } from '../yield.js';

/**
 * The pixels of every tile: `count` square tiles of `tileSize` px, 8-bit RGB, stored one after
 * another (tile-major, each tile row-major), exactly as in an index's tiles.rgb.
 */
export class TileStore {
  readonly tileSize: number;
  readonly count: number;
  readonly pixels: Buffer;
  readonly tileBytes: number;

  constructor(pixels: Buffer, tileSize: number, count: number) {
    this.tileBytes = tileSize * tileSize * 3;
    if (pixels.length !== this.tileBytes * count) {
      throw new RangeError(`tile store holds ${pixels.length} bytes, expected ${this.tileBytes * count}`);
    }
    this.pixels = pixels;
    this.tileSize = tileSize;
    this.count = count;
  }

  /** The pixels of one tile (a view, not a copy). */
  tile(id: number): Buffer {
    const start = id * this.tileBytes;
    return this.pixels.subarray(start, start + this.tileBytes);
  }

  /** This store with every tile reduced to `tileSize` px by an exact area average. */
  scaled(tileSize: number): TileStore {
    if (tileSize === this.tileSize) return this;
    const scaled = Buffer.alloc(tileSize * tileSize * 3 * this.count);
    for (let id = 0; id < this.count; id++) this.scaleTile(id, tileSize, scaled);
    return new TileStore(scaled, tileSize, this.count);
  }

  /** `scaled` for the main thread: it yields to the event loop every few milliseconds and stops there when `signal` is aborted. */
  async scaledInterruptibly(tileSize: number, signal?: AbortSignal): Promise<TileStore> {
    if (tileSize === this.tileSize) return this;
    const scaled = Buffer.alloc(tileSize * tileSize * 3 * this.count);
    const slicer = new TimeSlicer(signal);
    for (let id = 0; id < this.count; id++) {
      this.scaleTile(id, tileSize, scaled);
      if (id % 256 === 255) await slicer.pause();
    }
    return new TileStore(scaled, tileSize, this.count);
  }

  private scaleTile(id: number, tileSize: number, into: Buffer): void {
    const reduced = toBytes(areaAverage(this.tile(id), this.tileSize, this.tileSize, 3, tileSize, tileSize));
    into.set(reduced, id * reduced.length);
  }
}
