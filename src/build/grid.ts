import { MAX_CELLS, MAX_TILES_ACROSS } from '../options/options.js';
import { TsmosaicError, UsageError } from '../errors.js';
import { FORMAT_NAMES, MAX_SIDE, type OutputFormat } from '../render/encode.js';
import type { TileShape } from '../tiles/features.js';

export interface GridSize {
  columns: number;
  rows: number;
}

/** Rows for a grid `columns` wide over an area `width` x `height` of cells of `shape`'s aspect ratio (at least one). */
export function rowsOver(columns: number, width: number, height: number, shape: TileShape = { width: 1, height: 1 }): number {
  return Math.max(1, Math.round((height * columns * shape.width) / (width * shape.height)));
}

/**
 * Refuses, before any work, a grid of more than MAX_CELLS cells (its plan alone would take 3 bytes a
 * cell), with the largest `--tiles-across` that fits; `rowsOf` gives a grid's rows for its columns.
 * @throws {TsmosaicError}
 */
export function assertGridFits(grid: GridSize, rowsOf: (columns: number) => number): void {
  if (grid.columns * grid.rows <= MAX_CELLS) return;
  const columns = largestFitting(grid.columns - 1, (c) => c * rowsOf(c) <= MAX_CELLS);
  throw new TsmosaicError(
    `a grid of ${grid.columns} x ${grid.rows} tiles has more than ${MAX_CELLS} cells: use --tiles-across ${columns} or fewer`,
  );
}

/**
 * Refuses, before any work, an output larger than the format can hold or, for a single file, than
 * `maxPixels`, with the largest `--tiles-across` that fits and deep zoom as the way to go larger;
 * `sizeOf` gives the output's size for a grid of so many columns.
 * @throws {TsmosaicError}
 */
export function assertOutputFits(
  grid: GridSize,
  sizeOf: (columns: number) => { width: number; height: number },
  format: OutputFormat,
  maxPixels: number,
): void {
  const fits = (columns: number): boolean => {
    const { width, height } = sizeOf(columns);
    return (format === 'dzi' || width * height <= maxPixels) && Math.max(width, height) <= MAX_SIDE[format];
  };
  if (fits(grid.columns)) return;
  const { width, height } = sizeOf(grid.columns);
  const pixels = width * height;
  const size = `${width}x${height} px (${pixels >= 1e9 ? `${(pixels / 1e9).toFixed(2)} gigapixels` : `${(pixels / 1e6).toFixed(1)} megapixels`})`;
  const problem =
    Math.max(width, height) > MAX_SIDE[format]
      ? `larger than ${FORMAT_NAMES[format]} allows (${MAX_SIDE[format]} px per side)`
      : `more than --max-pixels ${maxPixels}`;
  const columns = largestFitting(grid.columns - 1, fits);
  const smaller = columns > 0 ? `use --tiles-across ${columns} or fewer` : 'use a smaller --tile-size';
  const hint =
    format === 'dzi'
      ? smaller
      : `${smaller}, or write deep zoom tiles (-o <name>.dzi or --deepzoom <dir>), up to ${MAX_SIDE.dzi.toLocaleString('en')} px a side`;
  throw new TsmosaicError(`the mosaic would be ${size}, ${problem}: ${hint}`);
}

/**
 * Refuses, before any work, a grid with too few cells for the pictures that must appear (--use-all,
 * --include; exactly one cell each with --use-all --unique), naming the `--tiles-across` that fits;
 * `rowsOf` gives a grid's rows for its columns, `indexPictures` counts the index's pictures.
 * @throws {UsageError}
 */
export function assertCellsForRequired(
  choice: { requiredCount: number; usable: number },
  useAll: boolean,
  maxUses: number,
  indexPictures: number,
  grid: GridSize,
  rowsOf: (columns: number) => number,
): void {
  const pictures = choice.requiredCount;
  const cells = grid.columns * grid.rows;
  const has = `the grid has ${cells} (${grid.columns} x ${grid.rows})`;
  // The fewest columns whose grid has a cell for each picture.
  const columns = largestFitting(MAX_TILES_ACROSS, (c) => c * rowsOf(c) < pictures) + 1;
  if (useAll && maxUses === 1) {
    if (cells === pictures) return;
    const hint =
      columns <= MAX_TILES_ACROSS && columns * rowsOf(columns) === pictures
        ? `: use --tiles-across ${columns}`
        : ': no --tiles-across gives that many, use --max-uses 2 or more';
    throw new UsageError(`--use-all with --unique needs exactly ${pictures} cells, one a picture; ${has}${hint}`);
  }
  if (cells >= pictures) return;
  const excluded = choice.usable < indexPictures ? ` (${indexPictures - choice.usable} excluded)` : '';
  const what = useAll
    ? `--use-all needs a cell for each of the ${pictures} pictures${excluded}`
    : `--include names ${pictures} pictures, one a cell at least`;
  const hint = columns <= MAX_TILES_ACROSS ? `: use --tiles-across ${columns} or more` : '';
  throw new UsageError(`${what}; ${has}${hint}`);
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
