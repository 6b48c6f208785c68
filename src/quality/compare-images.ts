import { TsmosaicError } from '../errors.js';
import { imageErrorReason, MAX_INPUT_PIXELS, withImageFile } from '../files/image-file.js';
import { loadSharp } from '../load-sharp.js';
import { decodeSrgb, type TargetImage } from '../target/target.js';
import { areaAverage } from '../raster/area-average.js';
import { meanDifferenceOfGrids, STRUCTURE_GRID, type Fidelity } from './fidelity.js';

/**
 * The fidelity of any mosaic image (ours or another tool's) to its target on a `columns` x `rows`
 * grid: both images decoded and reduced by the same exact area average as `measureFidelity`. Both
 * files are read as collection pictures are: formats tsmosaic reads, up to MAX_INPUT_PIXELS each.
 * @throws {TsmosaicError} naming a file that cannot be read, and why.
 * @example
 * const { cell, structure } = await compareImages('photo.jpg', 'photo-mosaic.png', 80, 60);
 */
export async function compareImages(targetFile: string, mosaicFile: string, columns: number, rows: number): Promise<Fidelity> {
  const sharp = await loadSharp();
  const decode = (file: string): Promise<TargetImage> =>
    withImageFile(file, (input) => decodeSrgb(sharp(input, { autoOrient: true, limitInputPixels: MAX_INPUT_PIXELS }))).catch(
      (error: unknown) => {
        const reason = (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'file not found' : imageErrorReason(error);
        throw new TsmosaicError(`cannot compare ${file}: ${reason}`, 1, { cause: error });
      },
    );
  const [target, mosaic] = await Promise.all([decode(targetFile), decode(mosaicFile)]);
  const grids = (image: TargetImage, scale: number): Float32Array =>
    areaAverage(image.pixels, image.width, image.height, 3, columns * scale, rows * scale);
  return {
    cell: meanDifferenceOfGrids(grids(target, 1), grids(mosaic, 1)),
    structure: meanDifferenceOfGrids(grids(target, STRUCTURE_GRID), grids(mosaic, STRUCTURE_GRID)),
  };
}
