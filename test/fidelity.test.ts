import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { compareImages } from '../src/index.js';
import { MAX_INPUT_PIXELS } from '../src/files/image-file.js';
import { measureFidelity, meanDifferenceOfGrids, STRUCTURE_GRID } from '../src/quality/fidelity.js';
import type { MosaicPlan } from '../src/render/render-region.js';
import { lookalikeFiles, NOT_ACCEPTED } from './fixtures.js';
import { pngClaiming, solidImage, tempDir } from './helpers.js';

/** Deterministic pseudo-random numbers in [0, 1). */
function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const subs = STRUCTURE_GRID * STRUCTURE_GRID;

test('measureFidelity band by band gives what it gives over the whole grid at once', async () => {
  const next = random(7);
  const [columns, rows, tileCount] = [7, 5, 4];
  const plan: MosaicPlan = {
    columns,
    rows,
    tiles: Uint16Array.from({ length: columns * rows }, () => Math.floor(next() * tileCount)),
    mirrored: Uint8Array.from({ length: columns * rows }, () => (next() < 0.5 ? 1 : 0)),
    tint: Float32Array.from({ length: columns * rows * 3 }, () => (next() - 0.5) * 40),
  };
  const tileStructure = Float32Array.from({ length: tileCount * subs * 3 }, () => next() * 255);
  const target = Float32Array.from({ length: columns * rows * subs * 3 }, () => next() * 255);
  const rowValues = columns * subs * 3;
  const asked: [number, number][] = [];
  const targetRows = (firstRow: number, count: number): Float32Array => {
    asked.push([firstRow, count]);
    return target.subarray(firstRow * rowValues, (firstRow + count) * rowValues);
  };
  const whole = await measureFidelity(plan, targetRows, tileStructure, Infinity);
  assert.deepEqual(asked, [[0, 5]]);
  assert.ok(whole.cell > 5 && whole.structure > whole.cell, JSON.stringify(whole));
  for (const [bandCells, bands] of [
    [
      7,
      [
        [0, 1],
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 1],
      ],
    ],
    [
      15,
      [
        [0, 2],
        [2, 2],
        [4, 1],
      ],
    ],
    [
      1,
      [
        [0, 1],
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 1],
      ],
    ],
  ] as const) {
    asked.length = 0;
    const banded = await measureFidelity(plan, targetRows, tileStructure, bandCells);
    assert.deepEqual(asked, bands);
    assert.ok(
      Math.abs(banded.cell - whole.cell) < 1e-9 && Math.abs(banded.structure - whole.structure) < 1e-9,
      `${bandCells} cells a band: ${JSON.stringify(banded)} against ${JSON.stringify(whole)}`,
    );
  }
});

test('measureFidelity is the mean CIEDE2000 of the cells and of the sub-squares', async () => {
  // One row of two cells, each tile a flat colour and the target flat too: both scales give the same mean.
  const plan: MosaicPlan = { columns: 2, rows: 1, tiles: Uint16Array.from([0, 1]), mirrored: new Uint8Array(2) };
  const flat = (red: number, green: number, blue: number): number[] => Array.from({ length: subs }, () => [red, green, blue]).flat();
  const tileStructure = Float32Array.from([...flat(200, 30, 30), ...flat(30, 30, 200)]);
  // The target's structure grid is row-major over the whole 8 x 4 grid of sub-squares: every sub-square grey.
  const target = new Float32Array(2 * subs * 3).fill(128);
  const fidelity = await measureFidelity(plan, () => target, tileStructure);
  const expected =
    (meanDifferenceOfGrids(Float32Array.from([128, 128, 128]), Float32Array.from([200, 30, 30])) +
      meanDifferenceOfGrids(Float32Array.from([128, 128, 128]), Float32Array.from([30, 30, 200]))) /
    2;
  assert.ok(
    Math.abs(fidelity.cell - expected) < 1e-4 && Math.abs(fidelity.structure - expected) < 1e-4,
    `${JSON.stringify(fidelity)} against ${expected}`,
  );
});

test('compareImages reads files as collection pictures are read, and names a file it refuses', async () => {
  const dir = await tempDir();
  const photo = await solidImage(path.join(dir, 'photo.png'), [100, 150, 200], 40, 30);
  assert.deepEqual(await compareImages(photo, photo, 4, 3), { cell: 0, structure: 0 });
  // A header that claims 10^10 pixels is refused before anything is decoded.
  const huge = path.join(dir, 'huge.png');
  await writeFile(huge, pngClaiming(100_000, 100_000));
  await assert.rejects(compareImages(photo, huge, 4, 3), {
    name: 'TsmosaicError',
    message: `cannot compare ${huge}: image larger than ${MAX_INPUT_PIXELS} pixels, not decoded`,
  });
  for (const [name, kind] of Object.entries(await lookalikeFiles(dir))) {
    const file = path.join(dir, name);
    await assert.rejects(compareImages(file, photo, 4, 3), {
      name: 'TsmosaicError',
      message: `cannot compare ${file}: ${NOT_ACCEPTED} (it looks like ${kind})`,
    });
  }
  const missing = path.join(dir, 'missing.png');
  await assert.rejects(compareImages(photo, missing, 4, 3), {
    name: 'TsmosaicError',
    message: `cannot compare ${missing}: file not found`,
  });
});
