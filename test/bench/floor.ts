/**
 * The floor for process-collection: decode every image of a flat folder and downscale it to a
 * square raw tile with sharp, as many at once as tsmosaic loads, and nothing else (no scan library,
 * no features, no index). run.ts compiles this file to plain JS so that tsx's start-up is not timed.
 *
 * Usage: node floor.mjs DIR TILE_SIZE CONCURRENCY   prints {"files", "bytes", "concurrency"} on stdout;
 * the bench passes tsmosaic's tile size and its default number of pictures in flight.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif|hei[cf])$/i;

const [dir, tileSizeArgument, concurrencyArgument] = process.argv.slice(2);
if (dir === undefined || tileSizeArgument === undefined || concurrencyArgument === undefined) {
  process.stderr.write('usage: floor DIR TILE_SIZE CONCURRENCY\n');
  process.exit(2);
}
const tileSize = Number(tileSizeArgument);
// As tsmosaic's CLI: every file is decoded once, so libvips' operation cache only costs time
// (measured here: the floor took 7.0 s with it and 5.7 s without on the 2000-image collection).
sharp.cache(false);
const files = (await readdir(dir)).filter((name) => IMAGE_FILE.test(name)).sort();
// As many at once as processCollection's default `concurrency` (given by the bench).
const concurrency = Number(concurrencyArgument);

let next = 0;
let bytes = 0;
const worker = async (): Promise<void> => {
  while (next < files.length) {
    const name = files[next++]!;
    // The decode-relevant options of loadTile: shrink-on-load happens inside resize for JPEG.
    const pixels = await sharp(path.join(dir, name), { sequentialRead: true })
      .resize(tileSize, tileSize, { fit: 'cover' })
      .raw()
      .toBuffer();
    bytes += pixels.length;
  }
};
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
process.stdout.write(`${JSON.stringify({ files: files.length, bytes, concurrency })}\n`);
