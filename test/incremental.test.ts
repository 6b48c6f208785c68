import assert from 'node:assert/strict';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { processCollection, readManifest, loadIndex } from '../src/index.js';
import { colourDistance, runCli, solidImage, tempDir } from './helpers.js';
import { PALETTE, paletteCollection } from './fixtures.js';

/** The bytes of an index's data files, to compare two indexes exactly. */
async function indexData(folder: string): Promise<{ tiles: Buffer; features: Buffer; sources: string[] }> {
  const manifest = await readManifest(folder);
  return {
    tiles: await readFile(path.join(folder, 'tiles.rgb')),
    features: await readFile(path.join(folder, 'features.f32')),
    sources: manifest.tiles.map(({ source }) => source),
  };
}

test('a second run over an unchanged collection reuses every tile and writes the same index', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const first = await processCollection(collection, { tileSize: 8 });
  assert.deepEqual([first.processed, first.reused, first.removed], [PALETTE.length, 0, 0]);
  const before = await indexData(first.index);
  const annBefore = await readFile(path.join(first.index, 'hnsw.bin'));
  const { ann: describedBefore } = await readManifest(first.index);
  assert.equal(describedBefore.shardLightness?.length, 1);
  const second = await processCollection(collection, { tileSize: 8 });
  assert.deepEqual([second.tiles, second.processed, second.reused, second.removed], [PALETTE.length, 0, PALETTE.length, 0]);
  assert.deepEqual(await indexData(second.index), before);
  assert.deepEqual(await readFile(path.join(second.index, 'hnsw.bin')), annBefore, 'the HNSW index is kept as it was');
  assert.deepEqual((await readManifest(second.index)).ann, describedBefore, 'with its description and lightness ranges');
  const loaded = await loadIndex(second.index);
  assert.equal(loaded.ann.getCurrentCount(), PALETTE.length * loaded.manifest.crops, 'every crop of every picture');
});

test('new and changed files are decoded, touched ones reused, deleted ones dropped: the same index as a full run', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const out = path.join(root, 'index');
  await processCollection(collection, { out, tileSize: 8 });
  await solidImage(path.join(collection, 'new.png'), [120, 60, 10], 50, 50);
  await solidImage(path.join(collection, 'c0.jpg'), [10, 120, 250], 90, 60); // changed: another size
  await rm(path.join(collection, 'nested', 'c2.webp'));
  const later = new Date(Date.now() + 60_000);
  await utimes(path.join(collection, 'c5.png'), later, later); // touched: same bytes, new mtime
  const notes: string[] = [];
  const result = await processCollection(collection, { out, tileSize: 8, onNote: (note) => notes.push(note) });
  assert.deepEqual([result.tiles, result.processed, result.reused, result.removed], [PALETTE.length, 2, PALETTE.length - 2, 1]);
  assert.deepEqual(notes, []);
  const manifest = await readManifest(out);
  const touched = manifest.tiles.find(({ source }) => source === 'c5.png')!;
  assert.equal(touched.mtimeMs, (await stat(path.join(collection, 'c5.png'))).mtimeMs, 'the new mtime is recorded');

  const incremental = await indexData(out);
  const full = await processCollection(collection, { out: path.join(root, 'full'), tileSize: 8 });
  assert.deepEqual(incremental, await indexData(full.index));
  const loaded = await loadIndex(out);
  const changed = manifest.tiles.findIndex(({ source }) => source === 'c0.jpg');
  const pixel = loaded.tiles.tile(changed);
  assert.ok(
    colourDistance([pixel[0]!, pixel[1]!, pixel[2]!], [10, 120, 250]) <= 4,
    `the changed file's new colour: ${pixel.subarray(0, 3).join(',')}`,
  );
});

test('a file rewritten with the same size and a new mtime is decoded again (its fingerprint differs)', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const out = path.join(root, 'index');
  const file = path.join(collection, 'same-size.png');
  const png = (r: number, g: number, b: number): Promise<Buffer> =>
    sharp({ create: { width: 30, height: 30, channels: 3, background: { r, g, b } } })
      .png()
      .toBuffer();
  const [before, after] = [await png(10, 20, 30), await png(200, 100, 50)];
  assert.equal(before.length, after.length, 'fixture: both files have the same size');
  await writeFile(file, before);
  await processCollection(collection, { out, tileSize: 8 });
  await writeFile(file, after);
  const later = new Date(Date.now() + 60_000);
  await utimes(file, later, later);
  const result = await processCollection(collection, { out, tileSize: 8 });
  assert.deepEqual([result.processed, result.reused], [1, PALETTE.length]);
  const loaded = await loadIndex(out);
  const id = loaded.manifest.tiles.findIndex(({ source }) => source === 'same-size.png');
  const pixel = loaded.tiles.tile(id * loaded.manifest.crops);
  assert.ok(colourDistance([pixel[0]!, pixel[1]!, pixel[2]!], [200, 100, 50]) <= 4);
});

test('another tile size or fit, or rebuild, decodes every file; a note says why', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  await processCollection(collection, { tileSize: 8 });
  const notes: string[] = [];
  const resized = await processCollection(collection, { tileSize: 10, onNote: (note) => notes.push(note) });
  assert.deepEqual([resized.processed, resized.reused], [PALETTE.length, 0]);
  assert.deepEqual(notes, ['the existing index has tile size 8, this run 10: processing every file']);
  const refit = await processCollection(collection, { tileSize: 10, fit: 'stretch', onNote: (note) => notes.push(note) });
  assert.equal(refit.processed, PALETTE.length);
  assert.match(notes[1]!, /fit crop, this run stretch/);
  const recropped = await processCollection(collection, { tileSize: 10, fit: 'stretch', crops: 1, onNote: (note) => notes.push(note) });
  assert.equal(recropped.processed, PALETTE.length);
  assert.match(notes[2]!, /5 crops per picture, this run 1/);
  const rebuilt = await processCollection(collection, { tileSize: 10, fit: 'stretch', crops: 1, rebuild: true });
  assert.deepEqual([rebuilt.processed, rebuilt.reused, rebuilt.removed], [PALETTE.length, 0, 0]);
});

test('process-collection --json reports processed, reused and removed; --rebuild forces a full run', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const out = path.join(root, 'index');
  const first = await runCli(['process-collection', collection, '-o', out, '-s', '6', '--json']);
  assert.equal(first.code, 0, first.stderr);
  await rm(path.join(collection, 'c7.gif'));
  const second = await runCli(['process-collection', collection, '-o', out, '-s', '6', '--json']);
  assert.equal(second.code, 0, second.stderr);
  const summary = JSON.parse(second.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(summary), ['index', 'tiles', 'processed', 'reused', 'removed', 'skipped', 'seconds']);
  assert.deepEqual([summary.tiles, summary.processed, summary.reused, summary.removed], [PALETTE.length - 1, 0, PALETTE.length - 1, 1]);
  assert.match(second.stderr, /^tsmosaic: 0 processed, 7 reused, 1 removed$/m);
  const rebuilt = await runCli(['process-collection', collection, '-o', out, '-s', '6', '--json', '--rebuild']);
  const full = JSON.parse(rebuilt.stdout) as Record<string, unknown>;
  assert.deepEqual([full.processed, full.reused, full.removed], [PALETTE.length - 1, 0, 0]);
  const resized = await runCli(['process-collection', collection, '-o', out, '-s', '7']);
  assert.equal(resized.code, 0);
  assert.match(resized.stderr, /^tsmosaic: the existing index has tile size 6, this run 7: processing every file$/m);
});
