/**
 * `npm run bench:scale`: process-collection at scale. Prints markdown tables on stdout (progress
 * and setup output go to stderr):
 * - a second run over an unchanged collection of 10,000 images against the first (target ≥ 20x);
 * - wall time and peak RSS at 1,000 / 5,000 / 25,000 images (time per image within 15%, peak RSS
 *   within 25%);
 * - 30 photos of 12 MP (the shared photos upscaled to 4000x3000 JPEG): process-collection against
 *   metapixel-prepare (≥ 10x faster) and the bare sharp decode floor (≤ 1.3x).
 *
 * Environment: TSMOSAIC_SHARED (default ../shared beside the repo); TSMOSAIC_SCALE_SIZES (default
 * 1000,5000,25000) and TSMOSAIC_INCREMENTAL_SIZE (default 10000) for quicker partial runs;
 * TSMOSAIC_BENCH_KEEP=1 keeps the temp folder.
 */
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { compileFloor } from './floor-compile.js';
import { measure, measureRounds, runVisible, type Series, type SeriesSpec } from './measure.js';
import { ensureCollection, ensureTools } from './setup.js';
import { markdownTable, ratioCell, seconds } from './table.js';
import { BIN, NODE, REPO_ROOT, sharedFolder } from './paths.js';

const TILE_SIZE = 20;
const RUNS = 3;
const PHOTO_COUNT = 30;
const TARGETS = {
  secondRun: { min: 20 },
  timePerImage: { max: 1.15 },
  peakRss: { max: 1.25 },
  prepareVsProcess: { min: 10 },
  processVsFloor: { max: 1.3 },
} as const;


interface ProcessSummary {
  tiles: number;
  processed: number;
  reused: number;
  skipped: unknown[];
}

const log = (message: string): void => {
  process.stderr.write(`bench:scale: ${message}\n`);
};

function sizesFromEnvironment(): { sizes: number[]; incremental: number } {
  const sizes = (process.env.TSMOSAIC_SCALE_SIZES ?? '1000,5000,25000').split(',').map(Number);
  const incremental = Number(process.env.TSMOSAIC_INCREMENTAL_SIZE ?? '10000');
  if (sizes.some((size) => !Number.isInteger(size) || size < 1) || !Number.isInteger(incremental) || incremental < 1) {
    throw new Error('TSMOSAIC_SCALE_SIZES and TSMOSAIC_INCREMENTAL_SIZE take positive integers');
  }
  return { sizes, incremental };
}

async function main(): Promise<void> {
  const started = performance.now();
  const shared = sharedFolder();
  if (!existsSync(path.join(shared, 'photos'))) throw new Error(`shared photos not found in ${shared} (set TSMOSAIC_SHARED)`);
  const { sizes, incremental } = sizesFromEnvironment();
  const tools = await ensureTools(log);
  // One collection of the largest size; smaller ones are its first n files (make-collection draws
  // image i from the seed and i alone), hard-linked into their own folders.
  const largest = Math.max(...sizes, incremental);
  const full = await ensureCollection(shared, tools.pil, log, largest);
  log(`collection ${full.dir} (${full.reused ? 'cached' : 'made now'})`);
  const subset = (size: number): Promise<string> => firstFiles(full.dir, size);

  log('npm run build');
  const build = await runVisible('npm', ['run', 'build'], { cwd: REPO_ROOT });
  if (build !== 0) throw new Error(`npm run build failed (exit ${build}); not timing a stale dist/`);

  const work = await mkdtemp(path.join(os.tmpdir(), 'tsmosaic-bench-scale-'));
  const out: string[] = [];
  try {
    out.push(`## tsmosaic bench:scale (${new Date().toISOString()})`, '');
    out.push(`- machine: ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`);
    out.push(`- collections: the first n images of make-collection seed 2000 (${full.dir}); ${TILE_SIZE} px tiles`);
    out.push('- each command is its own process, timed by a fresh python3 (wall, user + system CPU, peak RSS of the largest process); see test/bench/measure.ts');
    out.push('');
    out.push(...(await secondRun(work, await subset(incremental), incremental)));
    out.push('');
    out.push(...(await growth(work, sizes, subset)));
    out.push('');
    out.push(...(await photos(work, shared, tools.metapixel)));
  } finally {
    if (process.env.TSMOSAIC_BENCH_KEEP === '1') log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(`${out.join('\n')}\n`);
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** A folder holding hard links to the first `size` files of `dir` (made once, cached beside it). */
async function firstFiles(dir: string, size: number): Promise<string> {
  const names = (await readdir(dir)).sort();
  if (size === names.length) return dir;
  const subset = `${dir}-first-${size}`;
  if (existsSync(subset) && (await readdir(subset)).length === size) return subset;
  await rm(subset, { recursive: true, force: true });
  await mkdir(subset);
  for (const name of names.slice(0, size)) await link(path.join(dir, name), path.join(subset, name));
  return subset;
}

function processCommand(collection: string, index: string, ...extra: string[]): string[] {
  return [NODE, BIN, 'process-collection', collection, '-o', index, '--tile-size', String(TILE_SIZE), '--json', '-q', ...extra];
}

function parseSummary(stdout: string, expected: number): ProcessSummary {
  const summary = JSON.parse(stdout) as ProcessSummary;
  if (summary.tiles !== expected || summary.skipped.length !== 0) throw new Error(`process-collection indexed ${summary.tiles} tiles of ${expected}, skipped ${summary.skipped.length}`);
  return summary;
}

/** First run over a collection, then RUNS second runs over it unchanged. */
async function secondRun(work: string, collection: string, size: number): Promise<string[]> {
  const index = path.join(work, `incremental-${size}`);
  log(`first run over ${size} images`);
  const first = await measure(processCommand(collection, index));
  parseSummary(first.stdout, size);
  const spec: SeriesSpec = {
    label: 'second run',
    warmUp: false,
    command: () => processCommand(collection, index),
    check: ({ stdout }) => {
      const { reused } = parseSummary(stdout, size);
      if (reused !== size) throw new Error(`the second run reused ${reused} tiles of ${size}`);
    },
  };
  const [second] = await measureRounds([spec], RUNS, log);
  const row = (label: string, wall: string, cpu: number, rss: number, ratio: string[]): string[] => [label, wall, seconds(cpu), rss.toFixed(0), ...ratio];
  return [
    `### A second run over an unchanged collection of ${size} images`,
    '',
    ...markdownTable(['run', 'wall s', 'CPU s', 'peak RSS MB', 'speed-up (wall)', 'target', 'result'], [
      row('first run (empty index folder)', seconds(first.wallSeconds), first.cpuSeconds, first.peakRssMb, ['', '', '']),
      row(`second run (median of ${RUNS})`, wallCell(second!), second!.cpuSeconds, second!.peakRssMb,
        ratioCell(first.wallSeconds / second!.wallSeconds, first.cpuSeconds / second!.cpuSeconds, 'faster', TARGETS.secondRun)),
    ]),
  ];
}

/** One full run at each size: time per image and peak RSS. */
async function growth(work: string, sizes: number[], subset: (size: number) => Promise<string>): Promise<string[]> {
  const rows: { size: number; wall: number; cpu: number; rss: number }[] = [];
  for (const size of sizes) {
    log(`full run over ${size} images`);
    const measured = await measure(processCommand(await subset(size), path.join(work, `growth-${size}`)));
    parseSummary(measured.stdout, size);
    rows.push({ size, wall: measured.wallSeconds, cpu: measured.cpuSeconds, rss: measured.peakRssMb });
    log(`${size} images: ${measured.wallSeconds.toFixed(2)} s, ${measured.peakRssMb.toFixed(0)} MB`);
    await rm(path.join(work, `growth-${size}`), { recursive: true, force: true });
  }
  const perImage = rows.map(({ size, wall }) => (1000 * wall) / size);
  const spread = (values: number[]): number => Math.max(...values) / Math.min(...values);
  const timeSpread = spread(perImage);
  const cpuSpread = spread(rows.map(({ size, cpu }) => cpu / size));
  const rssSpread = spread(rows.map(({ rss }) => rss));
  return [
    '### Time and peak RSS as the collection grows (one full run each)',
    '',
    ...markdownTable(['images', 'wall s', 'ms per image', 'CPU s', 'peak RSS MB'], rows.map(({ size, wall, cpu, rss }, i) => [String(size), seconds(wall), perImage[i]!.toFixed(2), seconds(cpu), rss.toFixed(0)])),
    '',
    ...markdownTable(['measure', 'largest / smallest', 'target', 'result'], [
      ['wall time per image', `${timeSpread.toFixed(2)}x (CPU per image ${cpuSpread.toFixed(2)}x)`, `≤ ${TARGETS.timePerImage.max}x`, timeSpread <= TARGETS.timePerImage.max ? 'PASS' : 'MISS'],
      ['peak RSS', `${rssSpread.toFixed(2)}x`, `≤ ${TARGETS.peakRss.max}x`, rssSpread <= TARGETS.peakRss.max ? 'PASS' : 'MISS'],
    ]),
  ];
}

/** PHOTO_COUNT 12 MP JPEGs: the shared photos upscaled to 4000x3000, cycling through them. */
async function makePhotos(work: string, shared: string): Promise<string> {
  const dir = path.join(work, 'photos-12mp');
  await mkdir(dir);
  const sources = (await readdir(path.join(shared, 'photos'))).filter((name) => /\.jpe?g$/i.test(name)).sort();
  for (let i = 0; i < PHOTO_COUNT; i++) {
    await sharp(path.join(shared, 'photos', sources[i % sources.length]!))
      .autoOrient()
      .resize(4000, 3000, { fit: 'cover' })
      .jpeg({ quality: 90 })
      .toFile(path.join(dir, `photo-${String(i).padStart(2, '0')}.jpg`));
  }
  return dir;
}

/** process-collection against the sharp floor and metapixel-prepare on 12 MP photos. */
async function photos(work: string, shared: string, metapixel: boolean): Promise<string[]> {
  log(`making ${PHOTO_COUNT} photos of 4000x3000`);
  const dir = await makePhotos(work, shared);
  const floor = await compileFloor(work);
  const index = (run: number): string => path.join(work, `photos-index-${run}`);
  const library = (run: number): string => path.join(work, `photos-library-${run}`);
  const specs: SeriesSpec[] = [
    { label: 'floor (12 MP)', warmUp: true, command: () => [NODE, floor, dir, String(TILE_SIZE)] },
    { label: 'process-collection (12 MP)', warmUp: true, command: (run) => processCommand(dir, index(run)), check: ({ stdout }) => void parseSummary(stdout, PHOTO_COUNT) },
  ];
  if (metapixel) {
    specs.push({
      label: 'metapixel-prepare (12 MP)',
      warmUp: false,
      command: async (run) => {
        await mkdir(library(run));
        return ['metapixel-prepare', `--width=${TILE_SIZE}`, `--height=${TILE_SIZE}`, dir, library(run)];
      },
    });
  }
  const [floorSeries, processSeries, prepareSeries] = await measureRounds(specs, RUNS, log);
  const perImage = (series: Series): string => `${((1000 * series.wallSeconds) / PHOTO_COUNT).toFixed(1)}`;
  const row = (tool: string, series: Series, ratio: string[]): string[] => [tool, wallCell(series), perImage(series), seconds(series.cpuSeconds), series.peakRssMb.toFixed(0), ...ratio];
  return [
    `### ${PHOTO_COUNT} photos of 12 MP (shared photos upscaled to 4000x3000 JPEG q90), median of ${RUNS}`,
    '',
    ...markdownTable(['tool', 'wall s (median; min–max)', 'ms per image', 'CPU s', 'peak RSS MB', 'ratio (wall)', 'target', 'result'], [
      row('decode + resize floor (node + sharp only)', floorSeries!, ['', '', '']),
      row('`tsmosaic process-collection`', processSeries!, ratioCell(processSeries!.wallSeconds / floorSeries!.wallSeconds, processSeries!.cpuSeconds / floorSeries!.cpuSeconds, 'floor', TARGETS.processVsFloor)),
      prepareSeries === undefined
        ? ['`metapixel-prepare`', 'n/a: metapixel not installed', '', '', '', '', '', 'n/a']
        : row('`metapixel-prepare`', prepareSeries, ratioCell(prepareSeries.wallSeconds / processSeries!.wallSeconds, prepareSeries.cpuSeconds / processSeries!.cpuSeconds, 'process-collection', TARGETS.prepareVsProcess)),
    ]),
  ];
}

function wallCell(series: Series): string {
  return `${seconds(series.wallSeconds)} (${seconds(series.minWallSeconds)}–${seconds(series.maxWallSeconds)})`;
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
