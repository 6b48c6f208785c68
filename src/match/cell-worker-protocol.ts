import type { IndexManifest } from '../index-store/format.js';
import type { RowBand } from '../target/target-means.js';
import type { TargetCrop, TargetSize } from '../target/target.js';
import type { CellAnswers, CellGrid } from './cell-search.js';

/* The messages between a build and its cell worker (cell-worker.ts). */

/**
 * What the cell worker (cell-worker.ts) is started with, or, started ahead (see
 * startCellWorkerAhead), sent first: the index folder, whose HNSW index it loads at once.
 */
export interface CellWorkerData {
  index: string;
  manifest: Pick<IndexManifest, 'tileCount' | 'crops' | 'ann'>;
}

/** A grid of cells over a target image file of `size`, which the worker decodes itself (see loadTarget). */
/** `size` is the target's, or its part `crop`'s when it has one (see loadTarget). */
export type CellWorkerGrid = Omit<CellGrid, 'target'> & { target: string; size: TargetSize; crop?: TargetCrop };

/** The grid whose cells the worker answers and the index answers a cell wants (see candidateCount). */
export interface CellWorkerStart {
  grid: CellWorkerGrid;
  candidates: number;
}

export type CellWorkerRequest =
  | CellWorkerData
  | CellWorkerStart
  | { id: number; band: RowBand }
  | { id: number; sizeOf: string }
  | { recycle: ArrayBuffer[] }
  | { stop: true };
export type CellWorkerReply = { id: number; cells: CellAnswers } | { id: number; size: TargetSize } | { id: number; error: string };
