import { TsmosaicError, UsageError } from '../errors.js';
import { DEFAULT_MAX_COLUMNS, type TileSize } from '../options/options.js';
import { FORMAT_NAMES, MAX_SIDE, type OutputFormat } from '../render/encode.js';
import type { TargetCrop, TargetSize } from '../target/target.js';
import type { TileShape } from '../tiles/features.js';
import { fittedLayout, tiledLayout, type MosaicLayout } from '../tiles/mosaic-layout.js';
import { assertGridFits, assertOutputFits, rowsOver } from './grid.js';
import { centreCrop, printColumns, printPixels } from './print.js';
import type { BuildSettings } from './settings.js';

/** What a build makes: its grid over the target (or its part), the output's cells and the tiles drawn into them. */
export interface OutputGeometry {
  columns: number;
  rows: number;
  /** The part of the target the grid covers, when a print cuts it to its aspect ratio. */
  crop: TargetCrop | undefined;
  /** The size of the target, or of its part `crop`. */
  target: TargetSize;
  /** Where the cells lie in the output. */
  layout: MosaicLayout;
  /** The size tiles are drawn at: at least every cell's, of the index's tile aspect ratio. */
  tileShape: TileShape;
  /** Whether the grid was sampled down to DEFAULT_MAX_COLUMNS (no --tiles-across, a wide target). */
  sampledDown: boolean;
}

/**
 * The grid and output of a build. A print measures exactly its size at its dpi, its cells spread
 * over it with the grout between them; otherwise cells are tiles of `tileShape` (the index's, or
 * --tile-size) side by side, set apart by the grout if any.
 * @throws {TsmosaicError} when the output would be over --max-pixels or the format's limit, or the grid too large
 */
export function outputGeometry(
  settings: BuildSettings,
  indexShape: TileShape,
  targetSize: TargetSize,
  format: OutputFormat,
): OutputGeometry {
  const { print, dpi, grout, tilesAcross } = settings;
  const rowsOf = gridRows(settings, indexShape, targetSize);
  if (print) {
    const size = printPixels(print, dpi!);
    const crop = centreCrop(targetSize.width, targetSize.height, size.width / size.height);
    const target = crop ? { width: crop.width, height: crop.height } : targetSize;
    const columns = tilesAcross ?? printColumns(print);
    const rows = rowsOf(columns);
    assertGridFits({ columns, rows }, rowsOf);
    assertPrintFits(size, format, settings.maxPixels);
    let layout: MosaicLayout;
    try {
      layout = fittedLayout(size.width, size.height, columns, rows, grout);
    } catch {
      throw new UsageError(`--grout ${grout} px leaves no room for ${columns} x ${rows} tiles in ${size.width} x ${size.height} px`);
    }
    return { columns, rows, crop, target, layout, tileShape: coveringShape(layout, indexShape), sampledDown: false };
  }
  const shape = settings.tileSize === undefined ? indexShape : outputShape(indexShape, settings.tileSize);
  const columns = tilesAcross ?? Math.min(targetSize.width, DEFAULT_MAX_COLUMNS);
  const rows = rowsOf(columns);
  const grid = { columns, rows };
  assertGridFits(grid, rowsOf);
  const sizeOf = (c: number): { width: number; height: number } => ({
    width: c * shape.width + (c - 1) * grout,
    height: rowsOf(c) * shape.height + (rowsOf(c) - 1) * grout,
  });
  assertOutputFits(grid, sizeOf, format, settings.maxPixels);
  const layout =
    grout === 0
      ? tiledLayout(columns, rows, shape.width, shape.height)
      : fittedLayout(columns * shape.width + (columns - 1) * grout, rows * shape.height + (rows - 1) * grout, columns, rows, grout);
  return {
    columns,
    rows,
    crop: undefined,
    target: targetSize,
    layout,
    tileShape: shape,
    sampledDown: tilesAcross === undefined && targetSize.width > columns,
  };
}

/** A build's rows for a grid of `columns` columns (over the print, or the target in cells of the output's tile shape). */
export function gridRows(settings: BuildSettings, indexShape: TileShape, targetSize: TargetSize): (columns: number) => number {
  if (settings.print) {
    const size = printPixels(settings.print, settings.dpi!);
    return (columns) => rowsOver(columns, size.width, size.height, indexShape);
  }
  const shape = settings.tileSize === undefined ? indexShape : outputShape(indexShape, settings.tileSize);
  return (columns) => rowsOver(columns, targetSize.width, targetSize.height, shape);
}

/**
 * The output's tile shape for `--tile-size`: a width, the height following the index's ratio; or a
 * width and height, which must have the index's ratio.
 * @throws {UsageError} for a shape of another ratio
 */
function outputShape(index: TileShape, size: TileSize): TileShape {
  if (typeof size === 'number') return { width: size, height: Math.max(1, Math.round((size * index.height) / index.width)) };
  if (size.width * index.height !== size.height * index.width) {
    const ratio = index.width === index.height ? 'square' : `${index.width}x${index.height}`;
    throw new UsageError(
      `--tile-size ${size.width}x${size.height} is not of the index's tile ratio (${ratio}): give a width, or a size of that ratio`,
    );
  }
  return size;
}

/** The smallest tile of `shape`'s aspect ratio that covers every cell of `layout`. */
function coveringShape(layout: MosaicLayout, shape: TileShape): TileShape {
  const width = Math.max(layout.tileWidth, Math.ceil((layout.tileHeight * shape.width) / shape.height));
  return { width, height: Math.max(layout.tileHeight, Math.round((width * shape.height) / shape.width)) };
}

/**
 * Refuses, before any work, a print over the format's limit or, for a single file, --max-pixels.
 * @throws {TsmosaicError}
 */
function assertPrintFits(size: { width: number; height: number }, format: OutputFormat, maxPixels: number): void {
  if (Math.max(size.width, size.height) > MAX_SIDE[format]) {
    throw new TsmosaicError(
      `the print would be ${size.width}x${size.height} px, larger than ${FORMAT_NAMES[format]} allows (${MAX_SIDE[format]} px per side): lower --dpi, or write another format`,
    );
  }
  if (format !== 'dzi' && size.width * size.height > maxPixels) {
    throw new TsmosaicError(
      `the print would be ${size.width}x${size.height} px, more than --max-pixels ${maxPixels}: lower --dpi or raise --max-pixels`,
    );
  }
}
