import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Sharp } from 'sharp';
import type { SharpModule } from '../load-sharp.js';
import { deepZoomLayout, DEEP_ZOOM_TILE_SIZE } from './deep-zoom-layout.js';
import { removeTree } from '../files/remove-tree.js';
import { eachConcurrently, untilDoneOrAborted } from '../yield.js';

/**
 * Halvings a stripe of the pyramid spans: stripes 254 x 2^4 = 4,064 px wide. dzsave keeps a strip
 * of every level as wide as its input, and each dzsave leaves a few MB in malloc's arenas: 4,064
 * px kept both flat in the width (see docs/design.md).
 */
export const DEEP_ZOOM_STRIPE_LEVELS = 4;
/** Tile renames in flight at once. */
const RENAME_CONCURRENCY = 16;
/** A tile of a `dz` layout: `<column>_<row>.jpeg`. */
const TILE_NAME = /^(\d+)_(\d+)\.jpeg$/;

/** An image to make a pyramid of, opened whole or as columns [left, left + width). */
export interface PyramidSource {
  width: number;
  height: number;
  open(left: number, width: number): Sharp;
  /** Told when the pyramid is done with columns [left, left + width), opened before. */
  done?(left: number, width: number): Promise<void>;
}

export interface StripedPyramidOptions {
  sharp: SharpModule;
  /** Halvings a stripe spans (its width is the tile size times 2^stripeLevels). */
  stripeLevels: number;
  /** An empty folder for dzsave's output, removed by the caller. */
  scratch: string;
  /** dzsave of `image` as `file` (`<name>.dz`: `<name>_files/<level>/<column>_<row>.jpeg`), overlap 0. */
  dzsave: (image: Sharp, file: string) => Promise<unknown>;
  /** Told as each dzsave starts: the folder of its full-size tiles, and the full-size tiles written before it. */
  onPass?: (fullSizeFolder: string, tilesBefore: number) => void;
  signal?: AbortSignal;
}

/** A column stripe of the image: [left, left + width). */
export interface Stripe {
  left: number;
  width: number;
}

/**
 * The stripes of a `width` x `height` image: 254 x 2^stripeLevels px wide, the last one to
 * the edge; a last one whose pyramid would have fewer than stripeLevels + 1 levels joins the one
 * before, as its levels are needed.
 */
export function stripesOf(width: number, height: number, stripeLevels: number): Stripe[] {
  const stripeWidth = DEEP_ZOOM_TILE_SIZE * 2 ** stripeLevels;
  const stripes: Stripe[] = [];
  for (let left = 0; left < width; left += stripeWidth) stripes.push({ left, width: Math.min(stripeWidth, width - left) });
  const last = stripes.at(-1)!;
  if (stripes.length > 1 && topLevelOf(last.width, height) < stripeLevels) {
    stripes.pop();
    stripes.at(-1)!.width += last.width;
  }
  return stripes;
}

/**
 * Writes the Deep Zoom levels of `source` into the new folder `levels` (`<level>/<column>_<row>.jpeg`,
 * overlap 0) with dzsave, whose memory grows with the width of its input: column stripes at a time.
 *
 * With overlap 0, stripe [x0, x0 + S) with S = 254 x 2^m and x0 a multiple of S holds exactly the
 * tile columns from x0 / (254 x 2^j) of the level j halvings below full size, for j <= m, and its
 * 2x2 means are the whole image's (aligned blocks; the last stripe ends at the edge as the image
 * does): each stripe's top m + 1 levels are renamed into place. The levels below come from the
 * pyramid of the smallest of those, halved from its tiles (in stripes again if it is wide).
 */
export async function writeStripedPyramid(source: PyramidSource, levels: string, options: StripedPyramidOptions): Promise<void> {
  const { stripeLevels, signal } = options;
  const { width, height } = source;
  const stripes = stripesOf(width, height, stripeLevels);
  if (stripes.length === 1) {
    const files = await dzsavePass(source.open(0, width), 'whole', topLevelOf(width, height), 0, options);
    await source.done?.(0, width);
    await rename(files, levels);
    return;
  }
  const top = topLevelOf(width, height);
  await mkdir(levels);
  let tilesBefore = 0;
  for (const [index, stripe] of stripes.entries()) {
    signal?.throwIfAborted();
    const localTop = topLevelOf(stripe.width, height);
    const files = await dzsavePass(source.open(stripe.left, stripe.width), `stripe${index}`, localTop, tilesBefore, options);
    await source.done?.(stripe.left, stripe.width);
    for (let halvings = 0; halvings <= stripeLevels; halvings++) {
      const columnOffset = stripe.left / (DEEP_ZOOM_TILE_SIZE * 2 ** halvings);
      await moveTiles(path.join(files, String(localTop - halvings)), path.join(levels, String(top - halvings)), columnOffset, signal);
    }
    tilesBefore += Math.ceil(stripe.width / DEEP_ZOOM_TILE_SIZE) * Math.ceil(height / DEEP_ZOOM_TILE_SIZE);
    // Its smaller levels show the stripe alone: the whole image's come from below.
    await removeTree(files);
  }
  await writeLevelsBelow(width, height, top - stripeLevels, levels, options);
}

/**
 * Writes levels 0 .. `base` - 1 of the pyramid of a `width` x `height` image into `levels`: the
 * pyramid of level `base` - 1, halved from the tiles of level `base` there (a few MB: 1/1,024 of
 * the full size at 4 halvings).
 */
async function writeLevelsBelow(
  width: number,
  height: number,
  base: number,
  levels: string,
  options: StripedPyramidOptions,
): Promise<void> {
  const { sharp, scratch } = options;
  const from = deepZoomLayout(width, height).levels[base]!;
  const level = deepZoomLayout(width, height).levels[base - 1]!;
  if (topLevelOf(level.width, level.height) !== base - 1) throw new Error(`level ${base - 1} is not the top of its own pyramid`);
  const pixels = await halvedLevel(sharp, path.join(levels, String(base)), from.width, from.height, options.signal);
  const below = path.join(scratch, 'below');
  const belowLevels = path.join(scratch, 'below-levels');
  await mkdir(below);
  const raw = { width: level.width, height: level.height, channels: 3 } as const;
  const source: PyramidSource = {
    width: level.width,
    height: level.height,
    open: (left, stripeWidth) => sharp(pixels, { raw }).extract({ left, top: 0, width: stripeWidth, height: level.height }),
  };
  await writeStripedPyramid(source, belowLevels, { ...options, scratch: below, onPass: undefined });
  for (let smaller = 0; smaller < base; smaller++) {
    await rename(path.join(belowLevels, String(smaller)), path.join(levels, String(smaller)));
  }
  await removeTree(below);
  await removeTree(belowLevels);
}

/**
 * The level below the `width` x `height` one whose tiles are in `folder`, as raw RGB: each pixel
 * the mean of a 2 x 2 block, of the pixels there are at an odd edge, rounded half up, as dzsave
 * halves. Tiles are 254 px, even: no block spans two, so they are halved one at a time.
 */
async function halvedLevel(sharp: SharpModule, folder: string, width: number, height: number, signal?: AbortSignal): Promise<Buffer> {
  const halfWidth = Math.ceil(width / 2);
  const pixels = Buffer.alloc(halfWidth * Math.ceil(height / 2) * 3);
  for (const name of await readdir(folder)) {
    signal?.throwIfAborted();
    const { column, row } = tilePosition(name);
    const { data, info } = await sharp(path.join(folder, name)).raw().toBuffer({ resolveWithObject: true });
    const left = column * DEEP_ZOOM_TILE_SIZE;
    const top = row * DEEP_ZOOM_TILE_SIZE;
    const expected = [Math.min(DEEP_ZOOM_TILE_SIZE, width - left), Math.min(DEEP_ZOOM_TILE_SIZE, height - top), 3];
    if (info.width !== expected[0] || info.height !== expected[1] || info.channels !== 3) {
      throw new Error(
        `tile ${name} of level ${path.basename(folder)} is ${info.width} x ${info.height} x ${info.channels}, not ${expected.join(' x ')}`,
      );
    }
    for (let y = 0; y < info.height; y += 2) {
      const rows = Math.min(2, info.height - y);
      for (let x = 0; x < info.width; x += 2) {
        const columns = Math.min(2, info.width - x);
        const into = (((top + y) / 2) * halfWidth + (left + x) / 2) * 3;
        for (let channel = 0; channel < 3; channel++) {
          let sum = 0;
          for (let dy = 0; dy < rows; dy++) {
            for (let dx = 0; dx < columns; dx++) sum += data[((y + dy) * info.width + x + dx) * 3 + channel]!;
          }
          const count = rows * columns;
          pixels[into + channel] = Math.floor((sum + count / 2) / count);
        }
      }
    }
  }
  return pixels;
}

/**
 * One dzsave into the scratch folder, as `<name>_files`, whose full-size level is `top`; returns
 * that folder, without libvips' properties file.
 */
async function dzsavePass(image: Sharp, name: string, top: number, tilesBefore: number, options: StripedPyramidOptions): Promise<string> {
  const { scratch, signal } = options;
  const files = path.join(scratch, `${name}_files`);
  // Not started once aborted: libvips cannot be stopped, and untilDoneOrAborted would not track it.
  signal?.throwIfAborted();
  options.onPass?.(path.join(files, String(top)), tilesBefore);
  const saving = options.dzsave(image, path.join(scratch, `${name}.dz`));
  try {
    await untilDoneOrAborted(saving, signal);
  } catch (error) {
    // libvips cannot be stopped: a pass (a stripe's, seconds at most) ends before the scratch
    // folder is removed, else it could write tiles into it after its removal (left behind).
    await saving.catch(() => undefined);
    throw error;
  }
  await rm(path.join(scratch, `${name}.dzi`), { force: true });
  await rm(path.join(files, 'vips-properties.xml'), { force: true });
  return files;
}

/** Moves the tiles of folder `from` into `to`, each `<column>_<row>.jpeg` as `<column + columnOffset>_<row>.jpeg`. */
async function moveTiles(from: string, to: string, columnOffset: number, signal?: AbortSignal): Promise<void> {
  const names = await readdir(from);
  await mkdir(to, { recursive: true });
  const move = async (name: string): Promise<void> => {
    const { column, row } = tilePosition(name);
    await rename(path.join(from, name), path.join(to, `${column + columnOffset}_${row}.jpeg`));
  };
  await eachConcurrently(names, RENAME_CONCURRENCY, move, signal);
}

function tilePosition(name: string): { column: number; row: number } {
  const match = TILE_NAME.exec(name);
  if (!match) throw new Error(`unexpected file ${name} among the tiles`);
  return { column: Number(match[1]), row: Number(match[2]) };
}

/** The number of the full-size level of a `width` x `height` pyramid (level 0 is 1 x 1 px). */
function topLevelOf(width: number, height: number): number {
  return deepZoomLayout(width, height).levels.length - 1;
}
