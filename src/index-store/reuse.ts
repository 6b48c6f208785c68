import type { TileShape } from '../tiles/features.js';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { readRegularFile, regularFileSize } from '../files/read.js';
import path from 'node:path';
import { reasonOf } from '../errors.js';
import { INDEX_FILES, type TileSource } from './format.js';

/** Tiles read from disk at once when one is asked for. */
const READ_AHEAD = 256;

/** Identifies a file across runs: its collection folder (absolute) and its path inside it. */
export function tileKey(root: string, source: string): string {
  return `${root}\0${source}`;
}

/** A tile that an earlier run made, with where it is stored. */
export interface EarlierTile {
  store: EarlierTiles;
  id: number;
  source: TileSource;
}

/**
 * The tiles of an earlier run (a finished index or an interrupted run's checkpoint), opened so
 * single tiles can be copied by range from its tiles.rgb instead of decoding their files again.
 * Only the small features are held in memory.
 */
export class EarlierTiles {
  readonly folder: string;
  readonly count: number;
  private readonly handle: FileHandle;
  private readonly tileBytes: number;
  private readonly dimensions: number;
  private readonly featureValues: Float32Array;
  /** Tiles are mostly reused in order: they are read READ_AHEAD at a time (a few hundred KB). */
  private block: { first: number; pixels: Promise<Buffer> } | undefined;

  private constructor(folder: string, handle: FileHandle, count: number, tileBytes: number, features: Float32Array, dimensions: number) {
    this.folder = folder;
    this.handle = handle;
    this.count = count;
    this.tileBytes = tileBytes;
    this.featureValues = features;
    this.dimensions = dimensions;
  }

  /**
   * Opens the first `count` pictures of `folder`'s tiles.rgb and features.f32 (the files may hold
   * more: an interrupted run's streams run ahead of its checkpoint; with `exact`, a finished
   * index's, they must hold exactly `count`); each picture is `crops` tiles of `dimensions`
   * features. Ids, `pixels` and `features` are per picture.
   * @throws {Error} with a reason when either file is missing, too short, or (`exact`) of another size.
   */
  static async open(
    folder: string,
    count: number,
    tileShape: TileShape,
    featureDimensions: number,
    crops: number,
    exact = false,
  ): Promise<EarlierTiles> {
    const tilesFile = path.join(folder, INDEX_FILES.tiles);
    const tileBytes = tileShape.width * tileShape.height * 3 * crops;
    const dimensions = featureDimensions * crops;
    const named = (name: string, problem: unknown): Error =>
      new Error(`${name} ${problem instanceof Error ? problem.message : String(problem)}`);
    const size = await regularFileSize(tilesFile).catch((problem: unknown) => {
      throw named(INDEX_FILES.tiles, problem);
    });
    if (exact && size !== count * tileBytes) throw new Error(`${INDEX_FILES.tiles} has ${size} bytes, expected ${count * tileBytes}`);
    if (size < count * tileBytes) throw new Error(`${INDEX_FILES.tiles} is too short`);
    // An interrupted run's files may run ahead of its checkpoint: only the first `count` pictures are read.
    const featureLength = count * dimensions * 4;
    const featureBytes = await readRegularFile(
      path.join(folder, INDEX_FILES.features),
      exact ? { bytes: featureLength } : { length: featureLength },
    ).catch((problem: unknown) => {
      throw named(INDEX_FILES.features, problem);
    });
    if (featureBytes.length < count * dimensions * 4) throw new Error(`${INDEX_FILES.features} is too short`);
    const features = new Float32Array(featureBytes.buffer, featureBytes.byteOffset, count * dimensions);
    const bad = features.findIndex((value) => !(value >= 0 && value <= 255));
    if (bad >= 0)
      throw new Error(`${INDEX_FILES.features} holds ${features[bad]} for picture ${Math.floor(bad / dimensions)}, not a colour`);
    const handle = await open(tilesFile, constants.O_RDONLY | constants.O_NONBLOCK);
    return new EarlierTiles(folder, handle, count, tileBytes, features, dimensions);
  }

  /** The pixels of one tile (a copy), read from disk with the tiles after it. */
  async pixels(id: number): Promise<Buffer> {
    if (!this.block || id < this.block.first || id >= this.block.first + READ_AHEAD) {
      this.block = { first: id, pixels: this.read(id, Math.min(READ_AHEAD, this.count - id)) };
    }
    const { first, pixels } = this.block;
    const start = (id - first) * this.tileBytes;
    return Buffer.from((await pixels).subarray(start, start + this.tileBytes));
  }

  private async read(first: number, tiles: number): Promise<Buffer> {
    const buffer = Buffer.alloc(tiles * this.tileBytes);
    const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, first * this.tileBytes);
    if (bytesRead !== buffer.length) throw new Error(`cannot read tiles ${first}-${first + tiles - 1} of ${this.folder}: short read`);
    return buffer;
  }

  /** The stored features of one tile (a view). */
  features(id: number): Float32Array {
    return this.featureValues.subarray(id * this.dimensions, (id + 1) * this.dimensions);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Opens earlier tiles, or returns the reason they cannot be used. */
export async function openEarlierTiles(
  folder: string,
  count: number,
  tileShape: TileShape,
  dimensions: number,
  crops: number,
): Promise<EarlierTiles | string> {
  try {
    return await EarlierTiles.open(folder, count, tileShape, dimensions, crops);
  } catch (error) {
    return reasonOf(error);
  }
}
