import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { TsmosaicError, reasonOf } from '../errors.js';
import { isAlive, pathExists } from '../files/paths.js';
import { CHECKPOINT_FILE, INDEX_FILES, INDEX_FORMAT, type Checkpoint } from './format.js';
import { quote } from '../text.js';

export function temporaryPrefix(name: string): string {
  return `.${name}.tmp-`;
}

function asidePrefix(name: string): string {
  return `.${name}.old-`;
}

/** An existing target may only be replaced when it is a tsmosaic index or an empty folder. */
export async function assertReplaceable(target: string): Promise<void> {
  let entries: string[];
  try {
    const info = await stat(target);
    if (!info.isDirectory()) throw new TsmosaicError(`${quote(target)} exists and is not a folder; choose another --out`);
    entries = await readdir(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error instanceof TsmosaicError ? error : new TsmosaicError(`cannot use ${quote(target)} as the index folder: ${reasonOf(error)}`);
  }
  if (entries.length === 0) return;
  try {
    const manifest = JSON.parse(await readFile(path.join(target, INDEX_FILES.manifest), 'utf8')) as { format?: unknown };
    if (manifest.format === INDEX_FORMAT) return;
  } catch {
    // fall through: not an index
  }
  throw new TsmosaicError(`${quote(target)} exists and is not a tsmosaic index; refusing to replace it (choose another --out)`);
}

/** A checkpoint left by a run that was interrupted or killed, and its temporary folder. */
export interface FoundCheckpoint {
  folder: string;
  checkpoint: Checkpoint;
}

/**
 * Cleans up after runs whose process is gone (killed, crashed): a previous index they had renamed
 * aside just before being killed is put back, and their temporary folders are deleted unless they
 * hold a checkpoint. Returns the checkpoints of runs that are gone or stopped, most tiles first.
 */
export async function removeStaleTemporaries(parent: string, name: string): Promise<FoundCheckpoint[]> {
  const pattern = /^(?:tmp|old)-(\d+)-[0-9a-f]+$/;
  const checkpoints: FoundCheckpoint[] = [];
  for (const entry of (await readdir(parent)).sort()) {
    const kind = entry.startsWith(temporaryPrefix(name)) ? 'tmp' : entry.startsWith(asidePrefix(name)) ? 'old' : undefined;
    const pid = Number(pattern.exec(entry.slice(name.length + 2))?.[1]);
    if (!kind || !Number.isInteger(pid)) continue;
    const stale = path.join(parent, entry);
    const checkpoint = kind === 'tmp' ? await readCheckpoint(stale) : undefined;
    const gone = pid !== process.pid && !isAlive(pid);
    if (checkpoint && (gone || checkpoint.suspended)) {
      checkpoints.push({ folder: stale, checkpoint });
    } else if (!gone) {
      continue;
    } else if (kind === 'old' && !(await pathExists(path.join(parent, name)))) {
      await rename(stale, path.join(parent, name));
    } else {
      await rm(stale, { recursive: true, force: true });
    }
  }
  return checkpoints.sort((a, b) => b.checkpoint.tileCount - a.checkpoint.tileCount);
}

async function readCheckpoint(folder: string): Promise<Checkpoint | undefined> {
  try {
    const checkpoint = JSON.parse(await readFile(path.join(folder, CHECKPOINT_FILE), 'utf8')) as Partial<Checkpoint>;
    if (checkpoint.format === 'tsmosaic-checkpoint' && Number.isInteger(checkpoint.tileCount) && Array.isArray(checkpoint.roots))
      return checkpoint as Checkpoint;
  } catch {
    // no checkpoint yet, or a damaged one: the folder is not reusable
  }
  return undefined;
}

/**
 * Moves the finished folder to `target`. A directory cannot be swapped atomically from Node, so the
 * old index is first renamed aside; the window between the two renames is a few microseconds.
 */
export async function swapIntoPlace(temporary: string, target: string): Promise<void> {
  const aside = path.join(path.dirname(target), `${asidePrefix(path.basename(target))}${process.pid}-${randomBytes(4).toString('hex')}`);
  let hadPrevious = true;
  try {
    await rename(target, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    hadPrevious = false;
  }
  try {
    await rename(temporary, target);
  } catch (error) {
    if (hadPrevious) await rename(aside, target);
    throw error;
  }
  if (hadPrevious) await rm(aside, { recursive: true, force: true });
}
