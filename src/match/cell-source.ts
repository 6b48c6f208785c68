import type { Worker } from 'node:worker_threads';
import { reasonOf, TsmosaicError } from '../errors.js';
import type { AnnSearch } from '../index-store/ann.js';
import type { IndexManifest } from '../index-store/format.js';
import type { RowBand } from '../mosaic/target-means.js';
import { startWorker } from '../start-worker.js';
import { CELL_WORKER_LIMITS, takeWorkerStartedAhead } from './cell-worker-ahead.js';
import { answerCells, cachedSearch, type CellAnswers, type CellGrid } from './cell-search.js';

/** Where placement gets the cells of each band of rows from (see answerCells). */
export interface CellSource {
  /** The cells of `band`; bands asked for one after another are answered in that order. */
  answer(band: RowBand): Promise<CellAnswers>;
  close(): Promise<void>;
}

/** Cells answered on this thread, with `ann`. */
export function localCells(grid: CellGrid, ann: AnnSearch, candidates: number): CellSource {
  const search = cachedSearch(ann, grid.method);
  return { answer: (band) => answerCells(grid, band, search, candidates), close: () => Promise.resolve() };
}

/**
 * What the cell worker (cell-worker.ts) is started with, or, started ahead (see
 * startCellWorkerAhead), sent first: the index folder, whose HNSW index it loads at once.
 */
export interface CellWorkerData {
  index: string;
  manifest: Pick<IndexManifest, 'tileCount' | 'crops' | 'ann'>;
}

/** The grid whose cells the worker answers, with the decoded target, and the index answers a cell wants (see candidateCount). */
export interface CellWorkerStart {
  grid: CellGrid;
  candidates: number;
}

export type CellWorkerRequest = CellWorkerData | CellWorkerStart | { id: number; band: RowBand } | { stop: true };
export type CellWorkerReply = { id: number; cells: CellAnswers } | { id: number; error: string };

/**
 * Cells answered by a worker thread, so that describing cells and searching the index run on
 * another core while this thread places the band before. It is started with the index alone (or
 * takes the worker the CLI started ahead, see startCellWorkerAhead, and hands it the index), so
 * that it boots and loads its HNSW index while this thread reads the target; bands may be asked
 * for before the grid and the decoded target are given (`start`), and are answered once they are.
 * Its failures reject as TsmosaicErrors.
 */
export class WorkerCells implements CellSource {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (cells: CellAnswers) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private readonly exited: Promise<void>;

  constructor(data: CellWorkerData) {
    const ahead = takeWorkerStartedAhead();
    if (ahead) {
      this.worker = ahead;
      this.worker.postMessage(data satisfies CellWorkerRequest);
    } else {
      this.worker = startWorker(import.meta.url, 'cell-worker', data, CELL_WORKER_LIMITS);
    }
    this.worker.on('message', (reply: CellWorkerReply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      // The worker's own errors say what went wrong (a damaged HNSW index, say) in a line.
      if ('error' in reply) waiting?.reject(new TsmosaicError(reply.error));
      else waiting?.resolve(reply.cells);
    });
    this.worker.on('error', (error) => this.fail(new TsmosaicError(`the cell worker failed: ${reasonOf(error)}`, 1, { cause: error })));
    this.exited = new Promise((resolve) =>
      this.worker.on('exit', (code) => {
        this.fail(new TsmosaicError(`the cell worker stopped (exit code ${code})`));
        resolve();
      }),
    );
  }

  start(grid: CellGrid, candidates: number): void {
    const request: CellWorkerRequest = { grid, candidates };
    this.worker.postMessage(request);
  }

  answer(band: RowBand): Promise<CellAnswers> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: CellWorkerRequest = { id, band };
      this.worker.postMessage(request);
    });
  }

  /**
   * Stops the worker once it is done with what it was asked (at once when idle); the same promise
   * for every call. It is asked to end rather than terminated: terminating a worker still loading
   * its index killed the whole process when it came inside hnswlib-node's native module set-up
   * (a fatal N-API error, seen in CI on a small grid, whose worker is stopped while it starts).
   */
  close(): Promise<void> {
    if (!this.closing) {
      const request: CellWorkerRequest = { stop: true };
      this.worker.postMessage(request);
      this.closing = this.exited;
    }
    return this.closing;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(this.failure);
    this.pending.clear();
  }
}
