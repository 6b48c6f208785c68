import type { Dir, Dirent } from 'node:fs';
import { lstat, opendir, rmdir, unlink } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { eachConcurrently } from '../yield.js';

/** Names listed, then removed, at a time. */
const BATCH = 256;
/** Removals in flight at once. */
const CONCURRENCY = 16;
/** Errors a removal is tried again after, as fs.rm's maxRetries does (a file held open on Windows, too many open files). */
const RETRIED = new Set(['EBUSY', 'EPERM', 'EMFILE', 'ENFILE', 'ENOTEMPTY']);
/** Tries of a removal that fails with one of RETRIED, 100 ms more apart each time. */
const TRIES = 4;
const SEPARATOR = Buffer.from('/');

/**
 * Removes `target`, a file or a folder with everything in it, as `fs.rm(target, { recursive:
 * true, force: true, maxRetries: 3 })` does, in memory that does not grow with the folder: fs.rm
 * starts a request for every entry of a folder at once (a deep zoom's 57,000 tiles: +145 MB), this
 * lists BATCH names at a time and removes them a few at a time. Names are kept as bytes, so a name
 * that is not UTF-8 is removed too; symbolic links are removed, never followed; a missing target is
 * no error.
 */
export async function removeTree(target: string | Buffer): Promise<void> {
  let isFolder: boolean;
  try {
    isFolder = (await lstat(target)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!isFolder) {
    await retried(() => unlink(target));
    return;
  }
  const folder = typeof target === 'string' ? Buffer.from(target) : target;
  let idle = 0;
  // Listed afresh after each batch: names already removed are never listed again.
  for (let entries = await listSome(folder); entries.length > 0; entries = await listSome(folder)) {
    let removed = 0;
    const remove = async (entry: Dirent): Promise<void> => {
      const inside = Buffer.concat([folder, SEPARATOR, entry.name as unknown as Buffer]);
      if (entry.isDirectory()) await removeTree(inside);
      else if (!(await retried(() => unlink(inside)))) return;
      removed++;
    };
    await eachConcurrently(entries, CONCURRENCY, remove);
    // Names listed again and again yet never there: give up rather than loop.
    idle = removed === 0 ? idle + 1 : 0;
    if (idle >= TRIES) throw new Error(`cannot remove the entries of ${folder.toString()}: they are listed but not found`);
  }
  await retried(() => rmdir(folder));
}

/**
 * Runs a removal, again after 100, 200 and 300 ms when it fails with one of RETRIED; true when it
 * removed something, false when there was nothing to remove.
 */
async function retried(remove: () => Promise<void>): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await remove();
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOENT') return false;
      if (!RETRIED.has(code) || attempt >= TRIES) throw error;
      await delay(100 * attempt);
    }
  }
}

/** Up to BATCH entries of `folder`, their names as bytes (a directory entry of a link is not a folder's). */
async function listSome(folder: Buffer): Promise<Dirent[]> {
  // Node lists names as bytes with encoding 'buffer' (its types allow string encodings only).
  const directory = await opendir(folder, { bufferSize: BATCH, encoding: 'buffer' as BufferEncoding });
  try {
    return await readEntries(directory, BATCH);
  } finally {
    await directory.close();
  }
}

/** The next `count` entries of a folder being read, fewer at its end: a batch at a time, where a whole listing of a pyramid's tiles took tens of MB. */
export async function readEntries(directory: Dir, count: number): Promise<Dirent[]> {
  const entries: Dirent[] = [];
  for (let entry = await directory.read(); entry; entry = entries.length < count ? await directory.read() : null) {
    entries.push(entry);
  }
  return entries;
}
