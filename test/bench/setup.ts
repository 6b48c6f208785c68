import { constants } from 'node:fs';
import { access, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runVisible, succeeds } from './measure.js';

/** Debian's python3 with python3-pil: make-collection needs exactly this interpreter. */
const DEBIAN_PYTHON = '/usr/bin/python3';

export const COLLECTION_SIZE = 2000;
export const COLLECTION_SEED = '2000';

export interface Tools {
  /** make-collection can run. */
  pil: boolean;
  /** metapixel and metapixel-prepare are on PATH. */
  metapixel: boolean;
  /** Why metapixel is missing, for the table. */
  metapixelMissing?: string;
}

/**
 * Makes sure python3-pil and metapixel are installed, installing them with apt-get when we are
 * root and they are missing. Never throws: the caller decides what a missing tool means.
 */
export async function ensureTools(log: (message: string) => void): Promise<Tools> {
  const missing = await ensurePackages(
    [
      { name: 'python3-pil', present: hasPil },
      { name: 'metapixel', present: async () => (await onPath('metapixel-prepare')) && onPath('metapixel') },
    ],
    log,
  );
  const tools = await probeTools();
  if (!missing.includes('metapixel')) return tools;
  log('metapixel is missing; its rows will be left out');
  const why = process.getuid?.() !== 0 ? 'not root, could not apt-get install it' : 'apt-get could not install it';
  return { ...tools, metapixelMissing: `metapixel not installed (${why})` };
}

async function probeTools(): Promise<Tools> {
  const [pil, prepare, metapixel] = await Promise.all([
    succeeds(DEBIAN_PYTHON, ['-c', 'import PIL']),
    onPath('metapixel-prepare'),
    onPath('metapixel'),
  ]);
  return { pil, metapixel: prepare && metapixel, metapixelMissing: prepare && metapixel ? undefined : 'metapixel not installed' };
}

async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    try {
      await access(path.join(dir, program), constants.X_OK);
      return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

/**
 * The benchmark collection: `size` (default COLLECTION_SIZE) crops of the shared photos, made once
 * with shared/bench/make-collection and cached in the temp folder (shared/ itself is read-only in CI).
 * @returns the collection folder and whether it was reused.
 */
export async function ensureCollection(
  shared: string,
  pil: boolean,
  log: (message: string) => void,
  size = COLLECTION_SIZE,
): Promise<{ dir: string; reused: boolean }> {
  const dir = path.join(os.tmpdir(), `tsmosaic-bench-collection-${size}`);
  const existing = await countFiles(dir);
  if (existing === size) return { dir, reused: true };
  if (!pil) {
    throw new Error(`cannot make the collection: ${DEBIAN_PYTHON} has no PIL (apt-get install -y python3-pil)`);
  }
  if (existing !== undefined) log(`${dir} has ${existing} files, not ${size}: making it again`);

  // Made beside the cache and renamed into place, so an interrupted run never leaves a half collection.
  const partial = await mkdtemp(`${dir}.partial-`);
  try {
    const script = path.join(shared, 'bench', 'make-collection');
    log(`making the collection: make-collection ${path.join(shared, 'photos')} ${dir} ${size} ${COLLECTION_SEED}`);
    const code = await runVisible(DEBIAN_PYTHON, [script, path.join(shared, 'photos'), partial, String(size), COLLECTION_SEED]);
    if (code !== 0) throw new Error(`make-collection exited with ${code}`);
    const made = await countFiles(partial);
    if (made !== size) throw new Error(`make-collection wrote ${made} files, expected ${size}`);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return { dir, reused: false };
}

async function countFiles(dir: string): Promise<number | undefined> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile()).length;
  } catch {
    return undefined;
  }
}

/** A Debian package a bench needs, and how to tell it is there. */
export interface DebianPackage {
  name: string;
  present: () => Promise<boolean>;
}

/**
 * Installs the packages that are missing with apt-get when we are root (update, then install);
 * returns the names still missing afterwards. Never throws.
 */
export async function ensurePackages(packages: DebianPackage[], log: (message: string) => void): Promise<string[]> {
  const missingNow = async (): Promise<string[]> => {
    const present = await Promise.all(packages.map(({ present }) => present()));
    return packages.filter((_, i) => !present[i]).map(({ name }) => name);
  };
  const missing = await missingNow();
  if (missing.length === 0) return [];
  if (process.getuid?.() !== 0) {
    log(`missing ${missing.join(', ')}; not root, so not installing them`);
    return missing;
  }
  log(`missing ${missing.join(', ')}: running apt-get update && apt-get install -y ${missing.join(' ')}`);
  const apt = (...args: string[]): Promise<number | null> =>
    runVisible('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if ((await apt('update')) === 0 && (await apt('install', '-y', ...missing)) !== 0 && missing.length > 1) {
    // One unavailable package must not keep the others out.
    log(`apt-get install -y ${missing.join(' ')} failed; trying each package alone`);
    for (const name of missing) await apt('install', '-y', name);
  }
  return missingNow();
}

/** Debian's python3 can import PIL (make-collection needs it). */
export const hasPil = (): Promise<boolean> => succeeds(DEBIAN_PYTHON, ['-c', 'import PIL']);

/**
 * Runs `body` in a new temporary folder `tsmosaic-<name>-…`, removed afterwards (even when it
 * throws) unless TSMOSAIC_BENCH_KEEP=1, which logs where it was kept instead.
 */
export async function withWorkFolder<T>(name: string, log: (message: string) => void, body: (work: string) => Promise<T>): Promise<T> {
  const work = await mkdtemp(path.join(os.tmpdir(), `tsmosaic-${name}-`));
  try {
    return await body(work);
  } finally {
    if (process.env.TSMOSAIC_BENCH_KEEP === '1') log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}
