import { open, stat } from 'node:fs/promises';
import sharp from 'sharp';
import { reasonOf } from '../errors.js';
import { areaAverage, toBytes } from '../raster/area-average.js';
import type { CropCount } from './features.js';
import { fingerprintFile } from './fingerprint.js';

/** How a non-square picture becomes a square tile. */
export type TileFit = 'crop' | 'stretch';

/** sharp's default pixel limit; larger images are refused from their header, before decoding. */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;

/** Why a file could not become a tile. */
export class UnreadableImageError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnreadableImageError';
  }
}


/** Edge of the corner crops as a share of the picture's short side. */
export const CORNER_CROP = 0.7;
/** The picture is decoded at this many times the tile size (short side) before cropping. */
const DECODE_SCALE = 2;
/** Longest side kept in the decoded picture, in short sides: a panorama beyond this is centre-cropped to it first. */
const MAX_ASPECT = 4;

/** A decoded picture's tiles and the identity of the file it came from. */
export interface LoadedTile {
  /** `crops` tiles of `tileSize` px, one after another: the centre square first, then the corners (see `cropWindows`). */
  pixels: Buffer;
  size: number;
  mtimeMs: number;
  /** See `fingerprintFile`. */
  fingerprint: string;
}

/**
 * Decodes one picture into `crops` tiles of `tileSize` x `tileSize` 8-bit sRGB pixels (interleaved
 * RGB): EXIF orientation applied, any colour model converted to sRGB, alpha flattened onto white,
 * decoded once at twice the tile size with JPEG shrink-on-load, then cut into squares (see
 * `cropWindows`; with `stretch` the whole picture is first squashed to a square) that are each
 * reduced to the tile size by an exact area average.
 * @throws {UnreadableImageError} with a short reason when the file is not a usable image.
 */
export async function loadTile(file: string, tileSize: number, fit: TileFit, crops: CropCount = 1): Promise<LoadedTile> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UnreadableImageError('not a regular file');
    if (info.size === 0) throw new UnreadableImageError('empty file');
    // Read first: it reports a missing or unreadable file as such (sharp calls both "unsupported format").
    const fingerprint = await fingerprintFile(file, info.size);
    const image = sharp(file, { failOn: 'truncated', limitInputPixels: MAX_INPUT_PIXELS, sequentialRead: true, autoOrient: true });
    const { width, height } = decodedSize(await image.metadata(), tileSize * DECODE_SCALE, fit);
    const { data, info: out } = await image
      .resize(width, height, { fit: fit === 'crop' ? 'cover' : 'fill', position: 'centre' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (out.channels !== 3 || out.width !== width || out.height !== height) {
      throw new UnreadableImageError(`unexpected decoded shape ${out.width}x${out.height}x${out.channels}`);
    }
    return { pixels: cutTiles(data, width, height, tileSize, crops), size: info.size, mtimeMs: info.mtimeMs, fingerprint };
  } catch (error) {
    if (error instanceof UnreadableImageError) throw error;
    const reason = describeSharpError(error);
    // libvips sometimes reports a cut-off PNG or JPEG only as "Unknown error": say what it is.
    if (!reason.startsWith('truncated') && (await endsEarly(file))) throw new UnreadableImageError(`truncated image (${reason})`);
    throw new UnreadableImageError(reason);
  }
}

/** Size to decode a picture at: its short side `short` px, aspect kept up to MAX_ASPECT (`crop`), or a square (`stretch`). */
function decodedSize(metadata: sharp.Metadata, short: number, fit: TileFit): { width: number; height: number } {
  if (fit === 'stretch') return { width: short, height: short };
  const turned = (metadata.orientation ?? 1) >= 5;
  const width = (turned ? metadata.height : metadata.width) ?? 1;
  const height = (turned ? metadata.width : metadata.height) ?? 1;
  const long = (side: number, other: number): number => Math.round(short * Math.min(MAX_ASPECT, side / other));
  return width >= height ? { width: Math.max(short, long(width, height)), height: short } : { width: short, height: Math.max(short, long(height, width)) };
}

/**
 * Squares cut from a `width` x `height` picture, as [left, top, side]: first the centre square of
 * the short side (the classic tile), then (crops 5) squares of CORNER_CROP of the short side in
 * the picture's four corners, which often differ in colour and layout from the centre.
 */
export function cropWindows(width: number, height: number, crops: CropCount): [number, number, number][] {
  const short = Math.min(width, height);
  const windows: [number, number, number][] = [[Math.floor((width - short) / 2), Math.floor((height - short) / 2), short]];
  if (crops === 1) return windows;
  const side = Math.max(1, Math.round(short * CORNER_CROP));
  for (const [x, y] of [[0, 0], [width - side, 0], [0, height - side], [width - side, height - side]] as const) windows.push([x, y, side]);
  return windows;
}

/** The tiles of `cropWindows`, each reduced to `tileSize` by an exact area average, one after another. */
function cutTiles(pixels: Buffer, width: number, height: number, tileSize: number, crops: CropCount): Buffer {
  const tileBytes = tileSize * tileSize * 3;
  const tiles = Buffer.alloc(tileBytes * crops);
  cropWindows(width, height, crops).forEach(([left, top, side], i) => {
    const square = Buffer.alloc(side * side * 3);
    for (let y = 0; y < side; y++) pixels.copy(square, y * side * 3, ((top + y) * width + left) * 3, ((top + y) * width + left + side) * 3);
    tiles.set(toBytes(areaAverage(square, side, side, 3, tileSize, tileSize)), i * tileBytes);
  });
  return tiles;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
const PNG_END = Buffer.from('IEND', 'latin1');

/** Whether a file starts like a PNG or JPEG but lacks its end marker (IEND chunk, EOI). */
async function endsEarly(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
    if (size < 16) return false;
    const head = Buffer.alloc(4);
    const tail = Buffer.alloc(12);
    await handle.read(head, 0, 4, 0);
    await handle.read(tail, 0, 12, size - 12);
    if (head.equals(PNG_SIGNATURE)) return !tail.subarray(4, 8).equals(PNG_END);
    if (head[0] === 0xff && head[1] === 0xd8) return !(tail[10] === 0xff && tail[11] === 0xd9);
    return false;
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

/** Turns sharp/libvips and file-system errors into a short reason for a warning line. */
function describeSharpError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'file disappeared before it could be read';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ELOOP') return 'symbolic link loop';
  const reason = reasonOf(error);
  if (/unsupported image format/i.test(reason)) return 'not an image, or a format this build of sharp cannot read';
  if (/pixel limit/i.test(reason)) return `image larger than ${MAX_INPUT_PIXELS} pixels, not decoded`;
  if (/premature end|truncated|not enough data|unexpected end|end of stream/i.test(reason)) return `truncated image (${reason})`;
  return reason;
}
