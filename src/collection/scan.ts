import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import { reasonOf } from '../errors.js';

/** File extensions that may hold an image sharp can read (matched case-insensitively). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'] as const;

const IMAGE_NAME = new RegExp(`\\.(?:${IMAGE_EXTENSIONS.join('|')})$`, 'i');

/** What a scan found: image files, and entries it could not look into. */
export interface ScanResult {
  /** Paths relative to the collection ('/'-separated), in code-point order. */
  files: string[];
  /** Folders that could not be read or were reached again through a symbolic link. */
  problems: { relative: string; reason: string }[];
}

/**
 * Lists the image files below `collection`, recursively, as paths relative to it in a stable
 * (code-point) order. Hidden files and folders are skipped, and so is `exclude` (the index
 * folder, when the user puts it inside the collection). Symbolic links are followed, each folder
 * is entered once (a link back up is reported, not followed), and an entry with an image name
 * that is not a regular file (a folder named x.jpg, a broken or looping link) is listed so that
 * reading it reports why it is skipped.
 */
export async function scanCollection(collection: string, exclude: string[] = []): Promise<ScanResult> {
  const excluded = new Set(exclude.map((folder) => path.resolve(folder)));
  const files: string[] = [];
  const problems: ScanResult['problems'] = [];
  const entered = new Set<string>();
  const enter = async (folder: string, relative: string): Promise<void> => {
    let identity: string;
    try {
      const info = await stat(folder);
      identity = `${info.dev}:${info.ino}`;
    } catch (error) {
      problems.push({ relative, reason: reasonOf(error) });
      return;
    }
    if (entered.has(identity)) {
      problems.push({ relative, reason: 'symbolic link to a folder already scanned (a loop or a second path), not followed' });
      return;
    }
    entered.add(identity);
    let entries;
    try {
      entries = await opendir(folder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push({ relative, reason: code === 'EACCES' || code === 'EPERM' ? 'folder not readable: permission denied' : reasonOf(error) });
      return;
    }
    const subfolders: [string, string][] = [];
    for await (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const absolute = path.join(folder, entry.name);
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      let isFolder = entry.isDirectory();
      if (entry.isSymbolicLink()) isFolder = await stat(absolute).then((info) => info.isDirectory(), () => false);
      if (isFolder && !excluded.has(absolute)) subfolders.push([absolute, child]);
      if (IMAGE_NAME.test(entry.name) && !(isFolder && excluded.has(absolute))) files.push(child);
    }
    for (const [absolute, child] of subfolders) await enter(absolute, child);
  };
  await enter(path.resolve(collection), '');
  return { files: files.sort(byCodePoint), problems };
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
