import type { Worker } from 'node:worker_threads';
import { reasonOf, TsmosaicError } from '../errors.js';
import type { AnnSearch } from '../index-store/ann.js';
import type { RowBand } from '../target/target-means.js';
import type { TargetSize } from '../target/target.js';
import { detachBufferOnce, startWorker } from '../start-worker.js';
import { CELL_WORKER_LIMITS, takeWorkerStartedAhead } from './cell-worker-ahead.js';
import type { CellWorkerData, CellWorkerGrid, CellWorkerReply, CellWorkerRequest } from './cell-worker-protocol.js';
import { answerCells, CachedSearch, type CellAnswers, type CellGrid } from './cell-search.js';

/** Where placement gets the cells of each band of rows from (see answerCells). */
export interface CellSource {
  /** The cells of `band`; bands asked for one after another are answered in that order. */
  answer(band: RowBand): Promise<CellAnswers>;
  close(): Promise<void>;
}

/** Cells answered on this thread, with `ann`. */
export function localCells(grid: CellGrid, ann: AnnSearch, candidates: number): CellSource {
  const search = new CachedSearch(ann, grid.method);
  return { answer: (band) => answerCells(grid, band, search, candidates), close: () => Promise.resolve() };
}

/**
 * Cells answered by a worker thread, so that describing cells and searching the index run on
 * another core while this thread places the band before. It is started with the index alone (or
 * takes the worker the CLI started ahead, see startCellWorkerAhead, and hands it the index), so
 * that it boots and loads its HNSW index and sharp while this thread loads the rest; it decodes
 * the target itself. Bands may be asked for before the grid is given (`start`), and are answered
 * once it is and the target is decoded. Its failures reject as TsmosaicErrors.
 */
export class WorkerCells implements CellSource {
  private readonly worker: Worker;
  /** Whether it was started ahead of the build, so is likely booted, with sharp loaded, by the time the build asks (see targetSize). */
  readonly startedAhead: boolean;
  private readonly pending = new Map<number, { resolve: (answer: CellAnswers | TargetSize) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private readonly exited: Promise<void>;

  /**
   * A cell worker for the index in `data`, or undefined where worker threads cannot start (Node's
   * permission model without --allow-worker, say): the cells are then described on this thread.
   */
  static tryStart(data: CellWorkerData): WorkerCells | undefined {
    try {
      return new WorkerCells(data);
    } catch {
      return undefined;
    }
  }

  private constructor(data: CellWorkerData) {
    // Bands' buffers are moved back to the worker (see recycle), which detaches them here.
    detachBufferOnce();
    const ahead = takeWorkerStartedAhead();
    this.startedAhead = ahead !== undefined;
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
      else waiting?.resolve('cells' in reply ? reply.cells : reply.size);
    });
    this.worker.on('error', (error) => this.fail(new TsmosaicError(`the cell worker failed: ${reasonOf(error)}`, 1, { cause: error })));
    this.exited = new Promise((resolve) =>
      this.worker.on('exit', (code) => {
        this.fail(new TsmosaicError(`the cell worker stopped (exit code ${code})`));
        resolve();
      }),
    );
  }

  /** The displayed size of the target image file `file` (see readTargetSize), read by the worker. */
  targetSize(file: string): Promise<TargetSize> {
    return this.ask((id) => ({ id, sizeOf: file })) as Promise<TargetSize>;
  }

  /** The grid to answer, over the target image file the worker decodes. */
  start(grid: CellWorkerGrid, candidates: number): void {
    const request: CellWorkerRequest = { grid, candidates };
    this.worker.postMessage(request);
  }

  answer(band: RowBand): Promise<CellAnswers> {
    return this.ask((id) => ({ id, band })) as Promise<CellAnswers>;
  }

  /**
   * Gives the memory of a band's answers back to the worker once its rows are placed, for later
   * bands: moved buffers are freed here only at full garbage collections, so memory would climb
   * over a big build (docs/design.md: building). `cells`' arrays are empty afterwards.
   */
  recycle(cells: CellAnswers): void {
    if (this.closing || this.failure) return;
    const buffers = [cells.descriptors.buffer, cells.neighbors.buffer, cells.distances.buffer] as ArrayBuffer[];
    const request: CellWorkerRequest = { recycle: buffers };
    this.worker.postMessage(request, buffers);
  }

  /** Sends the request `request(id)` and gives the worker's reply to it. */
  private ask(request: (id: number) => CellWorkerRequest): Promise<CellAnswers | TargetSize> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(request(id));
    });
  }

  /**
   * Stops the worker at once, between its tasks, dropping bands not yet answered; the same promise
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
