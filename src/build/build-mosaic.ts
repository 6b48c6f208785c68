import { mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { buildAnn } from '../index-store/ann.js';
import { assertLoadable, loadIndexForMatching, loadIndexTiles, openIndexTiles, readManifest } from '../index-store/read-index.js';
import { localCells, WorkerCells } from '../match/cell-source.js';
import { candidateCount, feasibleMinDistance, placementBandRows, TilePlacer } from '../match/placement.js';
import { DEFAULT_MAX_COLUMNS } from '../options/options.js';
import { measureFidelity, STRUCTURE_GRID, type CellFidelity } from '../quality/fidelity.js';
import { ErrorMap, writeHeatmap } from './heatmap.js';
import { writeMosaic, type WriteMosaicResult } from '../render/write-mosaic.js';
import { targetMeans } from '../target/target-means.js';
import { loadTarget, readTargetSize, type TargetImage } from '../target/target.js';
import { untilDoneOrAborted } from '../yield.js';
import { quote } from '../text.js';
import type { PrintSize } from '../options/print.js';
import { annVectors, descriptorLength, sameIndexSpace, tileDescriptors, TileDetail } from '../tiles/descriptors.js';
import type { MosaicPlan } from '../tiles/mosaic-plan.js';
import { Temporary } from '../files/publish.js';
import type { TileReader } from '../tiles/tile-file.js';
import { TileDrawing } from './original-tiles.js';
import { BandFeeder } from './band-feeder.js';
import { gridRows, outputGeometry } from './output-geometry.js';
import { assertCellsForRequired } from './grid.js';
import { choosePictures } from './picture-lists.js';
import { isTiled } from '../tiles/mosaic-layout.js';
import { writePlan } from './plan-file.js';
import { assertOutputsWritable, resolveBuildSettings, type BuildMosaicOptions } from './settings.js';
import { blendTint, countPictures, renderedStructure } from './tile-colours.js';

/** Seconds spent in each step of `buildMosaic`. */
export interface BuildTimings {
  loadIndex: number;
  target: number;
  match: number;
  /** Making the output's pixels on the main thread: copying tile rows into raw bands, or, for a PNG coded from its tiles (see TileRowDeflater), coding them. */
  assemble: number;
  /** The rest of writing the output: encoding (deep zoom: libvips making the pyramid) and writing. */
  encode: number;
  /** Only when `measure` is on. */
  measure?: number;
  /** Only when tiles larger than the index's were drawn (from the originals, or the stored tiles enlarged): the drawing's own time, which a PNG's writing overlaps. */
  originals?: number;
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
  /** Present when `measure` or a heat map was asked for. */
  deltaE?: CellFidelity;
  /** The heat map written, absolute. */
  heatmap?: string;
  /** A print's size as asked for, and its resolution. */
  print?: PrintSize & { dpi: number };
  /** When tiles larger than the index's were drawn: pictures drawn from their original files, and those whose stored tiles were enlarged instead. */
  originals?: { used: number; missing: number };
  seconds: number;
  timings: BuildTimings;
}

/** Grids of at least this many cells, and those whose tiles are drawn larger, are described and searched by a worker thread (see WorkerCells); smaller ones on this thread. */
const WORKER_CELLS = 16_384;

/**
 * Rebuilds `target` out of the tiles of the index folder `index`: every grid cell gets the tile
 * that fits it best under the placement rules, and the mosaic is written band by band.
 * @throws {UsageError} for invalid options
 * @throws {TsmosaicError} for a missing or damaged index or target, or an output over the size limits
 * @example
 * const { output } = await buildMosaic('./index', './dolphin.png', { tilesAcross: 120 });
 */
export async function buildMosaic(index: string, target: string, options: BuildMosaicOptions = {}): Promise<BuildMosaicResult> {
  const started = performance.now();
  const settings = resolveBuildSettings(target, options);
  const { out, format, method, blend } = settings;
  const { onProgress, onNote, signal } = options;
  await assertOutputsWritable(settings, index, target);
  const manifest = await readManifest(index);
  assertLoadable(index, manifest);
  const choice = await choosePictures(
    settings,
    manifest.tiles.map((tile) => tile.source),
    onNote,
  );
  const { crops } = manifest;
  const tileCount = manifest.tileCount * crops;
  // The tiles placement may choose from: every crop, or (rgb, --no-crops) every crops-th, the centre squares.
  const step = method.metric === 'lab' && settings.crops ? 1 : crops;
  const ownAnn = step === 1 && sameIndexSpace(method, manifest.ann.method);
  // Searched with the index's own HNSW index, the cells are described and searched by a worker,
  // started before the grid is known: it loads that index and sharp on the other core while this
  // thread loads the rest, and decodes the target itself. A small grid stops it.
  let worker = ownAnn ? WorkerCells.tryStart({ index, manifest: { tileCount: manifest.tileCount, crops, ann: manifest.ann } }) : undefined;
  // A worker stopped early is still waited for before returning (it may be loading its index).
  let stopped: Promise<void> | undefined;
  try {
    const indexShape = { width: manifest.tileWidth, height: manifest.tileHeight };
    // Read by a worker the CLI started ahead (booted by now with sharp loaded), sharp never loads on this thread for a PNG.
    const targetSize = worker?.startedAhead ? await worker.targetSize(target) : await readTargetSize(target);
    const geometry = outputGeometry(settings, indexShape, targetSize, format);
    const { columns, rows, crop, layout } = geometry;
    if (geometry.sampledDown) {
      onNote?.(
        `${quote(target)} is ${targetSize.width} px wide: sampling it down to ${DEFAULT_MAX_COLUMNS} tiles across (--tiles-across sets another width)`,
      );
    }
    if (crop) {
      onNote?.(
        `${quote(target)} is ${targetSize.width}x${targetSize.height} px: its middle ${crop.width}x${crop.height} px, the print's aspect ratio, makes the mosaic`,
      );
    }
    // The pictures that must and must not appear, checked against the grid before any work.
    const rowsOf = gridRows(settings, indexShape, targetSize);
    assertCellsForRequired(choice, settings.useAll, settings.rules.maxUses, manifest.tileCount, { columns, rows }, rowsOf);
    // The default min-distance weighs diagonal repeats; one the user chose is kept whole.
    const rules = {
      ...settings.rules,
      weighDiagonal: !settings.minDistanceChosen,
      ...(choice.required ? { required: choice.required } : {}),
      ...(choice.excluded ? { excluded: choice.excluded } : {}),
    };
    if (!settings.minDistanceChosen && feasibleMinDistance(rules.minDistance, choice.usable) < rules.minDistance) {
      // A tiny index keeps what rule it can (1.5 needs 9 pictures, 1 needs 5).
      rules.minDistance = feasibleMinDistance(rules.minDistance, choice.usable);
      if (rules.minDistance < 1) onNote?.(`the index has only ${choice.usable} tiles: tiles may repeat next to each other`);
    }
    // Tiles larger than the index's are drawn for the tiles the plan uses only, into memory or a file (see below).
    const larger = geometry.tileShape.width > indexShape.width || geometry.tileShape.height > indexShape.height;
    // Drawing larger tiles takes seconds after placement: a small grid keeps the worker, booted by
    // now, so that its cells are searched on the other core while this thread places them.
    if (worker && columns * rows < WORKER_CELLS && !larger) {
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
    const candidates = candidateCount(method, rules, columns * rows, ownAnn ? tileCount : tileCount / step);
    // The decoded target: the worker decodes its own; this thread needs it without a worker (it
    // then decodes in libuv's pool while the index loads), for --blend and for the measure.
    let targetLoading: Promise<TargetImage> | undefined;
    const decodedTarget = (): Promise<TargetImage> => (targetLoading ??= loadTarget(target, columns, rows, geometry.target, crop));
    if (worker) worker.start({ target, size: geometry.target, ...(crop ? { crop } : {}), columns, rows, method }, candidates);
    if (!worker || blend > 0 || settings.measure) decodedTarget().catch(() => undefined); // awaited below
    const feeder = new BandFeeder(worker, worker, columns, rows, placementBandRows(columns, rows, rules), format !== 'png', signal);

    // Tiles drawn larger come from the originals: the index's pixels (150 MB for 25,000 pictures)
    // are not loaded, and a stored tile is read only for a picture whose original fails (for every
    // one with --no-originals).
    const loaded = await loadIndexForMatching(index, manifest);
    const indexTiles = larger ? undefined : await loadIndexTiles(loaded);
    const store = indexTiles && (await indexTiles.scaledInterruptibly(geometry.tileShape, signal));
    const descriptors = tileDescriptors(loaded.features, loaded.tileCount, method);
    const length = descriptorLength(method);
    const ann = ownAnn
      ? loaded.ann
      : await buildAnn(annVectors(everyNth(descriptors, length, step), method), length, loaded.tileCount / step, step, signal);
    onProgress?.({ stage: 'load', done: 1, total: 1 });
    lap('loadIndex');

    // A large target may still be decoding in libuv's pool, which cannot be stopped.
    const source = worker
      ? undefined
      : localCells({ target: await untilDoneOrAborted(decodedTarget(), signal), columns, rows, method }, ann, candidates);
    lap('target');
    signal?.throwIfAborted();

    const catalogue = {
      count: loaded.tileCount,
      descriptors,
      ann,
      cropsPerPicture: crops,
      centresOnly: step !== 1,
      ...(method.metric === 'lab' && method.grid > 1 ? { detail: new TileDetail(loaded.features, loaded.tileCount, method.grid) } : {}),
    };
    const placer = new TilePlacer(method, columns, rows, catalogue, rules, (done, total) => onProgress?.({ stage: 'match', done, total }));
    feeder.start(placer, source);
    const plan: MosaicPlan = {
      columns,
      rows,
      tiles: placer.tiles,
      mirrored: placer.mirrored,
      ...(isTiled(layout) ? {} : { layout, groutColour: settings.groutColour }),
    };
    if (blend > 0) {
      await feeder.placeThrough(rows);
      const cellMeans = await targetMeans(await decodedTarget(), columns, rows);
      plan.tint = blendTint(cellMeans, placer.tiles, loaded.features, manifest.features.dimensions, blend);
    }

    let deltaE: CellFidelity | undefined;
    let measureSeconds = 0;
    const errors = settings.measure && settings.heatmap ? new ErrorMap(columns, rows) : undefined;
    const measure = async (): Promise<void> => {
      if (!settings.measure) return;
      const measureStarted = performance.now();
      const decoded = await decodedTarget();
      const structureRows = (firstRow: number, count: number): Promise<Float32Array> =>
        targetMeans(decoded, columns * STRUCTURE_GRID, rows * STRUCTURE_GRID, 1, {
          firstRow: firstRow * STRUCTURE_GRID,
          rows: count * STRUCTURE_GRID,
        });
      deltaE = await measureFidelity(
        plan,
        structureRows,
        // (Tiles drawn larger are measured by their stored features.)
        !store || store === indexTiles ? loaded.features : renderedStructure(store),
        undefined,
        signal,
        errors && ((firstRow, cellErrors) => errors.record(firstRow, cellErrors)),
      );
      measureSeconds = (performance.now() - measureStarted) / 1000;
    };
    let written: WriteMosaicResult;
    let storedTiles: TileReader | undefined;
    let drawnPlan = plan;
    let drawing: TileDrawing | undefined;
    let tileFolder: Temporary | undefined;
    try {
      if (settings.deepZoomFolder) await mkdir(settings.deepZoomFolder, { recursive: true });
      if (larger) {
        // Which tiles are needed is known once every row is placed; a PNG is written while the
        // later rows' pictures are still being drawn, the other formats wait for them all.
        await feeder.placeThrough(rows);
        tileFolder = await Temporary.create(out);
        storedTiles = await openIndexTiles(loaded);
        drawing = new TileDrawing({
          manifest,
          stored: storedTiles,
          planTiles: placer.tiles,
          columns,
          shape: geometry.tileShape,
          temporary: tileFolder,
          fromOriginals: settings.originals,
          signal,
        });
        drawnPlan = drawing.plan(plan);
        if (format !== 'png') await drawing.done;
      }
      // Every row placed before the writer starts (tiles drawn larger, --blend): the measure runs
      // first, so that its memory does not add to the writer's (a 2 Gpx deep zoom's peak: 262 MB
      // measured after the pyramid, 228 while writing it). Else once every row is placed.
      const measuredFirst = feeder.placedRows === rows;
      if (measuredFirst) await measure();
      // Rows are placed as the writer asks for them: a PNG's bands are coded as their rows are placed.
      written = await writeMosaic(drawnPlan, drawing ? drawing.tiles : store!, out, format, {
        signal,
        ...(settings.dpi ? { density: settings.dpi } : {}),
        placed: async (wanted) => {
          await feeder.placeThrough(wanted);
          await drawing?.readyThrough(wanted);
        },
        // The writer's progress once every row is placed (before, the bar shows placement's).
        onProgress: (stage, done, total) => feeder.placedRows === rows && onProgress?.({ stage, done, total }),
        // Before the mosaic is in place, so that an interrupted plan file or measure leaves no mosaic.
        beforePublish: async () => {
          if (settings.plan) await writePlan(settings.plan, plan, manifest, signal);
          if (!measuredFirst) await measure();
          if (errors) await writeHeatmap(settings.heatmap!, errors, signal);
        },
      });
    } finally {
      // Also when drawing, measuring or writing fails: the drawn tiles' folder goes, the index file closes.
      await drawing?.done.catch(() => undefined);
      drawing?.close();
      storedTiles?.close();
      await tileFolder?.discard();
    }
    if (drawing) {
      await drawing.done;
      timings.originals = drawing.seconds;
      if (drawing.missing > 0 && settings.originals) {
        const examples = drawing.missingExamples.map(quote).join(', ');
        const more = drawing.missing > drawing.missingExamples.length ? ', ...' : '';
        onNote?.(
          `${drawing.missing} of ${drawing.missing + drawing.used} pictures could not be drawn from their original files (missing, unreadable or changed since indexing), their stored tiles are enlarged: ${examples}${more}`,
        );
      }
    }
    const placement = placer.result();
    if (placement.relaxed > 0) {
      onNote?.(`${placement.relaxed} cells could not keep --min-distance ${rules.minDistance} within --max-uses ${rules.maxUses}`);
    }
    // The write's time: placing rows (match), rendering on this thread (assemble), measuring and the rest.
    lap('encode');
    timings.match = feeder.matchingSeconds;
    timings.assemble = written.renderSeconds;
    timings.encode -= timings.match + written.renderSeconds + measureSeconds;
    if (settings.measure) timings.measure = measureSeconds;

    return {
      output: out,
      width: layout.width,
      height: layout.height,
      columns,
      rows,
      distinctTiles: countPictures(placement.tiles, crops),
      maxUses: placement.maxUses,
      ...(deltaE ? { deltaE } : {}),
      ...(settings.heatmap ? { heatmap: settings.heatmap } : {}),
      ...(settings.print ? { print: { ...settings.print, dpi: settings.dpi! } } : {}),
      ...(drawing && settings.originals ? { originals: { used: drawing.used, missing: drawing.missing } } : {}),
      seconds: (performance.now() - started) / 1000,
      timings,
    };
  } finally {
    await Promise.all([worker?.close(), stopped]);
  }
}

/** The descriptors (`length` values each) of every `step`-th tile from tile 0: with step = crops, the centre squares. */
function everyNth(descriptors: Float32Array, length: number, step: number): Float32Array {
  if (step === 1) return descriptors;
  const count = descriptors.length / length / step;
  const kept = new Float32Array(count * length);
  for (let i = 0; i < count; i++) kept.set(descriptors.subarray(i * step * length, (i * step + 1) * length), i * length);
  return kept;
}
