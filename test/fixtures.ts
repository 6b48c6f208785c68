import { execFileSync } from 'node:child_process';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../src/match/random.js';
import { rawImage, type Rgb, solidImage } from './helpers.js';

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

/** How a file of a format tsmosaic does not read is refused (see assertAcceptedFormat). */
export const NOT_ACCEPTED = 'not a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image';

/** The objects of a one-page PDF of a red square, 10 pt wide: no image data, just a drawing. */
const PDF_BODY = [
  '1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj',
  '2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj',
  '3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 4 0 R>> endobj',
  '4 0 obj <</Length 23>> stream\n1 0 0 rg 0 0 10 10 re f\nendstream endobj',
  'trailer <</Root 1 0 R>>',
  '%%EOF',
  '',
];

/**
 * Files of formats sharp (or libvips) could load but tsmosaic does not read, each under an image's
 * name in `folder`: an SVG, a PDF and a libvips native image, each at least `padding` bytes long
 * (spaces in an XML or PDF comment, more rows of pixels). Returns the file names, each with what
 * its refusal says it looks like.
 */
export async function lookalikeFiles(folder: string, padding = 0): Promise<Record<string, string>> {
  const svg = [
    '<?xml version="1.0"?>',
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30">',
    `<!--${' '.repeat(padding)}-->`,
    '<rect width="40" height="30" fill="red"/></svg>',
    '',
  ].join('\n');
  await writeFile(path.join(folder, 'drawing.jpg'), svg);
  await writeFile(path.join(folder, 'document.png'), ['%PDF-1.1', `%${' '.repeat(padding)}`, ...PDF_BODY].join('\n'));
  // sharp writes a .v file for that extension.
  const rows = Math.max(30, Math.ceil(padding / (40 * 3)));
  const vips = path.join(folder, 'native.v');
  await sharp({ create: { width: 40, height: rows, channels: 3, background: { r: 200, g: 30, b: 30 } } }).toFile(vips);
  await rename(vips, path.join(folder, 'native.jpg'));
  return { 'drawing.jpg': 'SVG', 'document.png': 'PDF', 'native.jpg': 'a libvips image' };
}

/**
 * Links in `folder` with an image's name to things that are not regular files: `device.jpg` to
 * /dev/zero (endless bytes) and `fifo.jpg` to a FIFO made beside it (`<folder>.fifo`), which a
 * plain open would wait on for a writer. Returns the FIFO's path.
 */
export async function nonRegularLinks(folder: string): Promise<string> {
  const fifo = `${folder}.fifo`;
  execFileSync('mkfifo', [fifo]);
  await symlink('/dev/zero', path.join(folder, 'device.jpg'));
  await symlink(fifo, path.join(folder, 'fifo.jpg'));
  return fifo;
}

/** The colour of everyReadFormat's pictures. */
export const FORMAT_COLOUR: Rgb = [30, 140, 220];

/**
 * One picture of each kind tsmosaic reads, in `folder`, each of FORMAT_COLOUR: JPEG (RGB and
 * CMYK), PNG (8-bit with alpha, 16-bit, palette), WebP (still and animated), GIF (animated), TIFF,
 * AVIF, and HEIF (brand mif1, AV1-coded: this sharp has no HEVC). Animated pictures have a black
 * second frame. Returns the names, each with how far decoding it may move the colour (CMYK's
 * gamut shifts it most).
 */
export async function everyReadFormat(folder: string): Promise<Record<string, number>> {
  const [r, g, b] = FORMAT_COLOUR;
  const solid = (channels: 3 | 4 = 3, background: sharp.Colour = { r, g, b }): sharp.Sharp =>
    sharp({ create: { width: 40, height: 30, channels, background } });
  const frames = [await solid().png().toBuffer(), await solid(3, '#000000').png().toBuffer()];
  const animated = (): sharp.Sharp => sharp(frames, { join: { animated: true } });
  const pictures: Record<string, [sharp.Sharp, number]> = {
    'rgb.jpg': [solid().jpeg(), 6],
    'cmyk.jpg': [solid().toColourspace('cmyk').jpeg(), 50],
    'alpha.png': [solid(4, { r, g, b, alpha: 1 }).png(), 1],
    'sixteen.png': [solid().toColourspace('rgb16').png(), 1],
    'palette.png': [solid().png({ palette: true }), 12],
    'still.webp': [solid().webp({ lossless: true }), 1],
    'animated.webp': [animated().webp({ lossless: true }), 1],
    'animated.gif': [animated().gif(), 12],
    'picture.tif': [solid().tiff(), 1],
    'picture.avif': [solid().avif({ lossless: true }), 6],
  };
  const tolerances: Record<string, number> = {};
  for (const [name, [image, tolerance]] of Object.entries(pictures)) {
    await image.toFile(path.join(folder, name));
    tolerances[name] = tolerance;
  }
  // sharp writes AV1-coded HEIF as AVIF; with the brand mif1 it is plain HEIF.
  const heif = await solid().avif({ lossless: true }).toBuffer();
  heif.write('mif1', 8, 'latin1');
  await writeFile(path.join(folder, 'picture.heif'), heif);
  tolerances['picture.heif'] = 6;
  return tolerances;
}

/**
 * `count` small pictures in `folder` (some in subfolders), each a gradient between two colours
 * with noise, JPEG or PNG, of varied sizes: distinct tiles and features for every picture.
 * The same `seed` gives the same files.
 */
export async function variedCollection(folder: string, count: number, seed = 1): Promise<string> {
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const width = 40 + Math.floor(random() * 50);
    const height = 40 + Math.floor(random() * 50);
    const from = [random(), random(), random()].map((value) => value * 255);
    const to = [random(), random(), random()].map((value) => value * 255);
    const pixels = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const along = (x + y) / (width + height);
        for (let c = 0; c < 3; c++) {
          pixels[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, from[c]! + (to[c]! - from[c]!) * along + (random() - 0.5) * 40));
        }
      }
    }
    const name = `${i % 3 === 0 ? 'sub/' : ''}picture-${String(i).padStart(3, '0')}.${i % 2 === 0 ? 'jpg' : 'png'}`;
    await mkdir(path.dirname(path.join(folder, name)), { recursive: true });
    await rawImage(path.join(folder, name), pixels, width, height);
  }
  return folder;
}
