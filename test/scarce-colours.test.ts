import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { buildMosaic, processCollection } from '../src/index.js';
import { solidImage, tempDir, type Rgb } from './helpers.js';

const root = await tempDir();

// Grey is scarce: two pictures close to the target's grey, two farther greys, and saturated colours
// far from it (an icon set against a foggy photo, in small).
const near: Rgb[] = [
  [124, 124, 124],
  [136, 136, 136],
];
const farther: Rgb[] = [
  [96, 96, 96],
  [168, 168, 168],
];
const saturated: Rgb[] = Array.from({ length: 16 }, (_, i) => {
  const hue = (i / 16) * 2 * Math.PI;
  return [128 + 110 * Math.cos(hue), 128 + 110 * Math.cos(hue - 2.1), 128 + 110 * Math.cos(hue + 2.1)].map(Math.round) as unknown as Rgb;
});
const folder = path.join(root, 'scarce');
await mkdir(folder, { recursive: true });
await Promise.all(
  [...near, ...farther, ...saturated].map((colour, i) =>
    solidImage(path.join(folder, `p${String(i).padStart(2, '0')}.png`), colour, 16, 16),
  ),
);
const index = (await processCollection(folder, { out: path.join(root, 'scarce-index'), tileSize: 4 })).index;
const target = await solidImage(path.join(root, 'grey.png'), [130, 130, 130], 40, 30);

interface Plan {
  columns: number;
  rows: number;
  cells: { source: string }[];
}

async function build(name: string, options: Parameters<typeof buildMosaic>[2]): Promise<{ cell: number; plan: Plan }> {
  const plan = path.join(root, `${name}.json`);
  const result = await buildMosaic(index, target, {
    out: path.join(root, `${name}.png`),
    tilesAcross: 40,
    measure: true,
    plan,
    ...options,
  });
  return { cell: result.deltaE!.cell, plan: JSON.parse(await readFile(plan, 'utf8')) as Plan };
}

test('where a colour is scarce, the defaults stay within 5 % of the nearest colour, never side by side', async () => {
  const nearest = await build('pycollage', { metric: 'rgb', minDistance: 0 });
  const defaults = await build('defaults', {});
  // Kept whole, 1.5 cells need four pictures around each cell, and grey has two near ones.
  const strict = await build('strict', { minDistance: 1.5 });
  assert.ok(
    defaults.cell <= nearest.cell * 1.05,
    `defaults ${defaults.cell.toFixed(2)} against the nearest colour's ${nearest.cell.toFixed(2)} (--min-distance 1.5: ${strict.cell.toFixed(2)})`,
  );
  assert.ok(strict.cell > nearest.cell * 1.5, `--min-distance 1.5 ${strict.cell.toFixed(2)}`);
  const { columns, rows, cells } = defaults.plan;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      const here = cells[y * columns + x]!.source;
      if (x + 1 < columns) assert.notEqual(cells[y * columns + x + 1]!.source, here, `(${x},${y}) and its right neighbour`);
      if (y + 1 < rows) assert.notEqual(cells[(y + 1) * columns + x]!.source, here, `(${x},${y}) and the cell below`);
    }
  }
  // Only the two near greys are used: the rule is kept by alternating them, not by far colours.
  assert.deepEqual([...new Set(cells.map((cell) => cell.source))].sort(), ['p00.png', 'p01.png']);
});
