import path from 'node:path';
import fg from 'fast-glob';

/** File extensions that may hold an image sharp can read (matched case-insensitively). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'] as const;

/**
 * Lists the image files below `collection`, recursively, as paths relative to it in a stable
 * (code-point) order. Hidden files and folders are skipped, and so is `exclude` (the index
 * folder, when the user puts it inside the collection).
 */
export async function scanCollection(collection: string, exclude: string[] = []): Promise<string[]> {
  const ignore: string[] = [];
  for (const folder of exclude) {
    const relative = path.relative(collection, folder);
    if (relative && !relative.startsWith('..') && !path.isAbsolute(relative)) {
      ignore.push(`${fg.escapePath(relative.split(path.sep).join('/'))}/**`);
    }
  }
  const files = await fg(`**/*.{${IMAGE_EXTENSIONS.join(',')}}`, {
    cwd: collection,
    onlyFiles: true,
    dot: false,
    caseSensitiveMatch: false,
    followSymbolicLinks: true,
    suppressErrors: true,
    ignore,
  });
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
