import { open, stat } from 'node:fs/promises';
import sharp from 'sharp';
import { reasonOf } from '../errors.js';
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

/** A decoded tile and the identity of the file it came from. */
export interface LoadedTile {
  pixels: Buffer;
  size: number;
  mtimeMs: number;
  /** See `fingerprintFile`. */
  fingerprint: string;
}

/**
 * Decodes one picture into a `tileSize` x `tileSize` tile of 8-bit sRGB pixels (interleaved RGB):
 * EXIF orientation applied, any colour model converted to sRGB, alpha flattened onto white,
 * centre-cropped to a square (or stretched) and downscaled, with JPEG shrink-on-load.
 * @throws {UnreadableImageError} with a short reason when the file is not a usable image.
 */
export async function loadTile(file: string, tileSize: number, fit: TileFit): Promise<LoadedTile> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UnreadableImageError('not a regular file');
    if (info.size === 0) throw new UnreadableImageError('empty file');
    // Read first: it reports a missing or unreadable file as such (sharp calls both "unsupported format").
    const fingerprint = await fingerprintFile(file, info.size);
    const { data, info: out } = await sharp(file, {
      failOn: 'truncated',
      limitInputPixels: MAX_INPUT_PIXELS,
      sequentialRead: true,
      autoOrient: true,
    })
      .resize(tileSize, tileSize, { fit: fit === 'crop' ? 'cover' : 'fill', position: 'centre' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (out.channels !== 3 || out.width !== tileSize || out.height !== tileSize) {
      throw new UnreadableImageError(`unexpected decoded shape ${out.width}x${out.height}x${out.channels}`);
    }
    return { pixels: data, size: info.size, mtimeMs: info.mtimeMs, fingerprint };
  } catch (error) {
    if (error instanceof UnreadableImageError) throw error;
    const reason = describeSharpError(error);
    // libvips sometimes reports a cut-off PNG or JPEG only as "Unknown error": say what it is.
    if (!reason.startsWith('truncated') && (await endsEarly(file))) throw new UnreadableImageError(`truncated image (${reason})`);
    throw new UnreadableImageError(reason);
  }
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
