/**
 * `npm run bench`: times tsmosaic against a bare sharp floor and against metapixel on a 2000-image
 * collection, each command as its own process, and prints markdown tables on stdout (progress and
 * setup output go to stderr).
 *
 * Environment: TSMOSAIC_SHARED (default ../shared beside the repo), TSMOSAIC_BENCH_KEEP=1 keeps the
 * temp folder with the indexes, libraries and mosaics.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { measureRounds, runVisible, type Measurement, type Series, type SeriesSpec } from './measure.js';
import { COLLECTION_SIZE, ensureCollection, ensureTools, withWorkFolder, type Tools } from './setup.js';
import { fidelityBench } from './fidelity.js';
import { iconSetBench } from './icon-set.js';
import { compileFloor } from './floor-compile.js';
import { markdownTable, ratioCell, seconds, share, wallCell, type Target } from './table.js';
import { BIN, NODE, REPO_ROOT, sharedFolder } from './paths.js';
import { defaultConcurrency } from '../../src/collection/load-tile.js';

/**
 * Runs of each command, taken in rounds. 7 rather than 5: on these shared 2-core machines one
 * command's wall time swung by up to 30 % between neighbouring runs (the floor 4.11-5.18 s in one
 * bench), and the ratios' lines are a few percent from where they are measured.
 */
const RUNS = 7;
const TILE_SIZE = 20;
const TILES_ACROSS = 200;
const TARGET_PHOTO = 'photo-003.jpg';
const TARGETS = {
  processVsFloor: { max: 1.15 },
  prepareVsProcess: { min: 4 },
  metapixelVsBuild: { min: 6 },
} satisfies Record<string, Target>;

interface BuildSummary {
  width: number;
  height: number;
  columns: number;
  rows: number;
  seconds: number;
  timings: Record<string, number>;
}

interface ProcessSummary {
  tiles: number;
  skipped: unknown[];
  seconds: number;
}

const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

async function main(): Promise<void> {
  const started = performance.now();
  const shared = sharedFolder();
  const target = path.join(shared, 'photos', TARGET_PHOTO);
  if (!existsSync(target)) throw new Error(`target photo not found: ${target} (set TSMOSAIC_SHARED to the shared folder)`);

  const tools = await ensureTools(log);
  const collection = await ensureCollection(shared, tools.pil, log);
  log(`collection ${collection.dir} (${collection.reused ? 'cached' : 'made now'})`);

  log('npm run build');
  const build = await runVisible('npm', ['run', 'build'], { cwd: REPO_ROOT });
  if (build !== 0) throw new Error(`npm run build failed (exit ${build}); not timing a stale dist/`);

  await withWorkFolder('bench', log, (work) => runBench({ work, target, collection: collection.dir, tools }));
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

async function runBench(context: { work: string; target: string; collection: string; tools: Tools }): Promise<void> {
  const { work, target, collection, tools } = context;
  const targetMeta = await sharp(target).metadata();
  const targetWidth = targetMeta.width;
  const targetHeight = targetMeta.height;
  const outWidth = TILES_ACROSS * TILE_SIZE;
  // metapixel cuts the scaled input into --width x --height cells: scaling the target to the
  // mosaic's size gives the same 200-column grid of 20 px tiles.
  const metapixelScale = outWidth / targetWidth;

  const floor = await compileFloor(work);
  const index = (run: number): string => path.join(work, `index-${run}`);
  const library = (run: number): string => path.join(work, `library-${run}`);

  const floorSpec: SeriesSpec = {
    label: 'floor',
    warmUp: true,
    command: () => [NODE, floor, collection, String(TILE_SIZE), String(defaultConcurrency())],
    check: ({ stdout }) => {
      const { files } = JSON.parse(stdout) as { files: number };
      if (files !== COLLECTION_SIZE) throw new Error(`floor decoded ${files} files, expected ${COLLECTION_SIZE}`);
    },
  };
  const processSpec: SeriesSpec = {
    label: 'process-collection',
    warmUp: true,
    command: (run) => [NODE, BIN, 'process-collection', collection, '-o', index(run), '--tile-size', String(TILE_SIZE), '--json', '-q'],
    check: ({ stdout }) => {
      const { tiles, skipped } = JSON.parse(stdout) as ProcessSummary;
      if (tiles !== COLLECTION_SIZE || skipped.length !== 0)
        throw new Error(`process-collection indexed ${tiles} tiles, skipped ${skipped.length}`);
    },
  };
  const prepareSpec: SeriesSpec = {
    label: 'metapixel-prepare',
    // ~25 s a run: the floor and process-collection warm-ups have warmed the page cache already.
    warmUp: false,
    // It appends to tables.mxt and renames clashing thumbnails, so each run gets an empty folder.
    command: async (run) => {
      await mkdir(library(run));
      return ['metapixel-prepare', `--width=${TILE_SIZE}`, `--height=${TILE_SIZE}`, collection, library(run)];
    },
    check: async (_measurement, run) => {
      const thumbnails = (await readdir(library(run))).filter((name) => name.endsWith('.png')).length;
      if (thumbnails !== COLLECTION_SIZE) throw new Error(`metapixel-prepare made ${thumbnails} thumbnails, expected ${COLLECTION_SIZE}`);
    },
  };
  const [floorSeries, processSeries, prepareSeries] = await measureRounds(
    tools.metapixel ? [floorSpec, processSpec, prepareSpec] : [floorSpec, processSpec],
    RUNS,
    log,
  );

  const outPng = path.join(work, 'tsmosaic.png');
  const metapixelPng = path.join(work, 'metapixel.png');
  const buildArgs = (out: string, ...options: string[]): string[] => [
    NODE,
    BIN,
    'build',
    index(RUNS),
    target,
    '--tiles-across',
    String(TILES_ACROSS),
    '-o',
    out,
    '--json',
    '--no-measure',
    '-q',
    ...options,
  ];
  const buildSpec: SeriesSpec = {
    label: 'build',
    warmUp: true,
    command: () => buildArgs(outPng),
    check: ({ stdout }) => {
      const { width, height } = JSON.parse(stdout) as BuildSummary;
      if (width !== outWidth) throw new Error(`tsmosaic build made a ${width}x${height} mosaic, expected ${outWidth} px wide`);
    },
  };
  // pycollage's method, what the plain prototype did (mean RGB, no rules): shown beside the
  // defaults (perceptual matching, no picture repeated within 1.5 cells), which the target is about.
  const rgbBuildSpec: SeriesSpec = {
    ...buildSpec,
    label: 'build --metric rgb',
    command: () => buildArgs(path.join(work, 'tsmosaic-rgb.png'), '--metric', 'rgb', '--min-distance', '0'),
  };
  const metapixelSpec: SeriesSpec = {
    label: 'metapixel',
    warmUp: true,
    command: () => [
      'metapixel',
      '--metapixel',
      target,
      metapixelPng,
      '--library',
      library(RUNS),
      `--width=${TILE_SIZE}`,
      `--height=${TILE_SIZE}`,
      `--scale=${metapixelScale}`,
    ],
  };
  const [buildSeries, rgbBuildSeries, metapixelSeries] = await measureRounds(
    tools.metapixel ? [buildSpec, rgbBuildSpec, metapixelSpec] : [buildSpec, rgbBuildSpec],
    RUNS,
    log,
  );
  if (floorSeries === undefined || processSeries === undefined || buildSeries === undefined || rgbBuildSeries === undefined)
    throw new Error('a tsmosaic series is missing');
  const tsmosaicOut = await sharp(outPng).metadata();
  const metapixelOut = metapixelSeries === undefined ? undefined : await sharp(metapixelPng).metadata();

  const buildMedian = JSON.parse(buildSeries.medianRun.stdout) as BuildSummary;
  const missing = tools.metapixelMissing ?? 'metapixel not installed';
  const measuredRow = (step: string, tool: string, series: Series, ratio: string[]): string[] => [
    step,
    tool,
    wallCell(series),
    seconds(series.cpuSeconds),
    series.peakRssMb.toFixed(0),
    ...ratio,
  ];
  const missingRow = (step: string, tool: string): string[] => [step, tool, `n/a: ${missing}`, 'n/a', 'n/a', 'n/a', '', 'n/a'];

  const out: string[] = [];
  out.push(`## tsmosaic bench (${new Date().toISOString()})`, '');
  out.push(
    `- machine: ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), tsmosaic and the floor keep ${defaultConcurrency()} pictures in flight`,
  );
  out.push(`- collection: ${COLLECTION_SIZE} JPEGs (make-collection seed 2000) in ${collection}`);
  out.push(`- target: ${path.basename(target)} ${targetWidth}x${targetHeight}; ${TILES_ACROSS} tiles across, ${TILE_SIZE} px tiles, PNG`);
  out.push(`- tsmosaic build output: ${tsmosaicOut.width}x${tsmosaicOut.height} (${buildMedian.columns}x${buildMedian.rows} tiles)`);
  out.push(
    metapixelOut === undefined
      ? `- metapixel: ${missing}`
      : `- metapixel output: ${metapixelOut.width}x${metapixelOut.height} (checked with sharp) from \`--width=${TILE_SIZE} --height=${TILE_SIZE} --scale=${metapixelScale}\`, default metric (subpixel) and search`,
  );
  out.push(
    `- each command is its own process, timed by a fresh python3 (wall = perf_counter around subprocess.run, peak RSS = RUSAGE_CHILDREN ru_maxrss, i.e. the largest single process of the command); CPU = user + system of the command and its children; medians of ${RUNS} runs taken in rounds (each compared command once per round), after one warm-up except metapixel-prepare`,
  );
  out.push('');

  out.push(
    ...markdownTable(
      ['step', 'tool', `wall s (median; min–max of ${RUNS})`, 'CPU s', 'peak RSS MB', 'ratio (wall)', 'target', 'result'],
      [
        measuredRow('decode + resize (floor)', 'node + sharp only (test/bench/floor.ts)', floorSeries, ['', '', '']),
        measuredRow(
          'index the collection',
          '`tsmosaic process-collection`',
          processSeries,
          ratioCell(
            processSeries.wallSeconds / floorSeries.wallSeconds,
            processSeries.cpuSeconds / floorSeries.cpuSeconds,
            'floor',
            TARGETS.processVsFloor,
          ),
        ),
        prepareSeries === undefined
          ? missingRow('index the collection', '`metapixel-prepare`')
          : measuredRow(
              'index the collection',
              '`metapixel-prepare`',
              prepareSeries,
              ratioCell(
                prepareSeries.wallSeconds / processSeries.wallSeconds,
                prepareSeries.cpuSeconds / processSeries.cpuSeconds,
                'process-collection',
                TARGETS.prepareVsProcess,
              ),
            ),
        measuredRow('build the mosaic', '`tsmosaic build`', buildSeries, ['', '', '']),
        metapixelSeries === undefined
          ? missingRow('build the mosaic', '`metapixel --metapixel`')
          : measuredRow(
              'build the mosaic',
              '`metapixel --metapixel`',
              metapixelSeries,
              ratioCell(
                metapixelSeries.wallSeconds / buildSeries.wallSeconds,
                metapixelSeries.cpuSeconds / buildSeries.cpuSeconds,
                'build',
                TARGETS.metapixelVsBuild,
              ),
            ),
        measuredRow(
          'build the mosaic',
          "`tsmosaic build --metric rgb --min-distance 0` (pycollage's method; no target)",
          rgbBuildSeries,
          metapixelSeries === undefined
            ? ['', '', '']
            : [`metapixel takes ${(metapixelSeries.wallSeconds / rgbBuildSeries.wallSeconds).toFixed(2)}x`, '', ''],
        ),
      ],
    ),
  );
  out.push('');
  out.push(...buildBreakdown(buildSeries.medianRun, buildMedian));
  out.push('');
  out.push(
    ...(await fidelityBench({
      node: NODE,
      bin: BIN,
      index: index(RUNS),
      library: tools.metapixel ? library(RUNS) : undefined,
      photos: path.dirname(target),
      work,
      tilesAcross: TILES_ACROSS,
      tileSize: TILE_SIZE,
      log,
    })),
  );
  out.push('');
  out.push(
    ...(await iconSetBench({
      node: NODE,
      bin: BIN,
      photos: path.dirname(target),
      work,
      tilesAcross: TILES_ACROSS,
      tileSize: TILE_SIZE,
      log,
    })),
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

/** Where build's wall time goes, from its --json timings, for the run with the median wall time. */
function buildBreakdown(run: Measurement, summary: BuildSummary): string[] {
  const wall = run.wallSeconds;
  const timed = Object.values(summary.timings).reduce((sum, value) => sum + value, 0);
  const rows: string[][] = [
    [
      'start-up (wall − reported seconds: node, module loading, exit)',
      seconds(wall - summary.seconds, 3),
      share(wall - summary.seconds, wall),
    ],
    [
      'untimed inside build (reported seconds − sum of timings: option checks, manifest, target header, anything after encode)',
      seconds(summary.seconds - timed, 3),
      share(summary.seconds - timed, wall),
    ],
    ...Object.entries(summary.timings).map(([step, value]) => [step, seconds(value, 3), share(value, wall)]),
    ['**wall**', `**${seconds(wall, 3)}**`, '100%'],
  ];
  return [
    `### Where \`tsmosaic build\` spends its time (median run, ${summary.columns}x${summary.rows} tiles)`,
    '',
    ...markdownTable(['part', 'seconds', 'share of wall'], rows),
  ];
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
