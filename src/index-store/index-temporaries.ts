import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { TsmosaicError, reasonOf } from '../errors.js';
import { readRegularFile } from '../files/read.js';
import { ownedByMe, type Temporary } from '../files/publish.js';
import { quote } from '../text.js';
import { CHECKPOINT_FILE, INDEX_FILES, SOURCES_FILE, type Checkpoint } from './format.js';
import { checkCheckpoint } from './manifest-check.js';

/** A checkpoint left by a run that was interrupted or killed, its folder, locked by this run while it may reuse it. */
export interface FoundCheckpoint {
  folder: string;
  checkpoint: Checkpoint;
  temporary: Temporary;
}

/**
 * An existing target may only be replaced when it is a tsmosaic index or an empty folder.
 * @throws {TsmosaicError}
 */
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
  if (await startsLikeIndex(path.join(target, INDEX_FILES.manifest))) return;
  throw new TsmosaicError(`${quote(target)} exists and is not a tsmosaic index; refusing to replace it (choose another --out)`);
}

/** Whether a manifest starts the way tsmosaic writes them (it may be hundreds of MB: only its start is read). */
async function startsLikeIndex(manifest: string): Promise<boolean> {
  try {
    const start = (await readRegularFile(manifest, { length: 4096 })).toString('utf8');
    return /^\s*\{\s*"format"\s*:\s*"tsmosaic-index"/.test(start);
  } catch {
    return false;
  }
}

/**
 * The checkpoint of a gone run's temporary folder when it may be trusted: the folder and every
 * file the next run reads belong to this user and are no links, and the checkpoint is valid and
 * was written for this very target. Otherwise undefined (the folder is then removed).
 */
export async function trustedCheckpoint(folder: string, target: string): Promise<Checkpoint | undefined> {
  const files = [CHECKPOINT_FILE, INDEX_FILES.tiles, INDEX_FILES.features, SOURCES_FILE].map((name) => path.join(folder, name));
  for (const entry of [folder, ...files]) if (!(await ownedByMe(entry))) return undefined;
  try {
    const checkpoint = checkCheckpoint(JSON.parse((await readRegularFile(files[0]!, { maxBytes: 1 << 26 })).toString('utf8')));
    return checkpoint.target === target ? checkpoint : undefined;
  } catch {
    // damaged: not reusable
    return undefined;
  }
}
