import { randomBytes } from 'node:crypto';
import { lstat, open, opendir, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { TsmosaicError, reasonOf } from '../errors.js';
import { eachConcurrently, yieldToEventLoop } from '../yield.js';
import { FileLock } from './lock.js';
import { readEntries, removeTree } from './remove-tree.js';

/**
 * Atomic, durable publishing of files and folders, shared by the index writer and every output.
 *
 * A run writes a target `<folder>/<name>` under a hidden temporary name beside it,
 * `.<name>.tmp-<id>` (a file or a folder), and renames it into place when complete, after an fsync
 * of everything in it, as SQLite and git do: after a power cut the final name holds either the
 * old or the new contents in full, never short or zeroed files. The run owns the id through an
 * exclusive lock on `.<name>.tmp-<id>.lock`, created and locked before anything else of the id
 * exists and removed last; its other files share the id (`.<name>.tmp-<id>.<suffix>`: a raw `.v`
 * file, the previous folder renamed aside as `.old`). The kernel drops the lock when the run dies,
 * so a later run removes a temporary only when its owner is provably gone, on this host or any
 * other that shares the folder.
 */

/** Random bytes of an id: 16 hex digits, which no legacy name (`tmp-<pid>-<8 hex>`) matches. */
const ID_BYTES = 8;
/** What follows `.<name>.tmp-` in the names of an id: the id, then an optional suffix. */
const ENTRY = /^([0-9a-f]{16})(?:\.([a-z0-9]+))?$/;
const SUFFIX = /^[a-z0-9]+$/;
const LOCK_SUFFIX = 'lock';
const ASIDE_SUFFIX = 'old';
/** File systems without locks: a temporary is still written, and never taken for stale by another run. */
const NO_LOCKS = new Set(['ENOLCK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
/** Why renaming a folder onto `target` fails when `target` exists (EPERM: a folder onto a folder on Windows). */
const TARGET_EXISTS = new Set(['ENOTEMPTY', 'EEXIST', 'EISDIR', 'ENOTDIR', 'EPERM']);
/** Directories cannot be opened, nor so fsynced, on Windows: these errors mean no more there. */
const WINDOWS_FOLDER_SYNC = new Set(['EISDIR', 'EPERM', 'EINVAL']);
/** fsyncs in flight at once: the file system commits concurrent ones together, an order of magnitude sooner than one by one. */
const SYNC_CONCURRENCY = 16;
/** Entries of a folder listed at a time by a recursive fsync. */
const SYNC_BATCH = 256;
/** Fresh ids tried by `Temporary.create`: each fails only when another run locks or removes its new lock file at once. */
const CREATE_ATTEMPTS = 8;

/**
 * A temporary file or folder for `target`, owned by this run through its lock, to be published
 * (renamed into place), discarded or kept. The temporary itself (`path`) is not created: the
 * caller writes a file or makes a folder there.
 */
export class Temporary {
  /** The final name. */
  readonly target: string;
  /** The id shared by every name of this temporary. */
  readonly id: string;
  /** The temporary file or folder, `.<name>.tmp-<id>` beside `target`. */
  readonly path: string;
  private readonly lockFile: string;
  /** Undefined on a file system without locks. */
  private readonly lock: FileLock | undefined;
  /** Suffixes of the other names of this id that may exist (`sibling`, the aside, what a stale run left). */
  private readonly suffixes: Set<string>;
  private closed = false;

  private constructor(target: string, id: string, lock: FileLock | undefined, suffixes: Iterable<string>) {
    this.target = target;
    this.id = id;
    this.path = path.join(path.dirname(target), `${temporaryPrefix(target)}${id}`);
    this.lockFile = `${this.path}.${LOCK_SUFFIX}`;
    this.lock = lock;
    this.suffixes = new Set(suffixes);
  }

  /**
   * Takes a fresh id for `target` and locks it. The folder of `target` must exist. The lock lasts
   * until `publish`, `discard` or `keep`, or until the process, or the worker thread that called
   * this, ends. On a file system without locks the temporary is made unlocked, and no other run
   * ever takes it for stale.
   * @throws {TsmosaicError} when the lock file cannot be created (no such folder, no permission).
   * @example
   * const temporary = await Temporary.create('out/mosaic.png');
   * await writeFile(temporary.path, bytes);
   * await temporary.publish();
   */
  static async create(target: string): Promise<Temporary> {
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      const id = randomBytes(ID_BYTES).toString('hex');
      const lockFile = path.join(path.dirname(target), `${temporaryPrefix(target)}${id}.${LOCK_SUFFIX}`);
      try {
        const lock = await FileLock.tryAcquire(lockFile, { create: true });
        // Undefined: another run took the id, or cleared the lock file as stale before it was locked.
        if (lock) return new Temporary(target, id, lock, []);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        if (NO_LOCKS.has(code)) return new Temporary(target, id, undefined, []);
        throw new TsmosaicError(`cannot write ${target}: ${reasonOf(error)}`, 1, { cause: error });
      }
    }
    throw new TsmosaicError(`cannot write ${target}: its lock file ${CREATE_ATTEMPTS} times taken or replaced by another run`);
  }

  /**
   * Another name of this run beside `target`, `.<name>.tmp-<id>.<suffix>`, removed with the
   * temporary by `publish` and `discard`, or by a later run once this one is gone.
   * @throws {RangeError} when `suffix` is not lower-case letters and digits, or is `lock` or `old`.
   */
  sibling(suffix: string): string {
    if (!SUFFIX.test(suffix) || suffix === LOCK_SUFFIX || suffix === ASIDE_SUFFIX) {
      throw new RangeError(`Expected lower-case letters and digits other than lock and old for suffix but received ${suffix}`);
    }
    this.suffixes.add(suffix);
    return `${this.path}.${suffix}`;
  }

  /**
   * Makes the temporary `target`, durably: fsyncs the file, or every file and folder in the folder,
   * renames it into place, fsyncs the parent folder, then removes the other names of the id and
   * the lock file. An existing folder at `target` is renamed aside first and removed only after the
   * parent folder is synced, so the previous contents are never lost: a failed rename puts it
   * back, and a run killed in between has it put back by the next `findStale`. A file replaces a
   * file in one rename.
   * @throws {TsmosaicError} when a step fails; the temporary is then still owned, to `discard`.
   */
  async publish(): Promise<void> {
    if (this.closed) throw new Error(`${this.path} was already published, discarded or kept`);
    const parent = path.dirname(this.target);
    try {
      const folder = (await lstat(this.path)).isDirectory();
      if (folder) await fsyncFolder(this.path, { recursive: true });
      else await fsyncFile(this.path);
      let aside: string | undefined;
      try {
        await rename(this.path, this.target);
      } catch (error) {
        if (!folder || !TARGET_EXISTS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
        aside = this.suffixPath(ASIDE_SUFFIX);
        this.suffixes.add(ASIDE_SUFFIX);
        await rename(this.target, aside);
        try {
          await rename(this.path, this.target);
        } catch (error) {
          await rename(aside, this.target);
          throw error;
        }
      }
      await fsyncFolder(parent);
    } catch (error) {
      throw new TsmosaicError(`cannot write ${this.target}: ${reasonOf(error)}`, 1, { cause: error });
    }
    // The previous contents go only now that the new ones are durable. What cannot be removed is
    // left with its lock file, for a later run to find stale: `target` is written all the same.
    await this.removeAll().catch(() => this.keep());
  }

  /**
   * Removes the temporary, every other name of its id and the lock file, and releases the lock;
   * a previous folder left aside while `target` is missing is put back instead. Does nothing once
   * published, discarded or kept.
   * @throws {TsmosaicError} when a name cannot be removed (the lock is released all the same).
   */
  async discard(): Promise<void> {
    if (this.closed) return;
    try {
      await this.restoreAside();
      await this.removeAll();
    } catch (error) {
      throw new TsmosaicError(`cannot remove ${this.path}: ${reasonOf(error)}`, 1, { cause: error });
    } finally {
      await this.keep();
    }
  }

  /**
   * Releases the lock and leaves every name as it is, for a later run to find with `findStale`
   * (an interrupted index run keeps its checkpoint so). Does nothing once published or discarded.
   */
  async keep(): Promise<void> {
    this.closed = true;
    await this.lock?.release();
  }

  /** Removes the temporary, its other names and then the lock file, and releases the lock. */
  private async removeAll(): Promise<void> {
    await removeTree(this.path);
    for (const suffix of this.suffixes) await removeTree(this.suffixPath(suffix));
    await rm(this.lockFile, { force: true });
    await this.keep();
  }

  /**
   * Puts back a previous folder left aside by a run killed between its two renames, when `target`
   * is missing and the aside belongs to this user (an aside planted by another is left alone).
   */
  private async restoreAside(): Promise<void> {
    if (!this.suffixes.has(ASIDE_SUFFIX)) return;
    const aside = this.suffixPath(ASIDE_SUFFIX);
    if ((await entryExists(this.target)) || !(await entryExists(aside))) return;
    this.suffixes.delete(ASIDE_SUFFIX);
    if (!(await ownedByMe(aside))) return;
    await rename(aside, this.target);
    await fsyncFolder(path.dirname(this.target));
  }

  private suffixPath(suffix: string): string {
    return `${this.path}.${suffix}`;
  }

  /** Whether the temporary or any other name of its id exists. */
  private async anyExists(): Promise<boolean> {
    for (const name of [this.path, ...[...this.suffixes].map((suffix) => this.suffixPath(suffix))]) {
      if (await entryExists(name)) return true;
    }
    return false;
  }

  /**
   * The temporaries of `target` in its folder whose owner is gone: their lock file can be locked now
   * (or is missing). Each is returned with the lock held, so that two runs never both adopt or
   * remove one; the caller then `discard`s it, `keep`s it (releases it, leaving it for another run)
   * or adopts it (reads or publishes it, then discards it). A previous folder left aside by a run
   * killed while publishing is first put back at `target` when `target` is missing. Ids of live
   * runs, in this process too, are not returned.
   * @throws {TsmosaicError} when the folder cannot be read or an aside cannot be put back.
   */
  static async findStale(target: string): Promise<Temporary[]> {
    const prefix = temporaryPrefix(target);
    let names: string[];
    try {
      names = await readdir(path.dirname(target));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw new TsmosaicError(`cannot read ${path.dirname(target)}: ${reasonOf(error)}`, 1, { cause: error });
    }
    const suffixesById = new Map<string, string[]>();
    for (const name of names) {
      // Names of tsmosaic before these locks (`.<name>.tmp-<pid>-<8 hex>[.<suffix>]`, and an index's
      // `.<name>.old-<pid>-<hex>`) do not match and are left alone: nothing proves their owner gone.
      const match = name.startsWith(prefix) ? ENTRY.exec(name.slice(prefix.length)) : null;
      if (!match) continue;
      const id = match[1]!;
      const suffix = match[2];
      const suffixes = suffixesById.get(id) ?? [];
      if (suffix !== undefined && suffix !== LOCK_SUFFIX) suffixes.push(suffix);
      suffixesById.set(id, suffixes);
    }
    const stale: Temporary[] = [];
    try {
      for (const [id, suffixes] of [...suffixesById].sort(([a], [b]) => a.localeCompare(b))) {
        const found = await Temporary.lockStale(target, id, suffixes);
        if (found) stale.push(found);
      }
    } catch (error) {
      for (const found of stale) await found.keep();
      throw error;
    }
    return stale;
  }

  /**
   * Locks the id of a temporary of `target` whose owner is gone and returns it, or undefined when
   * the lock is held elsewhere or cannot be taken, or nothing but the lock file was left.
   */
  private static async lockStale(target: string, id: string, suffixes: Iterable<string>): Promise<Temporary | undefined> {
    const lockFile = path.join(path.dirname(target), `${temporaryPrefix(target)}${id}.${LOCK_SUFFIX}`);
    let lock: FileLock | undefined;
    try {
      // A missing lock file (removed by hand, or its run died while removing the rest): the first
      // run to create it again owns what is left.
      lock = (await FileLock.tryAcquire(lockFile)) ?? (await FileLock.tryAcquire(lockFile, { create: true }));
    } catch {
      // No permission, or no locks on this file system: the owner cannot be proven gone.
    }
    if (!lock) return undefined;
    const stale = new Temporary(target, id, lock, suffixes);
    try {
      await stale.restoreAside();
    } catch (error) {
      await stale.keep();
      throw new TsmosaicError(`cannot put ${stale.suffixPath(ASIDE_SUFFIX)} back at ${target}: ${reasonOf(error)}`, 1, { cause: error });
    }
    if (await stale.anyExists()) return stale;
    await stale.discard();
    return undefined;
  }
}

/**
 * Discards every temporary of `target` whose owner is gone (see `findStale`).
 * @throws {TsmosaicError} when one cannot be removed; the others' locks are released.
 */
export async function discardStale(target: string): Promise<void> {
  const stale = await Temporary.findStale(target);
  try {
    for (const found of stale) await found.discard();
  } finally {
    for (const found of stale) await found.keep();
  }
}

/**
 * Writes `file` through a temporary beside it: clears what runs that are gone left for it, then
 * `write(temporary.path, temporary)` makes the file (and may use `temporary.sibling`), which is
 * published unless `signal` was aborted meanwhile. On failure everything of the temporary is
 * removed and the error thrown as a TsmosaicError naming `file` (TsmosaicErrors and the signal's
 * abort reason as they are).
 * @throws {TsmosaicError}
 * @example
 * await writeThroughTemporary('out/plan.json', (temporary) => writeFile(temporary, json));
 */
export async function writeThroughTemporary(
  file: string,
  write: (temporaryPath: string, temporary: Temporary) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let temporary: Temporary | undefined;
  try {
    await discardStale(file);
    temporary = await Temporary.create(file);
    await write(temporary.path, temporary);
    // The last moment a signal can leave nothing behind (a yield, for a signal that came during synchronous work).
    if (signal) await yieldToEventLoop(signal);
    await temporary.publish();
  } catch (error) {
    // What cannot be removed now is found stale by a later run, once this one is gone.
    await temporary?.discard().catch(() => undefined);
    if ((signal?.aborted && error === signal.reason) || error instanceof TsmosaicError) throw error;
    throw new TsmosaicError(`cannot write ${file}: ${reasonOf(error)}`, 1, { cause: error });
  }
}

/**
 * Whether `file` (not followed, if a symbolic link) exists, belongs to this process's user and is
 * not a symbolic link; without user ids (Windows), whether it exists and is not a symbolic link.
 * Something left by a gone run is trusted (resumed, put back) only when this holds.
 */
export async function ownedByMe(file: string): Promise<boolean> {
  try {
    const info = await lstat(file);
    return !info.isSymbolicLink() && (process.getuid === undefined || info.uid === process.getuid());
  } catch {
    return false;
  }
}

/**
 * Flushes a file's data and size to the disk.
 * @throws the file system's error (ENOENT, EIO).
 */
export async function fsyncFile(file: string): Promise<void> {
  // FlushFileBuffers on Windows needs a handle open for writing.
  const handle = await open(file, process.platform === 'win32' ? 'r+' : 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes a folder's entries (names created, renamed or removed in it) to the disk; `recursive`:
 * also every file and folder inside it, not following symbolic links. On Windows, where folders
 * cannot be opened, only the files are flushed.
 * @throws the file system's error (ENOENT, EIO).
 */
export async function fsyncFolder(folder: string, { recursive = false }: { recursive?: boolean } = {}): Promise<void> {
  if (recursive) {
    const folders: string[] = [];
    const directory = await opendir(folder);
    try {
      // A batch of names at a time: every path of a gigapixel pyramid's tiles at once took tens of MB.
      for (let batch = await readEntries(directory, SYNC_BATCH); batch.length > 0; batch = await readEntries(directory, SYNC_BATCH)) {
        const files: string[] = [];
        for (const entry of batch) {
          const inside = path.join(folder, entry.name);
          if (entry.isDirectory()) folders.push(inside);
          else if (entry.isFile()) files.push(inside);
        }
        await eachConcurrently(files, SYNC_CONCURRENCY, fsyncFile);
      }
    } finally {
      await directory.close().catch(() => undefined);
    }
    for (const inside of folders) await fsyncFolder(inside, { recursive: true });
  }
  await fsyncOneFolder(folder);
}

async function fsyncOneFolder(folder: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(folder, 'r');
    await handle.sync();
  } catch (error) {
    if (process.platform !== 'win32' || !WINDOWS_FOLDER_SYNC.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle?.close();
  }
}

/** `.<name>.tmp-`: how every name of a temporary of `target` begins. */
function temporaryPrefix(target: string): string {
  return `.${path.basename(target)}.tmp-`;
}

/** Whether a name exists: lstat, so a symbolic link counts even when dangling (pathExists follows it). */
async function entryExists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}
