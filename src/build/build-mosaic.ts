import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { tileFeatures } from '../tiles/features.js';
import { TsmosaicError, UsageError, reasonOf } from '../errors.js';
import { expectInteger, expectNumber, expectOneOf, MAX_TILE_SIZE } from '../options/validate.js';
import { buildAnn } from '../index-store/ann.js';
import { loadIndex, readManifest, type LoadedIndex } from '../index-store/read-index.js';
import type { TileStore } from '../tiles/tile-store.js';
import { DEFAULT_MIN_DISTANCE } from '../match/placement.js';
import {
  annVectors,
  DEFAULT_METHOD,
  descriptorLength,
  RGB_METHOD,
  sameIndexSpace,
  tileDescriptors,
  type MatchMethod,
} from '../tiles/descriptors.js';
import { answerRows, type CellAnswers } from '../match/cell-search.js';
import { localCells, WorkerCells, type CellSource } from '../match/cell-source.js';
import { candidateCount, createTilePlacer, feasibleMinDistance, placementBandRows } from '../match/placement.js';
import { measureFidelity, STRUCTURE_GRID, type Fidelity } from '../quality/fidelity.js';
import { assertWritableFolder, formatFromPath } from '../render/encode.js';
import type { MosaicPlan } from '../tiles/mosaic-plan.js';
import { temporaryPath } from '../render/output-files.js';
import { assertOutputReplaceable, writeMosaic } from '../render/write-mosaic.js';
import { assertOutputFits, chooseGrid, DEFAULT_MAX_COLUMNS, DEFAULT_MAX_PIXELS } from './grid.js';
import { loadTarget, readTargetSize, type TargetImage } from '../target/target.js';
import { targetMeans, type RowBand } from '../target/target-means.js';

export interface BuildProgress {
  stage: 'load' | 'match' | 'render' | 'encode' | 'tiles';
  done: number;
  total: number;
}

export interface BuildMosaicOptions {
  /**
   * Output file; its extension picks the format. `.dzi` writes a Deep Zoom pyramid (`<name>_files/`)
   * and an `index.html` viewer beside it. Default `<target name>-mosaic.png` in the current folder.
   */
  out?: string;
  /**
   * Folder to write a Deep Zoom pyramid and its viewer into (created if missing), instead of `out`:
   * the same as `out: <folder>/<target name>-mosaic.dzi`.
   */
  deepZoom?: string;
  /** Grid width in tiles; rows follow the target's aspect. Default: one tile per target pixel, at most 200. */
  tilesAcross?: number;
  /** Output tile edge in px, at most the indexed size. Default: the indexed size. */
  tileSize?: number;
  /** Refuse outputs with more pixels than this. Default 1e9. */
  maxPixels?: number;
  /** `lab` (default): perceptual CIELAB colour and structure; `rgb`: pycollage's mean RGB. */
  metric?: 'lab' | 'rgb';
  /** Also try tiles mirrored left-right (lab metric). Default true. */
  mirror?: boolean;
  /**
   * Also use the corner crops of each picture that the index holds (lab metric; see
   * ProcessCollectionOptions.crops). Default true. The rgb metric uses centre squares only, as pycollage.
   */
  crops?: boolean;
  /** Advanced: the exact match method (overrides `metric` and `mirror`). */
  method?: MatchMethod;
  /**
   * No picture repeated within this distance in cells, between cell centres (1 = not side by side,
   * 1.5 = not diagonally either). Default DEFAULT_MIN_DISTANCE (1.5).
   */
  minDistance?: number;
  /** Each tile used at most this many times. Default: no limit. */
  maxUses?: number;
  /** Each tile used at most once (max-uses 1). */
  unique?: boolean;
  /** Seed of the fill order; the same seed gives the same mosaic. Default 1. */
  seed?: number;
  /** Tint each tile toward its cell's target colour, 0-100 percent. Default 0. */
  blend?: number;
  /** Write the placement as JSON to this file. */
  plan?: string;
  /** Measure fidelity (mean CIEDE2000 at cell and structure scale) into `deltaE`. */
  measure?: boolean;
  onProgress?: (progress: BuildProgress) => void;
  /** Stops the build between steps, bands or tiles; temporaries are removed and the reason thrown. */
  signal?: AbortSignal;
  /** Informational messages for the user (e.g. the target was sampled down). */
  onNote?: (message: string) => void;
}

/**
 * Cells of the target sampled at once (whole rows, at least one) for placement: a 200-column grid
 * 20 rows at a time, so that memory does not grow with huge grids.
 */
const SAMPLED_CELLS = 4096;
/** Grids of at least this many cells are described and searched by a worker thread (see WorkerCells); smaller ones stop it (started before the grid is known) and are described and searched on this thread. */
const WORKER_CELLS = 4 * SAMPLED_CELLS;
/** Bands a cell worker is asked for ahead of the one being placed. */
const BANDS_AHEAD = 3;

/** Seconds spent in each step of `buildMosaic`. */
export interface BuildTimings {
  loadIndex: number;
  target: number;
  match: number;
  /** Making the output's pixels on the main thread: copying tile rows into raw bands, or, for a PNG coded from its tiles (see TileRowDeflater), coding them. */
  assemble: number;
  /** The rest of writing the output: encoding and writing (deep zoom: all of it, its workers render). */
  encode: number;
  /** Only when `measure` is on. */
  measure?: number;
}

export interface BuildMosaicResult {
  output: string;
  width: number;
  height: number;
  columns: number;
  rows: number;
  /** Different pictures used (crops of one picture count once). */
  distinctTiles: number;
  /** How often the most used picture is used. */
  maxUses: number;
  /** Present when `measure` was asked for. */
  deltaE?: Fidelity;
  seconds: number;
  timings: BuildTimings;
}

/**
 * Rebuilds `target` out of the tiles of the index folder `index`: every grid cell gets the tile
 * whose mean colour is nearest, the tiles are copied into one raw canvas and encoded once.
 * @throws {TsmosaicError} for a missing/invalid index or target, or an output over the size limits.
 * @example
 * const { output } = await buildMosaic('./index', './dolphin.png', { tilesAcross: 120 });
 */
export async function buildMosaic(index: string, target: string, options: BuildMosaicOptions = {}): Promise<BuildMosaicResult> {
  const started = performance.now();
  if (options.out !== undefined && options.deepZoom !== undefined) throw new UsageError('use either --out or --deepzoom, not both');
  const deepZoomFolder = options.deepZoom === undefined ? undefined : path.resolve(options.deepZoom);
  const defaultName = `${path.parse(target).name}-mosaic`;
  const out = deepZoomFolder ? path.join(deepZoomFolder, `${defaultName}.dzi`) : path.resolve(options.out ?? `${defaultName}.png`);
  const format = formatFromPath(out);
  const tilesAcross = options.tilesAcross === undefined ? undefined : expectInteger('tilesAcross', options.tilesAcross, 1);
  const maxPixels = expectInteger('maxPixels', options.maxPixels ?? DEFAULT_MAX_PIXELS, 1);
  const metric = expectOneOf('metric', options.metric ?? 'lab', ['lab', 'rgb']);
  const method = options.method ?? (metric === 'rgb' ? RGB_METHOD : { ...DEFAULT_METHOD, mirror: options.mirror ?? DEFAULT_METHOD.mirror });
  let minDistance = expectNumber('minDistance', options.minDistance ?? DEFAULT_MIN_DISTANCE, 0, 1000);
  const maxUses = options.unique ? 1 : options.maxUses === undefined ? Infinity : expectInteger('maxUses', options.maxUses, 1);
  const seed = expectInteger('seed', options.seed ?? 1, 0, 0xffffffff);
  const blend = expectInteger('blend', options.blend ?? 0, 0, 100);
  const { onProgress, onNote, signal } = options;
  if (out === path.resolve(target)) throw new TsmosaicError(`the output would overwrite the target ${target}; choose another --out`);

  if (deepZoomFolder) await assertFolderOrAbsent(deepZoomFolder);
  else await assertWritableFolder(out);
  await assertOutputReplaceable(out, format);
  if (options.plan) await assertWritableFolder(path.resolve(options.plan));
  const manifest = await readManifest(index);
  const { crops } = manifest;
  const tileCount = manifest.tileCount * crops;
  // The tiles placement may choose from: every crop, or (rgb, --no-crops) every crops-th, the centre squares.
  const step = method.metric === 'lab' && options.crops !== false ? 1 : crops;
  const ownAnn = step === 1 && sameIndexSpace(method, manifest.ann.method);
  // Grids of a few bands or more, searched with the index's own HNSW index, get their cells
  // described and searched by a worker. It is started now, before the grid is known: it boots and
  // loads that index and sharp on the other core while this thread loads the rest; it decodes the
  // target itself. A smaller grid stops it.
  let worker = ownAnn ? new WorkerCells({ index, manifest: { tileCount: manifest.tileCount, crops, ann: manifest.ann } }) : undefined;
  // A worker stopped early is still waited for before returning (it may be loading its index).
  let stopped: Promise<void> | undefined;
  try {
    const tileSize = expectInteger('tileSize', options.tileSize ?? manifest.tileSize, 1, Math.min(MAX_TILE_SIZE, manifest.tileSize));
    // The target's header: read by a worker the CLI started ahead, booted by now with sharp loaded
    // (sharp then never loads on this thread for a PNG: loading it blocks a thread for ~50 ms).
    const targetSize = worker?.startedAhead ? await worker.targetSize(target) : await readTargetSize(target);
    const grid = chooseGrid(targetSize.width, targetSize.height, tilesAcross);
    if (grid.sampledDown) {
      onNote?.(
        `${target} is ${targetSize.width} px wide: sampling it down to ${DEFAULT_MAX_COLUMNS} tiles across (--tiles-across sets another width)`,
      );
    }
    assertOutputFits(grid, tileSize, targetSize, format, maxPixels);
    const { columns, rows } = grid;
    if (options.minDistance === undefined && feasibleMinDistance(minDistance, manifest.tileCount) < minDistance) {
      // A tiny index: keep what rule it can (1.5 needs 9 pictures, 1 needs 5); say so when neighbours may repeat.
      minDistance = feasibleMinDistance(minDistance, manifest.tileCount);
      if (minDistance < 1) onNote?.(`the index has only ${manifest.tileCount} tiles: tiles may repeat next to each other`);
    }
    if (worker && columns * rows < WORKER_CELLS) {
      stopped = worker.close();
      worker = undefined;
    }

    const timings: BuildTimings = { loadIndex: 0, target: 0, match: 0, assemble: 0, encode: 0 };
    let mark = performance.now();
    const lap = (part: keyof BuildTimings): void => {
      const now = performance.now();
      timings[part] = (now - mark) / 1000;
      mark = now;
    };

    onProgress?.({ stage: 'load', done: 0, total: 1 });
    const rules = { minDistance, maxUses, seed };
    const candidates = candidateCount(method, rules, columns * rows, ownAnn ? tileCount : tileCount / step);
    // The decoded target: the worker decodes its own; here it is needed without a worker (it then
    // decodes in libuv's pool while the index is read and described), and for --blend and the
    // fidelity measure.
    let targetLoading: Promise<TargetImage> | undefined;
    const decodedTarget = (): Promise<TargetImage> => (targetLoading ??= loadTarget(target, columns, rows, targetSize));
    if (worker) worker.start({ target, size: targetSize, columns, rows, method }, candidates);
    if (!worker || blend > 0 || options.measure) decodedTarget().catch(() => undefined); // awaited below
    // Rows placed at a time, and sampled at a time (a multiple: a band of placement is sampled at once).
    const placementRows = placementBandRows(columns, rows, rules);
    const sampledRows = placementRows > 1 ? placementRows : Math.max(1, Math.floor(SAMPLED_CELLS / columns));
    let source: CellSource | undefined = worker;
    // Bands of answers asked for ahead, in order: a worker works on them while earlier rows are
    // placed. Its first bands grow from one row (1, 1, 2, 4, ... rows), so that placing starts early.
    const asked: { band: RowBand; cells: Promise<CellAnswers> }[] = [];
    let askedRows = 0;
    const askAhead = (bands: number): void => {
      while (asked.length < bands && askedRows < rows) {
        const size = placementRows > 1 ? placementRows : Math.max(1, Math.min(sampledRows, askedRows));
        const band = { firstRow: askedRows, rows: Math.min(size, rows - askedRows) };
        const cells = source!.answer(band);
        cells.catch(() => undefined); // awaited when the band is placed
        asked.push({ band, cells });
        askedRows += band.rows;
      }
    };
    if (worker) askAhead(BANDS_AHEAD);

    const loaded = await loadIndex(index, manifest);
    const store = loaded.tiles.scaled(tileSize);
    const descriptors = tileDescriptors(loaded.features, loaded.tiles.count, method);
    const length = descriptorLength(method);
    const ann = ownAnn
      ? loaded.ann
      : buildAnn(annVectors(everyNth(descriptors, length, step), method), length, loaded.tiles.count / step, step);
    onProgress?.({ stage: 'load', done: 1, total: 1 });
    lap('loadIndex');

    if (!source) source = localCells({ target: await decodedTarget(), columns, rows, method }, ann, candidates);
    lap('target');
    signal?.throwIfAborted();

    // Rows are placed one at a time (see createTilePlacer; under a budget in larger bands) when the
    // writer asks for them: a PNG's bands are coded and written as their rows are placed.
    // The target is sampled SAMPLED_CELLS at a time, so memory does not grow with huge grids.
    const catalogue = { count: loaded.tiles.count, descriptors, ann, cropsPerPicture: crops };
    const placer = createTilePlacer(method, columns, rows, catalogue, rules, (done, total) =>
      onProgress?.({ stage: 'match', done, total }),
    );
    let sampled: { band: RowBand; cells: CellAnswers } | undefined;
    let placedRows = 0;
    let matching = 0;
    const placeThrough = async (wanted: number): Promise<void> => {
      const started = performance.now();
      while (placedRows < wanted) {
        signal?.throwIfAborted();
        if (!sampled || placedRows === sampled.band.firstRow + sampled.band.rows) {
          // The band placed, its memory goes back to the worker for a later one.
          if (sampled) worker?.recycle(sampled.cells);
          askAhead(1);
          const { band, cells } = asked.shift()!;
          sampled = { band, cells: await cells };
          if (worker) askAhead(BANDS_AHEAD);
        }
        const count = Math.min(placementRows, rows - placedRows);
        placer.placeRows(placedRows, count, answerRows(sampled.cells, columns, placedRows - sampled.band.firstRow, count));
        placedRows += count;
      }
      // The cell worker stops as soon as every row is placed, freeing its heap and HNSW copy. A PNG
      // writes its last bands meanwhile (waiting took 11-25 ms); the other outputs, which place
      // every row before their canvas, band files or pyramid buffers are made, wait for it.
      if (placedRows === rows) {
        const closing = worker?.close();
        if (format !== 'png') await closing;
      }
      matching += (performance.now() - started) / 1000;
    };
    const plan: MosaicPlan = { columns, rows, tiles: placer.tiles, mirrored: placer.mirrored };
    if (blend > 0) {
      await placeThrough(rows);
      plan.tint = blendTint(await targetMeans(await decodedTarget(), columns, rows), placer.tiles, loaded, blend);
    }

    const width = columns * tileSize;
    const height = rows * tileSize;
    if (deepZoomFolder) await mkdir(deepZoomFolder, { recursive: true });
    const written = await writeMosaic(plan, store, out, format, {
      signal,
      placed: placeThrough,
      // The writer's progress once every row is placed (before, the bar shows placement's).
      onProgress: (stage, done, total) => placedRows === rows && onProgress?.({ stage, done, total }),
    });
    const placement = placer.result();
    if (placement.relaxed > 0)
      onNote?.(`${placement.relaxed} cells could not keep --min-distance ${minDistance} within --max-uses ${maxUses}`);
    if (options.plan) await writePlan(path.resolve(options.plan), plan, loaded);
    // The write's time: sampling, describing and placing rows (match), rendering on this thread
    // (assemble) and the rest, encoding, deep zoom tiles and the plan (encode).
    lap('encode');
    timings.match = matching;
    timings.assemble = written.renderSeconds;
    timings.encode -= matching + written.renderSeconds;

    let deltaE: Fidelity | undefined;
    if (options.measure) {
      const target = await decodedTarget();
      const structureRows = (firstRow: number, count: number): Promise<Float32Array> =>
        targetMeans(target, columns * STRUCTURE_GRID, rows * STRUCTURE_GRID, 1, {
          firstRow: firstRow * STRUCTURE_GRID,
          rows: count * STRUCTURE_GRID,
        });
      deltaE = await measureFidelity(plan, structureRows, store === loaded.tiles ? loaded.features : renderedStructure(store));
    }
    if (deltaE) lap('measure');

    return {
      output: out,
      width,
      height,
      columns,
      rows,
      distinctTiles: countPictures(placement.tiles, crops),
      maxUses: placement.maxUses,
      ...(deltaE ? { deltaE } : {}),
      seconds: (performance.now() - started) / 1000,
      timings,
    };
  } finally {
    await Promise.all([worker?.close(), stopped]);
  }
}

/**
 * How many pictures the tile ids come from (tile `t` is a crop of picture `floor(t / crops)`), with
 * one byte a picture: a Set of one number per cell took 150 MB of heap at 2 gigapixels (5 M cells).
 */
function countPictures(tiles: Uint16Array | Uint32Array, crops: number): number {
  let highest = 0;
  for (const tile of tiles) if (tile > highest) highest = tile;
  const seen = new Uint8Array(Math.floor(highest / crops) + 1);
  let count = 0;
  for (const tile of tiles) {
    const picture = Math.floor(tile / crops);
    if (seen[picture] === 0) {
      seen[picture] = 1;
      count++;
    }
  }
  return count;
}

/** The descriptors (`length` values each) of every `step`-th tile from tile 0: with step = crops, the centre squares. */
function everyNth(descriptors: Float32Array, length: number, step: number): Float32Array {
  if (step === 1) return descriptors;
  const count = descriptors.length / length / step;
  const kept = new Float32Array(count * length);
  for (let i = 0; i < count; i++) kept.set(descriptors.subarray(i * step * length, (i * step + 1) * length), i * length);
  return kept;
}

/**
 * Checks that `folder` is a folder or does not exist yet (it is then created before writing).
 * @throws {TsmosaicError}
 */
async function assertFolderOrAbsent(folder: string): Promise<void> {
  const found = await stat(folder).catch(() => undefined);
  if (found && !found.isDirectory()) throw new TsmosaicError(`cannot write deep zoom into ${folder}: it is not a folder`);
}

/** Per-cell RGB offsets that move each tile's mean `percent`% of the way to its cell's target mean. */
function blendTint(cellMeans: Float32Array, tiles: Uint16Array | Uint32Array, loaded: LoadedIndex, percent: number): Float32Array {
  const tint = new Float32Array(tiles.length * 3);
  const stride = loaded.manifest.features.dimensions;
  const subs = stride / 3;
  tiles.forEach((tile, cell) => {
    for (let c = 0; c < 3; c++) {
      let mean = 0;
      for (let sub = 0; sub < subs; sub++) mean += loaded.features[tile * stride + sub * 3 + c]! / subs;
      tint[cell * 3 + c] = ((cellMeans[cell * 3 + c]! - mean) * percent) / 100;
    }
  });
  return tint;
}

/** Every tile's STRUCTURE_GRID x STRUCTURE_GRID sRGB means at a reduced output tile size (at the indexed size they are the stored features). */
function renderedStructure(store: TileStore): Float32Array {
  const perTile = STRUCTURE_GRID * STRUCTURE_GRID * 3;
  const structure = new Float32Array(store.count * perTile);
  for (let id = 0; id < store.count; id++) structure.set(tileFeatures(store.tile(id), store.tileSize), id * perTile);
  return structure;
}

/**
 * Writes `{ columns, rows, cells: [{ tile, source }] }` (row-major) through a temporary file; `tile`
 * is the picture's id, with `crop` (its index in `cropWindows`) when the index holds several crops.
 */
async function writePlan(file: string, plan: MosaicPlan, loaded: LoadedIndex): Promise<void> {
  const temporary = temporaryPath(file);
  try {
    const stream = createWriteStream(temporary);
    const write = async (text: string): Promise<void> => {
      if (!stream.write(text)) await once(stream, 'drain');
    };
    await write(`{"columns":${plan.columns},"rows":${plan.rows},"cells":[`);
    for (let cell = 0; cell < plan.tiles.length; cell++) {
      const { crops } = loaded.manifest;
      const tile = Math.floor(plan.tiles[cell]! / crops);
      const crop = crops > 1 ? `,"crop":${plan.tiles[cell]! % crops}` : '';
      const mirrored = plan.mirrored?.[cell] ? ',"mirrored":true' : '';
      await write(
        `${cell === 0 ? '' : ','}\n{"tile":${tile},"source":${JSON.stringify(loaded.manifest.tiles[tile]!.source)}${crop}${mirrored}}`,
      );
    }
    await write(']}\n');
    stream.end();
    await once(stream, 'finish');
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new TsmosaicError(`cannot write the plan ${file}: ${reasonOf(error)}`, 1, { cause: error });
  }
}
