import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { ciede2000 } from '../src/colour/ciede2000.js';
import { srgbToLab } from '../src/colour/lab.js';
import { heatmapLayout, HEATMAP_SCALE_MAX } from '../src/build/heatmap.js';
import { decode, rawImage, runCli, solidImage, tempDir, type Rgb } from './helpers.js';

const COLUMNS = 12;
const ROWS = 9;

/** A small random generator, so that the target is the same on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Solid pictures of a few colours (PNG: exact), and a target of one pixel a cell in random
 * colours: each cell's error is then the CIEDE2000 between its pixel and its tile's colour.
 */
async function setUp(): Promise<{ folder: string; index: string; target: string; colours: Map<string, Rgb>; pixels: Uint8Array }> {
  const folder = await tempDir();
  const collection = path.join(folder, 'collection');
  await mkdir(collection, { recursive: true });
  const colours = new Map<string, Rgb>();
  const next = random(7);
  for (let i = 0; i < 14; i++) {
    const colour: Rgb = [Math.floor(next() * 256), Math.floor(next() * 256), Math.floor(next() * 256)];
    colours.set(`p${i}.png`, colour);
    await solidImage(path.join(collection, `p${i}.png`), colour);
  }
  const index = path.join(folder, 'index');
  const indexed = await runCli(['process-collection', collection, '-o', index, '-q']);
  assert.equal(indexed.code, 0, indexed.stderr);
  const pixels = new Uint8Array(COLUMNS * ROWS * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(next() * 256);
  const target = await rawImage(path.join(folder, 'target.png'), pixels, COLUMNS, ROWS);
  return { folder, index, target, colours, pixels };
}

const setup = setUp();

test('the heat map colours each cell by its CIEDE2000, and --json gives their spread', async () => {
  const { folder, index, target, colours, pixels } = await setup;
  const heatmap = path.join(folder, 'heat.png');
  const plan = path.join(folder, 'plan.json');
  const built = await runCli([
    'build',
    index,
    target,
    '--tiles-across',
    String(COLUMNS),
    '--min-distance',
    '0',
    '-o',
    path.join(folder, 'mosaic.png'),
    '--plan',
    plan,
    '--heatmap',
    heatmap,
    '--json',
    '-q',
  ]);
  assert.equal(built.code, 0, built.stderr);
  const summary = JSON.parse(built.stdout) as { heatmap: string; deltaE: { cell: number; p50: number; p95: number; max: number } };
  assert.equal(summary.heatmap, heatmap);

  // Each cell's error, computed here from the plan and the colours.
  const cells = (JSON.parse(await readFile(plan, 'utf8')) as { cells: { source: string }[] }).cells;
  assert.equal(cells.length, COLUMNS * ROWS);
  const errors = cells.map(({ source }, cell) => {
    const tile = colours.get(source)!;
    const [r, g, b] = [pixels[cell * 3]!, pixels[cell * 3 + 1]!, pixels[cell * 3 + 2]!];
    return ciede2000(...srgbToLab(r, g, b), ...srgbToLab(...tile));
  });
  const sorted = [...errors].sort((a, b) => a - b);
  const rank = (fraction: number): number => sorted[Math.ceil(fraction * sorted.length) - 1]!;
  assert.ok(Math.abs(summary.deltaE.cell - errors.reduce((sum, error) => sum + error, 0) / errors.length) < 0.01);
  assert.ok(Math.abs(summary.deltaE.p50 - rank(0.5)) < 0.01, `p50 ${summary.deltaE.p50}, computed ${rank(0.5)}`);
  assert.ok(Math.abs(summary.deltaE.p95 - rank(0.95)) < 0.01, `p95 ${summary.deltaE.p95}, computed ${rank(0.95)}`);
  assert.ok(Math.abs(summary.deltaE.max - sorted.at(-1)!) < 0.01, `max ${summary.deltaE.max}, computed ${sorted.at(-1)}`);
  assert.ok(sorted[0]! < 10 && sorted.at(-1)! > 20, `a spread of errors to order (${sorted[0]} to ${sorted.at(-1)})`);

  // The heat map: one block a cell, its lightness ordered as the cells' errors.
  const { scale, width, height } = heatmapLayout(COLUMNS, ROWS);
  assert.deepEqual(
    await sharp(heatmap)
      .metadata()
      .then(({ width, height, format }) => ({ width, height, format })),
    { width, height, format: 'png' },
  );
  const image = await decode(heatmap);
  const lightness = errors.map((_, cell) => {
    const x = (cell % COLUMNS) * scale + Math.floor(scale / 2);
    const y = Math.floor(cell / COLUMNS) * scale + Math.floor(scale / 2);
    const at = (y * image.width + x) * 3;
    return srgbToLab(image.data[at]!, image.data[at + 1]!, image.data[at + 2]!)[0];
  });
  for (let i = 0; i < errors.length; i++) {
    for (let j = 0; j < errors.length; j++) {
      if (errors[i]! >= errors[j]! || errors[i]! >= HEATMAP_SCALE_MAX) continue;
      assert.ok(lightness[i]! <= lightness[j]!, `cell ${i} (ΔE ${errors[i]}) is lighter than cell ${j} (ΔE ${errors[j]})`);
      if (errors[j]! - errors[i]! > 1)
        assert.ok(lightness[i]! < lightness[j]!, `cells ${i} and ${j}: ΔE ${errors[i]} and ${errors[j]}, same colour`);
    }
  }
  // A block is one colour throughout.
  const corner = (x: number, y: number): string => image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3).join();
  assert.equal(corner(0, 0), corner(scale - 1, scale - 1));
});

test('--heatmap without --json writes the map, and stdout is the output path alone', async () => {
  const { folder, index, target } = await setup;
  const heatmap = path.join(folder, 'quiet-heat.png');
  const out = path.join(folder, 'plain.png');
  const built = await runCli(['build', index, target, '--tiles-across', String(COLUMNS), '-o', out, '--heatmap', heatmap, '-q']);
  assert.equal(built.code, 0, built.stderr);
  assert.equal(built.stdout, `${out}\n`);
  assert.equal((await sharp(heatmap).metadata()).width, heatmapLayout(COLUMNS, ROWS).width);
});

test('a heat map that is not a PNG, or would replace the output, is refused before any work', async () => {
  const { folder, index, target } = await setup;
  const out = path.join(folder, 'refused.png');
  const jpeg = await runCli(['build', index, target, '-o', out, '--heatmap', path.join(folder, 'heat.jpg')]);
  assert.equal(jpeg.code, 2);
  assert.match(jpeg.stderr, /--heatmap .*heat\.jpg.*PNG/);
  assert.equal(jpeg.stderr.trim().split('\n').length, 1);
  const same = await runCli(['build', index, target, '-o', out, '--heatmap', out]);
  assert.equal(same.code, 1);
  assert.match(same.stderr, /--heatmap .* is the output itself/);
  await assert.rejects(readFile(out), { code: 'ENOENT' });
  const overTarget = await runCli(['build', index, target, '-o', out, '--heatmap', target]);
  assert.notEqual(overTarget.code, 0);
  assert.match(overTarget.stderr, /would overwrite the target/);
});
