import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { buildMosaic, processCollection } from '../src/index.js';
import { loadIndex, readManifest } from '../src/index-store/read-index.js';
import { DEFAULT_METHOD } from '../src/tiles/descriptors.js';
import { answerCells, CachedSearch, type CellAnswers } from '../src/match/cell-search.js';
import { startCellWorkerAhead, stopCellWorkerAhead, takeWorkerStartedAhead } from '../src/match/cell-worker-ahead.js';
import { tileDescriptors, TileDetail } from '../src/tiles/descriptors.js';
import { candidateCount, placementBandRows, TilePlacer, type PlacementRules } from '../src/match/placement.js';
import { seededRandom } from '../src/match/random.js';
import { loadTarget, readTargetSize } from '../src/target/target.js';
import { targetMeans, type RowBand } from '../src/target/target-means.js';
import { areaAverage } from '../src/raster/area-average.js';
import { rawImage, solidImage, tempDir } from './helpers.js';

const root = await tempDir();

/** Noise, so that interpolation and averaging have something to get wrong. */
function noise(width: number, height: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  return Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256));
}

/** Cells `(x, y)` and `(ox, oy)` closer than `distance` that hold the same tile, as text. */
function closeRepeats(tiles: ArrayLike<number>, columns: number, rows: number, distance: number): string[] {
  const found: string[] = [];
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      for (let dy = 0; dy <= distance; dy++) {
        for (let dx = -distance; dx <= distance; dx++) {
          const [ox, oy] = [x + dx, y + dy];
          if (
            (dy > 0 || dx > 0) &&
            dx * dx + dy * dy <= distance ** 2 &&
            ox >= 0 &&
            ox < columns &&
            oy < rows &&
            tiles[oy * columns + ox] === tiles[y * columns + x]
          ) {
            found.push(`(${x},${y})-(${ox},${oy})`);
          }
        }
      }
    }
  }
  return found;
}

const collection = path.join(root, 'tiles');
await mkdir(collection, { recursive: true });
await Promise.all(
  Array.from({ length: 40 }, (_, i) =>
    solidImage(path.join(collection, `t${i}.png`), [(i * 53) % 256, (i * 97 + 40) % 256, (i * 31 + 90) % 256], 16, 16),
  ),
);
const index = (await processCollection(collection, { out: path.join(root, 'index'), tileSize: 4 })).index;
const target = await rawImage(path.join(root, 'noise.png'), noise(60, 45, 3), 60, 45);

test('areaAverage of a range of rows equals those rows of the whole result', () => {
  const pixels = noise(37, 29, 1);
  for (const [width, height] of [
    [11, 7],
    [37, 29],
    [80, 61],
  ] as const) {
    const whole = areaAverage(pixels, 37, 29, 3, width, height);
    for (const [firstRow, rowCount] of [
      [0, 1],
      [2, 3],
      [height - 2, 2],
      [0, height],
    ] as const) {
      assert.deepEqual(
        areaAverage(pixels, 37, 29, 3, width, height, firstRow, rowCount),
        whole.subarray(firstRow * width * 3, (firstRow + rowCount) * width * 3),
      );
    }
  }
});

test('targetMeans of a band of rows equals those rows of the whole grid, reduced or enlarged', async () => {
  const image = await loadTarget(target, 200, 150, await readTargetSize(target));
  for (const [columns, grid] of [
    [20, 1],
    [20, 2],
    [90, 2],
    [90, 4],
  ] as const) {
    const rows = Math.round((columns * 45) / 60);
    const whole = await targetMeans(image, columns, rows, grid);
    const perRow = columns * grid * grid * 3;
    for (let firstRow = 0; firstRow < rows; firstRow += 7) {
      const band = { firstRow, rows: Math.min(7, rows - firstRow) };
      const part = await targetMeans(image, columns, rows, grid, band);
      assert.deepEqual(
        part,
        whole.subarray(firstRow * perRow, (firstRow + band.rows) * perRow),
        `${columns} columns, grid ${grid}, rows from ${firstRow}`,
      );
    }
  }
});

/** A placer of the noise target on a `columns` grid, and the index answers for a band of its rows, as build makes them. */
async function noisePlacer(
  columns: number,
  rules: PlacementRules,
  onProgress?: (done: number, total: number) => void,
  rows = Math.round((columns * 45) / 60),
): Promise<{ placer: TilePlacer; rows: number; crops: number; answer: (band: RowBand) => Promise<CellAnswers> }> {
  const manifest = await readManifest(index);
  const loaded = await loadIndex(index, manifest);
  const count = loaded.tiles.count;
  assert.equal(count, manifest.tileCount * 5, 'five crops per picture');
  const catalogue = {
    count,
    descriptors: tileDescriptors(loaded.features, count, DEFAULT_METHOD),
    ann: loaded.ann,
    cropsPerPicture: manifest.crops,
    detail: new TileDetail(loaded.features, count, DEFAULT_METHOD.grid),
  };
  const image = await loadTarget(target, columns, rows, await readTargetSize(target));
  const placer = new TilePlacer(DEFAULT_METHOD, columns, rows, catalogue, rules, onProgress);
  const search = new CachedSearch(loaded.ann, DEFAULT_METHOD);
  const candidates = candidateCount(DEFAULT_METHOD, rules, columns * rows, count);
  const answer = async (band: RowBand): Promise<CellAnswers> => {
    const cells = await answerCells({ target: image, columns, rows, method: DEFAULT_METHOD }, band, search, candidates);
    assert.equal(cells.neighbors.length, columns * band.rows * candidates);
    return cells;
  };
  return { placer, rows, crops: manifest.crops, answer };
}

/** Places the noise target on a `columns` grid in bands of `bandRows`, as build does; returns each cell's picture (the rules' unit). */
async function placeInBands(
  columns: number,
  bandRows: number,
  rules: PlacementRules,
  gridRows?: number,
): Promise<{ tiles: ArrayLike<number>; rows: number }> {
  const { placer, rows, crops, answer } = await noisePlacer(columns, rules, undefined, gridRows);
  for (let firstRow = 0; firstRow < rows; firstRow += bandRows) {
    const band = { firstRow, rows: Math.min(bandRows, rows - firstRow) };
    await placer.placeRows(firstRow, band.rows, await answer(band));
  }
  return { tiles: Array.from(placer.result().tiles, (tile) => Math.floor(tile / crops)), rows };
}

test('banded placement keeps min-distance across band borders, and a seed gives one result', async () => {
  for (const minDistance of [1, 2]) {
    for (const bandRows of [1, 5, 45]) {
      const { tiles, rows } = await placeInBands(40, bandRows, { minDistance, maxUses: Infinity, seed: 5 });
      assert.deepEqual(closeRepeats(tiles, 40, rows, minDistance), [], `min-distance ${minDistance}, bands of ${bandRows} rows`);
    }
  }
  const rules = { minDistance: 2, maxUses: Infinity, seed: 9 };
  const first = await placeInBands(40, 4, rules);
  assert.deepEqual((await placeInBands(40, 4, rules)).tiles, first.tiles);
  assert.notDeepEqual((await placeInBands(40, 4, { ...rules, seed: 10 })).tiles, first.tiles);
});

test('banded placement keeps --max-uses over the whole grid', async () => {
  const { tiles } = await placeInBands(40, 3, { minDistance: 1, maxUses: 40, seed: 1 });
  const uses = new Map<number, number>();
  for (const tile of Array.from(tiles)) uses.set(tile, (uses.get(tile) ?? 0) + 1);
  assert.ok(Math.max(...uses.values()) <= 40);
});

test('banded placement keeps --use-all, --max-uses and min-distance across bands', async () => {
  // Bands of 5 rows as a grid past one assignment is placed: the pictures still missing are spread over them.
  const { tiles, rows } = await placeInBands(40, 5, { minDistance: 1.5, maxUses: 32, seed: 2, required: 'all' });
  const uses = new Map<number, number>();
  for (const tile of Array.from(tiles)) uses.set(tile, (uses.get(tile) ?? 0) + 1);
  assert.equal(uses.size, 40, 'every picture');
  assert.ok(Math.max(...uses.values()) <= 32);
  assert.deepEqual(closeRepeats(tiles, 40, rows, 1.5), []);
});

test('banded placement places every picture when the budget leaves no use to spare', async () => {
  // 40 pictures: once each in 8 x 5 cells, at most twice in 10 x 8. Every use is needed, and each
  // band must give a share of its cells to pictures not used yet, not only those the budget chose.
  for (const [columns, rows, maxUses] of [
    [8, 5, 1],
    [10, 8, 2],
  ] as const) {
    for (const bandRows of [1, 2, 3]) {
      const label = `${columns} x ${rows} cells, --max-uses ${maxUses}, bands of ${bandRows} rows`;
      const { tiles } = await placeInBands(columns, bandRows, { minDistance: 1, maxUses, seed: 4, required: 'all' }, rows);
      const uses = new Map<number, number>();
      for (const tile of Array.from(tiles)) uses.set(tile, (uses.get(tile) ?? 0) + 1);
      assert.equal(tiles.length, columns * rows);
      assert.equal(uses.size, 40, `${label}: every picture`);
      assert.ok(Math.max(...uses.values()) <= maxUses, label);
    }
  }
});

test('a build, placed row by row and sampled 4096 cells at a time, keeps min-distance across rows in its --plan', async () => {
  const plan = path.join(root, 'big-plan.json');
  const result = await buildMosaic(index, target, { out: path.join(root, 'big.png'), tilesAcross: 120, tileSize: 1, minDistance: 2, plan });
  assert.ok(result.columns * result.rows > 2 * 4096, `${result.columns} x ${result.rows} cells are more than two samplings`);
  const { cells } = JSON.parse(await readFile(plan, 'utf8')) as { cells: { tile: number }[] };
  assert.equal(cells.length, result.columns * result.rows);
  assert.deepEqual(
    closeRepeats(
      cells.map((cell) => cell.tile),
      result.columns,
      result.rows,
      2,
    ),
    [],
  );
});

test('a grid large enough for the cell worker is placed exactly as on one thread', async () => {
  // 160 x 120 cells: more than the 16,384 from which build describes and searches cells in a worker thread.
  const plan = path.join(root, 'worker-plan.json');
  const rules = { minDistance: 2, maxUses: Infinity, seed: 3 };
  const result = await buildMosaic(index, target, {
    out: path.join(root, 'worker.png'),
    tilesAcross: 160,
    tileSize: 1,
    minDistance: 2,
    seed: 3,
    plan,
  });
  assert.ok(result.columns * result.rows >= 16_384, `${result.columns} x ${result.rows}`);
  const { cells } = JSON.parse(await readFile(plan, 'utf8')) as { cells: { tile: number }[] };
  const local = await placeInBands(160, 1, rules);
  assert.deepEqual(
    cells.map((cell) => cell.tile),
    local.tiles,
  );
});

test('a cell worker started ahead, as the CLI starts it, is taken by the next build; one no build takes is stopped', async () => {
  startCellWorkerAhead();
  const plan = path.join(root, 'ahead-plan.json');
  await buildMosaic(index, target, { out: path.join(root, 'ahead.png'), tilesAcross: 160, tileSize: 1, minDistance: 2, seed: 3, plan });
  assert.equal(takeWorkerStartedAhead(), undefined, 'the build took the worker');
  const { cells } = JSON.parse(await readFile(plan, 'utf8')) as { cells: { tile: number }[] };
  assert.deepEqual(
    cells.map((cell) => cell.tile),
    (await placeInBands(160, 1, { minDistance: 2, maxUses: Infinity, seed: 3 })).tiles,
  );
  startCellWorkerAhead();
  // Resolves once the thread has ended (asked between tasks, after it has loaded).
  await stopCellWorkerAhead();
  assert.equal(takeWorkerStartedAhead(), undefined);
});

test('a band of one row is placed without a pause for the event loop', async () => {
  const rules = { minDistance: 1.5, maxUses: Infinity, seed: 2 };
  const { placer, rows, answer } = await noisePlacer(200, rules);
  for (let firstRow = 0; firstRow < rows; firstRow++) {
    const cells = await answer({ firstRow, rows: 1 });
    let paused = false;
    setImmediate(() => (paused = true));
    await placer.placeRows(firstRow, 1, cells);
    assert.equal(paused, false, `row ${firstRow}`);
  }
});

test('aborting a large band under a budget stops it at its next pause, with the reason', async () => {
  // 144 x 108 cells in one band (--max-uses 400 of 40 pictures): far more than one pause's work.
  const rules = { minDistance: 1.5, maxUses: 400, seed: 4 };
  let done = 0;
  const { placer, rows, answer } = await noisePlacer(144, rules, (placed) => (done = placed));
  assert.equal(placementBandRows(144, rows, rules), rows, 'one band');
  const cells = await answer({ firstRow: 0, rows });
  const controller = new AbortController();
  const reason = new Error('stopped by the test');
  let abortedAt = 0;
  setTimeout(() => {
    abortedAt = performance.now();
    controller.abort(reason);
  }, 5);
  await assert.rejects(placer.placeRows(0, rows, cells, controller.signal), (error) => error === reason);
  const late = performance.now() - abortedAt;
  assert.ok(abortedAt > 0 && late < 200, `rejected ${late.toFixed(1)} ms after the abort`);
  assert.ok(done < 144 * rows, `${done} of ${144 * rows} cells placed`);
});

test('rows are placed one at a time, but under budgets as one assignment (bands of 16,384 cells beyond that)', () => {
  const free = { minDistance: 1.5, maxUses: Infinity, seed: 1 };
  assert.equal(placementBandRows(200, 125, free), 1);
  assert.equal(placementBandRows(200, 125, { ...free, maxUses: 25_000 }), 1, 'a budget as large as the grid is none');
  assert.equal(placementBandRows(128, 125, { ...free, maxUses: 3 }), 125);
  assert.equal(placementBandRows(128, 128, { ...free, required: 'all' }), 128, '--use-all over 16,384 cells is one assignment');
  assert.equal(placementBandRows(400, 250, { ...free, required: 'all' }), Math.floor(16_384 / 400), 'over 100,000 in bands');
  assert.equal(placementBandRows(128, 125, { ...free, excluded: Uint32Array.of(3) }), 125, 'so is --exclude');
  assert.equal(placementBandRows(2516, 1988, { ...free, maxUses: 3 }), Math.floor(16_384 / 2516));
  assert.equal(placementBandRows(300_000, 3, { ...free, maxUses: 3 }), 1, 'a row wider than a band is a band');
});
