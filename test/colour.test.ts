import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ciede2000 } from '../src/colour/ciede2000.js';
import { srgbArrayToLab, srgbToLab } from '../src/colour/lab.js';
import { seededRandom } from '../src/match/random.js';

// Table 1 of Sharma, Wu and Dalal (2005): L1 a1 b1, L2 a2 b2, ΔE00 (all 34 pairs).
const SHARMA_PAIRS: [number, number, number, number, number, number, number][] = [
  [50.0, 2.6772, -79.7751, 50.0, 0.0, -82.7485, 2.0425],
  [50.0, 3.1571, -77.2803, 50.0, 0.0, -82.7485, 2.8615],
  [50.0, 2.8361, -74.02, 50.0, 0.0, -82.7485, 3.4412],
  [50.0, -1.3802, -84.2814, 50.0, 0.0, -82.7485, 1.0],
  [50.0, -1.1848, -84.8006, 50.0, 0.0, -82.7485, 1.0],
  [50.0, -0.9009, -85.5211, 50.0, 0.0, -82.7485, 1.0],
  [50.0, 0.0, 0.0, 50.0, -1.0, 2.0, 2.3669],
  [50.0, -1.0, 2.0, 50.0, 0.0, 0.0, 2.3669],
  [50.0, 2.49, -0.001, 50.0, -2.49, 0.0009, 7.1792],
  [50.0, 2.49, -0.001, 50.0, -2.49, 0.001, 7.1792],
  [50.0, 2.49, -0.001, 50.0, -2.49, 0.0011, 7.2195],
  [50.0, 2.49, -0.001, 50.0, -2.49, 0.0012, 7.2195],
  [50.0, -0.001, 2.49, 50.0, 0.0009, -2.49, 4.8045],
  [50.0, -0.001, 2.49, 50.0, 0.001, -2.49, 4.8045],
  [50.0, -0.001, 2.49, 50.0, 0.0011, -2.49, 4.7461],
  [50.0, 2.5, 0.0, 50.0, 0.0, -2.5, 4.3065],
  [50.0, 2.5, 0.0, 73.0, 25.0, -18.0, 27.1492],
  [50.0, 2.5, 0.0, 61.0, -5.0, 29.0, 22.8977],
  [50.0, 2.5, 0.0, 56.0, -27.0, -3.0, 31.903],
  [50.0, 2.5, 0.0, 58.0, 24.0, 15.0, 19.4535],
  [50.0, 2.5, 0.0, 50.0, 3.1736, 0.5854, 1.0],
  [50.0, 2.5, 0.0, 50.0, 3.2972, 0.0, 1.0],
  [50.0, 2.5, 0.0, 50.0, 1.8634, 0.5757, 1.0],
  [50.0, 2.5, 0.0, 50.0, 3.2592, 0.335, 1.0],
  [60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644],
  [63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.263],
  [61.2901, 3.7196, -5.3901, 61.4292, 2.248, -4.962, 1.8731],
  [35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645],
  [22.7233, 20.0904, -46.694, 23.0331, 14.973, -42.5619, 2.0373],
  [36.4612, 47.858, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146],
  [90.8027, -2.0831, 1.441, 91.1528, -1.6435, 0.0447, 1.4441],
  [90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381],
  [6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377],
  [2.0776, 0.0795, -1.135, 0.9033, -0.0636, -0.5514, 0.9082],
];

test('CIEDE2000 matches all 34 published test pairs of Sharma, Wu and Dalal, in both orders', () => {
  SHARMA_PAIRS.forEach(([l1, a1, b1, l2, a2, b2, expected], i) => {
    assert.ok(
      Math.abs(ciede2000(l1, a1, b1, l2, a2, b2) - expected) < 5e-5,
      `pair ${i + 1}: ${ciede2000(l1, a1, b1, l2, a2, b2)} vs ${expected}`,
    );
    assert.ok(Math.abs(ciede2000(l2, a2, b2, l1, a1, b1) - expected) < 5e-5, `pair ${i + 1} reversed`);
  });
  assert.equal(ciede2000(50, 10, -10, 50, 10, -10), 0);
});

test('CIEDE2000 is exactly 0 between a colour and itself, and the same both ways', () => {
  const random = seededRandom(11);
  for (let i = 0; i < 2000; i++) {
    const [l, a, b] = [random() * 100, random() * 200 - 100, random() * 200 - 100];
    assert.equal(ciede2000(l, a, b, l, a, b), 0, `${l} ${a} ${b}`);
    // Hues a little apart and nearly opposite, where the hue vectors' products lose precision first.
    for (const turn of [1e-6, 0.01, Math.PI - 1e-6]) {
      const [a2, b2] = [a * Math.cos(turn) - b * Math.sin(turn), a * Math.sin(turn) + b * Math.cos(turn)];
      const there = ciede2000(l, a, b, l + 1, a2, b2);
      assert.ok(Math.abs(there - ciede2000(l + 1, a2, b2, l, a, b)) <= 1e-12 * there, `${l} ${a} ${b} turned ${turn}`);
    }
  }
});

test('sRGB to CIELAB (D65) gives the reference values', () => {
  const close = (actual: number[], expected: number[]): void =>
    actual.forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) < 0.02, `${actual} vs ${expected}`));
  close(srgbToLab(255, 255, 255), [100, 0, 0]);
  close(srgbToLab(0, 0, 0), [0, 0, 0]);
  close(srgbToLab(255, 0, 0), [53.24, 80.09, 67.2]);
  close(srgbToLab(0, 255, 0), [87.73, -86.18, 83.18]);
  close(srgbToLab(0, 0, 255), [32.3, 79.19, -107.86]);
  close(srgbToLab(128, 128, 128), [53.59, 0, 0]);
});

test('the table-driven array conversion agrees with the exact one', () => {
  const rgb = Float32Array.from({ length: 300 }, (_, i) => (i * 37.7) % 255.9);
  const fast = srgbArrayToLab(rgb);
  for (let i = 0; i < rgb.length; i += 3) {
    const exact = srgbToLab(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!);
    exact.forEach((value, c) => assert.ok(Math.abs(value - fast[i + c]!) < 1e-3, `${rgb.subarray(i, i + 3)}: ${value} vs ${fast[i + c]}`));
  }
});
