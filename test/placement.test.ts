import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { buildMosaic, compareImages, processCollection, type BuildMosaicOptions } from '../src/index.js';
import { decode, meanOf, rawImage, solidImage, tempDir } from './helpers.js';

const root = await tempDir();

interface PlanFile {
  columns: number;
  rows: number;
  cells: { tile: number; source: string; crop?: number; mirrored?: boolean }[];
}

/** A collection of `count` solid tiles spread over many colours. */
async function colourfulCollection(name: string, count: number): Promise<string> {
  const folder = path.join(root, name);
  await mkdir(folder, { recursive: true });
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      solidImage(
        path.join(folder, `t${String(i).padStart(3, '0')}.png`),
        [(i * 53) % 256, (i * 97 + 40) % 256, (i * 31 + 90) % 256],
        16,
        16,
      ),
    ),
  );
  return (await processCollection(folder, { out: path.join(root, `${name}-index`), tileSize: 8 })).index;
}

/** A smooth gradient target. */
async function gradientTarget(file: string, width: number, height: number): Promise<string> {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set([(x * 255) / width, (y * 255) / height, 128], (y * width + x) * 3);
  }
  return rawImage(file, pixels, width, height);
}

async function buildPlan(index: string, target: string, options: BuildMosaicOptions): Promise<PlanFile> {
  const plan = path.join(root, `plan-${Math.random().toString(36).slice(2)}.json`);
  await buildMosaic(index, target, { out: path.join(root, 'plan-mosaic.png'), ...options, plan });
  return JSON.parse(await readFile(plan, 'utf8')) as PlanFile;
}

const index = await colourfulCollection('colourful', 60);
const target = await gradientTarget(path.join(root, 'gradient.png'), 120, 90);

test('the plan lists every cell row-major with its tile and source', async () => {
  const plan = await buildPlan(index, target, { tilesAcross: 12 });
  assert.equal(plan.columns, 12);
  assert.equal(plan.rows, 9);
  assert.equal(plan.cells.length, 108);
  for (const { tile, source } of plan.cells) {
    assert.ok(Number.isInteger(tile) && tile >= 0 && tile < 60);
    assert.equal(source, `t${String(tile).padStart(3, '0')}.png`, 'tile ids follow the sorted sources');
  }
});

test('--min-distance: no tile repeats within that many cells; by default never side by side', async () => {
  for (const [minDistance, options] of [
    [1, {}],
    [1.5, { minDistance: 1.5 }],
    [1, { minDistance: 1 }],
    [2, { minDistance: 2 }],
    [2.5, { minDistance: 2.5 }],
    [3, { minDistance: 3 }],
  ] as const) {
    const plan = await buildPlan(index, target, { tilesAcross: 24, ...options });
    const at = (x: number, y: number): number => plan.cells[y * plan.columns + x]!.tile;
    const reach = Math.floor(minDistance);
    for (let y = 0; y < plan.rows; y++) {
      for (let x = 0; x < plan.columns; x++) {
        for (let dy = -reach; dy <= reach; dy++) {
          for (let dx = -reach; dx <= reach; dx++) {
            const ox = x + dx;
            const oy = y + dy;
            if ((dx || dy) && dx * dx + dy * dy <= minDistance ** 2 && ox >= 0 && oy >= 0 && ox < plan.columns && oy < plan.rows) {
              assert.notEqual(at(ox, oy), at(x, y), `min-distance ${minDistance}: (${x},${y}) and (${ox},${oy})`);
            }
          }
        }
      }
    }
  }
  // Without the rule the same smooth gradient repeats tiles side by side.
  const free = await buildPlan(index, target, { tilesAcross: 24, minDistance: 0 });
  assert.ok(
    free.cells.some((cell, i) => i % free.columns > 0 && free.cells[i - 1]!.tile === cell.tile),
    'repeats happen without the rule',
  );
});

test('--max-uses and --unique cap how often each tile is used', async () => {
  const counts = (plan: PlanFile): number[] => {
    const uses = new Map<number, number>();
    for (const { tile } of plan.cells) uses.set(tile, (uses.get(tile) ?? 0) + 1);
    return [...uses.values()];
  };
  const capped = await buildPlan(index, target, { tilesAcross: 12, maxUses: 2 });
  assert.ok(Math.max(...counts(capped)) <= 2);
  const result = await buildMosaic(index, target, { out: path.join(root, 'u.png'), tilesAcross: 8, unique: true });
  assert.equal(result.distinctTiles, 8 * 6);
  assert.equal(result.maxUses, 1);
  await assert.rejects(
    buildMosaic(index, target, { out: path.join(root, 'u.png'), tilesAcross: 12, unique: true }),
    /108 cells with each tile used at most 1 time need at least 108 tiles; the index has 60/,
  );
  await assert.rejects(
    buildMosaic(index, target, { out: path.join(root, 'u.png'), tilesAcross: 12, minDistance: 5 }),
    /--min-distance 5 needs at least 81 different tiles .* the index has 60/,
  );
});

test('the same seed gives the same mosaic; another seed another one', async () => {
  const options = { tilesAcross: 16, minDistance: 2, seed: 7 };
  const first = await buildPlan(index, target, options);
  const second = await buildPlan(index, target, options);
  assert.deepEqual(first, second);
  const other = await buildPlan(index, target, { ...options, seed: 8 });
  assert.notDeepEqual(other.cells, first.cells);
});

test('the fill order does not leave the last rows worse under a tight budget', async () => {
  // A flat target and each tile usable once: the best tiles run out as cells fill. In raster
  // order the bottom rows would get all the worst tiles; the seeded random order spreads them.
  const flat = await solidImage(path.join(root, 'flat.png'), [120, 130, 140], 10, 6);
  const out = path.join(root, 'flat-mosaic.png');
  await buildMosaic(index, flat, { out, unique: true, minDistance: 0 });
  const mosaic = await decode(out);
  const error = (top: number): number => {
    let sum = 0;
    for (let row = top; row < top + 3; row++) {
      for (let column = 0; column < 10; column++) {
        const [r, g, b] = meanOf(mosaic.data, mosaic.width, column * 8, row * 8, 8, 8);
        sum += Math.hypot(r - 120, g - 130, b - 140);
      }
    }
    return sum / 30;
  };
  const [upper, lower] = [error(0), error(3)];
  assert.ok(lower < upper * 1.5 && upper < lower * 1.5, `upper half ${upper.toFixed(1)}, lower half ${lower.toFixed(1)}`);
});

test('corner crops: build picks the part of a picture that fits, and the rules count a picture once', async () => {
  // Pictures in four coloured quadrants: their centre squares are all muddy mixes, their corners pure.
  const folder = path.join(root, 'quadrants');
  await mkdir(folder, { recursive: true });
  await Promise.all(
    Array.from({ length: 40 }, (_, i) => {
      const colours = [0, 1, 2, 3].map((q) => [(i * 53 + q * 101) % 256, (i * 97 + q * 37 + 40) % 256, (i * 31 + q * 71 + 90) % 256]);
      const pixels = new Uint8Array(24 * 24 * 3);
      for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) pixels.set(colours[(y < 12 ? 0 : 2) + (x < 12 ? 0 : 1)]!, (y * 24 + x) * 3);
      return rawImage(path.join(folder, `q${String(i).padStart(2, '0')}.png`), pixels, 24, 24);
    }),
  );
  const cropped = (await processCollection(folder, { out: path.join(root, 'quadrants-index'), tileSize: 8 })).index;
  const centres = (await processCollection(folder, { out: path.join(root, 'quadrants-index1'), tileSize: 8, crops: 1 })).index;
  const minDistance = 2;
  const plan = await buildPlan(cropped, target, { tilesAcross: 16, minDistance });
  assert.ok(
    plan.cells.some(({ crop }) => crop !== 0),
    'corner crops are used',
  );
  for (const { tile, crop, source } of plan.cells) {
    assert.ok(crop !== undefined && crop >= 0 && crop < 5);
    assert.equal(source, `q${String(tile).padStart(2, '0')}.png`, 'tile is the picture');
  }
  for (let cell = 0; cell < plan.cells.length; cell++) {
    const [x, y] = [cell % plan.columns, Math.floor(cell / plan.columns)];
    plan.cells.forEach((other, j) => {
      const [ox, oy] = [j % plan.columns, Math.floor(j / plan.columns)];
      if (j !== cell && (ox - x) ** 2 + (oy - y) ** 2 <= minDistance ** 2)
        assert.notEqual(other.tile, plan.cells[cell]!.tile, `two crops of one picture at (${x},${y}) and (${ox},${oy})`);
    });
  }
  // pycollage's method, --no-crops and an index of centre squares use crop 0 only.
  for (const [index, options] of [
    [cropped, { metric: 'rgb' }],
    [cropped, { crops: false }],
    [centres, {}],
  ] as const) {
    const centrePlan = await buildPlan(index, target, { tilesAcross: 16, minDistance, ...options });
    assert.ok(
      centrePlan.cells.every(({ crop }) => (crop ?? 0) === 0),
      JSON.stringify(options),
    );
  }
  // The corners fit the gradient's colours better than the muddy centres.
  const fidelity = async (index: string, options: BuildMosaicOptions): Promise<number> =>
    (await buildMosaic(index, target, { out: path.join(root, 'q.png'), tilesAcross: 16, minDistance, measure: true, ...options })).deltaE!
      .cell;
  const [withCrops, without] = [await fidelity(cropped, {}), await fidelity(cropped, { crops: false })];
  assert.ok(withCrops < without * 0.8, `cell ΔE00 with crops ${withCrops.toFixed(2)}, centres only ${without.toFixed(2)}`);
  assert.equal(await fidelity(centres, {}), without, 'an index of centre squares matches the same');
});

test('structure decides the orientation with a 2x2 grid, and cannot with the mean alone', async () => {
  // Four tiles, each half dark and half light, one per orientation: all have the same mean colour.
  const folder = path.join(root, 'halves');
  await mkdir(folder, { recursive: true });
  const dark = [30, 30, 30];
  const light = [230, 230, 230];
  const orientations = ['left', 'right', 'top', 'bottom'] as const;
  const half = (where: (typeof orientations)[number], x: number, y: number, size: number): boolean =>
    where === 'left' ? x < size / 2 : where === 'right' ? x >= size / 2 : where === 'top' ? y < size / 2 : y >= size / 2;
  const picture = (where: (typeof orientations)[number], size: number): Uint8Array => {
    const pixels = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) pixels.set(half(where, x, y, size) ? dark : light, (y * size + x) * 3);
    return pixels;
  };
  await Promise.all(orientations.map((where) => rawImage(path.join(folder, `${where}.png`), picture(where, 32), 32, 32)));
  const halvesIndex = (await processCollection(folder, { out: path.join(root, 'halves-index'), tileSize: 8, crops: 1 })).index;
  // Target: 4 cells of 16 px, dark on the left, right, top and bottom in turn.
  const cells = orientations.map((where) => picture(where, 16));
  const pixels = new Uint8Array(64 * 16 * 3);
  cells.forEach((cell, i) => {
    for (let y = 0; y < 16; y++) pixels.set(cell.subarray(y * 48, (y + 1) * 48), (y * 64 + i * 16) * 3);
  });
  const edges = await rawImage(path.join(root, 'edges.png'), pixels, 64, 16);
  const darkSide = async (options: BuildMosaicOptions): Promise<string[]> => {
    const out = path.join(root, `halves-${Math.random().toString(36).slice(2)}.png`);
    await buildMosaic(halvesIndex, edges, { out, tilesAcross: 4, minDistance: 0, ...options });
    const { data, width } = await decode(out);
    return orientations.map((_, i) => {
      const luma = (x: number, y: number, w: number, h: number): number => meanOf(data, width, i * 8 + x, y, w, h)[0];
      const sides = { left: luma(0, 0, 4, 8), right: luma(4, 0, 4, 8), top: luma(0, 0, 8, 4), bottom: luma(0, 4, 8, 4) };
      return Object.entries(sides).sort((a, b) => a[1] - b[1])[0]![0];
    });
  };
  assert.deepEqual(await darkSide({ mirror: false }), [...orientations], 'default 2x2 structure picks every orientation right');
  assert.deepEqual(
    await darkSide({ method: { metric: 'lab', grid: 4, structureWeight: 0.5, mirror: false } }),
    [...orientations],
    'so does 4x4',
  );
  const meanOnly = await darkSide({ method: { metric: 'lab', grid: 1, structureWeight: 0, mirror: false } });
  assert.notDeepEqual(meanOnly, [...orientations], 'the mean colour alone cannot tell the halves apart');
});

test('--blend 100 gives every cell its target colour while keeping the tile', async () => {
  const flat = await solidImage(path.join(root, 'teal.png'), [20, 160, 150], 6, 4);
  const plain = path.join(root, 'plain.png');
  const blended = path.join(root, 'blended.png');
  await buildMosaic(index, flat, { out: plain });
  await buildMosaic(index, flat, { out: blended, blend: 100 });
  const before = await decode(plain);
  const after = await decode(blended);
  for (let cell = 0; cell < 24; cell++) {
    const [x, y] = [(cell % 6) * 8, Math.floor(cell / 6) * 8];
    const mean = meanOf(after.data, after.width, x, y, 8, 8);
    assert.ok(Math.hypot(mean[0] - 20, mean[1] - 160, mean[2] - 150) < 3, `cell ${cell}: ${mean}`);
  }
  assert.ok(!before.data.equals(after.data));
  const result = await buildMosaic(index, flat, { out: blended, blend: 100, measure: true });
  assert.ok(result.deltaE!.cell < 1, `blend 100 cell ΔE ${result.deltaE!.cell}`);
});

test('deltaE is zero for a mosaic of the target itself and grows with the difference', async () => {
  const sameIndex = await colourfulCollection('same', 12);
  const file = path.join(root, 'tile-target.png');
  await sharp(path.join(root, 'same', 't005.png'))
    .resize(4, 3)
    .toFile(file);
  const exact = await buildMosaic(sameIndex, file, { out: path.join(root, 'same.png'), minDistance: 0, measure: true });
  assert.ok(exact.deltaE!.cell < 0.5 && exact.deltaE!.structure < 0.5, JSON.stringify(exact.deltaE));
  const gradient = await buildMosaic(sameIndex, target, {
    out: path.join(root, 'same2.png'),
    tilesAcross: 12,
    minDistance: 0,
    measure: true,
  });
  assert.ok(gradient.deltaE!.cell > 2, JSON.stringify(gradient.deltaE));
});

test('compareImages on the written files agrees with the deltaE that build reports', async () => {
  const photo = path.join(root, 'photo-like.png');
  await gradientTarget(photo, 200, 150);
  const out = path.join(root, 'compare.png');
  const result = await buildMosaic(index, photo, { out, tilesAcross: 20, measure: true });
  const measured = await compareImages(photo, out, result.columns, result.rows);
  assert.ok(Math.abs(measured.cell - result.deltaE!.cell) < 0.05, `${measured.cell} vs ${result.deltaE!.cell}`);
  assert.ok(Math.abs(measured.structure - result.deltaE!.structure) < 0.05, `${measured.structure} vs ${result.deltaE!.structure}`);
  const self = await compareImages(photo, photo, 20, 15);
  assert.ok(self.cell < 1e-6 && self.structure < 1e-6);
});
