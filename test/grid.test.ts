import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertGridFits, assertOutputFits, rowsOver } from '../src/build/grid.js';

const rowsFor = (columns: number, width: number, height: number): number => rowsOver(columns, width, height);
import { MAX_CELLS } from '../src/options/options.js';
import { seededRandom } from '../src/match/random.js';

test('the largest --tiles-across offered is the largest that fits, found without counting down', () => {
  const random = seededRandom(7);
  for (let trial = 0; trial < 300; trial++) {
    const target = { width: 1 + Math.floor(random() * 5000), height: 1 + Math.floor(random() * 5000) };
    const tileSize = 1 + Math.floor(random() * 40);
    const maxPixels = 1 + Math.floor(random() * 5e7);
    const columns = 1 + Math.floor(random() * 3000);
    const grid = { columns, rows: rowsFor(columns, target.width, target.height) };
    const fits = (c: number): boolean => c * tileSize * rowsFor(c, target.width, target.height) * tileSize <= maxPixels;
    let expected = columns - 1;
    while (expected > 0 && !fits(expected)) expected--;
    try {
      assertOutputFits(
        grid,
        (c) => ({ width: c * tileSize, height: rowsFor(c, target.width, target.height) * tileSize }),
        'png',
        maxPixels,
      );
      assert.ok(fits(columns), `trial ${trial}: accepted a grid that does not fit`);
    } catch (error) {
      assert.ok(!fits(columns), `trial ${trial}: refused a grid that fits`);
      const hint = expected > 0 ? `use --tiles-across ${expected} or fewer` : 'use a smaller --tile-size';
      assert.match((error as Error).message, new RegExp(hint));
    }
  }
});

test('a grid of more cells than the plan can hold is refused at once, with the widest that fits', () => {
  const target = { width: 100, height: 16_000 };
  const grid = { columns: 50_000, rows: rowsFor(50_000, target.width, target.height) };
  assert.throws(
    () => assertGridFits(grid, (c) => rowsFor(c, target.width, target.height)),
    (error: Error) => {
      const columns = Number(/--tiles-across (\d+) or fewer/.exec(error.message)?.[1]);
      assert.ok(columns * rowsFor(columns, target.width, target.height) <= MAX_CELLS);
      assert.ok((columns + 1) * rowsFor(columns + 1, target.width, target.height) > MAX_CELLS);
      return true;
    },
  );
  assertGridFits({ columns: 4000, rows: 3000 }, (c) => rowsFor(c, 4000, 3000));
});

test('deep zoom takes any number of pixels, but no side over the 10,000,000 px libvips can open', () => {
  const wide = (c: number): { width: number; height: number } => ({ width: c * 500, height: 1000 });
  assertOutputFits({ columns: 20_000, rows: 2 }, wide, 'dzi', 1000);
  assert.throws(() => assertOutputFits({ columns: 20_001, rows: 2 }, wide, 'dzi', 1000), {
    message:
      'the mosaic would be 10000500x1000 px (10.00 gigapixels), larger than Deep Zoom allows (10000000 px per side): use --tiles-across 20000 or fewer',
  });
});
