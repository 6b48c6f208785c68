import { DEFAULT_MAX_COLUMNS, MAX_CELLS } from '../options/options.js';
import { TsmosaicError } from '../errors.js';
import { FORMAT_NAMES, MAX_SIDE, type OutputFormat } from '../render/encode.js';

export interface GridSize {
  columns: number;
  rows: number;
}

/** Rows for a grid `columns` wide that keeps the target's aspect ratio (at least one). */
export function rowsFor(columns: number, targetWidth: number, targetHeight: number): number {
  return Math.max(1, Math.round((targetHeight * columns) / targetWidth));
}

/**
 * The tile grid: `tilesAcross` columns when given; otherwise one tile per target pixel (as
 * pycollage does) up to DEFAULT_MAX_COLUMNS, a wider target being sampled down.
 */
export function chooseGrid(targetWidth: number, targetHeight: number, tilesAcross?: number): GridSize & { sampledDown: boolean } {
  const columns = tilesAcross ?? Math.min(targetWidth, DEFAULT_MAX_COLUMNS);
  return { columns, rows: rowsFor(columns, targetWidth, targetHeight), sampledDown: tilesAcross === undefined && targetWidth > columns };
}

/**
 * Refuses, before any work, a single-file output larger than `maxPixels` or than the format can
 * hold, with the largest `--tiles-across` that fits and deep zoom as the way to go larger.
 * @throws {TsmosaicError}
 */
export function assertOutputFits(
  grid: GridSize,
  tileSize: number,
  target: { width: number; height: number },
  format: OutputFormat,
  maxPixels: number,
): void {
  const fits = (columns: number): boolean => {
    const width = columns * tileSize;
    const height = rowsFor(columns, target.width, target.height) * tileSize;
    return width * height <= maxPixels && Math.max(width, height) <= MAX_SIDE[format];
  };
  if (format === 'dzi' || fits(grid.columns)) return;
  const width = grid.columns * tileSize;
  const height = grid.rows * tileSize;
  const pixels = width * height;
  const size = `${width}x${height} px (${pixels >= 1e9 ? `${(pixels / 1e9).toFixed(2)} gigapixels` : `${(pixels / 1e6).toFixed(1)} megapixels`})`;
  const problem =
    Math.max(width, height) > MAX_SIDE[format]
      ? `larger than ${FORMAT_NAMES[format]} allows (${MAX_SIDE[format]} px per side)`
      : `more than --max-pixels ${maxPixels}`;
  const columns = largestFitting(grid.columns - 1, fits);
  const hint = `${columns > 0 ? `use --tiles-across ${columns} or fewer` : 'use a smaller --tile-size'}, or write deep zoom tiles (-o <name>.dzi or --deepzoom <dir>), which have no size limit`;
  throw new TsmosaicError(`the mosaic would be ${size}, ${problem}: ${hint}`);
}

/**
 * Refuses, before any work, a grid of more than MAX_CELLS cells (its plan alone would take 3 bytes a
 * cell), with the largest `--tiles-across` that fits.
 * @throws {TsmosaicError}
 */
export function assertGridFits(grid: GridSize, target: { width: number; height: number }): void {
  if (grid.columns * grid.rows <= MAX_CELLS) return;
  const columns = largestFitting(grid.columns - 1, (c) => c * rowsFor(c, target.width, target.height) <= MAX_CELLS);
  throw new TsmosaicError(
    `a grid of ${grid.columns} x ${grid.rows} tiles has more than ${MAX_CELLS} cells: use --tiles-across ${columns} or fewer`,
  );
}

/** The largest whole number from 1 to `upper` for which `fits` holds (0 if none), by bisection: `fits` only turns false as the number grows. */
function largestFitting(upper: number, fits: (value: number) => boolean): number {
  let low = 0;
  let high = upper;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}
