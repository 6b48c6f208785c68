import assert from 'node:assert/strict';
import { test } from 'node:test';
import { centreCrop, mmToPixels, printColumns, printPixels } from '../src/build/print.js';
import { parseColour, parseGrout, parsePrintSize } from '../src/options/print.js';
import { fittedLayout, isTiled, tiledLayout } from '../src/tiles/mosaic-layout.js';

test('print sizes parse with their unit and give round(inches x dpi) pixels', () => {
  assert.deepEqual(parsePrintSize('60x40cm'), { width: 60, height: 40, unit: 'cm' });
  assert.deepEqual(parsePrintSize(' 24 x 36 in '), { width: 24, height: 36, unit: 'in' });
  assert.deepEqual(parsePrintSize('420x297.5mm'), { width: 420, height: 297.5, unit: 'mm' });
  for (const bad of ['10x10', '0x10cm', '10x0cm', '-1x10cm', '10cm', 'axbcm', '10x10m', '2000x10cm'])
    assert.equal(parsePrintSize(bad), undefined, bad);
  assert.deepEqual(printPixels({ width: 60, height: 40, unit: 'cm' }, 300), { width: 7087, height: 4724 });
  assert.deepEqual(printPixels({ width: 100, height: 70, unit: 'cm' }, 300), { width: 11811, height: 8268 });
  assert.deepEqual(printPixels({ width: 24, height: 36, unit: 'in' }, 150), { width: 3600, height: 5400 });
  assert.equal(mmToPixels(1, 300), 12);
  assert.equal(printColumns({ width: 60, height: 40, unit: 'cm' }), 60);
  assert.equal(printColumns({ width: 5, height: 5, unit: 'cm' }), 20);
});

test('grout widths and colours parse; others are refused', () => {
  assert.deepEqual(parseGrout('4'), { width: 4, unit: 'px' });
  assert.deepEqual(parseGrout('4px'), { width: 4, unit: 'px' });
  assert.deepEqual(parseGrout('1.5mm'), { width: 1.5, unit: 'mm' });
  for (const bad of ['1.5', '-1', 'x', '4 cm', '2000px']) assert.equal(parseGrout(bad), undefined, bad);
  assert.deepEqual(parseColour('white'), [255, 255, 255]);
  assert.deepEqual(parseColour('RebeccaPurple'), [102, 51, 153]);
  assert.deepEqual(parseColour('#ff8800'), [255, 136, 0]);
  for (const bad of ['nope', '#ff88', 'rgba(0,0,0,0.5)', '']) assert.equal(parseColour(bad), undefined, bad);
});

test('the centre crop has the print aspect and is the largest that fits, or none', () => {
  assert.equal(centreCrop(3000, 2000, 1.5), undefined);
  assert.deepEqual(centreCrop(3000, 2000, 1), { left: 500, top: 0, width: 2000, height: 2000 });
  assert.deepEqual(centreCrop(2000, 3000, 1.5), { left: 0, top: 833, width: 2000, height: 1333 });
});

test('a fitted layout measures exactly the output, its cells differ by a pixel at most, grout only between them', () => {
  for (const [width, height, columns, rows, grout] of [
    [7087, 4724, 100, 67, 0],
    [7087, 4724, 100, 67, 12],
    [101, 50, 7, 3, 2],
  ] as const) {
    const layout = fittedLayout(width, height, columns, rows, grout);
    const widths = Array.from({ length: columns }, (_, c) => layout.columnStarts[c + 1]! - layout.columnStarts[c]! - grout);
    const heights = Array.from({ length: rows }, (_, r) => layout.rowStarts[r + 1]! - layout.rowStarts[r]! - grout);
    assert.equal(layout.columnStarts[0], 0);
    assert.equal(layout.columnStarts[columns]! - grout, width, 'the last cell ends at the right edge: no outer grout');
    assert.equal(layout.rowStarts[rows]! - grout, height);
    assert.ok(Math.max(...widths) - Math.min(...widths) <= 1 && Math.max(...heights) - Math.min(...heights) <= 1);
    assert.equal(layout.tileWidth, Math.max(...widths));
    assert.equal(widths.reduce((a, b) => a + b) + (columns - 1) * grout, width);
  }
  assert.throws(() => fittedLayout(100, 100, 50, 50, 2), RangeError);
  const tiled = tiledLayout(4, 3, 20, 10);
  assert.ok(isTiled(tiled));
  assert.deepEqual([tiled.width, tiled.height, tiled.columnStarts[4], tiled.rowStarts[3]], [80, 30, 80, 30]);
  assert.ok(!isTiled(fittedLayout(80, 30, 4, 3, 1)));
});
