import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { annVectors, DEFAULT_METHOD, descriptorLength, tileDescriptors } from '../tiles/descriptors.js';
import { TimeSlicer, yieldToEventLoop } from '../yield.js';
import {
  ANN_PARAMETERS,
  ANN_SHARD_TILES,
  AnnShardWriter,
  annShardFile,
  LightnessShards,
  readCheckedAnnFile,
  shardExpected,
  type AnnShards,
} from './ann.js';
import { annShardCount, INDEX_FILES, type IndexManifest, type LightnessRange } from './format.js';

/** HNSW shards of an index folder that were built over exactly the tiles being written, in this order, to be copied. */
export interface ReusableAnn {
  folder: string;
  shardLightness: LightnessRange[];
  shardTiles: number;
}

/**
 * The `ann` entry of the manifests this version writes with shards of `shardTiles`, but for
 * `shardLightness`: an index's HNSW shards are reusable only when equal (copied, they keep their size).
 */
export function annDescription(shardTiles = ANN_SHARD_TILES): IndexManifest['ann'] {
  return {
    distance: ANN_PARAMETERS.space,
    m: ANN_PARAMETERS.m,
    efConstruction: ANN_PARAMETERS.efConstruction,
    method: DEFAULT_METHOD,
    shardTiles,
  };
}

/**
 * Copies the HNSW shards of `reusable` over `tiles` tiles into `folder`: each file is read and
 * checked (see readCheckedAnnFile) and the checked bytes are written, so a damaged or changed
 * file is never carried into a new index.
 * @throws {Error} naming the file that is refused
 */
export async function copyCheckedShards(reusable: ReusableAnn, tiles: number, folder: string): Promise<void> {
  const shards: AnnShards = { dimensions: descriptorLength(DEFAULT_METHOD), m: ANN_PARAMETERS.m, tiles, shardTiles: reusable.shardTiles };
  for (let shard = 0; shard < annShardCount(tiles, reusable.shardTiles); shard++) {
    const name = annShardFile(shard);
    let bytes: Buffer;
    try {
      bytes = readCheckedAnnFile(path.join(reusable.folder, name), shardExpected(shards, shard));
    } catch (error) {
      throw new Error(`${name} of the previous index: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    await writeFile(path.join(folder, name), bytes);
  }
}

/**
 * The HNSW vectors of the default method (see `annVectors`) of tiles, from their stored features,
 * computed into arrays kept from call to call.
 */
export class StoredToAnnVectors {
  private readonly descriptors: Float32Array;
  private readonly vectors: Float32Array;

  /** `tiles`: the most tiles asked for at once. */
  constructor(tiles: number) {
    this.descriptors = new Float32Array(tiles * descriptorLength(DEFAULT_METHOD));
    this.vectors = new Float32Array(this.descriptors.length);
  }

  /** The vectors of the first `tiles` tiles of `features`, one after another (valid until the next call). */
  of(features: Float32Array, tiles: number): Float32Array {
    return annVectors(tileDescriptors(features, tiles, DEFAULT_METHOD, this.descriptors), DEFAULT_METHOD, this.vectors);
  }
}

/** Tiles whose features are read and described at a time (192 KB of features). */
const ANN_BLOCK_TILES = 1024;
/** Scratch file in the temporary folder: every tile's id and HNSW vector, in shard order. */
const RANKED_FILE = 'ranked.tmp';

/**
 * Writes the HNSW shards of the default method over the first `count` tiles of `folder`'s
 * features.f32 and returns each shard's lightness range. Neither the features nor more than one
 * shard are held in memory: a first pass counts the tiles' lightness (see LightnessShards), a
 * second writes each tile's id and vector at its rank in a scratch file, so that every shard is
 * one run of it; each shard is then read back and its tiles added in id order. `onShard` is told
 * each shard written (`done` of `total`).
 */
export async function annFromFeatures(
  folder: string,
  count: number,
  dimensions: number,
  shardTiles: number,
  signal?: AbortSignal,
  onShard?: (done: number, total: number) => void,
): Promise<LightnessRange[]> {
  const length = descriptorLength(DEFAULT_METHOD);
  const plan = new LightnessShards(shardTiles);
  const rankedFile = path.join(folder, RANKED_FILE);
  const block = new Float32Array(ANN_BLOCK_TILES * dimensions);
  const vectors = new StoredToAnnVectors(ANN_BLOCK_TILES);
  // A record: the tile id (uint32), then its vector (float32 each).
  const stride = 1 + length;
  const record = new ArrayBuffer(stride * 4);
  const recordId = new Uint32Array(record, 0, 1);
  const recordVector = new Float32Array(record, 4, length);
  const recordBytes = new Uint8Array(record);
  const eachBlock = async (handle: FileHandle, visit: (vectors: Float32Array, first: number, tiles: number) => void): Promise<void> => {
    for (let first = 0; first < count; first += ANN_BLOCK_TILES) {
      const tiles = Math.min(ANN_BLOCK_TILES, count - first);
      const { bytesRead } = await handle.read(new Uint8Array(block.buffer), 0, tiles * dimensions * 4, first * dimensions * 4);
      if (bytesRead !== tiles * dimensions * 4) throw new Error(`${INDEX_FILES.features} is too short`);
      signal?.throwIfAborted();
      visit(vectors.of(block, tiles), first, tiles);
    }
  };
  let features: FileHandle | undefined;
  let ranked: number | undefined;
  try {
    features = await open(path.join(folder, INDEX_FILES.features), 'r');
    await eachBlock(features, (described, first, tiles) => {
      for (let tile = 0; tile < tiles; tile++) plan.count(described[tile * length]!);
    });
    ranked = openSync(rankedFile, 'w+');
    const rankedFd = ranked;
    plan.startPass();
    await eachBlock(features, (described, first, tiles) => {
      for (let tile = 0; tile < tiles; tile++) {
        const vector = described.subarray(tile * length, (tile + 1) * length);
        recordId[0] = first + tile;
        recordVector.set(vector);
        // Blocking: one small write per tile, at its rank (the page cache takes them in microseconds).
        writeSync(rankedFd, recordBytes, 0, stride * 4, plan.rankOf(vector[0]!) * stride * 4);
      }
    });
    const writer = new AnnShardWriter(length);
    const ranges: LightnessRange[] = [];
    const shardRecords = new ArrayBuffer(Math.min(shardTiles, Math.max(1, count)) * stride * 4);
    // A shard takes ~0.2 s, more on a busy machine: Ctrl-C is handled within shards too.
    const slicer = new TimeSlicer(signal);
    const shards = annShardCount(count, shardTiles);
    for (let shard = 0; shard < shards; shard++) {
      await yieldToEventLoop(signal);
      const tiles = Math.max(0, Math.min(shardTiles, count - shard * shardTiles));
      const bytes = tiles * stride * 4;
      if (readSync(rankedFd, new Uint8Array(shardRecords, 0, bytes), 0, bytes, shard * shardTiles * stride * 4) !== bytes)
        throw new Error(`${RANKED_FILE} is too short`);
      const ids = new Uint32Array(shardRecords);
      const values = new Float32Array(shardRecords);
      // Tiles enter each shard in id order, as `buildAnn` adds them.
      const order = Array.from({ length: tiles }, (_, i) => i).sort((a, b) => ids[a * stride]! - ids[b * stride]!);
      writer.start(tiles);
      for (const i of order) {
        writer.add(values.subarray(i * stride + 1, (i + 1) * stride), ids[i * stride]!);
        if (slicer.due) await slicer.pause();
      }
      ranges.push(writer.write(path.join(folder, annShardFile(shard))));
      onShard?.(shard + 1, shards);
    }
    return ranges;
  } finally {
    await features?.close();
    if (ranked !== undefined) closeSync(ranked);
    await rm(rankedFile, { force: true });
  }
}
