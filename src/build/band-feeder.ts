import { performance } from 'node:perf_hooks';
import { answerRows, type CellAnswers } from '../match/cell-search.js';
import type { CellSource, WorkerCells } from '../match/cell-source.js';
import type { TilePlacer } from '../match/placement.js';
import type { RowBand } from '../target/target-means.js';
import { TimeSlicer } from '../yield.js';

/** Cells of the target sampled at once when rows are placed one at a time (whole rows, at least one). */
const SAMPLED_CELLS = 4096;
/** Bands a cell worker is asked for ahead of the one being placed. */
const BANDS_AHEAD = 3;

/**
 * Feeds placement band by band: asks the cell source (a worker, or this thread) for the target's
 * cells and their index answers a few bands ahead, and places rows when the writer asks for them,
 * so that a PNG's bands are coded while later rows are placed and memory does not grow with the grid.
 */
export class BandFeeder {
  /** Seconds spent sampling, describing and placing rows. */
  matchingSeconds = 0;
  private readonly asked: { band: RowBand; cells: Promise<CellAnswers> }[] = [];
  private askedRows = 0;
  private placed = 0;
  private sampled: { band: RowBand; cells: CellAnswers } | undefined;
  private readonly sampledRows: number;
  private placer: TilePlacer | undefined;
  /** Bands answered ahead resolve as microtasks: without yielding, placing every row would never let a signal handler run. */
  private readonly slicer: TimeSlicer;

  /**
   * @param source where cells come from: a worker (also given as `worker`), or undefined until `start`
   * @param placementRows rows placed at a time (see placementBandRows); bands of cells are sampled
   *   in multiples of it
   * @param worker the source when it is a worker: asked ahead, given back each band's memory, and
   *   stopped as soon as every row is placed (`awaitWorkerStop`: before the last rows are returned)
   */
  constructor(
    private source: CellSource | undefined,
    private readonly worker: WorkerCells | undefined,
    private readonly columns: number,
    private readonly rows: number,
    private readonly placementRows: number,
    private readonly awaitWorkerStop: boolean,
    private readonly signal?: AbortSignal,
  ) {
    this.slicer = new TimeSlicer(signal);
    this.sampledRows = placementRows > 1 ? placementRows : Math.max(1, Math.floor(SAMPLED_CELLS / columns));
    if (worker) this.askAhead(BANDS_AHEAD);
  }

  /** Rows placed so far. */
  get placedRows(): number {
    return this.placed;
  }

  /** Gives the placer, once the index is loaded, and the source of cells when there was none (placement on this thread). */
  start(placer: TilePlacer, source?: CellSource): void {
    this.placer = placer;
    this.source ??= source;
  }

  /** Places rows until the first `wanted` are placed. */
  async placeThrough(wanted: number): Promise<void> {
    const started = performance.now();
    const { columns, rows, placementRows } = this;
    while (this.placed < wanted) {
      await this.slicer.pause();
      this.signal?.throwIfAborted();
      if (!this.sampled || this.placed === this.sampled.band.firstRow + this.sampled.band.rows) {
        // The band placed, its memory goes back to the worker for a later one.
        if (this.sampled) this.worker?.recycle(this.sampled.cells);
        this.askAhead(1);
        const { band, cells } = this.asked.shift()!;
        this.sampled = { band, cells: await cells };
        if (this.worker) this.askAhead(BANDS_AHEAD);
      }
      const count = Math.min(placementRows, rows - this.placed);
      const { band, cells } = this.sampled;
      await this.placer!.placeRows(this.placed, count, answerRows(cells, columns, this.placed - band.firstRow, count), this.signal);
      this.placed += count;
    }
    // The cell worker stops as soon as every row is placed, freeing its heap and HNSW copy; a PNG
    // writes its last bands meanwhile.
    if (this.placed === rows) {
      const closing = this.worker?.close();
      if (this.awaitWorkerStop) await closing;
    }
    this.matchingSeconds += (performance.now() - started) / 1000;
  }

  /**
   * Asks for bands until `bands` are waiting. A worker's first bands grow from one row (1, 1, 2, 4,
   * ... rows), so that placing starts early.
   */
  private askAhead(bands: number): void {
    while (this.asked.length < bands && this.askedRows < this.rows) {
      const size = this.placementRows > 1 ? this.placementRows : Math.max(1, Math.min(this.sampledRows, this.askedRows));
      const band = { firstRow: this.askedRows, rows: Math.min(size, this.rows - this.askedRows) };
      const cells = this.source!.answer(band);
      cells.catch(() => undefined); // awaited when the band is placed
      this.asked.push({ band, cells });
      this.askedRows += band.rows;
    }
  }
}
