import { loadSharp } from '../load-sharp.js';
import { areaAverage } from '../raster/area-average.js';
import type { TargetImage } from './target.js';

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
export async function targetMeans(
  target: TargetImage,
  columns: number,
  rows: number,
  grid = 1,
  band: RowBand = { firstRow: 0, rows },
): Promise<Float32Array> {
  const width = columns * grid;
  const height = rows * grid;
  if (grid === 1 || (width <= target.width && height <= target.height)) {
    return areaAverage(target.pixels, target.width, target.height, 3, width, height, band.firstRow * grid, band.rows * grid);
  }
  const sharp = await loadSharp();
  let enlarging = sharp(target.pixels, { raw: { width: target.width, height: target.height, channels: 3 } }).resize(width, height, {
    fit: 'fill',
    kernel: 'lanczos3',
  });
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
