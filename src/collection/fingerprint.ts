import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Bytes hashed from the start and from the end of a file, where headers and EXIF live. */
const EDGE_BYTES = 64 * 1024;
/** Evenly spaced samples from the middle: a re-encoded picture changes bytes throughout. */
const MIDDLE_SAMPLES = 14;
const SAMPLE_BYTES = 4 * 1024;

/**
 * A fast fingerprint of a file's contents: SHA-1 of its size, its first and last 64 KiB and 14
 * samples of 4 KiB in between (the whole file when it is under 184 KiB). Hashing every byte of a
 * 12 MP JPEG costs about half as much as decoding it with shrink-on-load; this costs ~0.2 ms.
 * Used only to tell a touched file (new mtime, same bytes) from a changed one of the same size.
 */
export async function fingerprintFile(file: string, size: number): Promise<string> {
  const hash = createHash('sha1').update(`${size}\n`);
  const handle = await open(file, 'r');
  try {
    const whole = EDGE_BYTES * 2 + MIDDLE_SAMPLES * SAMPLE_BYTES;
    const ranges: [number, number][] = [];
    if (size <= whole) {
      ranges.push([0, size]);
    } else {
      ranges.push([0, EDGE_BYTES]);
      const middle = size - 2 * EDGE_BYTES - SAMPLE_BYTES;
      for (let i = 0; i < MIDDLE_SAMPLES; i++) ranges.push([EDGE_BYTES + Math.floor((middle * i) / (MIDDLE_SAMPLES - 1)), SAMPLE_BYTES]);
      ranges.push([size - EDGE_BYTES, EDGE_BYTES]);
    }
    const buffer = Buffer.alloc(Math.min(size, Math.max(EDGE_BYTES, whole)));
    for (const [position, length] of ranges) {
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('base64url');
}
