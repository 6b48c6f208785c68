import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';

/** The part of fs-native-extensions used here (the package ships no types). */
interface NativeLocks {
  /** An exclusive lock on the whole file: false when another open file description holds one. */
  tryLock(fd: number): boolean;
  unlock(fd: number): void;
}

const native = createRequire(import.meta.url)('fs-native-extensions') as NativeLocks;

/**
 * An exclusive advisory lock on a lock file, held through an open descriptor: an OFD fcntl lock on
 * Linux, flock on macOS, LockFileEx on Windows. The kernel drops it when the descriptor is closed,
 * so when the process dies, however it dies; a descriptor opened by a worker thread is closed, and
 * its lock dropped, when that thread exits. Two descriptors conflict even within one process, and
 * on NFS the lock is the server's, so a run on another host or in another container is seen too.
 */
export class FileLock {
  readonly file: string;
  private handle: FileHandle | undefined;

  private constructor(file: string, handle: FileHandle) {
    this.file = file;
    this.handle = handle;
  }

  /**
   * Takes the lock on `file` if no other descriptor holds it. `create`: the file must not exist yet
   * and is created (mode 0600, never through a symbolic link); otherwise it must exist and is
   * opened without following a symbolic link. Returns undefined when the file exists (`create`) or
   * is missing (not `create`), when the lock is held elsewhere, or when the name no longer
   * points at the file locked (removed or replaced meanwhile by the run that held it).
   * @throws the file system's error when the file cannot be opened or locked for another reason
   *   (no permission, a file system without locks: ENOLCK, ENOTSUP).
   */
  static async tryAcquire(file: string, { create = false }: { create?: boolean } = {}): Promise<FileLock | undefined> {
    const flags = create
      ? constants.O_RDWR | constants.O_CREAT | constants.O_EXCL
      : // O_NOFOLLOW is 0 on Windows, where it does not exist.
        constants.O_RDWR | (constants.O_NOFOLLOW ?? 0);
    let handle: FileHandle;
    try {
      handle = await open(file, flags, 0o600);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((create && code === 'EEXIST') || (!create && code === 'ENOENT')) return undefined;
      throw error;
    }
    try {
      if (native.tryLock(handle.fd) && (await sameFile(handle, file))) return new FileLock(file, handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
    await handle.close();
    return undefined;
  }

  /** Releases the lock and closes the descriptor; releasing twice does nothing. */
  async release(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return;
    try {
      native.unlock(handle.fd);
    } finally {
      await handle.close();
    }
  }
}

/** Whether `file` still names the file open as `handle` (same device and inode). */
async function sameFile(handle: FileHandle, file: string): Promise<boolean> {
  const opened = await handle.stat({ bigint: true });
  try {
    const named = await lstat(file, { bigint: true });
    return named.dev === opened.dev && named.ino === opened.ino;
  } catch {
    return false;
  }
}
