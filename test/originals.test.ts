import assert from 'node:assert/strict';
import { appendFile, cp, mkdir, readdir, readFile, rename, stat, truncate, utimes } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { buildMosaic } from '../src/build/build-mosaic.js';
import { TileDrawing } from '../src/build/original-tiles.js';
import { drawingScale } from '../src/build/original-tiles.js';
import { loadTile } from '../src/collection/load-tile.js';
import { Temporary } from '../src/files/publish.js';
import { loadIndex, openIndexTiles, readManifest } from '../src/index-store/read-index.js';
import { TileFile } from '../src/tiles/tile-file.js';
import { TileStore } from '../src/tiles/tile-store.js';
import { runCli, tempDir } from './helpers.js';

const root = await tempDir();
const collection = path.join(root, 'collection');
const index = path.join(root, 'index');
const target = path.join(root, 'target.png');
const NAMES = ['a.jpg', 'b.png', 'c.jpg', 'd.png', 'e.jpg', 'f.png', 'g.jpg', 'h.png', 'i.jpg', 'j.png'];

/** A picture with detail a 6 px tile loses: a gradient, stripes and a corner mark, different for each `seed`. */
async function detailed(file: string, seed: number): Promise<void> {
  const width = 120 + seed * 7;
  const height = 90 + seed * 5;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      pixels[at] = (x * 255) / width;
      pixels[at + 1] = ((Math.floor(x / 6) + Math.floor(y / 6)) % 2) * 200 + seed * 5;
      pixels[at + 2] = x < 20 && y < 20 ? 255 : (y * 255) / height;
    }
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } }).toFile(file);
}

await mkdir(collection);
await Promise.all(NAMES.map((name, i) => detailed(path.join(collection, name), i)));
await sharp({ create: { width: 60, height: 40, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 50 } } })
  .png()
  .toFile(target);
assert.equal((await runCli(['process-collection', collection, '-o', index, '-s', '6', '-q'])).code, 0);

interface Summary {
  width: number;
  height: number;
  columns: number;
  rows: number;
  originals?: { used: number; missing: number };
}

async function build(
  out: string,
  extra: string[] = [],
): Promise<{ summary: Summary; stderr: string; plan: { cells: { tile: number; crop?: number; mirrored?: boolean }[] } }> {
  const planFile = `${out}.plan.json`;
  const { code, stdout, stderr } = await runCli([
    'build',
    index,
    target,
    '--tiles-across',
    '6',
    '--tile-size',
    '48',
    '--min-distance',
    '0',
    '--plan',
    planFile,
    '-o',
    out,
    '--json',
    ...extra,
  ]);
  assert.equal(code, 0, stderr);
  return {
    summary: JSON.parse(stdout) as Summary,
    stderr,
    plan: JSON.parse(await readFile(planFile, 'utf8')) as { cells: { tile: number; crop?: number; mirrored?: boolean }[] },
  };
}

/** Mean absolute difference per channel value between two raw RGB images of the same size. */
function meanDifference(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

test('tiles larger than the index are drawn from the originals: each cell is its picture cut as indexed, mirrored or not', async () => {
  const out = path.join(root, 'large.png');
  const { summary, stderr, plan } = await build(out);
  assert.deepEqual([summary.width, summary.columns], [6 * 48, 6]);
  assert.deepEqual(summary.originals, { used: new Set(plan.cells.map(({ tile }) => tile)).size, missing: 0 });
  assert.doesNotMatch(stderr, /could not be drawn/);
  const manifest = await readManifest(index);
  const { data } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  let compared = 0;
  // Each picture is decoded as large as the crops the plan uses need (the resampling differs, the windows do not).
  const usedCrops = new Map<number, number>();
  for (const { tile, crop = 0 } of plan.cells) usedCrops.set(tile, (usedCrops.get(tile) ?? 0) | (1 << crop));
  for (const [cell, { tile, crop = 0, mirrored }] of plan.cells.entries()) {
    const file = path.join(collection, manifest.tiles[tile]!.source);
    const scale = drawingScale(usedCrops.get(tile)!);
    const tiles = (await loadTile(file, { width: 48, height: 48 }, 'crop', 5, undefined, { decodeScale: scale })).pixels;
    let expected = tiles.subarray(crop * 48 * 48 * 3, (crop + 1) * 48 * 48 * 3);
    if (mirrored)
      expected = await sharp(Buffer.from(expected), { raw: { width: 48, height: 48, channels: 3 } })
        .flop()
        .raw()
        .toBuffer();
    const x = (cell % 6) * 48;
    const y = Math.floor(cell / 6) * 48;
    const shown = Buffer.alloc(48 * 48 * 3);
    for (let row = 0; row < 48; row++)
      data.copy(shown, row * 48 * 3, ((y + row) * summary.width + x) * 3, ((y + row) * summary.width + x + 48) * 3);
    assert.ok(meanDifference(shown, expected) < 1, `cell ${cell}: tile ${tile} crop ${crop}${mirrored ? ' mirrored' : ''} differs`);
    compared++;
  }
  assert.equal(compared, 6 * summary.rows);
  // The stored tiles, enlarged, are much blurrier: the same build with --no-originals differs.
  const stored = path.join(root, 'stored.png');
  const { summary: storedSummary } = await build(stored, ['--no-originals']);
  assert.equal(storedSummary.originals, undefined);
  const enlarged = await sharp(stored).raw().toBuffer();
  assert.ok(meanDifference(enlarged, data) > 5, 'without the originals the tiles are the stored ones enlarged');
  assert.ok(!(await readdir(root)).some((name) => name.includes('.tmp-')), 'the drawn tiles are removed');
});

test('missing and changed originals fall back to their stored tiles, with one warning giving the count', async () => {
  const { plan } = await build(path.join(root, 'before.png'));
  const manifest = await readManifest(index);
  const used = [...new Set(plan.cells.map(({ tile }) => tile))];
  const [gone, changed, touched] = used.map((tile) => path.join(collection, manifest.tiles[tile]!.source));
  await rename(gone!, `${gone}.away`);
  await appendFile(changed!, Buffer.alloc(10));
  // Touched only: same bytes, a new mtime; its fingerprint says it is unchanged.
  const later = new Date(Date.now() + 60_000);
  await utimes(touched!, later, later);
  try {
    const { summary, stderr } = await build(path.join(root, 'after.png'));
    assert.deepEqual(summary.originals, { used: used.length - 2, missing: 2 });
    const warnings = stderr.split('\n').filter((line) => line.includes('could not be drawn'));
    assert.equal(warnings.length, 1, stderr);
    assert.match(
      warnings[0]!,
      /^tsmosaic: 2 of \d+ pictures could not be drawn from their original files .*their stored tiles are enlarged: /,
    );
  } finally {
    await rename(`${gone}.away`, gone!);
  }
});

test('tiles drawn into memory (few) are the ones drawn into a file (many), for the same plan', async () => {
  const manifest = await readManifest(index);
  const { tiles: stored } = await loadIndex(index, manifest);
  // Two rows of three cells, one picture's crops used twice; ids of the index's tiles (picture * crops + crop).
  const planTiles = Uint32Array.from([3, 0, 7, 7, 12, 1].map((id) => id % (manifest.tileCount * manifest.crops)));
  const drawn = async (inMemoryBytes?: number): Promise<Buffer[]> => {
    const temporary = await Temporary.create(path.join(root, 'drawn.tiles'));
    const drawing = new TileDrawing({
      manifest,
      stored,
      planTiles,
      columns: 3,
      shape: { width: 24, height: 24 },
      temporary,
      ...(inMemoryBytes === undefined ? {} : { inMemoryBytes }),
    });
    await drawing.done;
    try {
      const plan = drawing.plan({ columns: 3, rows: 2, tiles: planTiles });
      const source = drawing.tiles;
      const store = source instanceof TileFile ? source.load(planTiles) : source;
      assert.equal(source instanceof TileStore, inMemoryBytes === undefined);
      // Each cell's tile: from the file in cell order, from memory at the place the plan gives.
      return [...planTiles].map((_, cell) => Buffer.from(store.tile(source instanceof TileFile ? cell : plan.tiles[cell]!)));
    } finally {
      drawing.close();
      await temporary.discard();
    }
  };
  const [inMemory, inFile] = [await drawn(), await drawn(0)];
  assert.equal(inMemory.length, 6);
  inMemory.forEach((tile, cell) => assert.ok(tile.equals(inFile[cell]!), `cell ${cell}`));
});

test('a build drawing from the originals reads stored tiles one at a time, and refuses a damaged tiles.rgb before any work', async () => {
  const manifest = await readManifest(index);
  const loaded = await loadIndex(index, manifest);
  const reader = await openIndexTiles(loaded);
  try {
    for (let id = 0; id < loaded.tileCount; id++) assert.ok(reader.tile(id).equals(loaded.tiles.tile(id)), `tile ${id}`);
    assert.throws(() => reader.tile(loaded.tileCount), /is not in/);
  } finally {
    reader.close();
  }
  // A copy of the index whose tiles.rgb lost its last byte.
  const damaged = path.join(root, 'damaged-index');
  await cp(index, damaged, { recursive: true });
  const tiles = path.join(damaged, 'tiles.rgb');
  await truncate(tiles, (await stat(tiles)).size - 1);
  const out = path.join(root, 'damaged.png');
  const { code, stderr } = await runCli(['build', damaged, target, '--tiles-across', '6', '--tile-size', '48', '-o', out]);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /damaged-index" is damaged: tiles\.rgb has \d+ bytes, expected \d+; run process-collection again/);
  // Before any work: no cell is matched (the stored tiles are read only after placement).
  const stages = new Set<string>();
  await assert.rejects(
    buildMosaic(damaged, target, { out, tilesAcross: 6, tileSize: 48, onProgress: ({ stage }) => stages.add(stage) }),
    /tiles\.rgb has \d+ bytes/,
  );
  assert.ok(!stages.has('match'), [...stages].join(', '));
  assert.equal((await readdir(root)).filter((name) => name.startsWith('damaged.png') || name.startsWith('.damaged.png')).length, 0);
});
