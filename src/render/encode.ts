import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Sharp } from 'sharp';
import { TsmosaicError, UsageError } from '../errors.js';
import { loadSharp } from '../load-sharp.js';
import { writeThroughTemporary } from '../files/publish.js';
import { quote } from '../text.js';
import { untilDoneOrAborted } from '../yield.js';
import type { BandRenderer } from './vips-file.js';

/** Single-file image formats, and `dzi`: a Deep Zoom pyramid of tiles with a viewer. */
export type OutputFormat = 'png' | 'jpeg' | 'webp' | 'tiff' | 'avif' | 'dzi';

const EXTENSIONS: Record<string, OutputFormat> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.webp': 'webp',
  '.tif': 'tiff',
  '.tiff': 'tiff',
  '.avif': 'avif',
  '.dzi': 'dzi',
};

/** Largest width or height each format can store (deep zoom: libvips' largest image, its temporary raw file). */
export const MAX_SIDE: Record<OutputFormat, number> = {
  png: 0x7fffffff,
  jpeg: 65535,
  webp: 16383,
  tiff: 0x7fffffff,
  avif: 16384,
  dzi: 10_000_000,
};

/** Display names for messages. */
export const FORMAT_NAMES: Record<OutputFormat, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  webp: 'WebP',
  tiff: 'TIFF',
  avif: 'AVIF',
  dzi: 'Deep Zoom',
};

/**
 * The output format named by a file's extension.
 * @throws {UsageError} for an extension tsmosaic cannot write.
 */
export function formatFromPath(file: string): OutputFormat {
  const format = EXTENSIONS[path.extname(file).toLowerCase()];
  if (!format) {
    throw new UsageError(`cannot tell the output format of ${quote(file)}: use one of ${Object.keys(EXTENSIONS).join(', ')}`);
  }
  return format;
}

/**
 * Checks, before any work, that the output's folder exists and is a folder.
 * @throws {TsmosaicError}
 */
export async function assertWritableFolder(file: string): Promise<void> {
  const folder = path.dirname(file);
  let isDirectory = false;
  try {
    isDirectory = (await stat(folder)).isDirectory();
  } catch {
    // reported below
  }
  if (!isDirectory) throw new TsmosaicError(`cannot write ${quote(file)}: folder ${quote(folder)} does not exist`);
}

/** The single-file formats libvips encodes for tsmosaic (PNG has its own writer, write-png.ts). */
export type LibvipsFormat = Exclude<OutputFormat, 'dzi' | 'png'>;

/**
 * `image` set up to be saved in `format` (`width` x `height` RGB) with tsmosaic's settings, declaring
 * `density` pixels per inch when given (JPEG and TIFF keep it; WebP and AVIF have no place for it).
 */
export function encoderFor(image: Sharp, format: LibvipsFormat, width: number, height: number, density?: number): Sharp {
  if (density !== undefined) image = image.withMetadata({ density });
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality: 90 });
    case 'webp':
      return image.webp({ quality: 90 });
    case 'tiff':
      return image.tiff({ compression: 'lzw', bigtiff: width * height * 3 > 0xf0000000 });
    case 'avif':
      return image.avif({ quality: 70 });
  }
}

/** Bytes of raw pixels encoded on their own to estimate the size of a large output. */
const SAMPLE_BYTES = 1024 * 1024;

/**
 * The encoded size of a whole `width` x `height` image, from a band of its middle (about a
 * megabyte of pixels) drawn by `renderBand` and encoded by `encode` as the image will be.
 */
export async function estimateEncodedBytes(
  width: number,
  height: number,
  renderBand: BandRenderer,
  encode: (image: Sharp) => Sharp,
): Promise<number> {
  const rows = Math.min(height, Math.max(1, Math.floor(SAMPLE_BYTES / (width * 3))));
  const band = renderBand(Math.floor((height - rows) / 2), rows, Buffer.allocUnsafe(rows * width * 3));
  const sharp = await loadSharp();
  const encoded = await encode(sharp(band, { raw: { width, height: rows, channels: 3 }, limitInputPixels: false })).toBuffer();
  return (encoded.length * height) / rows;
}

/**
 * Encodes raw RGB pixels once with sharp and writes them to `file`, through a temporary name in the
 * same folder renamed when complete, so an interrupted run never leaves a partial file there.
 * `beforePublish` runs once the file is written, before it is renamed.
 * @throws the signal's reason when it is aborted before the file is in place (at once, even mid-encode).
 */
export async function writeImage(
  pixels: Buffer,
  width: number,
  height: number,
  file: string,
  format: LibvipsFormat,
  options: { signal?: AbortSignal; beforePublish?: () => Promise<void>; density?: number } = {},
): Promise<void> {
  const { signal, beforePublish, density } = options;
  const sharp = await loadSharp();
  const image = encoderFor(sharp(pixels, { raw: { width, height, channels: 3 }, limitInputPixels: false }), format, width, height, density);
  await writeThroughTemporary(
    file,
    async (temporary) => {
      await untilDoneOrAborted(image.toFile(temporary), signal);
      await beforePublish?.();
    },
    signal,
  );
}
