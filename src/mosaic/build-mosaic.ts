import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TsmosaicError } from '../errors.js';
import { expectInteger, MAX_TILE_SIZE } from '../options.js';
import { loadIndex, readManifest } from '../index-store/read-index.js';
import { nearestTiles } from '../match/nearest-tiles.js';
import { assertWritableFolder, formatFromPath } from '../render/encode.js';
import { assertOutputReplaceable, writeMosaic } from '../render/write-mosaic.js';
import { assertOutputFits, chooseGrid, DEFAULT_MAX_COLUMNS, DEFAULT_MAX_PIXELS } from './grid.js';
import { readTargetSize, sampleTarget } from './target.js';

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
  /** Grid width in tiles; rows follow the target's aspect. Default: one tile per target pixel, at most 200. */
  tilesAcross?: number;
  /** Output tile edge in px, at most the indexed size. Default: the indexed size. */
  tileSize?: number;
  /** Refuse outputs with more pixels than this. Default 1e9. */
  maxPixels?: number;
  onProgress?: (progress: BuildProgress) => void;
  /** Stops the build between steps, bands or tiles; temporaries are removed and the reason thrown. */
  signal?: AbortSignal;
  /** Informational messages for the user (e.g. the target was sampled down). */
  onNote?: (message: string) => void;
}

/** Seconds spent in each step of `buildMosaic`. */
export interface BuildTimings {
  loadIndex: number;
  target: number;
  match: number;
  assemble: number;
  encode: number;
}

export interface BuildMosaicResult {
  output: string;
  width: number;
  height: number;
  columns: number;
  rows: number;
  distinctTiles: number;
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
  const out = path.resolve(options.out ?? `${path.parse(target).name}-mosaic.png`);
  const format = formatFromPath(out);
  const tilesAcross = options.tilesAcross === undefined ? undefined : expectInteger('tilesAcross', options.tilesAcross, 1);
  const maxPixels = expectInteger('maxPixels', options.maxPixels ?? DEFAULT_MAX_PIXELS, 1);
  const { onProgress, onNote, signal } = options;
  if (out === path.resolve(target)) throw new TsmosaicError(`the output would overwrite the target ${target}; choose another --out`);

  await assertWritableFolder(out);
  await assertOutputReplaceable(out, format);
  const manifest = await readManifest(index);
  const tileSize = expectInteger('tileSize', options.tileSize ?? manifest.tileSize, 1, Math.min(MAX_TILE_SIZE, manifest.tileSize));
  const targetSize = await readTargetSize(target);
  const grid = chooseGrid(targetSize.width, targetSize.height, tilesAcross);
  if (grid.sampledDown) {
    onNote?.(`${target} is ${targetSize.width} px wide: sampling it down to ${DEFAULT_MAX_COLUMNS} tiles across (--tiles-across sets another width)`);
  }
  assertOutputFits(grid, tileSize, targetSize, format, maxPixels);

  const timings: BuildTimings = { loadIndex: 0, target: 0, match: 0, assemble: 0, encode: 0 };
  let mark = performance.now();
  const lap = (step: keyof BuildTimings): void => {
    const now = performance.now();
    timings[step] = (now - mark) / 1000;
    mark = now;
  };

  onProgress?.({ stage: 'load', done: 0, total: 1 });
  const loaded = await loadIndex(index, manifest);
  const store = loaded.tiles.scaled(tileSize);
  onProgress?.({ stage: 'load', done: 1, total: 1 });
  lap('loadIndex');

  const cells = await sampleTarget(target, grid.columns, grid.rows, targetSize);
  lap('target');

  const tiles = nearestTiles(cells, loaded.ann, (row) => onProgress?.({ stage: 'match', done: row, total: grid.rows }), grid.columns);
  const plan = { columns: grid.columns, rows: grid.rows, tiles };
  lap('match');

  signal?.throwIfAborted();

  const width = grid.columns * tileSize;
  const height = grid.rows * tileSize;
  let assembled = false;
  await writeMosaic(plan, store, out, format, {
    signal,
    onProgress: (stage, done, total) => {
      // Rendering is timed as `assemble`, the rest (encoding, deep zoom tiles) as `encode`.
      if (stage !== 'render' && !assembled) {
        assembled = true;
        lap('assemble');
      }
      onProgress?.({ stage, done, total });
    },
  });
  lap('encode');

  return {
    output: out,
    width,
    height,
    columns: grid.columns,
    rows: grid.rows,
    distinctTiles: new Set(tiles).size,
    seconds: (performance.now() - started) / 1000,
    timings,
  };
}
