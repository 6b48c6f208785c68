import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { TsmosaicError, reasonOf } from '../errors.js';
import { areaAverage } from '../raster/area-average.js';

/** Targets with more samples per cell than this are first reduced by sharp (shrink-on-load). */
const MAX_SAMPLES_PER_CELL = 16;

const OPEN_OPTIONS = { failOn: 'truncated', autoOrient: true } as const;

/** The decoded target: interleaved 8-bit sRGB. */
export interface TargetImage {
  pixels: Buffer;
  width: number;
  height: number;
}

/**
 * The displayed size of the target image (EXIF orientation applied).
 * @throws {TsmosaicError} when the file is missing or not an image.
 */
export async function readTargetSize(file: string): Promise<{ width: number; height: number }> {
  try {
    await stat(file);
  } catch {
    throw new TsmosaicError(`target image not found: ${file}`);
  }
  try {
    const { width, height, orientation } = await sharp(file, OPEN_OPTIONS).metadata();
    if (!width || !height) throw new Error('no dimensions');
    return (orientation ?? 1) >= 5 ? { width: height, height: width } : { width, height };
  } catch (error) {
    throw new TsmosaicError(`target is not an image tsmosaic can read: ${file} (${reasonOf(error)})`);
  }
}

/**
 * Decodes the target to sRGB, alpha flattened onto white. A target with more than
 * MAX_SAMPLES_PER_CELL pixels per cell side is reduced first, so memory follows the grid, not the photo.
 */
export async function loadTarget(file: string, columns: number, rows: number, size: { width: number; height: number }): Promise<TargetImage> {
  const reduce = size.width > columns * MAX_SAMPLES_PER_CELL || size.height > rows * MAX_SAMPLES_PER_CELL;
  try {
    return await decodeSrgb(sharp(file, OPEN_OPTIONS), reduce ? { width: columns * MAX_SAMPLES_PER_CELL, height: rows * MAX_SAMPLES_PER_CELL } : undefined);
  } catch (error) {
    throw new TsmosaicError(`cannot decode the target image ${file}: ${reasonOf(error)}`);
  }
}

/** Decodes an opened picture to 8-bit sRGB, alpha flattened onto white, optionally squeezed to `size`. */
export async function decodeSrgb(image: sharp.Sharp, size?: { width: number; height: number }): Promise<TargetImage> {
  const resized = size ? image.resize(size.width, size.height, { fit: 'fill' }) : image;
  const { data, info } = await resized.flatten({ background: '#ffffff' }).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height };
}

/** Rows [firstRow, firstRow + rows) of a grid of cells. */
export interface RowBand {
  firstRow: number;
  rows: number;
}

/**
 * The target's sRGB means on a `columns * grid` x `rows * grid` grid (`grid` sub-squares per cell
 * side): an exact area average when that grid is no finer than the target, or when grid is 1
 * (cells larger than a pixel then repeat it). A finer grid of sub-squares (one
 * target pixel per cell, say) is interpolated with a smooth (Lanczos) enlargement, then each cell's
 * sub-squares are shifted so their mean is still the cell's exact area average: interpolation may
 * invent structure inside a cell, never change its colour.
 *
 * With `band`, only the sub-squares of those cell rows are computed and returned (`columns * grid`
 * x `band.rows * grid`), with the same values as in the whole grid, so that huge grids can be
 * sampled a band at a time.
 */
export async function targetMeans(target: TargetImage, columns: number, rows: number, grid = 1, band: RowBand = { firstRow: 0, rows }): Promise<Float32Array> {
  const width = columns * grid;
  const height = rows * grid;
  if (grid === 1 || (width <= target.width && height <= target.height)) {
    return areaAverage(target.pixels, target.width, target.height, 3, width, height, band.firstRow * grid, band.rows * grid);
  }
  let enlarging = sharp(target.pixels, { raw: { width: target.width, height: target.height, channels: 3 } }).resize(width, height, { fit: 'fill', kernel: 'lanczos3' });
  // libvips computes only the rows extracted, the same as in the whole enlargement.
  if (band.rows < rows) enlarging = enlarging.extract({ left: 0, top: band.firstRow * grid, width, height: band.rows * grid });
  const means = Float32Array.from(await enlarging.raw().toBuffer());
  const cellMeans = areaAverage(target.pixels, target.width, target.height, 3, columns, rows, band.firstRow, band.rows);
  const subs = grid * grid;
  for (let cell = 0; cell < columns * band.rows; cell++) {
    const x0 = (cell % columns) * grid;
    const y0 = Math.floor(cell / columns) * grid;
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let sub = 0; sub < subs; sub++) sum += means[((y0 + Math.floor(sub / grid)) * width + x0 + (sub % grid)) * 3 + c]!;
      const shift = cellMeans[cell * 3 + c]! - sum / subs;
      for (let sub = 0; sub < subs; sub++) means[((y0 + Math.floor(sub / grid)) * width + x0 + (sub % grid)) * 3 + c]! += shift;
    }
  }
  return means;
}
