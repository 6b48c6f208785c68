import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import { reasonOf } from '../errors.js';

/** File extensions that may hold an image sharp can read (matched case-insensitively). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'] as const;

const IMAGE_NAME = new RegExp(`\\.(?:${IMAGE_EXTENSIONS.join('|')})$`, 'i');

/**
 * Line terminators. fast-glob 3 matches paths with picomatch 2, whose `**` is a regular expression
 * built on `.`, which matches none of them: fast-glob would drop a name holding one, and all below it.
 */
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/** What a scan found: image files, and entries it could not look into. */
export interface ScanResult {
  /** Paths relative to the collection ('/'-separated), in code-point order. */
  files: string[];
  /** Folders that could not be read or were reached again through a symbolic link. */
  problems: { relative: string; reason: string }[];
}

/** An entry below a walked folder that fast-glob is not shown (a link, or a name with a line break): its '/'-separated path from that folder. */
interface SetAside {
  path: string;
  dirent: Dirent;
}

/**
 * Lists the image files below `collection`, recursively, as paths relative to it in a stable
 * (code-point) order. Hidden files and folders are skipped, and so is `exclude` (the index
 * folder, when the user puts it inside the collection). Symbolic links are followed, each folder
 * is entered once (a link back up is reported, not followed), and an entry with an image name
 * that is not a regular file (a folder named x.jpg, a broken or looping link) is listed so that
 * reading it reports why it is skipped.
 *
 * fast-glob walks the collection's real folders (its own following of links would go round a
 * loop until ELOOP). The links it is not shown are then looked at, and those to folders walked by
 * fast-glob in turn, one after the other in path order within each walk, and so on: a folder
 * inside the collection is scanned at its real path (unless its name holds a line break, which
 * sets it aside like a link, and a link to it comes first), and which of two links to a folder is
 * followed does not depend on timing. fast-glob gives plain paths: entry objects cost memory by the file.
 * Aborting `signal` stops the walk at the next folder with its reason.
 */
export async function scanCollection(collection: string, exclude: string[] = [], signal?: AbortSignal): Promise<ScanResult> {
  const excluded = new Set(exclude.map((folder) => path.resolve(folder)));
  const files: string[] = [];
  const problems: ScanResult['problems'] = [];
  const entered = new Set<string>();

  /**
   * fast-glob's readdir for the walk of `root` (at `prefix` in the collection). It enters each real
   * folder once (by device and inode: a link or a bind mount may lead back to one already
   * scanned), and records a folder it cannot read as a problem and lists it as empty, so the walk
   * goes on. It leaves out hidden entries and excluded folders, so that fast-glob never opens them
   * (with its `dot` and `ignore` options it would still read them, only to drop what they hold), and
   * sets links and names with a line break (see LINE_BREAK) aside in `aside` for the caller.
   */
  const list = async (root: string, prefix: string, aside: SetAside[], folder: string): Promise<Dirent[]> => {
    // fast-glob rejects the walk with it (an error other than ENOENT is fatal to it).
    signal?.throwIfAborted();
    const below = path.relative(root, folder);
    const relative = joinRelative(prefix, below);
    let identity: string;
    try {
      const info = await stat(folder);
      identity = `${info.dev}:${info.ino}`;
    } catch (error) {
      problems.push({ relative, reason: reasonOf(error) });
      return [];
    }
    if (entered.has(identity)) {
      problems.push({ relative, reason: 'symbolic link to a folder already scanned (a loop or a second path), not followed' });
      return [];
    }
    entered.add(identity);
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push({
        relative,
        reason: code === 'EACCES' || code === 'EPERM' ? 'folder not readable: permission denied' : reasonOf(error),
      });
      return [];
    }
    return entries.filter((entry) => {
      if (entry.name.startsWith('.')) return false;
      if (entry.isDirectory() && excluded.has(path.join(folder, entry.name))) return false;
      if (!entry.isSymbolicLink() && !LINE_BREAK.test(entry.name)) return true;
      aside.push({ path: joinRelative(below, entry.name), dirent: entry });
      return false;
    });
  };

  // The folders to walk, with their paths in the collection; the folders found behind links or
  // with a line break in their name are appended as each walk ends.
  const walks: [string, string][] = [[path.resolve(collection), '']];
  for (const [root, prefix] of walks) {
    const aside: SetAside[] = [];
    const readFolder = (
      folder: string,
      _options: unknown,
      callback: (error: NodeJS.ErrnoException | null, entries: Dirent[]) => void,
    ): void => {
      list(root, prefix, aside, folder).then(
        (entries) => callback(null, entries),
        (error: NodeJS.ErrnoException) => callback(error, []),
      );
    };
    // A plain `**` under `cwd`: names are never read as patterns, whatever characters they hold.
    const walked = await fg('**', {
      cwd: root,
      dot: true,
      onlyFiles: false,
      followSymbolicLinks: false,
      unique: false,
      // fast-glob calls readdir only with { withFileTypes: true }, the one form readFolder answers.
      fs: { readdir: readFolder as NonNullable<fg.Options['fs']>['readdir'] },
    });
    // Files and real folders: a folder with an image name is listed too.
    for (const below of walked) if (IMAGE_NAME.test(below)) files.push(joinRelative(prefix, below));
    // Path order, so that the links are walked in an order that does not depend on timing.
    aside.sort((a, b) => byCodePoint(a.path, b.path));
    const isFolder = await Promise.all(
      aside.map(({ path: below, dirent }) =>
        dirent.isSymbolicLink()
          ? stat(path.join(root, below)).then(
              (info) => info.isDirectory(),
              () => false,
            )
          : dirent.isDirectory(),
      ),
    );
    aside.forEach((entry, i) => {
      const absolute = path.join(root, entry.path);
      if (isFolder[i] && excluded.has(absolute)) return;
      const child = joinRelative(prefix, entry.path);
      if (isFolder[i]) walks.push([absolute, child]);
      if (IMAGE_NAME.test(entry.dirent.name)) files.push(child);
    });
  }
  return { files: files.sort(byCodePoint), problems: problems.sort((a, b) => byCodePoint(a.relative, b.relative)) };
}

/** '/'-separated `below` inside `folder`, either of which may be '' (the collection itself). */
function joinRelative(folder: string, below: string): string {
  return folder && below ? `${folder}/${below}` : folder || below;
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
