import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { TsmosaicError, reasonOf } from '../errors.js';
import { areaAverage, toBytes } from '../raster/area-average.js';

/** Targets wider than this many samples per cell are first reduced by sharp (shrink-on-load). */
const SAMPLES_PER_CELL = 8;

const OPEN_OPTIONS = { failOn: 'truncated', autoOrient: true } as const;

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
 * The mean colour of each grid cell of the target (interleaved 8-bit sRGB, row-major): an exact
 * area average, after sharp has reduced very large targets to SAMPLES_PER_CELL samples per cell.
 */
export async function sampleTarget(file: string, columns: number, rows: number, size: { width: number; height: number }): Promise<Uint8Array> {
  let image = sharp(file, OPEN_OPTIONS);
  if (size.width > columns * SAMPLES_PER_CELL || size.height > rows * SAMPLES_PER_CELL) {
    image = image.resize(columns * SAMPLES_PER_CELL, rows * SAMPLES_PER_CELL, { fit: 'fill' });
  }
  try {
    const { data, info } = await image
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return toBytes(areaAverage(data, info.width, info.height, info.channels, columns, rows));
  } catch (error) {
    throw new TsmosaicError(`cannot decode the target image ${file}: ${reasonOf(error)}`);
  }
}
