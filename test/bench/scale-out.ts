/**
 * `npm run bench:scale-out`: indexing in parts and merging them. Prints markdown tables on stdout
 * (progress and setup output go to stderr):
 * - the GNU parallel recipe (examples/scale-out/parallel-index.sh) indexing 2,000 pictures in 4
 *   parts on this machine's cores and merging them, against one process-collection run over the
 *   same files (target ≤ 1.15x), alternated, medians of 7; the merge alone is timed after each;
 *   the same at 10,000 pictures, medians of 3;
 * - merge of generated parts: 16 parts of 62,500 pictures, 64 parts of 250,000 and 16 parts of the
 *   same 250,000 (5 crops each, 1.25 million tiles): peak RSS under 512 MB, time per tile at 250,000
 *   within 1.15x of 62,500's (linear), peak RSS of 64 parts within 1.10x of 16 parts' (it does not
 *   grow with the part count); medians of 3;
 * - the recipe's Dockerfile built and run, where a Docker daemon answers.
 *
 * Environment: TSMOSAIC_SHARED (default ../shared beside the repo); TSMOSAIC_SCALE_OUT_PARTS
 * (default parallel,merge,docker) to run only some; TSMOSAIC_SCALE_OUT_SIZES (default 2000,10000)
 * for the recipe's collections; TSMOSAIC_SCALE_OUT_PICTURES (default 250000) for a quicker merge bench; TSMOSAIC_BENCH_KEEP=1 keeps the temp folder. Needs GNU parallel and
 * Debian's python3-pil (installed with apt-get when run as root and missing).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { readManifest } from '../../src/index-store/read-index.js';
import { GENERATED_CROPS, GENERATED_TILE, writeGeneratedPart } from './generated-parts.js';
import { measureRounds, runMeasured, runVisible, succeeds, type Series } from './measure.js';
import { BIN, NODE, REPO_ROOT, sharedFolder } from './paths.js';
import { COLLECTION_SIZE, ensureCollection, ensurePackages, hasPil, withWorkFolder } from './setup.js';
import { markdownTable, ratioCell, seconds, wallCell } from './table.js';

const RECIPE = path.join(REPO_ROOT, 'examples', 'scale-out', 'parallel-index.sh');
const DOCKERFILE = path.join(REPO_ROOT, 'examples', 'scale-out', 'Dockerfile');
/** Parts of the recipe run, as in the issue: twice the cores of the project's machines. */
const RECIPE_PARTS = 4;
const RUNS = 7;
/** Rounds at the larger collection sizes (a round of 10,000 pictures takes about a minute). */
const LARGER_RUNS = 3;
const MERGE_RUNS = 3;
const TARGETS = {
  recipeVsSingle: { max: 1.15 },
  timePerTile: { max: 1.15 },
  rssByParts: { max: 1.1 },
  peakRssMb: 512,
} as const;

const log = (message: string): void => {
  process.stderr.write(`bench:scale-out: ${message}\n`);
};

/** The environment of the recipe's commands: this checkout's tsmosaic, run by this node. */
function recipeCommand(...args: string[]): string[] {
  return ['env', `PATH=${path.dirname(NODE)}${path.delimiter}${process.env.PATH ?? ''}`, `TSMOSAIC=${BIN}`, RECIPE, ...args];
}

async function pictures(index: string): Promise<number> {
  return (await readManifest(index)).tileCount;
}

/** The recipe against one process-collection run over the same collection. */
async function recipeBench(work: string, collection: string, size: number, runs: number): Promise<string[]> {
  const single = (run: number): string => path.join(work, `single-${run}`);
  const recipe = (run: number, jobs: string): string => path.join(work, `recipe-j${jobs}-${run}`, 'index');
  const merged = (run: number): string => path.join(work, `merge-only-${run}`);
  const fresh = async (...folders: string[]): Promise<void> => {
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  };
  const checkCount = async (index: string): Promise<void> => {
    const count = await pictures(index);
    if (count !== size) throw new Error(`${index} holds ${count} pictures, expected ${size}`);
  };
  const [alone, shipped, moreJobs, mergeOnly] = await measureRounds(
    [
      {
        label: 'process-collection',
        warmUp: true,
        command: async (run) => {
          await fresh(single(run));
          return [NODE, BIN, 'process-collection', collection, '--out', single(run), '-q'];
        },
        check: (_, run) => checkCount(single(run)),
      },
      {
        label: `parallel-index.sh (${RECIPE_PARTS} parts, parallel's default jobs)`,
        warmUp: true,
        command: async (run) => {
          await fresh(path.dirname(recipe(run, 'default')));
          return recipeCommand(collection, recipe(run, 'default'), String(RECIPE_PARTS));
        },
        check: (_, run) => checkCount(recipe(run, 'default')),
      },
      {
        label: `parallel-index.sh -j ${RECIPE_PARTS}`,
        warmUp: false,
        command: async (run) => {
          await fresh(path.dirname(recipe(run, '4')));
          return recipeCommand('-j', String(RECIPE_PARTS), collection, recipe(run, '4'), String(RECIPE_PARTS));
        },
        check: (_, run) => checkCount(recipe(run, '4')),
      },
      {
        label: 'merge of the parts alone',
        warmUp: false,
        command: async (run) => {
          await fresh(merged(run));
          const parts = Array.from({ length: RECIPE_PARTS }, (_, i) => `${recipe(run, 'default')}.parts/part-${i + 1}`);
          return [NODE, BIN, 'merge', '--out', merged(run), ...parts, '-q'];
        },
        check: (_, run) => checkCount(merged(run)),
      },
    ],
    runs,
    log,
  );
  const row = (label: string, series: Series, ratio: string[]): string[] => [
    label,
    wallCell(series),
    seconds(series.cpuSeconds),
    series.peakRssMb.toFixed(0),
    ...ratio,
  ];
  return [
    `### ${size.toLocaleString('en')} pictures in ${RECIPE_PARTS} parts with GNU parallel, then merged (alternated, median of ${runs})`,
    '',
    ...markdownTable(
      ['run', 'wall s (min–max)', 'CPU s', 'peak RSS MB', 'ratio (wall)', 'target', 'result'],
      [
        row('one `process-collection`', alone!, ['', '', '']),
        row(
          `\`parallel-index.sh\`: ${RECIPE_PARTS} parts, ${os.availableParallelism()} at once (parallel's default), and the merge`,
          shipped!,
          ratioCell(shipped!.wallSeconds / alone!.wallSeconds, shipped!.cpuSeconds / alone!.cpuSeconds, 'one run', TARGETS.recipeVsSingle),
        ),
        row(`the same with \`-j ${RECIPE_PARTS}\` (all parts at once)`, moreJobs!, [
          `${(moreJobs!.wallSeconds / alone!.wallSeconds).toFixed(2)}x one run`,
          '',
          '',
        ]),
        row(`of which the merge (run again alone)`, mergeOnly!, [
          `${(mergeOnly!.wallSeconds / alone!.wallSeconds).toFixed(2)}x one run`,
          '',
          '',
        ]),
      ],
    ),
  ];
}

/** One merge configuration: `parts` parts holding `pictures` pictures. */
interface MergeCase {
  label: string;
  parts: number;
  pictures: number;
  inputs: string[];
}

/** merge of generated parts at two sizes and two part counts. */
async function mergeBench(work: string, total: number): Promise<string[]> {
  const many = 64;
  const few = 16;
  const generate = async (folder: string, parts: number, count: number): Promise<string[]> => {
    const started = performance.now();
    const inputs: string[] = [];
    for (let part = 0; part < count; part++) {
      inputs.push(path.join(folder, `part-${part}`));
      await writeGeneratedPart(inputs[part]!, total, parts, part);
    }
    log(`generated ${count} of ${parts} parts of ${total} pictures in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return inputs;
  };
  const manyParts = await generate(path.join(work, `parts-${many}`), many, many);
  const fewParts = await generate(path.join(work, `parts-${few}`), few, few);
  // The first quarter of the 64 parts: a library of a quarter the size, in parts of the same size.
  const cases: MergeCase[] = [
    { label: `${few} parts`, parts: few, pictures: total / 4, inputs: manyParts.slice(0, few) },
    { label: `${many} parts`, parts: many, pictures: total, inputs: manyParts },
    { label: `${few} parts`, parts: few, pictures: total, inputs: fewParts },
  ];
  const out = path.join(work, 'merged');
  const series = await measureRounds(
    cases.map(({ label, pictures: expected, inputs }) => ({
      label: `merge of ${label}, ${expected} pictures`,
      warmUp: false,
      command: async () => {
        await rm(out, { recursive: true, force: true });
        return [NODE, BIN, 'merge', '--out', out, ...inputs, '-q', '--json'];
      },
      check: async ({ stdout }) => {
        const { tiles } = JSON.parse(stdout) as { tiles: number };
        if (tiles !== expected) throw new Error(`merge wrote ${tiles} pictures, expected ${expected}`);
      },
    })),
    MERGE_RUNS,
    log,
  );
  await rm(out, { recursive: true, force: true });
  const perTile = (i: number): number => (1e6 * series[i]!.wallSeconds) / (cases[i]!.pictures * GENERATED_CROPS);
  const cpuPerTile = (i: number): number => (1e6 * series[i]!.cpuSeconds) / (cases[i]!.pictures * GENERATED_CROPS);
  const [small, large, largeFewParts] = [0, 1, 2];
  const timeGrowth = perTile(large) / perTile(small);
  const rssByParts = series[large]!.peakRssMb / series[largeFewParts]!.peakRssMb;
  const peak = Math.max(...series.map(({ peakRssMb }) => peakRssMb));
  return [
    `### merge of generated parts (${GENERATED_CROPS} crops of ${GENERATED_TILE.width} px a picture; alternated, median of ${MERGE_RUNS})`,
    '',
    ...markdownTable(
      ['inputs', 'pictures', 'tiles', 'wall s (min–max)', 'CPU s', 'µs a tile (wall)', 'µs a tile (CPU)', 'peak RSS MB'],
      cases.map(({ label, pictures: count }, i) => [
        label,
        count.toLocaleString('en'),
        (count * GENERATED_CROPS).toLocaleString('en'),
        wallCell(series[i]!),
        seconds(series[i]!.cpuSeconds),
        perTile(i).toFixed(1),
        cpuPerTile(i).toFixed(1),
        series[i]!.peakRssMb.toFixed(0),
      ]),
    ),
    '',
    ...markdownTable(
      ['measure', 'value', 'target', 'result'],
      [
        [
          `time a tile, ${many} parts of ${total.toLocaleString('en')} / ${few} of ${(total / 4).toLocaleString('en')}`,
          `${timeGrowth.toFixed(2)}x (CPU ${(cpuPerTile(large) / cpuPerTile(small)).toFixed(2)}x)`,
          `≤ ${TARGETS.timePerTile.max}x`,
          timeGrowth <= TARGETS.timePerTile.max ? 'PASS' : 'MISS',
        ],
        [
          `peak RSS, ${many} parts / ${few} parts of the same ${total.toLocaleString('en')}`,
          `${rssByParts.toFixed(2)}x`,
          `≤ ${TARGETS.rssByParts.max}x`,
          rssByParts <= TARGETS.rssByParts.max ? 'PASS' : 'MISS',
        ],
        ['largest peak RSS', `${peak.toFixed(0)} MB`, `< ${TARGETS.peakRssMb} MB`, peak < TARGETS.peakRssMb ? 'PASS' : 'MISS'],
      ],
    ),
  ];
}

/** Builds the recipe's image and runs it on the example photos, where a Docker daemon answers. */
async function dockerBench(work: string): Promise<string[]> {
  const heading = ['### The Dockerfile of the Kubernetes recipe', ''];
  const server = await runMeasured(['docker', 'version', '--format', '{{.Server.Version}}']).catch(() => undefined);
  if (!server || server.code !== 0) {
    const reason = server ? server.stderr.trim().split('\n').pop() : 'docker is not installed';
    log(`not building the Dockerfile: ${reason}`);
    return [...heading, `Not built: no Docker daemon answered (\`docker version\`: ${reason}).`];
  }
  const image = 'tsmosaic-bench:scale-out';
  const build = await runMeasured(['docker', 'build', '-f', DOCKERFILE, '-t', image, REPO_ROOT]);
  if (build.code !== 0) throw new Error(`docker build failed: ${build.stderr.trim().split('\n').slice(-5).join(' / ')}`);
  const out = path.join(work, 'docker-out');
  await mkdir(out);
  await chmod(out, 0o777);
  const photos = path.join(REPO_ROOT, 'examples', 'photos');
  const index = await runMeasured([
    'docker',
    'run',
    '--rm',
    '-v',
    `${photos}:/photos:ro`,
    '-v',
    `${out}:/out`,
    image,
    'process-collection',
    '/photos',
    '--out',
    '/out/index',
  ]);
  if (index.code !== 0) throw new Error(`the image's process-collection failed: ${index.stderr.trim()}`);
  const size = await runMeasured(['docker', 'image', 'inspect', image, '--format', '{{.Size}}']);
  return [
    ...heading,
    ...markdownTable(
      ['step', 'wall s', 'result'],
      [
        [
          `\`docker build\` (Docker ${server.stdout.trim()})`,
          seconds(build.wallSeconds),
          `image of ${(Number(size.stdout) / 1e6).toFixed(0)} MB`,
        ],
        [
          '`process-collection` of examples/photos in the image (user node)',
          seconds(index.wallSeconds),
          `${await pictures(path.join(out, 'index'))} pictures`,
        ],
      ],
    ),
  ];
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg();
  const parts = new Set((process.env.TSMOSAIC_SCALE_OUT_PARTS ?? 'parallel,merge,docker').split(','));
  const total = Number(process.env.TSMOSAIC_SCALE_OUT_PICTURES ?? '250000');
  const sizes = (process.env.TSMOSAIC_SCALE_OUT_SIZES ?? `${COLLECTION_SIZE},10000`).split(',').map(Number);
  if (sizes.some((size) => !Number.isInteger(size) || size < RECIPE_PARTS))
    throw new Error('TSMOSAIC_SCALE_OUT_SIZES takes whole numbers of pictures');
  if (!Number.isInteger(total) || total < 64 || total % 4 !== 0)
    throw new Error('TSMOSAIC_SCALE_OUT_PICTURES takes a multiple of 4 of at least 64');
  const missing = await ensurePackages(
    [
      { name: 'python3-pil', present: hasPil },
      { name: 'parallel', present: () => succeeds('parallel', ['--version']) },
    ],
    log,
  );
  const shared = sharedFolder();
  if (parts.has('parallel') && missing.includes('parallel')) throw new Error('GNU parallel is needed: apt-get install parallel');
  if (parts.has('parallel') && !existsSync(path.join(shared, 'photos')))
    throw new Error(`shared photos not found in ${shared} (set TSMOSAIC_SHARED)`);

  log('npm run build');
  const build = await runVisible('npm', ['run', 'build'], { cwd: REPO_ROOT });
  if (build !== 0) throw new Error(`npm run build failed (exit ${build}); not timing a stale dist/`);

  const out: string[] = [];
  await withWorkFolder('bench-scale-out', log, async (work) => {
    out.push(`## tsmosaic bench:scale-out (${new Date().toISOString()})`, '');
    out.push(
      `- machine: ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}); shared with other engineers' work`,
      '- each command is its own process, timed by a fresh python3 (wall, user + system CPU of it and its children, peak RSS of the largest process); see test/bench/measure.ts',
    );
    const collections: { size: number; dir: string }[] = [];
    if (parts.has('parallel')) {
      for (const size of sizes)
        collections.push({ size, dir: (await ensureCollection(shared, !missing.includes('python3-pil'), log, size)).dir });
      const made = collections.map(({ size, dir }) => `${size} pictures (${dir})`).join(', ');
      out.push(`- collections: make-collection seed 2000, ${made}; GNU parallel ${await parallelVersion()}`);
    }
    out.push('');
    // The first size is the target's; more rounds of it, as its runs are short and vary most.
    for (const [i, { size, dir }] of collections.entries()) {
      const folder = path.join(work, `recipe-${size}`);
      await mkdir(folder);
      out.push(...(await recipeBench(folder, dir, size, i === 0 ? RUNS : LARGER_RUNS)), '');
      await rm(folder, { recursive: true, force: true });
    }
    if (parts.has('merge')) out.push(...(await mergeBench(work, total)), '');
    if (parts.has('docker')) out.push(...(await dockerBench(work)), '');
    const loadAfter = os.loadavg();
    out.push(
      `Load average (1 / 5 / 15 min) at the start ${loadBefore.map((value) => value.toFixed(1)).join(' / ')}, at the end ${loadAfter.map((value) => value.toFixed(1)).join(' / ')}.`,
    );
  });
  process.stdout.write(`${out.join('\n')}\n`);
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

async function parallelVersion(): Promise<string> {
  const { stdout } = await runMeasured(['parallel', '--version']);
  return /GNU parallel (\S+)/.exec(stdout)?.[1] ?? 'of unknown version';
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
