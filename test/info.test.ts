import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ONE_SHARD_TILES } from '../src/index-store/ann.js';
import { MAX_ROOTS } from '../src/index-store/format.js';
import { MAX_MANIFEST_BYTES } from '../src/index-store/read-index.js';
import { runMeasured } from './bench/measure.js';
import { BIN, runCli, tempDir } from './helpers.js';
import { PALETTE, paletteCollection } from './fixtures.js';

test('info tells tiles, tile size, features, sources, size on disk and format version', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const index = path.join(root, 'index');
  assert.equal((await runCli(['process-collection', collection, '-o', index, '-s', '9', '--fit', 'stretch', '-q'])).code, 0);
  let bytes = 0;
  for (const name of await readdir(index)) bytes += (await stat(path.join(index, name))).size;

  const json = await runCli(['info', index, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stderr, '');
  const info = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.deepEqual(
    { ...info, createdAt: undefined },
    {
      index,
      format: 'tsmosaic-index',
      version: 4,
      createdAt: undefined,
      tiles: PALETTE.length,
      tileWidth: 9,
      tileHeight: 9,
      fit: 'stretch',
      crops: 5,
      features: { kind: 'srgb-grid', grid: 4, dimensions: 48 },
      ann: { shards: 1, shardTiles: ONE_SHARD_TILES },
      sources: [{ folder: collection, tiles: PALETTE.length }],
      bytes,
    },
  );
  assert.ok(!Number.isNaN(Date.parse(info.createdAt as string)));

  const text = await runCli(['info', index]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, 8), [
    `index         ${JSON.stringify(index)}`,
    'format        tsmosaic-index version 4',
    `tiles         ${PALETTE.length}`,
    'tile size     9 px, fit stretch, 5 crops per picture',
    'features      srgb-grid: 4x4 mean colours, 48 values per tile',
    'hnsw          1 file',
    `sources       ${JSON.stringify(collection)} (${PALETTE.length} tiles)`,
    `size on disk  ${(bytes / 1000).toFixed(1)} kB (${bytes} bytes)`,
  ]);
  assert.match(lines[8]!, /^created {7}"\d{4}-\d\d-\d\dT/);
});

test('info on a folder that is not an index, or of another version, exits 1 with one line', async () => {
  const root = await tempDir();
  const missing = await runCli(['info', path.join(root, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tsmosaic: index folder not found: ".*nope"\n$/);
  await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ format: 'tsmosaic-index', version: 1 }));
  const old = await runCli(['info', root]);
  assert.equal(old.code, 1);
  assert.match(
    old.stderr,
    /^tsmosaic: .* has index format version 1, this tsmosaic reads versions 3 and 4: run process-collection again\n$/,
  );
  assert.equal(old.stdout, '');
});

test('a manifest.json of up to MAX_MANIFEST_BYTES is read within 1 GB, a larger one refused by its size unread', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const index = path.join(root, 'index');
  assert.equal((await runCli(['process-collection', collection, '-o', index, '-s', '4', '-q'])).code, 0);
  // Valid JSON padded with spaces, with a character that makes its string UTF-16: the bytes, a string of twice their size and the objects.
  const manifestFile = path.join(index, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { createdAt: string };
  manifest.createdAt = `\u5199${manifest.createdAt}`;
  const text = Buffer.from(JSON.stringify(manifest));
  await writeFile(manifestFile, text);
  await appendFile(manifestFile, Buffer.alloc(MAX_MANIFEST_BYTES - text.length, 0x20));
  const largest = await runMeasured([process.execPath, BIN, 'info', index, '--json']);
  assert.equal(largest.code, 0, largest.stderr);
  assert.equal((JSON.parse(largest.stdout) as { tiles: number }).tiles, PALETTE.length);
  // With 500 MB accepted, such a manifest took 1.49 GB.
  assert.ok(largest.peakRssMb < 1024, `peak RSS ${largest.peakRssMb.toFixed(0)} MB`);

  await truncate(manifestFile, MAX_MANIFEST_BYTES + 1);
  const over = await runMeasured([process.execPath, BIN, 'info', index]);
  assert.equal(over.code, 1);
  assert.equal(
    over.stderr,
    `tsmosaic: ${JSON.stringify(index)} is not a readable tsmosaic index (manifest.json has ${MAX_MANIFEST_BYTES + 1} bytes, more than expected (${MAX_MANIFEST_BYTES})); run process-collection again\n`,
  );
  assert.ok(over.peakRssMb < 200, `refused unread: peak RSS ${over.peakRssMb.toFixed(0)} MB`);
});

test('info prints each of up to MAX_ROOTS collection folders of the longest names, escaped, within 1 GB; more are refused', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const index = path.join(root, 'index');
  assert.equal((await runCli(['process-collection', collection, '-o', index, '-s', '4', '-q'])).code, 0);
  const manifestFile = path.join(index, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { roots?: string[]; tiles: { root?: number }[] };
  // 4,096 characters, escaped to 6 each: 100 MB of names to print (65,536 folders of 3,000 characters took info to 1.6 GB).
  const name = (i: number): string => `/${'\u001b'.repeat(4087)}${String(i).padStart(8, '0')}`;
  manifest.roots = Array.from({ length: MAX_ROOTS }, (_, i) => name(i));
  manifest.tiles.forEach((tile, i) => (tile.root = i));
  await writeFile(manifestFile, JSON.stringify(manifest));
  for (const json of [false, true]) {
    const run = await runMeasured([process.execPath, BIN, 'info', index, ...(json ? ['--json'] : [])]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.peakRssMb < 1024, `peak RSS ${run.peakRssMb.toFixed(0)} MB`);
    assert.ok(!run.stdout.includes('\u001b'), 'every name escaped');
    const printed = json
      ? (JSON.parse(run.stdout) as { sources: { folder: string }[] }).sources.map(({ folder }) => folder)
      : run.stdout
          .split('\n')
          .flatMap((line) => /^(?:sources)? +(".*") \(\d+ tiles\)$/.exec(line)?.[1] ?? [])
          .map((quoted) => JSON.parse(quoted) as string);
    assert.equal(printed.length, MAX_ROOTS);
    assert.equal(printed[MAX_ROOTS - 1], name(MAX_ROOTS - 1));
  }

  manifest.roots.push(name(MAX_ROOTS));
  await writeFile(manifestFile, JSON.stringify(manifest));
  const over = await runCli(['info', index]);
  assert.equal(over.code, 1);
  assert.equal(
    over.stderr,
    `tsmosaic: ${JSON.stringify(index)} has a damaged manifest.json: roots has ${MAX_ROOTS + 1} entries, expected 1 to ${MAX_ROOTS}; run process-collection again\n`,
  );
});
