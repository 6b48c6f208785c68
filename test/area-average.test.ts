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
