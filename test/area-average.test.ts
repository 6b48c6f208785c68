import assert from 'node:assert/strict';
import { test } from 'node:test';
import { areaAverage, toBytes } from '../src/raster/area-average.js';

test('areaAverage reduces 2x2 to the mean of all four pixels', () => {
  const pixels = Uint8Array.from([0, 10, 20, 40, 50, 60, 80, 90, 100, 120, 130, 140]);
  assert.deepEqual(Array.from(areaAverage(pixels, 2, 2, 3, 1, 1)), [60, 70, 80]);
});

test('areaAverage weights pixels by their overlap when the factor is not whole', () => {
  // Three grey pixels 0, 90, 180 into two cells of 1.5 px: (0 + 0.5*90)/1.5 and (0.5*90 + 180)/1.5.
  const cells = areaAverage(Uint8Array.from([0, 90, 180]), 3, 1, 1, 2, 1);
  assert.ok(Math.abs(cells[0]! - 30) < 1e-4, `first cell ${cells[0]}`);
  assert.ok(Math.abs(cells[1]! - 150) < 1e-4, `second cell ${cells[1]}`);
});

test('areaAverage enlarges by repeating pixels', () => {
  const cells = areaAverage(Uint8Array.from([10, 200]), 2, 1, 1, 4, 2);
  assert.deepEqual(Array.from(toBytes(cells)), [10, 10, 200, 200, 10, 10, 200, 200]);
});

test('toBytes rounds and clamps', () => {
  assert.deepEqual(Array.from(toBytes(Float32Array.from([-3, 0.49, 0.5, 254.6, 300]))), [0, 0, 1, 255, 255]);
});

test('areaAverage gives each cell its overlapping pixels in windows of any size, like cutting the window out first', () => {
  // A 7x5 picture of distinct values; windows whose sides reduce to 3 cells with 1, 2, 3 and more taps a cell.
  const pixels = Uint8Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 37) % 256);
  for (const [left, top, width, height] of [[0, 0, 7, 5], [1, 1, 3, 3], [2, 0, 4, 5], [0, 1, 6, 4], [1, 0, 5, 5]] as const) {
    const cut = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) cut.set(pixels.subarray(((top + y) * 7 + left) * 3, ((top + y) * 7 + left + width) * 3), y * width * 3);
    const expected = naiveAverage(cut, width, height, 3, 3);
    const actual = areaAverage(pixels, 7, 5, 3, 3, 3, 0, 3, { left, top, width, height });
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < 1e-3, `window ${left},${top} ${width}x${height} value ${i}: ${actual[i]} against ${expected[i]}`);
  }
});

test('areaAverage refuses rows outside the result', () => {
  assert.throws(() => areaAverage(Uint8Array.from([1, 2, 3, 4]), 2, 2, 1, 1, 2, 1, 2), RangeError);
});

/** The area average by definition: each cell's mean over the continuous overlap with every source pixel, one channel at a time. */
function naiveAverage(pixels: Uint8Array, width: number, height: number, columns: number, rows: number): number[] {
  const cells: number[] = [];
  const overlap = (start: number, end: number, pixel: number): number => Math.max(0, Math.min(end, pixel + 1) - Math.max(start, pixel));
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const [x0, x1, y0, y1] = [(column * width) / columns, ((column + 1) * width) / columns, (row * height) / rows, ((row + 1) * height) / rows];
      for (let channel = 0; channel < 3; channel++) {
        let sum = 0;
        for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) sum += overlap(x0, x1, x) * overlap(y0, y1, y) * pixels[(y * width + x) * 3 + channel]!;
        cells.push(sum / ((x1 - x0) * (y1 - y0)));
      }
    }
  }
  return cells;
}
