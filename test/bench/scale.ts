/**
 * `npm run bench:scale`: process-collection at scale. Prints markdown tables on stdout (progress
 * and setup output go to stderr):
 * - a second run over an unchanged collection of 10,000 images against the first (target ≥ 20x);
 * - wall time and peak RSS at 1,000 / 5,000 / 25,000 images, medians of 3 full runs (at the largest
 *   size, time per image at most 1.15x and peak RSS at most 1.25x the smallest size's);
 * - 12 MP photos (the shared photos upscaled to 4000x3000 JPEG), 30 and 90 of them: time per
 *   image of process-collection against metapixel-prepare (≥ 10x faster) and the bare sharp
 *   decode floor (≤ 1.3x).
 *
 * Environment: TSMOSAIC_SHARED (default ../shared beside the repo); TSMOSAIC_SCALE_SIZES (default
 * 1000,5000,25000) and TSMOSAIC_INCREMENTAL_SIZE (default 10000) for quicker partial runs, and
 * TSMOSAIC_SCALE_PARTS (default second,growth,photos) to run only some of the three;
 * TSMOSAIC_BENCH_KEEP=1 keeps the temp folder.
 */
import { existsSync } from 'node:fs';
import { link, mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { compileFloor } from './floor-compile.js';
import { defaultConcurrency } from '../../src/collection/load-tile.js';
import { measure, measureRounds, runVisible, type Series, type SeriesSpec } from './measure.js';
import { ensureCollection, ensureTools, withWorkFolder } from './setup.js';
import { markdownTable, ratioCell, seconds, wallCell } from './table.js';
import { BIN, NODE, REPO_ROOT, sharedFolder } from './paths.js';

const TILE_SIZE = 20;
const RUNS = 3;
/** Rounds of full runs at each size: single runs of the 1,000-image collection (3 s) varied by 20% with the machine. */
const GROWTH_RUNS = 3;
const PHOTO_COUNT = 30;
/** The larger 12 MP set is this many times PHOTO_COUNT. */
const LARGER_SET = 3;
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
  const parts = new Set((process.env.TSMOSAIC_SCALE_PARTS ?? 'second,growth,photos').split(','));
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

  const out: string[] = [];
  await withWorkFolder('bench-scale', log, async (work) => {
    out.push(`## tsmosaic bench:scale (${new Date().toISOString()})`, '');
    out.push(
      `- machine: ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`,
    );
    out.push(`- collections: the first n images of make-collection seed 2000 (${full.dir}); ${TILE_SIZE} px tiles`);
    out.push(
      '- each command is its own process, timed by a fresh python3 (wall, user + system CPU, peak RSS of the largest process); see test/bench/measure.ts',
    );
    out.push('');
    if (parts.has('second')) out.push(...(await secondRun(work, await subset(incremental), incremental)), '');
    if (parts.has('growth')) out.push(...(await growth(work, sizes, subset)), '');
    if (parts.has('photos')) out.push(...(await photos(work, shared, tools.metapixel)));
  });
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
  if (summary.tiles !== expected || summary.skipped.length !== 0)
    throw new Error(`process-collection indexed ${summary.tiles} tiles of ${expected}, skipped ${summary.skipped.length}`);
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
  const row = (label: string, wall: string, cpu: number, rss: number, ratio: string[]): string[] => [
    label,
    wall,
    seconds(cpu),
    rss.toFixed(0),
    ...ratio,
  ];
  return [
    `### A second run over an unchanged collection of ${size} images`,
    '',
    ...markdownTable(
      ['run', 'wall s', 'CPU s', 'peak RSS MB', 'speed-up (wall)', 'target', 'result'],
      [
        row('first run (empty index folder)', seconds(first.wallSeconds), first.cpuSeconds, first.peakRssMb, ['', '', '']),
        row(
          `second run (median of ${RUNS})`,
          wallCell(second!),
          second!.cpuSeconds,
          second!.peakRssMb,
          ratioCell(first.wallSeconds / second!.wallSeconds, first.cpuSeconds / second!.cpuSeconds, 'faster', TARGETS.secondRun),
        ),
      ],
    ),
  ];
}

/** Full runs at each size, GROWTH_RUNS rounds over the sizes in turn: median time per image and peak RSS. */
async function growth(work: string, sizes: number[], subset: (size: number) => Promise<string>): Promise<string[]> {
  const out = (size: number): string => path.join(work, `growth-${size}`);
  const series = await measureRounds(
    sizes.map((size) => ({
      label: `full run over ${size} images`,
      warmUp: false,
      // A fresh index folder each run: over the last run's index it would be an incremental run.
      command: async () => {
        await rm(out(size), { recursive: true, force: true });
        return processCommand(await subset(size), out(size));
      },
      check: ({ stdout }) => void parseSummary(stdout, size),
    })),
    GROWTH_RUNS,
    log,
  );
  for (const size of sizes) await rm(out(size), { recursive: true, force: true });
  const rows = series.map(({ wallSeconds: wall, cpuSeconds: cpu, peakRssMb: rss }, i) => ({
    size: sizes[i]!,
    wall,
    cpu,
    rss,
    msPerImage: (1000 * wall) / sizes[i]!,
  }));
  // Growth: the largest collection's value over the smallest's (not the greatest over the least,
  // which counted the smallest run's start-up, ~0.4 s of its ~3 s, as a cost of growing).
  const largest = rows.reduce((a, b) => (b.size > a.size ? b : a));
  const smallest = rows.reduce((a, b) => (b.size < a.size ? b : a));
  const largestOverSmallest = (value: (row: (typeof rows)[number]) => number): number => value(largest) / value(smallest);
  const timeGrowth = largestOverSmallest(({ msPerImage }) => msPerImage);
  const cpuGrowth = largestOverSmallest(({ size, cpu }) => cpu / size);
  const rssGrowth = largestOverSmallest(({ rss }) => rss);
  return [
    `### Time and peak RSS as the collection grows (full runs, median of ${GROWTH_RUNS})`,
    '',
    ...markdownTable(
      ['images', 'wall s', 'ms per image', 'CPU s', 'peak RSS MB'],
      rows.map(({ size, wall, cpu, rss, msPerImage }) => [
        String(size),
        seconds(wall),
        msPerImage.toFixed(2),
        seconds(cpu),
        rss.toFixed(0),
      ]),
    ),
    '',
    ...markdownTable(
      ['measure', 'largest / smallest', 'target', 'result'],
      [
        [
          'wall time per image',
          `${timeGrowth.toFixed(2)}x (CPU per image ${cpuGrowth.toFixed(2)}x)`,
          `≤ ${TARGETS.timePerImage.max}x`,
          timeGrowth <= TARGETS.timePerImage.max ? 'PASS' : 'MISS',
        ],
        ['peak RSS', `${rssGrowth.toFixed(2)}x`, `≤ ${TARGETS.peakRss.max}x`, rssGrowth <= TARGETS.peakRss.max ? 'PASS' : 'MISS'],
      ],
    ),
  ];
}

/** PHOTO_COUNT 12 MP JPEGs: the shared photos upscaled to 4000x3000, cycling through them; and a folder of them LARGER_SET times over (hard links). */
async function makePhotos(work: string, shared: string): Promise<{ small: string; large: string }> {
  const small = path.join(work, 'photos-12mp');
  const large = path.join(work, `photos-12mp-x${LARGER_SET}`);
  await mkdir(small);
  await mkdir(large);
  const sources = (await readdir(path.join(shared, 'photos'))).filter((name) => /\.jpe?g$/i.test(name)).sort();
  for (let i = 0; i < PHOTO_COUNT; i++) {
    const name = `photo-${String(i).padStart(2, '0')}.jpg`;
    await sharp(path.join(shared, 'photos', sources[i % sources.length]!))
      .autoOrient()
      .resize(4000, 3000, { fit: 'cover' })
      .jpeg({ quality: 90 })
      .toFile(path.join(small, name));
    for (let copy = 0; copy < LARGER_SET; copy++) await link(path.join(small, name), path.join(large, `${copy}-${name}`));
  }
  return { small, large };
}

/**
 * process-collection against the sharp floor and metapixel-prepare on 12 MP photos, per image:
 * each tool runs on PHOTO_COUNT photos and on LARGER_SET times as many, and the difference of the
 * two wall times over the difference of the counts is its time per image, without the fixed cost
 * of starting (node and its modules, or metapixel's) that a run over 30 files is dominated by.
 */
async function photos(work: string, shared: string, metapixel: boolean): Promise<string[]> {
  log(`making ${PHOTO_COUNT} photos of 4000x3000`);
  const { small, large } = await makePhotos(work, shared);
  const floor = await compileFloor(work);
  const largeCount = PHOTO_COUNT * LARGER_SET;
  const specs: SeriesSpec[] = [];
  for (const [dir, count] of [
    [small, PHOTO_COUNT],
    [large, largeCount],
  ] as const) {
    const index = (run: number): string => path.join(work, `photos-index-${count}-${run}`);
    const library = (run: number): string => path.join(work, `photos-library-${count}-${run}`);
    specs.push(
      {
        label: `floor (${count} x 12 MP)`,
        warmUp: true,
        command: () => [NODE, floor, dir, String(TILE_SIZE), String(defaultConcurrency())],
      },
      {
        label: `process-collection (${count} x 12 MP)`,
        warmUp: true,
        command: (run) => processCommand(dir, index(run)),
        check: ({ stdout }) => void parseSummary(stdout, count),
      },
    );
    if (metapixel) {
      specs.push({
        label: `metapixel-prepare (${count} x 12 MP)`,
        warmUp: false,
        command: async (run) => {
          await mkdir(library(run));
          return ['metapixel-prepare', `--width=${TILE_SIZE}`, `--height=${TILE_SIZE}`, dir, library(run)];
        },
      });
    }
  }
  const series = await measureRounds(specs, RUNS, log);
  const tools = metapixel ? 3 : 2;
  const [floorSmall, processSmall, prepareSmall] = series.slice(0, tools);
  const [floorLarge, processLarge, prepareLarge] = series.slice(tools);
  const perImage = (a: Series, b: Series): number => (b.wallSeconds - a.wallSeconds) / (largeCount - PHOTO_COUNT);
  const floorPer = perImage(floorSmall!, floorLarge!);
  const processPer = perImage(processSmall!, processLarge!);
  const row = (tool: string, a: Series, b: Series, ratio: string[]): string[] => [
    tool,
    wallCell(a),
    wallCell(b),
    (1000 * perImage(a, b)).toFixed(1),
    ((1000 * a.wallSeconds) / PHOTO_COUNT).toFixed(1),
    b.peakRssMb.toFixed(0),
    ...ratio,
  ];
  return [
    `### 12 MP photos (shared photos upscaled to 4000x3000 JPEG q90): ${PHOTO_COUNT} and ${largeCount} of them, median of ${RUNS}`,
    '',
    `Time per image = (wall at ${largeCount} − wall at ${PHOTO_COUNT}) / ${largeCount - PHOTO_COUNT}: what each further photo costs, without start-up. The ratios compare that; \`whole run / ${PHOTO_COUNT}\` also counts start-up.`,
    '',
    ...markdownTable(
      [
        'tool',
        `wall s at ${PHOTO_COUNT}`,
        `wall s at ${largeCount}`,
        'ms per image',
        `whole run / ${PHOTO_COUNT}, ms`,
        `peak RSS MB at ${largeCount}`,
        'ratio (per image)',
        'target',
        'result',
      ],
      [
        row('decode + resize floor (node + sharp only)', floorSmall!, floorLarge!, ['', '', '']),
        row(
          '`tsmosaic process-collection`',
          processSmall!,
          processLarge!,
          ratioCell(processPer / floorPer, undefined, 'floor', TARGETS.processVsFloor),
        ),
        prepareSmall === undefined || prepareLarge === undefined
          ? ['`metapixel-prepare`', 'n/a: metapixel not installed', '', '', '', '', '', '', 'n/a']
          : row(
              '`metapixel-prepare`',
              prepareSmall,
              prepareLarge,
              ratioCell(perImage(prepareSmall, prepareLarge) / processPer, undefined, 'process-collection', TARGETS.prepareVsProcess),
            ),
      ],
    ),
  ];
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
