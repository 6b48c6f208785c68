import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { TsmosaicError } from '../errors.js';

/**
 * Refuses to start writing `file` when its folder's disk has fewer than `bytes` free; `what` says
 * what they are for (`a temporary raw copy of the image`). Passes when the disk cannot be asked.
 * @throws {TsmosaicError}
 */
export async function assertFreeSpace(file: string, bytes: number, what: string): Promise<void> {
  const folder = path.dirname(file);
  let free: number;
  try {
    const info = await statfs(folder);
    free = info.bavail * info.bsize;
  } catch {
    return;
  }
  if (free < bytes) {
    const gb = (count: number): string => `${(count / 1e9).toFixed(1)} GB`;
    throw new TsmosaicError(
      `not enough free space in ${folder} to write ${path.basename(file)}: it needs ${gb(bytes)} for ${what}, ${gb(free)} are free`,
    );
  }
}
