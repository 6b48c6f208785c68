import { constants as bufferConstants } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';

/** The most bytes one buffer can hold here (4 GiB on 64-bit Node 20). */
export const MAX_BUFFER_BYTES = bufferConstants.MAX_LENGTH;
/** Bytes read per call: readFile refuses files over 2 GiB, so larger ones are read in parts. */
const CHUNK_BYTES = 1 << 30;

/** Why a file of an index (or another input) cannot be read: a short reason, e.g. "is not a regular file". */
export class FileProblem extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'FileProblem';
  }
}

/**
 * Reads a whole regular file (or its first `length` bytes) whose size is checked before a byte is
 * read or allocated: exactly `bytes` when given, at most `maxBytes`. It is stat'ed before it is opened (a device, a FIFO
 * or a folder is refused unopened), opened without blocking, and read in parts, so files past the
 * 2 GiB of readFile load too (up to MAX_BUFFER_BYTES).
 * @throws {FileProblem} with the reason (missing, not a regular file, of another size, changed while read)
 */
export async function readRegularFile(file: string, limits: { bytes?: number; maxBytes?: number; length?: number }): Promise<Buffer> {
  const whole = await regularFileSize(file);
  if (limits.bytes !== undefined && whole !== limits.bytes) throw new FileProblem(`has ${whole} bytes, expected ${limits.bytes}`);
  const size = limits.length === undefined ? whole : Math.min(whole, limits.length);
  const maxBytes = Math.min(limits.maxBytes ?? MAX_BUFFER_BYTES, MAX_BUFFER_BYTES);
  if (size > maxBytes) {
    throw new FileProblem(
      `has ${size} bytes, more than ${maxBytes === MAX_BUFFER_BYTES ? 'one buffer of this Node.js can hold' : 'expected'} (${maxBytes})`,
    );
  }
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch((error: unknown) => {
    throw new FileProblem(describeError(error), { cause: error });
  });
  try {
    const opened = await handle.stat();
    if (!opened.isFile() || opened.size !== whole) throw new FileProblem('changed while it was read');
    const data = Buffer.allocUnsafeSlow(size);
    let position = 0;
    while (position < size) {
      const { bytesRead } = await handle.read(data, position, Math.min(CHUNK_BYTES, size - position), position);
      if (bytesRead === 0) throw new FileProblem('changed while it was read');
      position += bytesRead;
    }
    return data;
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(describeError(error), { cause: error });
  } finally {
    await handle.close();
  }
}

/**
 * The size of a regular file (links followed), without opening it.
 * @throws {FileProblem} when it is missing or not a regular file
 */
export async function regularFileSize(file: string): Promise<number> {
  let info;
  try {
    info = await stat(file);
  } catch (error) {
    throw new FileProblem(describeError(error), { cause: error });
  }
  if (!info.isFile()) throw new FileProblem(info.isDirectory() ? 'is a folder, not a file' : 'is not a regular file');
  return info.size;
}

/** A file-system error as a short reason. */
export function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'is missing';
  if (code === 'EACCES' || code === 'EPERM') return 'cannot be read: permission denied';
  if (code === 'ELOOP') return 'is a symbolic link loop';
  if (code === 'EISDIR') return 'is a folder, not a file';
  return `cannot be read (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
}

/**
 * `readRegularFile` for code that cannot wait (an index's HNSW file, read when a search first needs
 * it): the first `length` bytes when given, else the whole file, checked the same way.
 * @throws {FileProblem}
 */
export function readRegularFileSync(file: string, limits: { bytes?: number; maxBytes?: number; length?: number }): Buffer {
  let descriptor: number;
  try {
    const info = statSync(file);
    if (!info.isFile()) throw new FileProblem(info.isDirectory() ? 'is a folder, not a file' : 'is not a regular file');
    descriptor = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(describeError(error), { cause: error });
  }
  try {
    const { size } = fstatSync(descriptor);
    if (limits.bytes !== undefined && size !== limits.bytes) throw new FileProblem(`has ${size} bytes, expected ${limits.bytes}`);
    const maxBytes = Math.min(limits.maxBytes ?? MAX_BUFFER_BYTES, MAX_BUFFER_BYTES);
    const wanted = limits.length === undefined ? size : Math.min(size, limits.length);
    if (wanted > maxBytes) throw new FileProblem(`has ${size} bytes, more than expected (${maxBytes})`);
    const data = Buffer.allocUnsafeSlow(wanted);
    let position = 0;
    while (position < wanted) {
      const read = readSync(descriptor, data, position, Math.min(CHUNK_BYTES, wanted - position), position);
      if (read === 0) throw new FileProblem('changed while it was read');
      position += read;
    }
    return data;
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(describeError(error), { cause: error });
  } finally {
    closeSync(descriptor);
  }
}
