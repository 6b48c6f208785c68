import type { AnnSearch } from '../index-store/ann.js';
import type { TargetImage } from '../mosaic/target.js';
import { targetMeans, type RowBand } from '../mosaic/target-means.js';
import { annVectors, cellDescriptors, descriptorLength, type MatchMethod } from './method.js';

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
 * Tiles of the index answers kept for sharing between cells: 25,000 answers of 16, about 12 MB
 * (a 200 x 125 grid asks about 7,800). The cache is emptied when full. It is bounded by tiles, not
 * answers: the searches farther out for cells whose candidates are all blocked ask for 64, 256, ...
 * tiles. Memory: 100,000 answers of 16 held 100 MB more at 500 Mpx than at 100 Mpx, with the
 * garbage of the last one; 50,000 in each of two threads (the cell worker's, this thread's) made
 * a 500 Mpx PNG peak 27 % above a 100 Mpx one.
 */
const CACHE_TILES = 25_000 * 16;
/**
 * Query vectors are rounded to this many units for sharing index answers: whole sRGB levels, as
 * pycollage's 8-bit target pixels, and 2 CIELAB units (measured: cell ΔE00 +0.3%, half the time).
 */
const QUERY_ROUNDING = { rgb: 1, lab: 2 } as const;

/** The index's `wanted` nearest tiles to cell `cell` of the descriptor array `cells`. */
export type CachedSearch = (cells: Float32Array, cell: number, wanted: number) => { neighbors: number[]; distances: number[] };

/**
 * `ann`'s `wanted` nearest tiles to a cell's descriptor. Nearby cells often want the same tiles:
 * the index is asked once per coarsely rounded query vector, and each cell then ranks that shared
 * candidate set by its own exact cost.
 */
export function cachedSearch(ann: AnnSearch, method: MatchMethod): CachedSearch {
  const cache = new Map<string, { neighbors: number[]; distances: number[] }>();
  let cachedTiles = 0;
  const rounding = QUERY_ROUNDING[method.metric];
  const length = descriptorLength(method);
  const searchable = ann.getCurrentCount();
  // Reused for every query: the cell's descriptor and index vector, and the codes of its key as a plain array (a string
  // made from it by apply took a fifteenth of the time of spreading a typed array).
  const descriptor = new Float32Array(length);
  const vector = new Float32Array(length);
  const keyCodes = new Array<number>(length + 2).fill(0);
  return (cells, cell, wanted) => {
    for (let i = 0; i < length; i++) descriptor[i] = cells[cell * length + i]!;
    const query = annVectors(descriptor, method, vector);
    // One flat string of 16-bit codes: a template built piece by piece is a rope of a dozen
    // strings, several times the memory of its text, for each of the cache's entries.
    keyCodes[0] = wanted & 0xffff;
    keyCodes[1] = wanted >>> 16;
    for (let i = 0; i < length; i++) keyCodes[i + 2] = (Math.round(query[i]! / rounding) + 0x8000) & 0xffff;
    const key = String.fromCharCode.apply(null, keyCodes);
    let found = cache.get(key);
    if (!found) {
      found = ann.searchKnn(Array.from(query), Math.min(wanted, searchable));
      // Bounded, so memory does not grow with gigapixel grids.
      if (cachedTiles + found.neighbors.length > CACHE_TILES) {
        cache.clear();
        cachedTiles = 0;
      }
      cache.set(key, found);
      cachedTiles += found.neighbors.length;
    }
    return found;
  };
}

/**
 * Describes the cells of rows `band` of `grid` from the target and asks the index (through
 * `search`) for each one's `k` nearest tiles (k at most the tiles the index holds).
 */
export async function answerCells(grid: CellGrid, band: RowBand, search: CachedSearch, k: number): Promise<CellAnswers> {
  const { target, columns, rows, method } = grid;
  const length = descriptorLength(method);
  const grain = length === 3 ? 1 : method.grid;
  const descriptors = cellDescriptors(await targetMeans(target, columns, rows, grain, band), columns, band.rows, method);
  const cells = columns * band.rows;
  const neighbors = new Int32Array(cells * k);
  const distances = new Float32Array(cells * k);
  for (let cell = 0; cell < cells; cell++) {
    const found = search(descriptors, cell, k);
    // k is at most the index's tiles, but an approximate search may answer fewer: the last one
    // found stands in for the missing ones (a tile twice among the candidates changes nothing).
    for (let i = 0; i < k; i++) {
      const answer = Math.min(i, found.neighbors.length - 1);
      neighbors[cell * k + i] = found.neighbors[answer]!;
      distances[cell * k + i] = found.distances[answer]!;
    }
  }
  return { descriptors, k, neighbors, distances };
}

/** The answers of `count` rows from row `first` of `answers` (a band of `columns`-cell rows), as views. */
export function answerRows(answers: CellAnswers, columns: number, first: number, count: number): CellAnswers {
  const { descriptors, k, neighbors, distances } = answers;
  const length = descriptors.length / (neighbors.length / k);
  const [from, to] = [first * columns, (first + count) * columns];
  return { descriptors: descriptors.subarray(from * length, to * length), k, neighbors: neighbors.subarray(from * k, to * k), distances: distances.subarray(from * k, to * k) };
}
