import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { Rgb } from '../options/print.js';
import type { MosaicLayout } from '../tiles/mosaic-layout.js';
import { TileStore } from '../tiles/tile-store.js';
import { TileFile } from '../tiles/tile-file.js';
import { readBand } from './tile-source.js';
import { gridColumnsThrough } from '../tiles/mosaic-plan.js';
import { tileCanvasBytes, tileRegion, type DeepZoomLayout } from './deep-zoom-layout.js';
import { RenderArena, renderRegion, type MosaicPlan } from './render-region.js';
import { TileEncoder } from './tile-encoder.js';

/** Deep zoom tiles of a row drawn from one read of a tile file's tiles (see startRow). */
const FILE_SEGMENT_TILES = 8;

/** What every tile-row worker is started with. */
export interface TileRowWorkerData {
  layout: DeepZoomLayout;
  /** Where the mosaic's cells lie, when they are not whole tiles side by side (see MosaicPlan.layout). */
  cells?: MosaicLayout;
  groutColour?: Rgb;
  /**
   * The full-size tile store, shared with the other workers (not copied): a RenderArena block
   * with `canvases` canvases a worker after the pixels, for worker `worker`.
   */
  tileWidth: number;
  tileHeight: number;
  tileCount: number;
  /** The tiles are in this file instead (see TileFile): the store is empty, each band's tiles are read. */
  tileFile?: { file: string; slots: Int32Array };
  tilePixels: SharedArrayBuffer;
  worker: number;
  canvases: number;
  /** Folder of the level folders. */
  folder: string;
  /** Tiles this worker encodes at once. */
  concurrency: number;
}

/** Render and encode one tile row of a level; `tiles` is the part of the plan it covers. */
export interface TileRowJob {
  id: number;
  level: number;
  row: number;
  /** Plan row of the first row of `tiles`, and the plan's width. */
  firstPlanRow: number;
  columns: number;
  /** Tile ids, row-major (16 bits when the index has fewer than 65,536 tiles). */
  tiles: Uint16Array | Uint32Array;
  /** The same rows of the plan's `mirrored` and `tint`, when it has them. */
  mirrored?: Uint8Array;
  tint?: Float32Array;
}

export type TileRowReply = { id: number; tiles: number } | { id: number; error: string };

/**
 * A worker thread that renders and JPEG-encodes whole tile rows of the mip-mapped Deep Zoom levels,
 * so that rendering and sharp's per-call work run on every core, not only on the main thread.
 * Replies once every tile of a row is on disk; the next row is started before that.
 */
const data = workerData as TileRowWorkerData;
const port = parentPort!;
const { layout } = data;
const maxLevel = layout.levels.length - 1;
const canvasBytes = tileCanvasBytes(layout);
const shape = { width: data.tileWidth, height: data.tileHeight };
const shared = new TileStore(Buffer.from(data.tilePixels, 0, shape.width * shape.height * 3 * data.tileCount), shape, data.tileCount);
const fullArena = new RenderArena(shared, canvasBytes, data.canvases * (data.worker + 1), data.tilePixels);
/** Arenas by level below the full size (0: full size): its tiles are reduced 2^k times. */
const arenas = new Map<number, RenderArena>([[0, fullArena]]);
const tileFile = data.tileFile && new TileFile(data.tileFile.file, shape, data.tileFile.slots);
/** This worker's canvases, each with the tile last encoded from it. */
const canvases = fullArena.canvases.slice(data.canvases * data.worker).map(() => ({ written: Promise.resolve() }));
let nextCanvas = 0;
/** The memory bands of a tile file are read into, grown to the largest (see TileFile.load). */
let bandMemory: Buffer = Buffer.alloc(0);
const encoder = new TileEncoder(data.concurrency);
let queue = Promise.resolve();

port.on('message', (job: TileRowJob) => {
  queue = queue.then(() => startRow(job));
});

async function startRow(job: TileRowJob): Promise<void> {
  try {
    const level = layout.levels[job.level]!;
    const below = maxLevel - job.level;
    const cellHeight = shape.height / 2 ** below;
    let arena = arenas.get(below);
    if (!arena) {
      arena = new RenderArena(shared.scaled({ width: shape.width / 2 ** below, height: cellHeight }), canvasBytes, data.canvases);
      arenas.set(below, arena);
    }
    let plan: MosaicPlan = {
      columns: job.columns,
      rows: job.tiles.length / job.columns,
      tiles: job.tiles,
      mirrored: job.mirrored,
      tint: job.tint,
      firstRow: job.firstPlanRow,
      ...(data.cells ? { layout: data.cells, groutColour: data.groutColour } : {}),
    };
    const whole = plan;
    let store = arena.store;
    const written: Promise<void>[] = [];
    for (let column = 0; column < level.columns; column++) {
      const region = tileRegion(layout, level, column, job.row);
      if (tileFile && column % FILE_SEGMENT_TILES === 0) {
        // The tiles of the next few deep zoom tiles' grid columns only: a band of a whole row of a
        // wide print held hundreds of drawn tiles (60 MB at 2 gigapixels) per worker.
        const last = tileRegion(layout, level, Math.min(level.columns, column + FILE_SEGMENT_TILES) - 1, job.row);
        const columns = {
          first: gridColumnsThrough(whole, shape.width, region.left + 1) - 1,
          last: gridColumnsThrough(whole, shape.width, last.left + last.width) - 1,
        };
        // (Tiles are drawn into canvases before they are encoded: the last band's memory is free.)
        ({ plan, store } = readBand(whole, tileFile, job.firstPlanRow, job.firstPlanRow + whole.rows - 1, columns, bandMemory));
        if (store.pixels.length > bandMemory.length) bandMemory = store.pixels;
      }
      // A canvas is drawn on again once the tile encoded from it is written.
      const slot = nextCanvas++ % canvases.length;
      await canvases[slot]!.written.catch(() => undefined);
      const canvas = arena.canvases[arena === fullArena ? data.canvases * data.worker + slot : slot]!;
      const pixels = renderRegion(plan, store, region, canvas);
      const file = path.join(data.folder, String(job.level), `${column}_${job.row}.jpg`);
      const tile = (await encoder.start(pixels, region.width, region.height, file)).written;
      canvases[slot]!.written = tile;
      written.push(tile);
    }
    void Promise.all(written).then(
      () => port.postMessage({ id: job.id, tiles: level.columns } satisfies TileRowReply),
      (error: unknown) =>
        port.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) } satisfies TileRowReply),
    );
  } catch (error) {
    port.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) } satisfies TileRowReply);
  }
}
