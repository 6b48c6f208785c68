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
  // An 11x9 picture of distinct values; windows reduced to 3x3 or 2x2 cells with 1 to 6 taps a cell
  // (11 to 2 is 5.5 pixels a cell: 6 taps), 1, 3 and 4 channels, whole results and single rows, and
  // an output array full of junk to write into.
  const [pictureWidth, pictureHeight] = [11, 9];
  for (const channels of [3, 1, 4]) {
    const pixels = Uint8Array.from({ length: pictureWidth * pictureHeight * channels }, (_, i) => (i * 37) % 256);
    const windows = [
      [0, 0, 11, 9, 2],
      [1, 1, 3, 3, 3],
      [2, 0, 4, 5, 3],
      [0, 1, 6, 4, 3],
      [1, 0, 9, 9, 2],
      [3, 2, 7, 5, 3],
    ] as const;
    for (const [left, top, width, height, cells] of windows) {
      const cut = new Uint8Array(width * height * channels);
      for (let y = 0; y < height; y++) {
        const from = ((top + y) * pictureWidth + left) * channels;
        cut.set(pixels.subarray(from, from + width * channels), y * width * channels);
      }
      const expected = naiveAverage(cut, width, height, channels, cells, cells);
      const junk = new Float32Array(expected.length).fill(-1000);
      const whole = areaAverage(pixels, pictureWidth, pictureHeight, channels, cells, cells, 0, cells, { left, top, width, height }, junk);
      const lastRow = areaAverage(pixels, pictureWidth, pictureHeight, channels, cells, cells, cells - 1, 1, { left, top, width, height });
      const rowLength = cells * channels;
      for (let i = 0; i < expected.length; i++) {
        assert.ok(
          Math.abs(whole[i]! - expected[i]!) < 1e-3,
          `${channels} channels, window ${left},${top} ${width}x${height} value ${i}: ${whole[i]} against ${expected[i]}`,
        );
      }
      for (let i = 0; i < rowLength; i++) {
        const value = expected[(cells - 1) * rowLength + i]!;
        assert.ok(
          Math.abs(lastRow[i]! - value) < 1e-3,
          `${channels} channels, window ${left},${top} ${width}x${height}, last row value ${i}: ${lastRow[i]} against ${value}`,
        );
      }
    }
  }
});

test('areaAverage refuses rows outside the result, and gives zeros for an empty window', () => {
  assert.throws(() => areaAverage(Uint8Array.from([1, 2, 3, 4]), 2, 2, 1, 1, 2, 1, 2), RangeError);
  const empty = areaAverage(
    Uint8Array.from([1, 2, 3, 4]),
    2,
    2,
    1,
    2,
    2,
    0,
    2,
    { left: 1, top: 1, width: 0, height: 1 },
    new Float32Array(4).fill(7),
  );
  assert.deepEqual(Array.from(empty), [0, 0, 0, 0]);
});

/** The area average by definition: each cell's mean over the continuous overlap with every source pixel, one channel at a time. */
function naiveAverage(pixels: Uint8Array, width: number, height: number, channels: number, columns: number, rows: number): number[] {
  const cells: number[] = [];
  const overlap = (start: number, end: number, pixel: number): number => Math.max(0, Math.min(end, pixel + 1) - Math.max(start, pixel));
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const [x0, x1, y0, y1] = [
        (column * width) / columns,
        ((column + 1) * width) / columns,
        (row * height) / rows,
        ((row + 1) * height) / rows,
      ];
      for (let channel = 0; channel < channels; channel++) {
        let sum = 0;
        for (let y = 0; y < height; y++)
          for (let x = 0; x < width; x++) sum += overlap(x0, x1, x) * overlap(y0, y1, y) * pixels[(y * width + x) * channels + channel]!;
        cells.push(sum / ((x1 - x0) * (y1 - y0)));
      }
    }
  }
  return cells;
}
