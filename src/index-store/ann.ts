import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import hnswlib from 'hnswlib-node';
import { readRegularFileSync } from '../files/read.js';
import { TimeSlicer } from '../yield.js';
import { annShardCount, INDEX_FILES, type LightnessRange } from './format.js';
import { checkHnswFile, checkHnswHeader, HNSW_HEADER_BYTES, type HnswExpected } from './hnsw-file.js';
export { annShardCount };

const { HierarchicalNSW } = hnswlib;
export type AnnIndex = InstanceType<typeof HierarchicalNSW>;

/**
 * hnswlib-node construction parameters used for every index: efConstruction 40 builds several
 * times faster than hnswlib's usual 200 for the same mosaics (docs/design.md: HNSW).
 */
export const ANN_PARAMETERS = { space: 'l2', m: 16, efConstruction: 40, seed: 100 } as const;
/** Search breadth: ef 16 finds the exact nearest colour for 99 % of queries, at 2.5x the speed of ef 64. */
const SEARCH_EF = 16;

/**
 * Builds an HNSW index over `count` feature vectors of `dimensions` floats; vector `i` is labelled
 * `i * labelStep` (tile ids; a step leaves tiles out, e.g. all but each picture's centre crop).
 * Yields to the event loop every few milliseconds (seconds for large indexes), and stops there
 * with the signal's reason when it is aborted.
 */
export async function buildAnn(
  features: Float32Array,
  dimensions: number,
  count: number,
  labelStep = 1,
  signal?: AbortSignal,
): Promise<AnnIndex> {
  const ann = createAnn(dimensions, count);
  const slicer = new TimeSlicer(signal);
  for (let first = 0; first < count; first += ADD_BATCH) {
    const last = Math.min(count, first + ADD_BATCH);
    addToAnn(ann, features.subarray(first * dimensions, last * dimensions), dimensions, first * labelStep, labelStep);
    await slicer.pause();
  }
  ann.setEf(SEARCH_EF);
  return ann;
}

/** An empty HNSW index for up to `capacity` vectors, to fill with `addToAnn` (in id order, for the same graph as `buildAnn`). */
export function createAnn(dimensions: number, capacity: number): AnnIndex {
  const ann = new HierarchicalNSW(ANN_PARAMETERS.space, dimensions);
  resetAnn(ann, capacity);
  return ann;
}

/** Replaces `ann`'s graph (freed) with an empty one for up to `capacity` vectors, built with ANN_PARAMETERS. */
function resetAnn(ann: AnnIndex, capacity: number): void {
  ann.initIndex(Math.max(1, capacity), ANN_PARAMETERS.m, ANN_PARAMETERS.efConstruction, ANN_PARAMETERS.seed);
}

/** Adds the vectors in `vectors` (`dimensions` floats each) with labels `firstId`, `firstId + labelStep`, ... */
export function addToAnn(ann: AnnIndex, vectors: Float32Array, dimensions: number, firstId: number, labelStep = 1): void {
  for (let i = 0; i < vectors.length / dimensions; i++) {
    ann.addPoint(Array.from(vectors.subarray(i * dimensions, (i + 1) * dimensions)), firstId + i * labelStep);
  }
}

/**
 * Reads an HNSW file (written by `writeIndexSync`) and checks all of it against what it must hold
 * (see checkHnswFile) before hnswlib, whose loader trusts every byte, is given it. The size is
 * checked from the header before the file is read.
 * @throws {Error} with the reason the file is refused
 */
export function readCheckedAnnFile(file: string, expected: HnswExpected): Buffer {
  const head = readRegularFileSync(file, { length: HNSW_HEADER_BYTES });
  const bounds = checkHnswHeader(head, expected);
  if (typeof bounds === 'string') throw new Error(bounds);
  const bytes = readRegularFileSync(file, { maxBytes: bounds.maxBytes });
  const reason = bytes.length < bounds.minBytes ? `the file is cut short (${bytes.length} bytes)` : checkHnswFile(bytes, expected);
  if (reason !== undefined) throw new Error(reason);
  return bytes;
}

/**
 * Loads an HNSW file once it is checked (see readCheckedAnnFile). hnswlib-node reads only from a
 * path, so the checked bytes are loaded from a private copy: the file itself could change between
 * the check and the load.
 * @throws {Error} with the reason the file is refused
 */
export function loadAnn(file: string, expected: HnswExpected): AnnIndex {
  const bytes = readCheckedAnnFile(file, expected);
  const ann = new HierarchicalNSW(ANN_PARAMETERS.space, expected.dimensions);
  let folder: string | undefined;
  try {
    folder = mkdtempSync(path.join(os.tmpdir(), 'tsmosaic-hnsw-'));
  } catch {
    // No writable temporary folder (a read-only system, Node's permission model): the file itself
    // is loaded, if it is still the one checked.
  }
  try {
    if (folder) {
      const copy = path.join(folder, 'hnsw.bin');
      writeFileSync(copy, bytes, { mode: 0o600 });
      ann.readIndexSync(copy);
    } else {
      if (!readRegularFileSync(file, { bytes: bytes.length }).equals(bytes)) throw new Error('the file changed while it was read');
      ann.readIndexSync(file);
    }
  } finally {
    if (folder) rmSync(folder, { recursive: true, force: true });
  }
  ann.setEf(SEARCH_EF);
  return ann;
}

/** What the HNSW files of an index folder hold, from its checked manifest. */
export interface AnnShards {
  /** Values per vector. */
  dimensions: number;
  m: number;
  /** Tiles of the index: every file's labels are tile ids below this, the files hold this many in all. */
  tiles: number;
  /** Tiles per shard (the last holds the rest); undefined: one file of every tile. */
  shardTiles: number | undefined;
  /** Each shard's lightness range, when shards are split by lightness. */
  lightness?: LightnessRange[];
}

/** What shard file `shard` of an index must hold. */
export function shardExpected(shards: AnnShards, shard: number): HnswExpected {
  const { dimensions, m, tiles, shardTiles } = shards;
  const count = shardTiles === undefined ? tiles : Math.max(0, Math.min(shardTiles, tiles - shard * shardTiles));
  return { dimensions, m, count, labels: tiles };
}

/** What placement asks of an HNSW index: one hnswlib-node index or several shards searched together. */
export interface AnnSearch {
  searchKnn(query: number[], k: number): { neighbors: number[]; distances: number[] };
  getCurrentCount(): number;
}

/**
 * Tiles per HNSW shard of collections of more than ONE_SHARD_TILES tiles. process-collection
 * builds one shard at a time, so at most one shard's graph (~4 MB) is in memory. Shards hold tiles
 * of neighbouring lightness (see `LightnessShards`), so `build` searches only the shards near each
 * query's lightness (docs/design.md: HNSW).
 */
export const ANN_SHARD_TILES = 8_192;

/**
 * Collections of up to this many tiles (3,276 pictures of five crops) get one shard of this size,
 * built while the pictures decode: builds search it faster than two shards (docs/design.md: HNSW).
 */
export const ONE_SHARD_TILES = 16_384;

/** File of shard `shard` in an index folder: hnsw.bin, then hnsw.1.bin, hnsw.2.bin, ... */
export function annShardFile(shard: number): string {
  return shard === 0 ? INDEX_FILES.ann : INDEX_FILES.ann.replace(/\.bin$/, `.${shard}.bin`);
}

/**
 * Several HNSW indexes over parts of the tiles, searched as one: the `k` nearest of all their
 * answers. With each shard's lightness range, shards are searched nearest range first and a shard
 * is skipped once `k` answers are all nearer than its range (the squared L2 distance is at least
 * the squared difference of the first components), which leaves the answer unchanged.
 */
export class ShardedAnn implements AnnSearch {
  constructor(
    private readonly shards: AnnSearch[],
    private readonly lightness?: LightnessRange[],
  ) {
    if (lightness && lightness.length !== shards.length)
      throw new RangeError(`${shards.length} shards but ${lightness.length} lightness ranges`);
  }

  getCurrentCount(): number {
    return this.shards.reduce((sum, shard) => sum + shard.getCurrentCount(), 0);
  }

  searchKnn(query: number[], k: number): { neighbors: number[]; distances: number[] } {
    let nearest: Answer = { neighbors: [], distances: [] };
    for (const [shard, gap] of this.searchOrder(query[0]!)) {
      // (with a margin for hnswlib's float arithmetic)
      if (nearest.neighbors.length >= k && gap * gap > nearest.distances[k - 1]! * (1 + 1e-5)) break;
      const found = shard.searchKnn(query, Math.min(k, shard.getCurrentCount()));
      nearest = nearest.neighbors.length === 0 ? found : mergeNearest(nearest, found, k);
    }
    return nearest;
  }

  /** The shards with the gap between `lightness` and their range, smallest gap first (all gaps 0 without ranges). */
  private searchOrder(lightness: number): [AnnSearch, number][] {
    const ranges = this.lightness;
    if (!ranges) return this.shards.map((shard) => [shard, 0]);
    return this.shards
      .map((shard, i): [AnnSearch, number] => [shard, Math.max(0, ranges[i]![0] - lightness, lightness - ranges[i]![1])])
      .sort((a, b) => a[1] - b[1]);
  }
}

type Answer = { neighbors: number[]; distances: number[] };

/** The `k` first of two answers, each sorted by distance then label (as hnswlib-node returns them), in that order. */
function mergeNearest(a: Answer, b: Answer, k: number): Answer {
  const neighbors: number[] = [];
  const distances: number[] = [];
  let i = 0;
  let j = 0;
  while (neighbors.length < k && (i < a.neighbors.length || j < b.neighbors.length)) {
    const takeA =
      j >= b.neighbors.length ||
      (i < a.neighbors.length &&
        (a.distances[i]! < b.distances[j]! || (a.distances[i] === b.distances[j] && a.neighbors[i]! < b.neighbors[j]!)));
    if (takeA) {
      neighbors.push(a.neighbors[i]!);
      distances.push(a.distances[i++]!);
    } else {
      neighbors.push(b.neighbors[j]!);
      distances.push(b.distances[j++]!);
    }
  }
  return { neighbors, distances };
}

/**
 * Reads and checks the shard files of an index folder: one index, or a ShardedAnn over several.
 * @throws {Error} naming the file that is refused, and why
 */
export function loadAnnShards(folder: string, shards: AnnShards): AnnSearch {
  const { lightness } = shards;
  const loaded = Array.from({ length: annShardCount(shards.tiles, shards.shardTiles) }, (_, shard) => {
    try {
      return loadAnn(path.join(folder, annShardFile(shard)), shardExpected(shards, shard));
    } catch (error) {
      throw new Error(`${annShardFile(shard)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  });
  if (loaded.length === 1) return loaded[0]!;
  if (lightness) for (const shard of loaded) shard.setEf(LIGHTNESS_SHARD_EF);
  return new ShardedAnn(loaded, lightness);
}

/**
 * Search breadth in shards of neighbouring lightness: their tiles crowd closer together than a
 * collection's, and ef 16 found fewer true neighbours (docs/design.md: HNSW).
 */
const LIGHTNESS_SHARD_EF = 32;

/** Lightness (first vector component, CIELAB L* 0..100) is counted in this many steps to split tiles into shards. */
const LIGHTNESS_STEPS = 4096;

/**
 * Which shard each tile goes to, so that shards hold tiles of neighbouring lightness and all but
 * the last hold exactly `shardTiles`: tiles ranked by lightness step, then id, cut every
 * `shardTiles`. Built from a count per lightness step, so its memory does not grow with the tiles;
 * `rankOf` must then be asked for every tile in id order (it counts the tiles of each step seen).
 */
export class LightnessShards {
  private readonly counts = new Uint32Array(LIGHTNESS_STEPS);
  private readonly before = new Uint32Array(LIGHTNESS_STEPS);
  private readonly seen = new Uint32Array(LIGHTNESS_STEPS);

  constructor(private readonly shardTiles: number) {}

  /** First pass: counts a tile of this lightness. */
  count(lightness: number): void {
    this.counts[step(lightness)]!++;
  }

  /** Starts a pass over the tiles in id order (after every tile was counted). */
  startPass(): void {
    let total = 0;
    for (let i = 0; i < LIGHTNESS_STEPS; i++) {
      this.before[i] = total;
      total += this.counts[i]!;
    }
    this.seen.fill(0);
  }

  /** The rank of the next tile in id order, of this lightness: it goes to shard `floor(rank / shardTiles)`. */
  rankOf(lightness: number): number {
    const at = step(lightness);
    return this.before[at]! + this.seen[at]!++;
  }
}

/** The lightness step of a value (values off 0..100, and NaN from damaged features, fall in the end steps). */
function step(lightness: number): number {
  if (Number.isNaN(lightness)) return 0;
  return Math.min(LIGHTNESS_STEPS - 1, Math.max(0, Math.floor((lightness / 100) * LIGHTNESS_STEPS)));
}

/**
 * Vectors an AnnShardWriter holds before adding them to the graph together (five crops of 128
 * pictures): added one picture at a time, between decodes that push the graph out of the CPU
 * caches, they took twice as long (docs/design.md: HNSW). A run holds the main thread ~15-20 ms.
 */
export const ADD_BATCH = 640;

/**
 * Builds HNSW shards one after another with one hnswlib-node object, re-initialised for each:
 * every hnswlib index holds 65,536 mutexes (2.6 MB) however small, and V8, which does not see that
 * native memory, collects discarded objects late, so a fresh object per shard left ~3 MB resident
 * per shard written. Vectors are added in runs (see ADD_BATCH), in the order given, so the graph is
 * the one that adding them one by one builds.
 */
export class AnnShardWriter {
  private readonly ann: AnnIndex;
  private readonly pending: Float32Array;
  private readonly pendingLabels: Float64Array;
  private pendingCount = 0;
  private low = Infinity;
  private high = -Infinity;

  /** `batch`: vectors held before they are added (see ADD_BATCH). */
  constructor(
    private readonly dimensions: number,
    private readonly batch = ADD_BATCH,
  ) {
    this.ann = new HierarchicalNSW(ANN_PARAMETERS.space, dimensions);
    this.pending = new Float32Array(batch * dimensions);
    this.pendingLabels = new Float64Array(batch);
  }

  /** Starts a shard of `capacity` tiles, the graph `buildAnn` makes when they are added in the same order. */
  start(capacity: number): void {
    resetAnn(this.ann, capacity);
    this.pendingCount = 0;
    this.low = Infinity;
    this.high = -Infinity;
  }

  add(vector: ArrayLike<number>, label: number): void {
    if (vector.length !== this.dimensions)
      throw new RangeError(`expected a vector of ${this.dimensions} values, received ${vector.length}`);
    this.pending.set(vector, this.pendingCount * this.dimensions);
    this.pendingLabels[this.pendingCount++] = label;
    if (this.pendingCount === this.batch) this.addPending();
    // A damaged tile's NaN lightness would make the range unreadable; its distances are NaN and never rank.
    if (!Number.isFinite(vector[0])) return;
    this.low = Math.min(this.low, vector[0]!);
    this.high = Math.max(this.high, vector[0]!);
  }

  /** Writes the shard to `file`, sized to what it holds, frees its graph and returns its lightness range ([0, 0] when empty). */
  write(file: string): LightnessRange {
    this.addPending();
    const held = this.ann.getCurrentCount();
    if (this.ann.getMaxElements() !== Math.max(1, held)) this.ann.resizeIndex(Math.max(1, held));
    this.ann.writeIndexSync(file);
    const range: LightnessRange = this.low <= this.high ? [this.low, this.high] : [0, 0];
    this.drop();
    return range;
  }

  /** Frees the shard's graph without writing it. */
  drop(): void {
    this.pendingCount = 0;
    resetAnn(this.ann, 1);
  }

  private addPending(): void {
    const { dimensions } = this;
    try {
      for (let i = 0; i < this.pendingCount; i++)
        this.ann.addPoint(Array.from(this.pending.subarray(i * dimensions, (i + 1) * dimensions)), this.pendingLabels[i]!);
    } finally {
      this.pendingCount = 0;
    }
  }
}
