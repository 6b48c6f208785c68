import { closeSync, readSync } from 'node:fs';
import { loadSharp } from '../load-sharp.js';
import {
  assertAcceptedFormat,
  decoderPath,
  imageErrorReason,
  MAX_INPUT_PIXELS,
  openImageFile,
  readAt,
  readHead,
  FORMAT_HEAD_BYTES,
  UnreadableImageError,
  type ImageFile,
} from '../files/image-file.js';
import { areaAverage, toBytes } from '../raster/area-average.js';
import { tileBytes, type CropCount, type TileFit, type TileShape } from '../tiles/features.js';
import { cropWindows } from '../tiles/crop-windows.js';
import { fingerprintBytes, fingerprintDescriptor } from './fingerprint.js';

/** The picture is decoded at this many times the tile size before cropping (see loadTile's `decodeScale`). */
const DECODE_SCALE = 2;

/** Where loadTile cuts its tiles, which ones, and from how large a decoding. */
export interface LoadTileOptions {
  /** Memory for the tiles: the result's `pixels` is then a view of it. */
  into?: Buffer;
  /** The crops to cut, as bits (crop `i` is bit `i`); the others are left as they are. Default: all. */
  wanted?: number;
  /**
   * The size decoded, in tile sizes (default DECODE_SCALE): the crop windows are the same at any
   * scale; at least 1 / CORNER_CROP keeps corners sharp.
   */
  decodeScale?: number;
}

/** A decoded picture's tiles and the identity of the file it came from. */
export interface LoadedTile {
  /** `crops` tiles of the shape asked for, one after another: the centre window first, then the corners (see `cropWindows`). */
  pixels: Buffer;
  size: number;
  mtimeMs: number;
  /** See `fingerprintFile`. */
  fingerprint: string;
}

/**
 * Decodes one picture into `crops` tiles of `shape` (8-bit sRGB, interleaved RGB): EXIF orientation
 * applied, any colour model converted to sRGB, alpha flattened onto white, decoded once at twice
 * the tile size with JPEG shrink-on-load, then cut into windows of the tile's aspect ratio (see
 * `cropWindows`; with `stretch` the whole picture is first squashed to that ratio) that are each
 * reduced to the tile size by an exact area average. `reading`: see ReadBuffer; for `options`, see
 * LoadTileOptions.
 * @throws {UnreadableImageError} with a short reason when the file is not a usable image.
 */
export async function loadTile(
  file: string,
  shape: TileShape,
  fit: TileFit,
  crops: CropCount = 1,
  reading = new ReadBuffer(),
  options: LoadTileOptions = {},
): Promise<LoadedTile> {
  const { into, wanted = ALL_CROPS, decodeScale = DECODE_SCALE } = options;
  // Outside the try: sharp failing to load is not this file's fault.
  const sharp = await loadSharp();
  let image: ImageFile | undefined;
  let held = 0;
  try {
    image = openImageFile(file);
    const { input, fingerprint, heldBytes } = await readImageFile(image, reading);
    held = heldBytes;
    const [width, height] = [Math.ceil(shape.width * decodeScale), Math.ceil(shape.height * decodeScale)];
    // `outside` keeps the aspect and covers width x height, so no header read is needed first;
    // never enlarged, so a 16383x1 strip stays that small (enlarged, its long side would be 655,320 px);
    // a smaller picture is enlarged by cutTiles' area average instead.
    const { data, info } = await sharp(input, {
      failOn: 'truncated',
      limitInputPixels: MAX_INPUT_PIXELS,
      sequentialRead: true,
      autoOrient: true,
    })
      .resize(width, height, fit === 'crop' ? { fit: 'outside', withoutEnlargement: true } : { fit: 'fill' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new UnreadableImageError(`unexpected decoded shape ${info.width}x${info.height}x${info.channels}`);
    const { size, mtimeMs } = image;
    return { pixels: cutTiles(data, info.width, info.height, shape, crops, into, wanted), size, mtimeMs, fingerprint };
  } catch (error) {
    if (error instanceof UnreadableImageError) throw error;
    const reason = imageErrorReason(error);
    // libvips sometimes reports a cut-off PNG or JPEG only as "Unknown error": say what it is.
    if (image && !reason.startsWith('truncated') && endsEarly(image)) throw new UnreadableImageError(`truncated image (${reason})`);
    throw new UnreadableImageError(reason);
  } finally {
    reading.budget.give(held);
    // Only now: a picture decoded from disk is read through this descriptor (see decoderPath).
    if (image) closeSync(image.descriptor);
  }
}

/** Files up to this size are read on the main thread, synchronously (see `readImageFile`). */
const SYNC_READ_BYTES = 1024 * 1024;

/**
 * Bytes of files larger than SYNC_READ_BYTES that the loads sharing a ReadBudget hold whole at once
 * (read, waiting for a decoder, decoding). A file that would go past it is decoded from disk
 * instead: eight pictures in flight of up to READ_WHOLE_BYTES each could otherwise hold 512 MB.
 */
const HELD_READ_BYTES = 128 * 1024 * 1024;

/** What the `loadTile` calls sharing it (one run's decoders) hold of large files read whole; see HELD_READ_BYTES. */
export class ReadBudget {
  private bytes = 0;

  constructor(readonly limit = HELD_READ_BYTES) {}

  /** Bytes held now. */
  get held(): number {
    return this.bytes;
  }

  /** Counts `size` bytes as held and returns true, or returns false when they would go past the limit. */
  take(size: number): boolean {
    if (this.bytes + size > this.limit) return false;
    this.bytes += size;
    return true;
  }

  give(size: number): void {
    this.bytes -= size;
  }
}

/**
 * Memory that one caller of `loadTile` at a time reads files of up to SYNC_READ_BYTES into, so that
 * a run over thousands of pictures does not leave a buffer per file for the garbage collector
 * (they lingered by the megabyte and raised peak memory as collections grew). Larger files are
 * read into buffers of their own, within `budget`, which the decoders of a run share.
 */
export class ReadBuffer {
  private buffer = Buffer.allocUnsafe(0);

  constructor(readonly budget = new ReadBudget()) {}

  /** `size` bytes of this buffer when it may grow to that, else a new buffer. */
  take(size: number): Buffer {
    if (size > SYNC_READ_BYTES) return Buffer.allocUnsafe(size);
    if (this.buffer.length < size) this.buffer = Buffer.allocUnsafe(Math.min(SYNC_READ_BYTES, Math.max(size, 2 * this.buffer.length)));
    return this.buffer.subarray(0, size);
  }
}
/** Files up to this size are read into memory once (identity, fingerprint and decoding); larger ones are decoded from disk. */
const READ_WHOLE_BYTES = 64 * 1024 * 1024;

/**
 * Reads an opened picture once for its fingerprint, the check of its format and (up to
 * READ_WHOLE_BYTES) its bytes for the decoder; a larger one is decoded from disk, through its
 * descriptor where the platform allows (see decoderPath). Small files are read with blocking calls:
 * four asynchronous calls each wait in libuv's pool behind the decoders, and cost more than reading
 * (docs/design.md: indexing). Small files' bytes go into `reading` (see ReadBuffer).
 * @throws {UnreadableImageError} for an empty file or one of a format tsmosaic does not read.
 */
async function readImageFile(
  image: ImageFile,
  reading: ReadBuffer,
): Promise<{ input: string | Buffer; fingerprint: string; heldBytes: number }> {
  const { descriptor, size } = image;
  const { budget } = reading;
  const large = size > SYNC_READ_BYTES;
  if (size > READ_WHOLE_BYTES || (large && !budget.take(size))) {
    assertAcceptedFormat(readHead(image));
    const fingerprint = await fingerprintDescriptor(descriptor, size);
    return { input: decoderPath(image), fingerprint, heldBytes: 0 };
  }
  const heldBytes = large ? size : 0;
  try {
    // Through the descriptor already open: the bytes are those of the file just measured.
    const bytes = reading.take(size);
    let length = 0;
    for (let read = -1; read !== 0 && length < size; length += read) {
      read = large
        ? await readAt(descriptor, bytes, length, size - length, length)
        : readSync(descriptor, bytes, length, size - length, length);
    }
    if (length !== size) throw new UnreadableImageError('file changed while it was read');
    assertAcceptedFormat(bytes.subarray(0, FORMAT_HEAD_BYTES));
    return { input: bytes, fingerprint: fingerprintBytes(bytes), heldBytes };
  } catch (error) {
    budget.give(heldBytes);
    throw error;
  }
}

/** Every crop of a picture, as a bit mask (see loadTile's `wanted`). */
const ALL_CROPS = 0b11111;

/** One tile's float means, reused for every crop of every picture. */
let means = new Float32Array(0);

/** The tiles of `cropWindows`, each reduced to `shape` by an exact area average, one after another (in `into` when given). */
function cutTiles(
  pixels: Buffer,
  width: number,
  height: number,
  shape: TileShape,
  crops: CropCount,
  into?: Buffer,
  wanted = ALL_CROPS,
): Buffer {
  const bytes = tileBytes(shape);
  if (into && into.length < bytes * crops)
    throw new RangeError(`${into.length} bytes cannot hold ${crops} tiles of ${shape.width}x${shape.height} px`);
  const tiles = into ? into.subarray(0, bytes * crops) : Buffer.alloc(bytes * crops);
  if (means.length < bytes) means = new Float32Array(bytes);
  cropWindows(width, height, crops, shape).forEach((window, i) => {
    if (!(wanted & (1 << i))) return;
    toBytes(areaAverage(pixels, width, height, 3, shape.width, shape.height, 0, shape.height, window, means), tiles, i * bytes);
  });
  return tiles;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
const PNG_END = Buffer.from('IEND', 'latin1');

/** Whether an opened file starts like a PNG or JPEG but lacks its end marker (IEND chunk, EOI). */
function endsEarly({ descriptor, size }: ImageFile): boolean {
  if (size < 16) return false;
  const head = Buffer.alloc(4);
  const tail = Buffer.alloc(12);
  try {
    readSync(descriptor, head, 0, 4, 0);
    readSync(descriptor, tail, 0, 12, size - 12);
  } catch {
    return false;
  }
  if (head.equals(PNG_SIGNATURE)) return !tail.subarray(4, 8).equals(PNG_END);
  if (head[0] === 0xff && head[1] === 0xd8) return !(tail[10] === 0xff && tail[11] === 0xd9);
  return false;
}

/**
 * Pictures in flight by default: twice the threads of libuv's pool, which runs sharp's decoders
 * (UV_THREADPOOL_SIZE, default 4), so that a decoder that finishes while the main thread is busy
 * starts on a picture already read (docs/design.md: indexing). Here, not in process-collection.ts,
 * so that build does not load the scan (fast-glob) and the index writer with it.
 */
export function defaultConcurrency(): number {
  const decoders = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10);
  return 2 * (decoders >= 1 && decoders <= 128 ? decoders : 4);
}
