import { stat } from 'node:fs/promises';
import type { Sharp } from 'sharp';
import { TsmosaicError, reasonOf } from '../errors.js';
import { loadSharp } from '../load-sharp.js';

/** Targets with more samples per cell than this are first reduced by sharp (shrink-on-load). */
const MAX_SAMPLES_PER_CELL = 16;

const OPEN_OPTIONS = { failOn: 'truncated', autoOrient: true } as const;

/** The decoded target: interleaved 8-bit sRGB. */
export interface TargetImage {
  pixels: Buffer;
  width: number;
  height: number;
}

/** A target's displayed size in pixels. */
export interface TargetSize {
  width: number;
  height: number;
}

/**
 * The displayed size of the target image (EXIF orientation applied).
 * @throws {TsmosaicError} when the file is missing or not an image.
 */
export async function readTargetSize(file: string): Promise<TargetSize> {
  try {
    await stat(file);
  } catch {
    throw new TsmosaicError(`target image not found: ${file}`);
  }
  // Outside the try: sharp failing to load is not the target's fault.
  const sharp = await loadSharp();
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
export async function loadTarget(file: string, columns: number, rows: number, size: TargetSize): Promise<TargetImage> {
  const reduce = size.width > columns * MAX_SAMPLES_PER_CELL || size.height > rows * MAX_SAMPLES_PER_CELL;
  const sharp = await loadSharp();
  try {
    return await decodeSrgb(
      sharp(file, OPEN_OPTIONS),
      reduce ? { width: columns * MAX_SAMPLES_PER_CELL, height: rows * MAX_SAMPLES_PER_CELL } : undefined,
    );
  } catch (error) {
    throw new TsmosaicError(`cannot decode the target image ${file}: ${reasonOf(error)}`);
  }
}

/** Decodes an opened picture to 8-bit sRGB, alpha flattened onto white, optionally squeezed to `size`. */
export async function decodeSrgb(image: Sharp, size?: { width: number; height: number }): Promise<TargetImage> {
  const resized = size ? image.resize(size.width, size.height, { fit: 'fill' }) : image;
  const { data, info } = await resized
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height };
}
