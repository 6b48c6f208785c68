import { loadSharp } from '../load-sharp.js';
import { decodeSrgb, type TargetImage } from '../target/target.js';
import { areaAverage } from '../raster/area-average.js';
import { meanDifferenceOfGrids, STRUCTURE_GRID, type Fidelity } from './fidelity.js';

/**
 * The fidelity of any mosaic image (ours or another tool's) to its target on a `columns` x `rows`
 * grid: both images decoded and reduced by the same exact area average as `measureFidelity`.
 */
export async function compareImages(targetFile: string, mosaicFile: string, columns: number, rows: number): Promise<Fidelity> {
  const sharp = await loadSharp();
  const [target, mosaic] = await Promise.all(
    [targetFile, mosaicFile].map((file) => decodeSrgb(sharp(file, { autoOrient: true, limitInputPixels: false }))),
  );
  const grids = (image: TargetImage, scale: number): Float32Array =>
    areaAverage(image.pixels, image.width, image.height, 3, columns * scale, rows * scale);
  return {
    cell: meanDifferenceOfGrids(grids(target!, 1), grids(mosaic!, 1)),
    structure: meanDifferenceOfGrids(grids(target!, STRUCTURE_GRID), grids(mosaic!, STRUCTURE_GRID)),
  };
}
