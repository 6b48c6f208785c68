import type { Sharp } from 'sharp';
import { TsmosaicError } from '../errors.js';
import { imageErrorReason, MAX_INPUT_PIXELS, withImageFile } from '../files/image-file.js';
import { loadSharp } from '../load-sharp.js';
import { quote } from '../text.js';

/** Targets with more samples per cell than this are first reduced by sharp (shrink-on-load). */
const MAX_SAMPLES_PER_CELL = 16;

const OPEN_OPTIONS = { failOn: 'truncated', autoOrient: true, limitInputPixels: MAX_INPUT_PIXELS } as const;

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
 * The displayed size of the target image (EXIF orientation applied). The file is opened as a
 * collection picture is, and must be of a format tsmosaic reads (see withImageFile).
 * @throws {TsmosaicError} when the file is missing or not an image tsmosaic reads.
 */
export async function readTargetSize(file: string): Promise<TargetSize> {
  // Outside the try: sharp failing to load is not the target's fault.
  const sharp = await loadSharp();
  try {
    const { width, height, orientation } = await withImageFile(file, (input) => sharp(input, OPEN_OPTIONS).metadata());
    if (!width || !height) throw new Error('no dimensions');
    return (orientation ?? 1) >= 5 ? { width: height, height: width } : { width, height };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new TsmosaicError(`target image not found: ${quote(file)}`);
    throw new TsmosaicError(`target is not an image tsmosaic can read: ${quote(file)} (${imageErrorReason(error)})`);
  }
}

/** A part of the target, in its displayed pixels (a print's aspect ratio cut around its centre). */
export interface TargetCrop {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Decodes the target (or its part `crop`, of `size`) to sRGB, alpha flattened onto white. A target
 * with more than MAX_SAMPLES_PER_CELL pixels per cell side is reduced first, so memory follows the
 * grid, not the photo.
 */
export async function loadTarget(file: string, columns: number, rows: number, size: TargetSize, crop?: TargetCrop): Promise<TargetImage> {
  const reduce = size.width > columns * MAX_SAMPLES_PER_CELL || size.height > rows * MAX_SAMPLES_PER_CELL;
  const sharp = await loadSharp();
  try {
    return await withImageFile(file, (input) => {
      const image = sharp(input, OPEN_OPTIONS);
      return decodeSrgb(
        crop ? image.extract(crop) : image,
        reduce ? { width: columns * MAX_SAMPLES_PER_CELL, height: rows * MAX_SAMPLES_PER_CELL } : undefined,
      );
    });
  } catch (error) {
    throw new TsmosaicError(`cannot decode the target image ${quote(file)}: ${imageErrorReason(error)}`);
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
