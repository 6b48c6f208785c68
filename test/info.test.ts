import assert from 'node:assert/strict';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ONE_SHARD_TILES } from '../src/index-store/ann.js';
import { runCli, tempDir } from './helpers.js';
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
      version: 3,
      createdAt: undefined,
      tiles: PALETTE.length,
      tileSize: 9,
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
    'format        tsmosaic-index version 3',
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
  assert.match(old.stderr, /^tsmosaic: .* has index format version 1, this tsmosaic reads version 3: run process-collection again\n$/);
  assert.equal(old.stdout, '');
});
