import sharp from 'sharp';
import { areaAverage } from '../raster/area-average.js';
import { meanDifferenceOfGrids, STRUCTURE_GRID, type Fidelity } from './fidelity.js';

/**
 * The fidelity of any mosaic image (ours or another tool's) to its target on a `columns` x `rows`
 * grid: both images decoded and reduced by the same exact area average as `measureFidelity`.
 */
export async function compareImages(targetFile: string, mosaicFile: string, columns: number, rows: number): Promise<Fidelity> {
  const [target, mosaic] = await Promise.all([targetFile, mosaicFile].map(decodeRgb));
  const grids = (image: { data: Buffer; width: number; height: number }, scale: number): Float32Array =>
    areaAverage(image.data, image.width, image.height, 3, columns * scale, rows * scale);
  return {
    cell: meanDifferenceOfGrids(grids(target!, 1), grids(mosaic!, 1)),
    structure: meanDifferenceOfGrids(grids(target!, STRUCTURE_GRID), grids(mosaic!, STRUCTURE_GRID)),
  };
}

async function decodeRgb(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file, { autoOrient: true, limitInputPixels: false })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
