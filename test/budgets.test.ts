import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { buildMosaic, processCollection, type BuildMosaicOptions } from '../src/index.js';
import { globPattern } from '../src/build/picture-lists.js';
import { Auction } from '../src/match/auction.js';
import { CandidateLists } from '../src/match/candidate-lists.js';
import { seededRandom } from '../src/match/random.js';
import { exactMinimum } from './exact-assignment.js';
import { rawImage, runCli, solidImage, tempDir } from './helpers.js';

const root = await tempDir();

/** A collection of `count` solid pictures of many colours, in two folders, indexed with tiles of 8 px. */
async function collection(name: string, count: number): Promise<{ index: string; sources: string[] }> {
  const folder = path.join(root, name);
  await mkdir(path.join(folder, 'warm'), { recursive: true });
  await mkdir(path.join(folder, 'cool'), { recursive: true });
  const sources = Array.from({ length: count }, (_, i) => `${i % 2 ? 'cool' : 'warm'}/p${String(i).padStart(3, '0')}.png`);
  await Promise.all(
    sources.map((source, i) => solidImage(path.join(folder, source), [(i * 53) % 256, (i * 97 + 40) % 256, (i * 31 + 90) % 256], 16, 16)),
  );
  const { index } = await processCollection(folder, { out: path.join(root, `${name}-index`), tileSize: 8 });
  return { index, sources: sources.sort() };
}

/** A smooth gradient target. */
async function gradient(file: string, width: number, height: number): Promise<string> {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) pixels.set([(x * 255) / width, (y * 255) / height, 128], (y * width + x) * 3);
  return rawImage(file, pixels, width, height);
}

interface Plan {
  columns: number;
  rows: number;
  cells: { tile: number; source: string }[];
}

// Made before any test is defined: node:test runs the tests defined so far while a top-level await waits.
const { index, sources } = await collection('colourful', 60);
const target = await gradient(path.join(root, 'gradient.png'), 120, 90);

async function plan(options: BuildMosaicOptions): Promise<Plan> {
  const file = path.join(root, `plan-${Math.random().toString(36).slice(2)}.json`);
  await buildMosaic(index, target, { out: path.join(root, 'mosaic.png'), ...options, plan: file });
  return JSON.parse(await readFile(file, 'utf8')) as Plan;
}

/** Uses of each picture in a plan. */
function uses(plan: Plan): Map<number, number> {
  const counts = new Map<number, number>();
  for (const { tile } of plan.cells) counts.set(tile, (counts.get(tile) ?? 0) + 1);
  return counts;
}

/** Pairs of cells closer than `distance` that hold the same picture. */
function repeatsWithin(plan: Plan, distance: number): number {
  let repeats = 0;
  plan.cells.forEach(({ tile }, cell) => {
    const [x, y] = [cell % plan.columns, Math.floor(cell / plan.columns)];
    plan.cells.forEach((other, j) => {
      const [ox, oy] = [j % plan.columns, Math.floor(j / plan.columns)];
      if (j > cell && other.tile === tile && (ox - x) ** 2 + (oy - y) ** 2 <= distance ** 2) repeats++;
    });
  });
  return repeats;
}

test('the assignment finds the optimum of small random problems, within its tolerance, and keeps every budget', async () => {
  for (let trial = 0; trial < 40; trial++) {
    const random = seededRandom(trial + 1);
    const pictures = 4 + Math.floor(random() * 16);
    const uses = 1 + Math.floor(random() * 3);
    const cells = Math.min(pictures * uses, 6 + Math.floor(random() * 30));
    // Cells in groups of identical costs, as cells of one colour are.
    const groupSize = 1 + (trial % 3);
    const groupCount = Math.ceil(cells / groupSize);
    const costs = Array.from({ length: groupCount }, () => Array.from({ length: pictures }, () => Math.round(random() * 1000) / 10));
    const rowOf = (cell: number): number[] => costs[Math.floor(cell / groupSize)]!;
    // Exact: a column per use.
    const expanded = Array.from({ length: cells }, (_, cell) => rowOf(cell).flatMap((cost) => Array.from({ length: uses }, () => cost)));
    const optimum = exactMinimum(expanded);

    const lists = new CandidateLists(groupCount, groupCount * pictures, pictures);
    for (let group = 0; group < groupCount; group++) {
      lists.reserve(group, pictures);
      costs[group]!.forEach((cost, picture) => lists.add(group, picture, cost, picture * 2));
      lists.outside[group] = Infinity;
    }
    const unitStart = Int32Array.from({ length: groupCount + 1 }, (_, group) => Math.min(cells, group * groupSize));
    const units = Int32Array.from({ length: cells }, (_, cell) => cell);
    const auction = new Auction(
      lists,
      { capacity: new Int32Array(pictures).fill(uses), price: new Float64Array(pictures) },
      { priced: () => undefined, farther: () => false, phaseStarts: () => undefined },
      unitStart,
      units,
    );
    const epsilon = 1e-3;
    await auction.solve(25, epsilon, 0);
    const label = `trial ${trial}: ${cells} cells, ${pictures} pictures used at most ${uses} times`;
    assert.ok(auction.totalCost() <= optimum + cells * epsilon + 1e-6, `${label}: ${auction.totalCost()} against the optimum ${optimum}`);
    const counts = new Int32Array(pictures);
    for (const picture of auction.held) counts[picture]!++;
    assert.ok(
      counts.every((count) => count <= uses),
      `${label}: uses ${counts}`,
    );
  }
});

test('globs of list files: * and ? within a folder, ** across folders, [...] and escapes', () => {
  const matches = (glob: string, paths: string[]): string[] => paths.filter((name) => globPattern(glob)!.test(name));
  const paths = ['a.jpg', 'b.png', 'dogs/rex.jpg', 'dogs/puppies/max.jpg', 'cats/tom.jpg', 'x[1].jpg'];
  assert.equal(globPattern('dogs/rex.jpg'), undefined, 'a plain path is no glob');
  assert.deepEqual(matches('*.jpg', paths), ['a.jpg', 'x[1].jpg']);
  assert.deepEqual(matches('dogs/*', paths), ['dogs/rex.jpg']);
  assert.deepEqual(matches('dogs/**', paths), ['dogs/rex.jpg', 'dogs/puppies/max.jpg']);
  assert.deepEqual(matches('**/*.jpg', paths), ['a.jpg', 'dogs/rex.jpg', 'dogs/puppies/max.jpg', 'cats/tom.jpg', 'x[1].jpg']);
  assert.deepEqual(matches('?.png', paths), ['b.png']);
  assert.deepEqual(matches('[ab].*', paths), ['a.jpg', 'b.png']);
  assert.deepEqual(matches('[!ab]*.jpg', paths), ['x[1].jpg']);
  assert.deepEqual(matches('x\\[1\\].jpg', paths), ['x[1].jpg']);
});

test('--use-all puts every picture in the plan; with --max-uses, none more often; min-distance and the seed hold', async () => {
  const everyOnce = await plan({ tilesAcross: 12, useAll: true });
  assert.equal(everyOnce.cells.length, 108);
  assert.equal(uses(everyOnce).size, 60, 'all 60 pictures');
  assert.equal(repeatsWithin(everyOnce, 1.5), 0, 'the default min-distance');

  const capped = await plan({ tilesAcross: 16, useAll: true, maxUses: 4, minDistance: 2, seed: 5 });
  const counts = uses(capped);
  assert.equal(counts.size, 60);
  assert.ok(Math.max(...counts.values()) <= 4, `at most 4 uses: ${[...counts.values()]}`);
  assert.equal(repeatsWithin(capped, 2), 0);
  assert.deepEqual(
    await plan({ tilesAcross: 16, useAll: true, maxUses: 4, minDistance: 2, seed: 5 }),
    capped,
    'the same seed, the same plan',
  );

  const unique = await plan({ tilesAcross: 8, unique: true, minDistance: 0 });
  assert.ok(Math.max(...uses(unique).values()) === 1);
});

test('--include: paths and globs as the index lists them all appear; unknown names are told with examples', async () => {
  const include = path.join(root, 'include.txt');
  await writeFile(include, '# the birthday girl\nwarm/p000.png\ncool/p05?.png\n\nnot/there.png\nmissing-*.jpg\n');
  const notes: string[] = [];
  const result = await plan({ tilesAcross: 10, include, onNote: (note) => notes.push(note) });
  assert.deepEqual(notes, ['2 of the 4 names in the --include list match no picture of the index: "not/there.png", "missing-*.jpg"']);
  const used = new Set(result.cells.map((cell) => cell.source));
  for (const source of ['warm/p000.png', 'cool/p051.png', 'cool/p053.png', 'cool/p055.png', 'cool/p057.png', 'cool/p059.png']) {
    assert.ok(used.has(source), source);
  }
});

test('--exclude: excluded pictures never appear; a picture both included and excluded is refused', async () => {
  const include = path.join(root, 'include2.txt');
  const exclude = path.join(root, 'exclude2.txt');
  await writeFile(exclude, 'warm/**\r\n');
  const result = await plan({ tilesAcross: 12, exclude, minDistance: 0 });
  assert.ok(
    result.cells.every((cell) => cell.source.startsWith('cool/')),
    result.cells.map((cell) => cell.source).join(' '),
  );
  await writeFile(include, 'cool/p051.png\nwarm/p002.png\n');
  await assert.rejects(plan({ tilesAcross: 10, include, exclude }), {
    name: 'UsageError',
    message: '1 picture is both in --include and --exclude, e.g. "warm/p002.png"',
  });
  assert.equal(sources.length, 60);
});

test('a list or --use-all with more pictures than the grid has cells fails before any work, with the numbers', async () => {
  const include = path.join(root, 'include-many.txt');
  await writeFile(include, '**\n');
  await assert.rejects(plan({ tilesAcross: 6, include }), {
    name: 'UsageError',
    message: '--include names 60 pictures, one a cell at least; the grid has 30 (6 x 5): use --tiles-across 9 or more',
  });
  await assert.rejects(plan({ tilesAcross: 6, useAll: true }), {
    name: 'UsageError',
    message: '--use-all needs a cell for each of the 60 pictures; the grid has 30 (6 x 5): use --tiles-across 9 or more',
  });
});

test('bad input: a missing list, an empty list, --use-all --unique with too few cells: one line and exit 1 or 2', async () => {
  const empty = path.join(root, 'empty.txt');
  await writeFile(empty, '\n# nothing but a comment\n');
  const run = (...args: string[]): ReturnType<typeof runCli> =>
    runCli(['build', index, target, '-o', path.join(root, 'cli.png'), '--tiles-across', '10', ...args], { timeout: 60_000 });
  for (const [args, code, message] of [
    [['--include', path.join(root, 'nowhere.txt')], 1, `tsmosaic: the --include list "${path.join(root, 'nowhere.txt')}" is missing\n`],
    [['--exclude', empty], 2, `tsmosaic: the --exclude list "${empty}" names no picture\n`],
    [
      ['--use-all', '--unique', '--tiles-across', '6'],
      2,
      'tsmosaic: --use-all with --unique needs exactly 60 cells, one a picture; the grid has 30 (6 x 5): no --tiles-across gives that many, use --max-uses 2 or more\n',
    ],
  ] as const) {
    const { code: exit, stdout, stderr } = await run(...args);
    assert.equal(exit, code, `${args.join(' ')}: ${stderr}`);
    assert.equal(stdout, '');
    assert.equal(stderr, message);
  }
});
