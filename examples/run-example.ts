/**
 * `npm run example`: builds a photomosaic from the photos in examples/photos/ with the real CLI.
 *
 * 1. Cuts a few hundred deterministic crops (seeded PRNG: position, size, aspect, some rotated or
 *    mirrored) out of the example photos into a temporary collection folder under os.tmpdir().
 * 2. Runs `node bin/tsmosaic.js process-collection` on that folder, then
 *    `node bin/tsmosaic.js build` with one of the photos as the target.
 * 3. Prints the mosaic's path on stdout; the temporary folder is removed in every case.
 *
 * `npm run example -- --poster` makes a 60 x 40 cm print at 300 dpi instead (./example-poster.png,
 * 7087 x 4724 px), from crops kept larger, its tiles drawn from them (see README, "Make a poster").
 *
 * Needs dist/ (built by `npm ci` through the prepare script, or by `npm run build`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { seededRandom } from '../src/match/random.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PHOTOS = path.join(ROOT, 'examples', 'photos');
const BIN = path.join(ROOT, 'bin', 'tsmosaic.js');
const TARGET = path.join(PHOTOS, 'honey-bee.jpg');
const POSTER = process.argv.includes('--poster');
const OUTPUT = POSTER ? './example-poster.png' : './example-mosaic.png';

/** Seed of the crop PRNG: the same crops, hence the same mosaic, on every run. */
const SEED = 0x7a11e5;
/** How many crops make up the tile collection (taken from the photos in turn). */
const CROPS = 600;
/** Longest side of a saved crop: plenty for 40 px tiles, and small files keep indexing fast; a poster draws its tiles (71 px) from the crops. */
const CROP_MAX_SIDE = POSTER ? 480 : 160;
/** `process-collection --tile-size`: edge of the tiles stored in the index. */
const INDEX_TILE_SIZE = 40;
/** `build --tiles-across` and `--tile-size`: a 100 x 79 grid of 24 px tiles, 2400 x 1896 px. */
const TILES_ACROSS = 100;
const OUTPUT_TILE_SIZE = 24;

interface Photo {
  file: string;
  /** Decoded once as raw interleaved pixels, so each crop is a cheap extract. */
  pixels: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

interface Crop {
  photo: Photo;
  left: number;
  top: number;
  width: number;
  height: number;
  rotate: 0 | 90 | 180 | 270;
  flop: boolean;
  flip: boolean;
}

const ASPECTS = [1, 1, 4 / 3, 3 / 4, 3 / 2, 2 / 3, 16 / 9, 9 / 16] as const;

/**
 * Picks a crop of `photo`: an edge of 6-45 % of its short side (mostly small: small crops have
 * clearer colours, large ones show more of the picture), one of a few aspects, anywhere inside
 * it; 30 % are turned by 90/180/270 degrees, 30 % mirrored left-right, 10 % upside down.
 */
function planCrop(photo: Photo, random: () => number): Crop {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const short = Math.min(photo.width, photo.height);
  const edge = short * (0.06 + 0.39 * random() ** 1.5);
  const aspect = pick(ASPECTS);
  const width = Math.max(8, Math.min(photo.width, Math.round(edge * Math.sqrt(aspect))));
  const height = Math.max(8, Math.min(photo.height, Math.round(edge / Math.sqrt(aspect))));
  const left = Math.floor(random() * (photo.width - width + 1));
  const top = Math.floor(random() * (photo.height - height + 1));
  const turn = random();
  const rotate = turn < 0.7 ? 0 : turn < 0.8 ? 90 : turn < 0.9 ? 180 : 270;
  return { photo, left, top, width, height, rotate, flop: random() < 0.3, flip: random() < 0.1 };
}

async function listPhotos(): Promise<Photo[]> {
  const names = (await readdir(PHOTOS)).filter((name) => /\.jpe?g$/i.test(name)).sort();
  if (names.length === 0) throw new Error(`no photos in ${PHOTOS}`);
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(PHOTOS, name);
      const { data, info } = await sharp(file).autoOrient().raw().toBuffer({ resolveWithObject: true });
      return { file, pixels: data, width: info.width, height: info.height, channels: info.channels };
    }),
  );
}

/** Writes CROPS crops into `folder` as crop-NNN.jpg, a few at a time. */
async function cutCrops(photos: Photo[], folder: string): Promise<void> {
  const random = seededRandom(SEED);
  // Plan every crop first, so the set depends on the seed only, not on write order.
  const crops = Array.from({ length: CROPS }, (_, i) => planCrop(photos[i % photos.length]!, random));
  const write = async (crop: Crop, i: number): Promise<void> => {
    // Two pipelines: sharp runs its operations in a fixed order (rotation before extraction when
    // both are set), so cut and shrink first, then turn and mirror the small raw crop.
    const { photo } = crop;
    const { data, info } = await sharp(photo.pixels, { raw: { width: photo.width, height: photo.height, channels: photo.channels } })
      .extract({ left: crop.left, top: crop.top, width: crop.width, height: crop.height })
      .resize(CROP_MAX_SIDE, CROP_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    let image = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
    if (crop.rotate !== 0) image = image.rotate(crop.rotate);
    if (crop.flop) image = image.flop();
    if (crop.flip) image = image.flip();
    await image.jpeg({ quality: 85 }).toFile(path.join(folder, `crop-${String(i).padStart(3, '0')}.jpg`));
  };
  const queue = crops.entries();
  const worker = async (): Promise<void> => {
    for (const [i, crop] of queue) await write(crop, i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(8, os.availableParallelism())) }, worker));
}

/** Shows a path relative to the current folder when it is inside it. */
function display(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

function quote(arg: string): string {
  return /^[\w./:=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The CLI process being waited for, if any. */
let running: ChildProcess | undefined;
/** Set by the first Ctrl-C / SIGTERM. */
let interrupted: NodeJS.Signals | undefined;

/** Runs `node bin/tsmosaic.js ...args`, echoing the command on stderr; resolves with its stdout. */
function tsmosaic(args: string[]): Promise<string> {
  process.stderr.write(`$ ${['node', display(BIN), ...args].map(quote).join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    running = child;
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running = undefined;
      if (code === 0) resolve(stdout.trim());
      else reject(new Error(`tsmosaic ${args[0] ?? ''} failed (${signal ?? `exit code ${String(code)}`})`));
    });
  });
}

function openHint(file: string): string {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'start ""' : 'xdg-open';
  return `open it with: ${opener} ${quote(display(file))}   (or any image viewer)`;
}

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (or `npm ci`) first');
  }
  let mark = performance.now();
  const lap = (): string => {
    const now = performance.now();
    const text = `  (${((now - mark) / 1000).toFixed(1)} s)\n`;
    mark = now;
    return text;
  };
  const temp = await mkdtemp(path.join(os.tmpdir(), 'tsmosaic-example-'));
  const cleanUp = (): void => rmSync(temp, { recursive: true, force: true, maxRetries: 3 });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (running && interrupted === undefined) {
      // Let the CLI stop cleanly; its exit fails the step and the `finally` below removes `temp`.
      interrupted = signal;
      running.kill(signal);
      return;
    }
    cleanUp();
    process.exit(exitCodeFor(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const collection = path.join(temp, 'collection');
    // TSMOSAIC_EXAMPLE_INDEX=<dir> keeps the index there, to try other build options on it.
    const index = process.env.TSMOSAIC_EXAMPLE_INDEX ? path.resolve(process.env.TSMOSAIC_EXAMPLE_INDEX) : path.join(temp, 'index');
    await mkdir(collection);
    const photos = await listPhotos();
    process.stderr.write(`cutting ${CROPS} crops from ${photos.length} photos in ${display(PHOTOS)} into ${collection}\n`);
    await cutCrops(photos, collection);
    process.stderr.write(lap());

    await tsmosaic(['process-collection', collection, '-o', index, '--tile-size', String(INDEX_TILE_SIZE)]);
    process.stderr.write(lap());

    const size = POSTER ? ['--print', '60x40cm'] : ['--tile-size', String(OUTPUT_TILE_SIZE)];
    const output = await tsmosaic(['build', index, display(TARGET), '--tiles-across', String(TILES_ACROSS), ...size, '-o', OUTPUT]);
    process.stderr.write(lap());

    const written = output.split('\n').pop() || path.resolve(OUTPUT);
    process.stdout.write(`${written}\n`);
    process.stderr.write(`${openHint(written)}\n`);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    cleanUp();
  }
}

function exitCodeFor(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}

main().catch((error: unknown) => {
  if (interrupted !== undefined) {
    process.stderr.write(`example interrupted (${interrupted})\n`);
    process.exitCode = exitCodeFor(interrupted);
    return;
  }
  process.stderr.write(`example failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
