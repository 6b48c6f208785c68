import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Rgb, solidImage } from './helpers.js';

/** Eight colours far apart, so the right tile for a pixel of any of them is known exactly. */
export const PALETTE: readonly Rgb[] = [
  [230, 30, 30],
  [30, 200, 40],
  [40, 60, 220],
  [240, 230, 40],
  [20, 20, 20],
  [245, 245, 245],
  [200, 40, 200],
  [40, 200, 210],
];

/**
 * A collection of one solid picture per PALETTE colour (varied formats, sizes and a subfolder)
 * plus, with `withBadFiles`, files that must be skipped or ignored. Returns the collection folder.
 */
export async function paletteCollection(root: string, options: { withBadFiles?: boolean } = {}): Promise<string> {
  const collection = path.join(root, 'collection');
  await mkdir(path.join(collection, 'nested', 'deeper'), { recursive: true });
  const names = ['c0.jpg', 'c1.PNG', 'nested/c2.webp', 'nested/deeper/c3.jpeg', 'c4.tif', 'c5.png', 'nested/c6.JPG', 'c7.gif'];
  await Promise.all(PALETTE.map((colour, i) => solidImage(path.join(collection, names[i]!), colour, 30 + i * 7, 40 - i * 2)));
  if (options.withBadFiles) {
    await writeFile(path.join(collection, 'empty.jpg'), '');
    await writeFile(path.join(collection, 'notes.jpg'), 'not a picture\n');
    await writeFile(path.join(collection, 'readme.txt'), 'ignored: not an image extension\n');
    await mkdir(path.join(collection, '.hidden'));
    await solidImage(path.join(collection, '.hidden', 'secret.png'), [1, 2, 3]);
    await solidImage(path.join(collection, '.dotfile.png'), [1, 2, 3]);
  }
  return collection;
}

/** Position of the PALETTE colour nearest to `colour`. */
export function paletteIndex(colour: readonly number[]): number {
  let best = 0;
  let bestDistance = Infinity;
  PALETTE.forEach((candidate, i) => {
    const distance = candidate.reduce((sum, value, c) => sum + (value - colour[c]!) ** 2, 0);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = i;
    }
  });
  return best;
}
