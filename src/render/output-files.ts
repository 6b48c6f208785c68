import { randomBytes } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { TsmosaicError, reasonOf } from '../errors.js';
import { isAlive } from '../files/paths.js';
import { quote } from '../text.js';

/**
 * Outputs are written under hidden temporary names in the output's own folder and renamed into
 * place when complete, so an interrupted or failed build never leaves a partial file under the
 * final name. A temporary name carries the writer's pid, so the next run can remove what a killed
 * run (kill -9, power loss) left behind.
 */

const TEMPORARY = /^\.(.+)\.tmp-(\d+)-[0-9a-f]{8}(?:\.[a-z]+)?$/;

/** A fresh hidden name beside `file`: `.<name>.tmp-<pid>-<random>[.<suffix>]`. */
export function temporaryPath(file: string, suffix = ''): string {
  const name = `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}${suffix ? `.${suffix}` : ''}`;
  return path.join(path.dirname(file), name);
}

/**
 * Writes `file` through a fresh temporary name beside it: `write(temporary)` makes the file, which
 * is then renamed into place. On failure the temporary is removed and the error thrown as a
 * TsmosaicError naming `file` (TsmosaicErrors and the signal's abort reason as they are).
 * @throws {TsmosaicError}
 */
export async function writeThroughTemporary(
  file: string,
  write: (temporary: string) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const temporary = temporaryPath(file);
  try {
    await write(temporary);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    if ((signal?.aborted && error === signal.reason) || error instanceof TsmosaicError) throw error;
    throw new TsmosaicError(`cannot write ${quote(file)}: ${reasonOf(error)}`, 1, { cause: error });
  }
}

/** Removes the temporaries of `file` left by runs whose process is gone. */
export async function removeStaleTemporaries(file: string): Promise<void> {
  const folder = path.dirname(file);
  const name = path.basename(file);
  let entries: string[];
  try {
    entries = await readdir(folder);
  } catch {
    return;
  }
  for (const entry of entries) {
    const match = TEMPORARY.exec(entry);
    if (!match || match[1] !== name) continue;
    const pid = Number(match[2]);
    if (pid === process.pid || isAlive(pid)) continue;
    await rm(path.join(folder, entry), { recursive: true, force: true });
  }
}

/**
 * Moves a finished file or folder to `target`. A folder cannot replace another atomically, so an
 * existing one is first renamed aside (a window of microseconds) and removed afterwards.
 */
export async function moveIntoPlace(temporary: string, target: string): Promise<void> {
  try {
    await rename(temporary, target);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR') throw error;
  }
  const aside = temporaryPath(target, 'old');
  await rename(target, aside);
  try {
    await rename(temporary, target);
  } catch (error) {
    await rename(aside, target);
    throw error;
  }
  await rm(aside, { recursive: true, force: true });
}
