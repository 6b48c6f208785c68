/**
 * The set-up of the big-mosaic benches (gigapixel.ts, formats.ts): a collection of 720 crops of the
 * example photos, indexed with 20 px tiles, and the grid that gives a mosaic of so many megapixels
 * of the example bee.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { REPO_ROOT } from './paths.js';

export const PHOTOS = path.join(REPO_ROOT, 'examples', 'photos');
export const TARGET = path.join(PHOTOS, 'honey-bee.jpg');
export const TILE = 20;

/** 720 crops of the example photos: an 8 x ~6 grid of squares out of each, 64 px. */
export async function makeCollection(folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  let count = 0;
  for (const name of (await readdir(PHOTOS)).filter((file) => file.endsWith('.jpg')).sort()) {
    const file = path.join(PHOTOS, name);
    const { width = 0, height = 0 } = await sharp(file).metadata();
    const edge = Math.floor(Math.min(width, height) / 8);
    for (let top = 0; top + edge <= height; top += edge) {
      for (let left = 0; left + edge <= width; left += edge) {
        await sharp(file)
          .extract({ left, top, width: edge, height: edge })
          .resize(64, 64)
          .jpeg()
          .toFile(path.join(folder, `crop-${count++}.jpg`));
      }
    }
  }
}

/** The grid of TILE px tiles of a mosaic of TARGET of at least `megapixels`: enough columns, rows following the target's aspect. */
export async function gridFor(megapixels: number): Promise<{ columns: number; width: number; height: number }> {
  const { width: targetWidth = 1, height: targetHeight = 1 } = await sharp(TARGET).metadata();
  const columns = Math.ceil(Math.sqrt((megapixels * 1e6 * targetWidth) / (targetHeight * TILE * TILE)));
  const width = columns * TILE;
  const height = Math.max(1, Math.round((targetHeight * columns) / targetWidth)) * TILE;
  return { columns, width, height };
}
