import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../start-worker.js';
import { TsmosaicError, reasonOf } from '../errors.js';
import { TileStore } from '../tiles/tile-store.js';
import { TileFile } from '../tiles/tile-file.js';
import { SourceRenderer, type TileSource } from './tile-source.js';
import { halveRows } from '../raster/halve.js';
import { pathExists } from '../files/paths.js';
import { discardStale, Temporary, writeThroughTemporary } from '../files/publish.js';
import { RenderArena, renderRegion, type MosaicPlan, type Region } from './render-region.js';
import { gridRowsThrough, mosaicSize } from '../tiles/mosaic-plan.js';
import { isTiled } from '../tiles/mosaic-layout.js';
import { assertViewerReplaceable, writeViewer } from './deep-zoom-viewer.js';
import {
  deepZoomLayout,
  dziDescriptor,
  tileCanvasBytes,
  tileRegion,
  tilesFolderOf,
  type DeepZoomLayout,
  type DeepZoomLevel,
} from './deep-zoom-layout.js';
import type { TileRowJob, TileRowReply, TileRowWorkerData } from './deep-zoom-worker.js';
import { TileEncoder } from './tile-encoder.js';
import { quote } from '../text.js';
import { TimeSlicer, yieldToEventLoop } from '../yield.js';

export { deepZoomLayout, dziDescriptor, tileRegion, tilesFolderOf, type DeepZoomLayout, type DeepZoomLevel };

/** Rows of the coarsest mip-mapped level rendered at a time to feed the halved levels above it. */
const STRIP_ROWS = 16;

export interface DeepZoomOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Worker threads rendering and encoding tile rows. Default: the available cores. */
  workers?: number;
  /** Runs once every tile is written, before the pyramid is put in place. */
  beforePublish?: () => Promise<void>;
}

/**
 * Checks, before any work, that writing the pyramid `file` replaces nothing but an earlier
 * pyramid and viewer.
 * @throws {TsmosaicError}
 */
export async function assertDeepZoomReplaceable(file: string): Promise<void> {
  const tiles = tilesFolderOf(file);
  if ((await pathExists(tiles)) && !(await pathExists(file))) {
    throw new TsmosaicError(
      `${quote(tiles)} exists and is not the tile folder of ${quote(path.basename(file))}; refusing to replace it (choose another --out)`,
    );
  }
  await assertViewerReplaceable(path.dirname(file));
}

/**
 * Writes the Deep Zoom pyramid of a mosaic: `file` (`<name>.dzi`), its tiles in
 * `<name>_files/<level>/<column>_<row>.jpg`, and an `index.html` viewer beside them.
 *
 * Memory does not grow with the mosaic. The finest levels are rendered tile by tile straight from
 * the plan: the full-size one from the tile store, each level above from the store's tiles reduced
 * by an exact area average (a mip-map: 20 px tiles give 10 and 5 px tiles), as long as a tile
 * shrinks to whole pixels; worker threads (one per core) render and encode them a tile row at a
 * time. The levels above those are halved from the coarsest mip-mapped level, a strip at a time,
 * on the main thread meanwhile.
 *
 * Everything is written into a hidden temporary folder and moved into place when complete.
 * @throws {TsmosaicError} on a write error; the signal's reason when aborted.
 */
export async function writeDeepZoom(
  plan: MosaicPlan,
  store: TileSource,
  file: string,
  options: DeepZoomOptions = {},
): Promise<DeepZoomLayout> {
  const { onProgress, signal } = options;
  const size = mosaicSize(plan, store.tileWidth, store.tileHeight);
  const layout = deepZoomLayout(size.width, size.height);
  const name = path.basename(file, path.extname(file));
  const tilesFolder = tilesFolderOf(file);
  await assertDeepZoomReplaceable(file);
  await Promise.all([file, tilesFolder].map(discardStale));
  const temporary = await Temporary.create(tilesFolder);
  const temporaryTiles = temporary.path;
  const total = layout.levels.reduce((sum, level) => sum + level.columns * level.rows, 0);
  let done = 0;
  const progress = (tiles: number): void => {
    done += tiles;
    onProgress?.(done, total);
  };
  // Cells of an exact output size are no whole tiles, and a tile file is read a band at a time:
  // the levels above the full size are then halved.
  const mipped = (plan.layout && !isTiled(plan.layout)) || store instanceof TileFile ? 0 : mippedLevels(store, layout);
  let workers: TileRowWorkers | undefined;
  try {
    workers = new TileRowWorkers(options.workers ?? os.availableParallelism(), layout, plan, store, temporaryTiles, progress);
    await Promise.all(layout.levels.map((level) => mkdir(path.join(temporaryTiles, String(level.level)), { recursive: true })));
    onProgress?.(0, total);
    await Promise.all([
      writeMippedLevels(plan, store, layout, mipped, workers, signal),
      writeHalvedLevels(plan, store, layout, mipped, temporaryTiles, progress, signal),
    ]);
    await workers.close();
    await options.beforePublish?.();
    await yieldToEventLoop(signal);
    await temporary.publish();
    await writeThroughTemporary(file, (descriptor) => writeFile(descriptor, dziDescriptor(layout)));
    await writeViewer(path.dirname(file), name, layout);
  } catch (error) {
    await workers?.close();
    await temporary.discard();
    if (signal?.aborted && error === signal.reason) throw error;
    if (error instanceof TsmosaicError) throw error;
    throw new TsmosaicError(`cannot write ${quote(file)}: ${reasonOf(error)}`, 1, { cause: error });
  }
  return layout;
}

/** How many levels below the full-size one have cells of a whole number of pixels (20 px: 10, 5). */
function mippedLevels({ tileWidth, tileHeight }: TileStore, layout: DeepZoomLayout): number {
  let mipped = 0;
  while (mipped < layout.levels.length - 1 && tileWidth % 2 ** (mipped + 1) === 0 && tileHeight % 2 ** (mipped + 1) === 0) mipped++;
  return mipped;
}

/** Hands every tile row of the mip-mapped levels to the workers, finest level first. */
async function writeMippedLevels(
  plan: MosaicPlan,
  store: TileSource,
  layout: DeepZoomLayout,
  mipped: number,
  workers: TileRowWorkers,
  signal?: AbortSignal,
): Promise<void> {
  const maxLevel = layout.levels.length - 1;
  for (let k = 0; k <= mipped; k++) {
    const level = layout.levels[maxLevel - k]!;
    const cellSize = store.tileHeight / 2 ** k;
    for (let row = 0; row < level.rows; row++) {
      signal?.throwIfAborted();
      const region = tileRegion(layout, level, 0, row);
      const firstPlanRow = gridRowsThrough(plan, cellSize, region.top + 1) - 1;
      const lastPlanRow = gridRowsThrough(plan, cellSize, region.top + region.height) - 1;
      const [start, end] = [firstPlanRow * plan.columns, (lastPlanRow + 1) * plan.columns];
      await workers.submit({
        level: level.level,
        row,
        firstPlanRow,
        columns: plan.columns,
        tiles: plan.tiles.slice(start, end),
        mirrored: plan.mirrored?.slice(start, end),
        tint: plan.tint?.slice(start * 3, end * 3),
      });
    }
  }
  await workers.drain();
}

/**
 * The levels above the mip-mapped ones: the coarsest mip-mapped level is rendered a strip at a
 * time and halved again and again; tiles are cut as their rows complete and encoded here.
 */
async function writeHalvedLevels(
  plan: MosaicPlan,
  store: TileSource,
  layout: DeepZoomLayout,
  mipped: number,
  folder: string,
  progress: (tiles: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const { levels } = layout;
  const source = levels[levels.length - 1 - mipped]!;
  if (source.level === 0) return;
  const rowBytes = source.width * 3;
  let renderStrip: (region: Region) => Buffer;
  if (store instanceof TileStore) {
    const reduced = { width: store.tileWidth / 2 ** mipped, height: store.tileHeight / 2 ** mipped };
    const arena = new RenderArena(await store.scaledInterruptibly(reduced, signal), STRIP_ROWS * rowBytes, 1);
    renderStrip = (region) => renderRegion(plan, arena.store, region, arena.canvases[0]);
  } else {
    const renderer = new SourceRenderer(plan, store);
    const canvas = Buffer.allocUnsafe(STRIP_ROWS * rowBytes);
    renderStrip = (region) => renderer.render(region, canvas);
  }
  const encoder = new TileEncoder(2);
  const emit: EmitTile = async (level, column, row, pixels, region) => {
    signal?.throwIfAborted();
    const { written } = await encoder.start(
      pixels,
      region.width,
      region.height,
      path.join(folder, String(level.level), `${column}_${row}.jpg`),
    );
    void written.then(
      () => progress(1),
      () => undefined,
    );
  };
  try {
    let chain: HalvedLevel | undefined;
    for (let level = 0; level < source.level; level++) chain = new HalvedLevel(levels[level]!, layout, chain, emit);
    // Tiles are emitted without waiting while the encoders keep up: yield, for signal handlers.
    const slicer = new TimeSlicer(signal);
    for (let top = 0; top < source.height; top += STRIP_ROWS) {
      await slicer.pause();
      const rows = Math.min(STRIP_ROWS, source.height - top);
      const strip = renderStrip({ left: 0, top, width: source.width, height: rows });
      for (let y = 0; y < rows; y++) await chain!.addSourceRow(strip.subarray(y * rowBytes, (y + 1) * rowBytes));
    }
    await chain!.finish();
  } finally {
    await encoder.settle();
  }
  await encoder.drain();
}

type EmitTile = (level: DeepZoomLevel, column: number, row: number, pixels: Buffer, region: Region) => Promise<void>;

/**
 * Worker threads (deep-zoom-worker.ts) fed tile-row jobs, each with only the part of the plan it
 * covers, at most two queued per worker, so that memory stays flat.
 */
class TileRowWorkers {
  private readonly workers: Worker[] = [];
  /** Rows sent and not yet written, by job id. */
  private readonly pending = new Map<number, Worker>();
  private readonly load = new Map<Worker, number>();
  private nextId = 0;
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    count: number,
    layout: DeepZoomLayout,
    plan: MosaicPlan,
    store: TileSource,
    folder: string,
    private readonly onTiles: (tiles: number) => void,
  ) {
    // The store (none for a tile file: each worker reads its bands' tiles), then each worker's
    // canvases, in one shared block (a RenderArena's).
    const concurrency = 2;
    const canvases = concurrency + 1;
    const shared = store instanceof TileStore ? store : new TileStore(Buffer.alloc(0), store.shape, 0);
    const tilePixels = new SharedArrayBuffer(RenderArena.bytes(shared, tileCanvasBytes(layout), canvases * count));
    Buffer.from(tilePixels).set(shared.pixels);
    for (let i = 0; i < count; i++) {
      const workerData: TileRowWorkerData = {
        layout,
        ...(plan.layout && !isTiled(plan.layout) ? { cells: plan.layout, groutColour: plan.groutColour } : {}),
        tileWidth: store.tileWidth,
        tileHeight: store.tileHeight,
        tileCount: shared.count,
        ...(store instanceof TileFile ? { tileFile: { file: store.file, slots: store.slots } } : {}),
        tilePixels,
        worker: i,
        canvases,
        folder,
        concurrency,
      };
      let worker: Worker;
      try {
        worker = startWorker(import.meta.url, 'deep-zoom-worker', workerData);
      } catch (error) {
        for (const started of this.workers) void started.terminate();
        throw new TsmosaicError(`deep zoom needs worker threads, and none can start here: ${reasonOf(error)}`, 1, { cause: error });
      }
      worker.on('message', (reply: TileRowReply) => this.settle(reply));
      worker.on('error', (error) => this.fail(error));
      this.workers.push(worker);
      this.load.set(worker, 0);
    }
  }

  /** Queues a tile row on the least busy worker, waiting while every worker has two. */
  async submit(job: Omit<TileRowJob, 'id'>): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      const worker = this.workers.reduce((best, candidate) => (this.load.get(candidate)! < this.load.get(best)! ? candidate : best));
      if (this.load.get(worker)! < 2) {
        const id = this.nextId++;
        this.load.set(worker, this.load.get(worker)! + 1);
        this.pending.set(id, worker);
        worker.postMessage({ ...job, id } satisfies TileRowJob, [job.tiles.buffer as ArrayBuffer]);
        return;
      }
      await this.change();
    }
  }

  /** Waits until every submitted row is written. */
  async drain(): Promise<void> {
    while (this.pending.size > 0 && !this.failure) await this.change();
    if (this.failure) throw this.failure;
  }

  /**
   * Lets the rows being written finish, so that nothing writes into the folder any more, then
   * stops the workers. After a worker failed, stops them at once.
   */
  async close(): Promise<void> {
    while (this.pending.size > 0 && !this.failure) await this.change();
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private change(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private settle(reply: TileRowReply): void {
    const worker = this.pending.get(reply.id);
    if (!worker) return;
    this.pending.delete(reply.id);
    this.load.set(worker, this.load.get(worker)! - 1);
    if ('error' in reply) this.failure ??= new Error(reply.error);
    else this.onTiles(reply.tiles);
    this.wakeUp();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wakeUp();
  }

  private wakeUp(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * A level made by halving the level below it (`source`, twice as large), fed one source row at a
 * time. It keeps one tile row (plus overlap) of its own pixels, emits tiles as soon as a tile row
 * is complete, and passes each of its rows on to the level above (`next`).
 */
class HalvedLevel {
  private readonly rowBytes: number;
  private readonly sourceWidth: number;
  private readonly buffer: Buffer;
  /** Level row held in the buffer's first row, and how many rows the buffer holds. */
  private bufferTop = 0;
  private bufferRows = 0;
  private nextTileRow = 0;
  private pending: Buffer | undefined;

  constructor(
    private readonly level: DeepZoomLevel,
    private readonly layout: DeepZoomLayout,
    private readonly next: HalvedLevel | undefined,
    private readonly emit: EmitTile,
  ) {
    this.rowBytes = level.width * 3;
    this.sourceWidth = layout.levels[level.level + 1]!.width;
    this.buffer = Buffer.allocUnsafe(this.rowBytes * (layout.tileSize + 2 * layout.overlap));
  }

  /** One row of the level below, top to bottom. */
  async addSourceRow(row: Buffer): Promise<void> {
    if (!this.pending) {
      this.pending = Buffer.from(row);
      return;
    }
    const own = halveRows(this.pending, row, this.sourceWidth);
    this.pending = undefined;
    await this.addRow(own);
  }

  /** After the last source row: an odd last row is halved on its own, and the rest flushed. */
  async finish(): Promise<void> {
    if (this.pending) {
      await this.addRow(halveRows(this.pending, this.pending, this.sourceWidth));
      this.pending = undefined;
    }
    await this.next?.finish();
  }

  private async addRow(row: Buffer): Promise<void> {
    row.copy(this.buffer, this.bufferRows * this.rowBytes);
    this.bufferRows++;
    await this.next?.addSourceRow(row);
    await this.emitCompleteTileRows();
  }

  private async emitCompleteTileRows(): Promise<void> {
    const { layout, level } = this;
    while (this.nextTileRow < level.rows) {
      const row = this.nextTileRow;
      const first = tileRegion(layout, level, 0, row);
      if (this.bufferTop + this.bufferRows < first.top + first.height) return;
      for (let column = 0; column < level.columns; column++) {
        const region = tileRegion(layout, level, column, row);
        await this.emit(level, column, row, this.cut(region), region);
      }
      this.nextTileRow++;
      // Keep the rows the next tile row overlaps.
      const keepFrom = (row + 1) * layout.tileSize - layout.overlap;
      const drop = keepFrom - this.bufferTop;
      this.buffer.copyWithin(0, drop * this.rowBytes, this.bufferRows * this.rowBytes);
      this.bufferTop = keepFrom;
      this.bufferRows -= drop;
    }
  }

  private cut(region: Region): Buffer {
    const pixels = Buffer.allocUnsafe(region.width * region.height * 3);
    for (let y = 0; y < region.height; y++) {
      const from = (region.top - this.bufferTop + y) * this.rowBytes + region.left * 3;
      this.buffer.copy(pixels, y * region.width * 3, from, from + region.width * 3);
    }
    return pixels;
  }
}
