import { createHash } from 'node:crypto';
import { closeSync } from 'node:fs';
import { openImageFile, readAt } from '../files/image-file.js';

/** Bytes hashed from the start and from the end of a file, where headers and EXIF live. */
const EDGE_BYTES = 64 * 1024;
/** Evenly spaced samples from the middle: a re-encoded picture changes bytes throughout. */
const MIDDLE_SAMPLES = 14;
const SAMPLE_BYTES = 4 * 1024;
/** Files up to this size are hashed whole. */
const WHOLE_BYTES = EDGE_BYTES * 2 + MIDDLE_SAMPLES * SAMPLE_BYTES;

/** The [position, length] ranges of a file of `size` bytes that its fingerprint hashes. */
function sampledRanges(size: number): [number, number][] {
  if (size <= WHOLE_BYTES) return [[0, size]];
  const ranges: [number, number][] = [[0, EDGE_BYTES]];
  const middle = size - 2 * EDGE_BYTES - SAMPLE_BYTES;
  for (let i = 0; i < MIDDLE_SAMPLES; i++) ranges.push([EDGE_BYTES + Math.floor((middle * i) / (MIDDLE_SAMPLES - 1)), SAMPLE_BYTES]);
  ranges.push([size - EDGE_BYTES, EDGE_BYTES]);
  return ranges;
}

/**
 * A fast fingerprint of a file's contents: SHA-1 of its size, its first and last 64 KiB and 14
 * samples of 4 KiB in between (the whole file when it is under 184 KiB): hashing every byte would
 * cost half a decode. Used only to tell a touched file (new mtime, same bytes) from a changed one of the same size.
 * The file is opened as a picture is (see openImageFile): a name that is not a regular file fails.
 */
export async function fingerprintFile(file: string, size: number): Promise<string> {
  const image = openImageFile(file);
  try {
    return await fingerprintDescriptor(image.descriptor, size);
  } finally {
    closeSync(image.descriptor);
  }
}

/** `fingerprintFile` of the file open at `descriptor`, `size` bytes long. */
export async function fingerprintDescriptor(descriptor: number, size: number): Promise<string> {
  const hash = createHash('sha1').update(`${size}\n`);
  const buffer = Buffer.alloc(Math.min(size, WHOLE_BYTES));
  for (const [position, length] of sampledRanges(size)) {
    const bytesRead = await readAt(descriptor, buffer, 0, length, position);
    hash.update(buffer.subarray(0, bytesRead));
  }
  return hash.digest('base64url');
}

/** `fingerprintFile` of a file whose whole contents are `bytes`. */
export function fingerprintBytes(bytes: Uint8Array): string {
  const hash = createHash('sha1').update(`${bytes.length}\n`);
  for (const [position, length] of sampledRanges(bytes.length)) hash.update(bytes.subarray(position, position + length));
  return hash.digest('base64url');
}
