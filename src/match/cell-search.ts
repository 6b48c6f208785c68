import type { AnnSearch } from '../index-store/ann.js';
import type { TargetImage } from '../target/target.js';
import { targetMeans, type RowBand } from '../target/target-means.js';
import { annVectors, cellDescriptors, descriptorLength, type MatchMethod } from '../tiles/descriptors.js';

/** A band of grid cells as placement needs them: their descriptors and each one's nearest tiles by the index. */
export interface CellAnswers {
  /** Descriptors of the band's cells (see method.ts), row-major. */
  descriptors: Float32Array;
  /** Answers per cell: the ids of cell i's nearest tiles, nearest first, are [i * k, (i + 1) * k). */
  k: number;
  neighbors: Int32Array;
  /** Their squared distances in the index's space. */
  distances: Float32Array;
}

/** What describes and searches the cells of a grid: its size, the target, the method and the index. */
export interface CellGrid {
  target: TargetImage;
  columns: number;
  rows: number;
  method: MatchMethod;
}

/**
 * Tiles of the index answers kept for sharing between cells: 25,000 answers of 16, about 3 MB (a
 * 200 x 125 grid asks about 7,800); emptied when full, so memory does not grow with huge grids.
 * Bounded by tiles, not answers: the searches farther out ask for 64, 256, ... tiles.
 */
const CACHE_TILES = 25_000 * 16;
/** Answers the cache holds at most (each asks for at least one tile: an index of a few tiles answers few). */
const CACHE_ANSWERS = 32_768;
/**
 * Query vectors are rounded to this many units for sharing index answers: whole sRGB levels, as
 * pycollage's 8-bit target pixels, and 2 CIELAB units (half the matching time: docs/design.md).
 */
const QUERY_ROUNDING = { rgb: 1, lab: 2 } as const;

/**
 * `ann`'s nearest tiles to cells' descriptors. Nearby cells often want the same tiles: the index
 * is asked once per coarsely rounded query vector, and each cell then ranks that shared candidate
 * set by its own exact cost. The answers are kept in typed arrays found through a hash table of the
 * rounded vectors (open addressing), which the garbage collector does not copy around.
 */
export class CachedSearch {
  /** The answers' tiles, nearest first, and their squared distances in the index's space: answer a's are [start(a), start(a) + count(a)). */
  neighbors = new Int32Array(4096);
  distances = new Float32Array(4096);
  private readonly rounding: number;
  private readonly length: number;
  private readonly searchable: number;
  /** Each answer's key: `wanted`, then the rounded vector, as 32-bit integers. */
  private readonly keys: Int32Array;
  private readonly starts = new Int32Array(CACHE_ANSWERS);
  private readonly counts = new Int32Array(CACHE_ANSWERS);
  /** Slots of the hash table: answer + 1, 0 when empty; twice the answers, so that chains stay short. */
  private readonly slots = new Int32Array(CACHE_ANSWERS * 2);
  private answers = 0;
  private used = 0;
  // Reused for every query: the cell's descriptor, its index vector and its key.
  private readonly descriptor: Float32Array;
  private readonly vector: Float32Array;
  private readonly key: Int32Array;

  constructor(
    private readonly ann: AnnSearch,
    private readonly method: MatchMethod,
  ) {
    this.rounding = QUERY_ROUNDING[method.metric];
    this.length = descriptorLength(method);
    this.searchable = ann.getCurrentCount();
    this.keys = new Int32Array(CACHE_ANSWERS * (this.length + 1));
    this.descriptor = new Float32Array(this.length);
    this.vector = new Float32Array(this.length);
    this.key = new Int32Array(this.length + 1);
  }

  /** Where answer `answer` starts in `neighbors` and `distances`. */
  start(answer: number): number {
    return this.starts[answer]!;
  }

  /** How many tiles answer `answer` holds: `wanted`, or fewer when the index holds fewer or the search found fewer. */
  count(answer: number): number {
    return this.counts[answer]!;
  }

  /**
   * The answer, from the cache or the index, giving the `wanted` nearest tiles to cell `cell` of
   * the descriptor array `cells` (see start and count); valid until the next search.
   */
  search(cells: Float32Array, cell: number, wanted: number): number {
    const { length, key, keys, slots, descriptor } = this;
    const keyLength = length + 1;
    const mask = slots.length - 1;
    for (let i = 0; i < length; i++) descriptor[i] = cells[cell * length + i]!;
    const query = annVectors(descriptor, this.method, this.vector);
    key[0] = wanted;
    let hash = Math.imul(wanted, 0x9e3779b1);
    for (let i = 0; i < length; i++) {
      key[i + 1] = Math.round(query[i]! / this.rounding);
      hash = Math.imul(hash ^ key[i + 1]!, 0x01000193);
    }
    const home = (hash ^ (hash >>> 15)) & mask;
    let slot = home;
    for (; slots[slot] !== 0; slot = (slot + 1) & mask) {
      const answer = slots[slot]! - 1;
      let same = true;
      for (let i = 0; i < keyLength && same; i++) same = keys[answer * keyLength + i] === key[i];
      if (same) return answer;
    }
    const found = this.ann.searchKnn(Array.from(query), Math.min(wanted, this.searchable));
    const count = found.neighbors.length;
    // Bounded, so memory does not grow with gigapixel grids: emptied when full.
    if (this.answers === CACHE_ANSWERS || this.used + count > CACHE_TILES) {
      slots.fill(0);
      this.answers = 0;
      this.used = 0;
      slot = home;
    }
    if (this.used + count > this.neighbors.length) this.grow(this.used + count);
    const answer = this.answers++;
    keys.set(key, answer * keyLength);
    this.starts[answer] = this.used;
    this.counts[answer] = count;
    this.neighbors.set(found.neighbors, this.used);
    this.distances.set(found.distances, this.used);
    this.used += count;
    slots[slot] = answer + 1;
    return answer;
  }

  /** The `wanted` nearest tiles to cell `cell` of `cells`, as search, as views (valid until the next search). */
  nearest(cells: Float32Array, cell: number, wanted: number): { neighbors: Int32Array; distances: Float32Array } {
    const answer = this.search(cells, cell, wanted);
    const start = this.starts[answer]!;
    const end = start + this.counts[answer]!;
    return { neighbors: this.neighbors.subarray(start, end), distances: this.distances.subarray(start, end) };
  }

  /** Room for `tiles` tiles of answers (up to CACHE_TILES, more for a single larger answer). */
  private grow(tiles: number): void {
    const size = Math.max(tiles, Math.min(CACHE_TILES, this.neighbors.length * 2));
    const neighbors = new Int32Array(size);
    const distances = new Float32Array(size);
    neighbors.set(this.neighbors.subarray(0, this.used));
    distances.set(this.distances.subarray(0, this.used));
    this.neighbors = neighbors;
    this.distances = distances;
  }
}

/** Fresh memory for answerCells' arrays. */
function newMemory(bytes: number): ArrayBuffer {
  return new ArrayBuffer(bytes);
}

/**
 * Describes the cells of rows `band` of `grid` from the target and asks the index (through
 * `search`) for each one's `k` nearest tiles (k at most the tiles the index holds). Its three
 * arrays are each the whole of a buffer that `memory` gives (by default, new ones).
 */
export async function answerCells(
  grid: CellGrid,
  band: RowBand,
  search: CachedSearch,
  k: number,
  memory: (bytes: number) => ArrayBuffer = newMemory,
): Promise<CellAnswers> {
  const { target, columns, rows, method } = grid;
  const length = descriptorLength(method);
  const grain = length === 3 ? 1 : method.grid;
  const cells = columns * band.rows;
  const descriptors = cellDescriptors(
    await targetMeans(target, columns, rows, grain, band),
    columns,
    band.rows,
    method,
    new Float32Array(memory(cells * length * 4)),
  );
  const neighbors = new Int32Array(memory(cells * k * 4));
  const distances = new Float32Array(memory(cells * k * 4));
  for (let cell = 0; cell < cells; cell++) {
    const answer = search.search(descriptors, cell, k);
    const start = search.start(answer);
    const count = search.count(answer);
    // k is at most the index's tiles, but an approximate search may answer fewer: the last one
    // found stands in for the missing ones (a tile twice among the candidates changes nothing).
    for (let i = 0; i < k; i++) {
      const at = start + Math.min(i, count - 1);
      neighbors[cell * k + i] = search.neighbors[at]!;
      distances[cell * k + i] = search.distances[at]!;
    }
  }
  return { descriptors, k, neighbors, distances };
}

/** The answers of `count` rows from row `first` of `answers` (a band of `columns`-cell rows), as views. */
export function answerRows(answers: CellAnswers, columns: number, first: number, count: number): CellAnswers {
  const { descriptors, k, neighbors, distances } = answers;
  const length = descriptors.length / (neighbors.length / k);
  const [from, to] = [first * columns, (first + count) * columns];
  return {
    descriptors: descriptors.subarray(from * length, to * length),
    k,
    neighbors: neighbors.subarray(from * k, to * k),
    distances: distances.subarray(from * k, to * k),
  };
}
