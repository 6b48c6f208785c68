import { closeSync, constants, fstatSync, openSync, read, readSync, statSync, type Stats } from 'node:fs';
import { reasonOf } from '../errors.js';

/** sharp's default pixel limit; larger images are refused from their header, before decoding. */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;

/** The formats tsmosaic reads, as a message names them. */
const ACCEPTED_FORMATS = 'JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF';

/** Bytes from the start of a file that its format is told from: libvips looks for `<svg` this far too. */
export const FORMAT_HEAD_BYTES = 1024;

/** Why a file cannot be read as a picture: a short reason, one line. */
export class UnreadableImageError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnreadableImageError';
  }
}

/** A regular file opened for reading by openImageFile, as it was when opened. Close its descriptor when done. */
export interface ImageFile {
  /** The name it was opened by. */
  path: string;
  descriptor: number;
  size: number;
  mtimeMs: number;
  device: number;
  inode: number;
}

/**
 * Opens a picture for reading without trusting its name: `named`, its stat (taken now unless
 * given), must say a regular file, so that a device, FIFO or folder with an image's name is never
 * opened; O_NONBLOCK keeps a FIFO swapped in after that stat from blocking the open, O_NOCTTY a
 * terminal from becoming this process's; the descriptor must then be that same regular file.
 * @throws {UnreadableImageError} when it is not, or was replaced; the file system's own errors (ENOENT, EACCES, ...) as they are.
 */
export function openImageFile(file: string, named: Stats = statSync(file)): ImageFile {
  if (!named.isFile()) throw new UnreadableImageError('not a regular file');
  const descriptor = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const opened = fstatSync(descriptor);
    if (!opened.isFile() || opened.dev !== named.dev || opened.ino !== named.ino) {
      throw new UnreadableImageError('file replaced while it was opened');
    }
    return { path: file, descriptor, size: opened.size, mtimeMs: opened.mtimeMs, device: opened.dev, inode: opened.ino };
  } catch (error) {
    closeSync(descriptor);
    throw error;
  }
}

/** The first FORMAT_HEAD_BYTES of an opened file (fewer when it is shorter). */
export function readHead(image: ImageFile): Buffer {
  const head = Buffer.alloc(Math.min(FORMAT_HEAD_BYTES, image.size));
  let length = 0;
  for (let read = -1; read !== 0 && length < head.length; length += read) {
    read = readSync(image.descriptor, head, length, head.length - length, length);
  }
  return head.subarray(0, length);
}

/** Names given out by decoderPath so far. */
let descriptorNames = 0;

/**
 * The name libvips should open an opened file by to decode it: on Linux the descriptor's own
 * (`/proc/self/fd/<n>`), which is that file whatever its name now names; elsewhere, or without
 * /proc, its name, once checked that it still names that file (libvips then opens it itself).
 * Keep the descriptor open until the decode is done.
 * @throws {UnreadableImageError} when the name now names another file.
 */
export function decoderPath(image: ImageFile): string {
  if (process.platform === 'linux') {
    // Spelled differently each time (each bit of a count a `/` or a `/.`): libvips caches loads by
    // name, and a closed descriptor's number is reused, so the next file would get this one's image.
    const spelling = (descriptorNames++).toString(2).replaceAll('0', '/').replaceAll('1', '/.');
    const own = `/proc/self${spelling}/fd/${image.descriptor}`;
    if (isSameFile(own, image)) return own;
  }
  if (!isSameFile(image.path, image)) throw new UnreadableImageError('file replaced while it was read');
  return image.path;
}

function isSameFile(file: string, image: ImageFile): boolean {
  try {
    const info = statSync(file);
    return info.isFile() && info.dev === image.device && info.ino === image.inode;
  } catch {
    return false;
  }
}

/**
 * Opens `file` (see openImageFile), refuses it unless its first bytes are those of an accepted
 * format, and gives `decode` the name libvips should open it by (see decoderPath); the file stays
 * open until `decode` settles.
 * @throws {UnreadableImageError} for a file that is not an accepted picture; see openImageFile.
 */
export async function withImageFile<T>(file: string, decode: (input: string) => Promise<T>): Promise<T> {
  const image = openImageFile(file);
  try {
    assertAcceptedFormat(readHead(image));
    return await decode(decoderPath(image));
  } finally {
    closeSync(image.descriptor);
  }
}

/** `fs.read` of `length` bytes at `position` into `buffer` at `offset`, as a promise of the bytes read. */
export function readAt(descriptor: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(descriptor, buffer, offset, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))),
  );
}

/** Whether `head` holds `expected` (bytes, or latin1 text) at `at`. */
function holds(head: Buffer, expected: readonly number[] | string, at = 0): boolean {
  if (typeof expected === 'string') return head.toString('latin1', at, at + expected.length) === expected;
  return expected.every((value, i) => head[at + i] === value);
}

/** The ISO BMFF brands libvips' HEIF loader takes (AVIF is HEIF with AV1 inside). */
const HEIF_BRANDS = ['heic', 'heix', 'hevc', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1', 'avif'];

/** The first bytes of the formats tsmosaic reads, told as libvips' loaders tell them. */
const ACCEPTED: ((head: Buffer) => boolean)[] = [
  (head) => holds(head, [0xff, 0xd8, 0xff]), // JPEG
  (head) => holds(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), // PNG
  (head) => holds(head, 'RIFF') && holds(head, 'WEBP', 8),
  (head) => holds(head, 'GIF87a') || holds(head, 'GIF89a'),
  (head) => ['II*\0', 'MM\0*', 'II+\0', 'MM\0+'].some((magic) => holds(head, magic)), // TIFF, BigTIFF
  // HEIF: an `ftyp` box (of at most 2 KB, like libvips') first, with one of those major brands.
  (head) => head.length >= 12 && head.readUInt32BE(0) <= 2048 && HEIF_BRANDS.some((brand) => holds(head, `ftyp${brand}`, 4)),
];

/** Formats often met under an image's name, to say what a refused file seems to be. */
const LOOKALIKES: [string, (head: Buffer) => boolean][] = [
  ['SVG', (head) => head.toString('latin1').toLowerCase().includes('<svg')],
  ['PDF', (head) => holds(head, '%PDF-')],
  ['PostScript', (head) => holds(head, '%!PS')],
  ['a libvips image', (head) => holds(head, [0xb6, 0xa6, 0xf2, 0x08]) || holds(head, [0x08, 0xf2, 0xa6, 0xb6])],
  ['FITS', (head) => holds(head, 'SIMPLE  =')],
  ['BMP', (head) => holds(head, 'BM') && [12, 40, 52, 56, 64, 108, 124].includes(head[14] ?? 0) && holds(head, [0, 0, 0], 15)],
  ['JPEG 2000', (head) => holds(head, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || holds(head, [0xff, 0x4f, 0xff, 0x51])],
  ['JPEG XL', (head) => holds(head, [0xff, 0x0a]) || holds(head, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])],
  ['Netpbm (PPM, PGM, PBM or PFM)', (head) => /^P[1-7Ff]\s/.test(head.toString('latin1', 0, 3))],
  ['gzip data', (head) => holds(head, [0x1f, 0x8b])],
  ['text', (head) => head.every((byte) => (byte >= 0x20 ? byte !== 0x7f : byte === 9 || byte === 10 || byte === 12 || byte === 13))],
];

/**
 * Refuses a file whose first bytes (`head`, FORMAT_HEAD_BYTES of them or the whole file) are not
 * those of a format tsmosaic reads: sharp tells formats by content, so an SVG, PDF or libvips file
 * with a `.jpg` name would otherwise be decoded by a loader tsmosaic never meant to run.
 * @throws {UnreadableImageError} saying what the file seems to be.
 */
export function assertAcceptedFormat(head: Buffer): void {
  if (head.length === 0) throw new UnreadableImageError('empty file');
  if (ACCEPTED.some((accepts) => accepts(head))) return;
  const lookalike = LOOKALIKES.find(([, looksLike]) => looksLike(head))?.[0];
  throw new UnreadableImageError(`not a ${ACCEPTED_FORMATS} image${lookalike ? ` (it looks like ${lookalike})` : ''}`);
}

/** Turns sharp/libvips and file-system errors met reading a picture into a short reason, one line. */
export function imageErrorReason(error: unknown): string {
  if (error instanceof UnreadableImageError) return error.message;
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
