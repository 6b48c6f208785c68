/**
 * `npm run bench:budgets`: builds under budgets (--unique, --max-uses, --use-all) against the same
 * builds without them and against the exact optimum, and prints markdown tables on stdout
 * (progress on stderr):
 * - price: cell dE00 with the budget / without it (same grid, --min-distance 0), for tsmosaic and
 *   for the exact optimum on mean colour (SciPy's linear_sum_assignment, test/bench/exact-assignment.py,
 *   over the same cells and pictures); target: tsmosaic's at most 1.10x the optimum's;
 * - speed: --max-uses 4 at 100 columns on 2,000 pictures against the build without it (alternated
 *   runs, medians), target at most 2x, on every photo whose grid the budget can fill;
 * - scale: --use-all --max-uses 8 with 100,000 cells and 25,000 pictures, under 60 s and 1 GB;
 * - bands: a grid past one assignment (50,000 cells, 2,000 pictures), placed band by band against
 *   one assignment over it all.
 *
 * Environment: TSMOSAIC_SHARED (default ../shared beside the repo), TSMOSAIC_BENCH_KEEP=1 keeps
 * the temp folder, TSMOSAIC_BUDGET_PARTS (default price,speed,scale,bands) runs only some.
 * Installs Debian's python3-scipy when run as root and it is missing.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ciede2000At } from '../../src/colour/ciede2000.js';
import { rowsOver } from '../../src/build/grid.js';
import { loadIndex, readManifest } from '../../src/index-store/read-index.js';
import { answerCells, CachedSearch } from '../../src/match/cell-search.js';
import { candidateCount, placementBandRows, TilePlacer, type PlacementRules } from '../../src/match/placement.js';
import { targetMeans } from '../../src/target/target-means.js';
import { loadTarget, readTargetSize } from '../../src/target/target.js';
import { cellDescriptors, DEFAULT_METHOD, tileDescriptors, type MatchMethod } from '../../src/tiles/descriptors.js';
import { FIDELITY_TARGETS } from './fidelity.js';
import { measure, measureRounds, runMeasured, runVisible, succeeds } from './measure.js';
import { BENCH_DIR, BIN, NODE, REPO_ROOT, sharedFolder } from './paths.js';
import { ensureCollection, ensurePackages, ensureTools, withWorkFolder } from './setup.js';
import { markdownTable, seconds } from './table.js';

const TILE_SIZE = 20;
/** Runs of each build in the speed part, alternated. */
const RUNS = 5;
const PRICE_TARGET = 1.1;
const SPEED_TARGET = 2;
const SCALE = { cells: 100_000, pictures: 25_000, maxUses: 8, seconds: 60, megabytes: 1024 };
/** A grid of a few bands, placed band by band and as one assignment. */
const BANDS = { cells: 50_000, maxUses: 32 };
const PYTHON = '/usr/bin/python3';
/** Mean colour only: what the exact reference optimises. */
const MEAN_COLOUR: MatchMethod = { metric: 'lab', grid: 1, structureWeight: 0, mirror: false };

interface Budget {
  name: string;
  args: string[];
  /** The cells the grid should have about: --unique needs fewer than pictures, --use-all more. */
  cells: number;
  mode: string;
  uses?: number;
}

const BUDGETS: Budget[] = [
  { name: '`--unique`', args: ['--unique'], cells: 1800, mode: 'unique' },
  { name: '`--max-uses 4`', args: ['--max-uses', '4'], cells: 3000, mode: 'max-uses', uses: 4 },
  { name: '`--use-all`', args: ['--use-all'], cells: 3000, mode: 'use-all' },
];

const log = (message: string): void => {
  process.stderr.write(`bench:budgets: ${message}\n`);
};

async function main(): Promise<void> {
  const started = performance.now();
  const parts = new Set((process.env.TSMOSAIC_BUDGET_PARTS ?? 'price,speed,scale,bands').split(','));
  const shared = sharedFolder();
  const photos = path.join(shared, 'photos');
  const tools = await ensureTools(log);
  if (parts.has('price') && !(await ensureScipy())) throw new Error(`${PYTHON} has no scipy (apt-get install -y python3-scipy)`);
  const collection = await ensureCollection(shared, tools.pil, log);
  log('npm run build');
  if ((await runVisible('npm', ['run', 'build'], { cwd: REPO_ROOT })) !== 0) throw new Error('npm run build failed');
  const out: string[] = [`## tsmosaic bench:budgets (${new Date().toISOString()})`, ''];
  await withWorkFolder('bench-budgets', log, async (work) => {
    const index = await indexCollection(collection.dir, path.join(work, 'index-2000'));
    out.push(
      `- machine: ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; collection: 2,000 pictures (make-collection seed 2000), ${TILE_SIZE} px tiles`,
      '',
    );
    if (parts.has('price')) out.push(...(await priceBench(work, index, photos)), '');
    if (parts.has('speed')) out.push(...(await speedBench(work, index, photos)), '');
    if (parts.has('scale')) {
      const large = await ensureCollection(shared, tools.pil, log, SCALE.pictures);
      const largeIndex = await indexCollection(large.dir, path.join(work, 'index-25000'));
      if (parts.has('scale')) out.push(...(await scaleBench(work, largeIndex, photos)), '');
    }
    if (parts.has('bands')) out.push(...(await bandsBench(index, photos)), '');
  });
  process.stdout.write(`${out.join('\n')}\n`);
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** Whether Debian's python3 has scipy, installing python3-scipy when root and it has not. */
async function ensureScipy(): Promise<boolean> {
  const present = (): Promise<boolean> => succeeds(PYTHON, ['-c', 'import scipy']);
  return (await ensurePackages([{ name: 'python3-scipy', present }], log)).length === 0;
}

async function indexCollection(collection: string, index: string): Promise<string> {
  log(`process-collection ${collection}`);
  await measure([NODE, BIN, 'process-collection', collection, '-o', index, '--tile-size', String(TILE_SIZE), '-q']);
  return index;
}

/** The columns of a grid over `photo` of about `cells` cells (fewer when `atMost`). */
async function columnsFor(photo: string, cells: number, atMost: boolean): Promise<{ columns: number; rows: number }> {
  const { width, height } = await readTargetSize(photo);
  let columns = Math.max(1, Math.round(Math.sqrt((cells * width) / height)));
  while (atMost && columns * rowsOver(columns, width, height) > cells) columns--;
  return { columns, rows: rowsOver(columns, width, height) };
}

/** The mean colours (CIELAB) of an index's tiles: `crops` a picture. */
interface MeanColours {
  tiles: Float32Array;
  pictures: number;
  crops: number;
}

interface BuildResult {
  columns: number;
  rows: number;
  deltaE: { cell: number; structure: number };
  timings: Record<string, number>;
}

async function build(index: string, photo: string, out: string, ...args: string[]): Promise<BuildResult> {
  const run = await measure([NODE, BIN, 'build', index, photo, '-o', out, '--json', '-q', ...args]);
  return JSON.parse(run.stdout) as BuildResult;
}

async function priceBench(work: string, index: string, photos: string): Promise<string[]> {
  const manifest = await readManifest(index);
  const loaded = await loadIndex(index, manifest);
  const catalogue: MeanColours = {
    tiles: tileDescriptors(loaded.features, loaded.tiles.count, MEAN_COLOUR),
    pictures: manifest.tileCount,
    crops: manifest.crops,
  };
  const rows: string[][] = [];
  let passes = 0;
  for (const budget of BUDGETS) {
    for (const name of FIDELITY_TARGETS) {
      const photo = path.join(photos, name);
      const { columns, rows: gridRows } = await columnsFor(photo, budget.cells, budget.mode === 'unique');
      log(`price: ${name} ${budget.name} ${columns} x ${gridRows}`);
      const out = path.join(work, 'price.png');
      const grid = ['--tiles-across', String(columns), '--min-distance', '0'];
      const free = await build(index, photo, out, ...grid);
      const budgeted = await build(index, photo, out, ...grid, ...budget.args);
      const ours = budgeted.deltaE.cell / free.deltaE.cell;
      const exact = await exactPrice(work, catalogue, photo, columns, gridRows, budget);
      const ratio = ours / (exact.budget / exact.free);
      if (ratio <= PRICE_TARGET) passes++;
      rows.push([
        budget.name,
        name,
        `${columns} x ${gridRows}`,
        `${free.deltaE.cell.toFixed(2)} → ${budgeted.deltaE.cell.toFixed(2)} (${ours.toFixed(2)}x)`,
        `${exact.free.toFixed(2)} → ${exact.budget.toFixed(2)} (${(exact.budget / exact.free).toFixed(2)}x)`,
        `${ratio.toFixed(3)}x ${ratio <= PRICE_TARGET ? 'PASS' : 'MISS'}`,
      ]);
    }
  }
  return [
    `### Price of a budget: cell dE00 with it / without it (--min-distance 0), against the exact optimum on mean colour`,
    '',
    ...markdownTable(
      ['budget', 'photo', 'grid', 'tsmosaic (cell dE00)', 'exact optimum (mean-colour dE00)', `ratio (≤ ${PRICE_TARGET}x)`],
      rows,
    ),
    '',
    `- ${passes} of ${rows.length} within ${PRICE_TARGET}x of the optimum's price (target: on at least four photos per budget)`,
  ];
}

/**
 * The exact optimum's mean cost per cell without `budget` and with it, on mean colour: the cost
 * of a picture for a cell is the CIEDE2000 of their means, the picture's nearest crop.
 */
async function exactPrice(
  work: string,
  { tiles, pictures, crops }: MeanColours,
  photo: string,
  columns: number,
  rows: number,
  budget: Budget,
): Promise<{ free: number; budget: number }> {
  const image = await loadTarget(photo, columns, rows, await readTargetSize(photo));
  const cells = cellDescriptors(await targetMeans(image, columns, rows, 1), columns, rows, MEAN_COLOUR);
  const costs = new Float32Array(columns * rows * pictures);
  for (let cell = 0; cell < columns * rows; cell++) {
    for (let picture = 0; picture < pictures; picture++) {
      let best = Infinity;
      for (let crop = 0; crop < crops; crop++) best = Math.min(best, ciede2000At(cells, cell * 3, tiles, (picture * crops + crop) * 3));
      costs[cell * pictures + picture] = best;
    }
  }
  const file = path.join(work, 'costs.f32');
  await writeFile(file, costs);
  const script = path.join(BENCH_DIR, 'exact-assignment.py');
  const run = await measure([
    PYTHON,
    script,
    file,
    String(columns * rows),
    String(pictures),
    budget.mode,
    ...(budget.uses ? [String(budget.uses)] : []),
  ]);
  return JSON.parse(run.stdout) as { free: number; budget: number };
}

async function speedBench(work: string, index: string, photos: string): Promise<string[]> {
  const rows: string[][] = [];
  let misses = 0;
  for (const name of FIDELITY_TARGETS) {
    const photo = path.join(photos, name);
    const { width, height } = await readTargetSize(photo);
    const cells = 100 * rowsOver(100, width, height);
    if (cells > 4 * 2000) {
      rows.push([name, `100 x ${cells / 100}`, 'n/a: more cells than 4 uses of 2,000 pictures fill', '', '', '']);
      continue;
    }
    const grid = ['--tiles-across', '100'];
    const command =
      (...extra: string[]) =>
      (): string[] => [
        NODE,
        BIN,
        'build',
        index,
        photo,
        '-o',
        path.join(work, 'speed.png'),
        '--json',
        '--no-measure',
        '-q',
        ...grid,
        ...extra,
      ];
    log(`speed: ${name}`);
    const [free, budgeted] = await measureRounds(
      [
        { label: `${name} free`, warmUp: true, command: command() },
        { label: `${name} --max-uses 4`, warmUp: true, command: command('--max-uses', '4') },
      ],
      RUNS,
      log,
    );
    const ratio = budgeted!.wallSeconds / free!.wallSeconds;
    const match = (run: typeof free): number => (JSON.parse(run!.medianRun.stdout) as BuildResult).timings.match ?? 0;
    if (ratio > SPEED_TARGET) misses++;
    rows.push([
      name,
      `100 x ${cells / 100}`,
      `${seconds(free!.wallSeconds)} (match ${seconds(match(free))})`,
      `${seconds(budgeted!.wallSeconds)} (match ${seconds(match(budgeted))})`,
      `${ratio.toFixed(2)}x`,
      ratio <= SPEED_TARGET ? 'PASS' : 'MISS',
    ]);
  }
  return [
    `### Speed: \`--max-uses 4\` at 100 columns on 2,000 pictures (wall s, medians of ${RUNS} alternated runs)`,
    '',
    ...markdownTable(['photo', 'grid', 'without a budget', '`--max-uses 4`', 'ratio', `≤ ${SPEED_TARGET}x`], rows),
    '',
    `- ${misses === 0 ? 'PASS' : 'MISS'}: every photo within ${SPEED_TARGET}x (${misses} over)`,
  ];
}

async function scaleBench(work: string, index: string, photos: string): Promise<string[]> {
  const photo = path.join(photos, 'photo-003.jpg');
  const { columns, rows } = await columnsFor(photo, SCALE.cells, false);
  const grid = ['--tiles-across', String(columns), '--no-measure'];
  const out = path.join(work, 'scale.png');
  const lines: string[][] = [];
  for (const [name, extra] of [
    ['without a budget', []],
    [`\`--use-all --max-uses ${SCALE.maxUses}\``, ['--use-all', '--max-uses', String(SCALE.maxUses)]],
  ] as const) {
    log(`scale: ${name}`);
    const run = await runMeasured([NODE, BIN, 'build', index, photo, '-o', out, '--json', '-q', ...grid, ...extra]);
    if (run.code !== 0) throw new Error(`scale build ${name} exited with ${run.code ?? run.signal}: ${run.stderr}`);
    const summary = JSON.parse(run.stdout) as BuildResult & { distinctTiles: number; maxUses: number };
    const budgeted = extra.length > 0;
    const pass = run.wallSeconds < SCALE.seconds && run.peakRssMb < SCALE.megabytes && summary.distinctTiles === SCALE.pictures;
    lines.push([
      name,
      `${columns} x ${rows}`,
      seconds(run.wallSeconds),
      seconds(summary.timings.match ?? 0),
      run.peakRssMb.toFixed(0),
      `${summary.distinctTiles} (most used ${summary.maxUses}x)`,
      budgeted ? (pass ? 'PASS' : 'MISS') : '',
    ]);
  }
  return [
    `### Scale: ${SCALE.pictures.toLocaleString('en')} pictures, about ${SCALE.cells.toLocaleString('en')} cells (target: under ${SCALE.seconds} s and ${SCALE.megabytes} MB, every picture used)`,
    '',
    ...markdownTable(['build', 'grid', 'wall s', 'match s', 'peak RSS MB', 'pictures used', 'target'], lines),
  ];
}

/**
 * A grid past one assignment placed band by band, as build does, against one assignment over it
 * all: mean-colour dE00 of the cells (from the stored features) and seconds of placement.
 */
async function bandsBench(index: string, photos: string): Promise<string[]> {
  const photo = path.join(photos, 'photo-003.jpg');
  const { columns, rows } = await columnsFor(photo, BANDS.cells, false);
  const rules: PlacementRules = { minDistance: 1.5, maxUses: BANDS.maxUses, seed: 1, required: 'all' };
  const manifest = await readManifest(index);
  const loaded = await loadIndex(index, manifest);
  const count = loaded.tiles.count;
  const descriptors = tileDescriptors(loaded.features, count, DEFAULT_METHOD);
  const means = tileDescriptors(loaded.features, count, MEAN_COLOUR);
  const image = await loadTarget(photo, columns, rows, await readTargetSize(photo));
  const cellMeans = cellDescriptors(await targetMeans(image, columns, rows, 1), columns, rows, MEAN_COLOUR);
  const search = new CachedSearch(loaded.ann, DEFAULT_METHOD);
  const k = candidateCount(DEFAULT_METHOD, rules, columns * rows, count);
  const lines: string[][] = [];
  const banded = placementBandRows(columns, rows, rules);
  for (const [name, bandRows] of [
    [`bands of ${banded} rows (${(banded * columns).toLocaleString('en')} cells), as build places it`, banded],
    ['one assignment', rows],
  ] as const) {
    log(`bands: ${name}`);
    const placer = new TilePlacer(
      DEFAULT_METHOD,
      columns,
      rows,
      { count, descriptors, ann: loaded.ann, cropsPerPicture: manifest.crops },
      rules,
    );
    const started = performance.now();
    for (let firstRow = 0; firstRow < rows; firstRow += bandRows) {
      const band = { firstRow, rows: Math.min(bandRows, rows - firstRow) };
      const cells = await answerCells({ target: image, columns, rows, method: DEFAULT_METHOD }, band, search, k);
      await placer.placeRows(firstRow, band.rows, cells);
    }
    const placed = (performance.now() - started) / 1000;
    const { tiles } = placer.result();
    let error = 0;
    for (let cell = 0; cell < columns * rows; cell++) error += ciede2000At(cellMeans, cell * 3, means, tiles[cell]! * 3);
    lines.push([name, (error / (columns * rows)).toFixed(3), seconds(placed)]);
  }
  const [bandedError, wholeError] = lines.map((line) => Number(line[1]));
  return [
    `### Bands: ${columns} x ${rows} cells, 2,000 pictures, \`--use-all --max-uses ${BANDS.maxUses}\`, min-distance 1.5`,
    '',
    ...markdownTable(['placement', 'mean-colour dE00 of the cells', 'seconds (answers and placement)'], lines),
    '',
    `- band by band costs ${((bandedError! / wholeError! - 1) * 100).toFixed(1)} % of cell dE00 against one assignment`,
  ];
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
