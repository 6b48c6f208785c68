import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadIndex, processCollection, readManifest } from '../src/index.js';
import { MAX_ROOTS, rootsOf } from '../src/index-store/format.js';
import { quote } from '../src/text.js';
import { picturesBySource, runCli, tempDir } from './helpers.js';
import { PALETTE, paletteCollection } from './fixtures.js';

/** Two collection folders: the palette collection split in two. */
async function twoFolders(root: string): Promise<[string, string]> {
  const first = await paletteCollection(root);
  const second = path.join(root, 'second');
  await mkdir(second);
  await rename(path.join(first, 'nested'), path.join(second, 'nested'));
  await rename(path.join(first, 'c7.gif'), path.join(second, 'c7.gif'));
  return [first, second];
}

test('process-collection takes several folders; each tile names its folder', async () => {
  const root = await tempDir();
  const [first, second] = await twoFolders(root);
  const out = path.join(root, 'index');
  const { code, stdout, stderr } = await runCli(['process-collection', first, second, '-o', out, '-s', '6', '--json']);
  assert.equal(code, 0, stderr);
  assert.equal((JSON.parse(stdout) as { tiles: number }).tiles, PALETTE.length);
  const manifest = await readManifest(out);
  assert.equal(manifest.collection, first);
  assert.deepEqual(manifest.roots, [first, second]);
  assert.deepEqual(
    manifest.tiles.map(({ root, source }) => `${root ?? 0}:${source}`),
    ['0:c0.jpg', '0:c1.PNG', '0:c4.tif', '0:c5.png', '1:c7.gif', '1:nested/c2.webp', '1:nested/c6.JPG', '1:nested/deeper/c3.jpeg'],
  );
  const info = JSON.parse((await runCli(['info', out, '--json'])).stdout) as { sources: unknown };
  assert.deepEqual(info.sources, [
    { folder: first, tiles: 4 },
    { folder: second, tiles: 4 },
  ]);
  // The folders in the other order: every tile is still recognised and reused.
  const again = await processCollection([second, first], { out, tileSize: 6 });
  assert.deepEqual([again.processed, again.reused, again.removed], [0, PALETTE.length, 0]);

  const overlap = await runCli(['process-collection', first, path.join(first, 'nested'), '-o', out]);
  assert.equal(overlap.code, 2);
  assert.match(overlap.stderr, /^tsmosaic: collection folders must not overlap: .*nested is inside .*collection\n$/);
});

test('--shard i/n splits the files into n disjoint parts; merging the parts gives the whole index', async () => {
  const root = await tempDir();
  const [first, second] = await twoFolders(root);
  const whole = await processCollection([first, second], { out: path.join(root, 'whole'), tileSize: 6 });
  const parts: string[] = [];
  const sizes: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const part = path.join(root, `part${i}`);
    const { code, stdout, stderr } = await runCli([
      'process-collection',
      first,
      second,
      '-o',
      part,
      '-s',
      '6',
      '--shard',
      `${i}/3`,
      '--json',
    ]);
    assert.equal(code, 0, stderr);
    sizes.push((JSON.parse(stdout) as { tiles: number }).tiles);
    parts.push(part);
  }
  // Which part a file goes to is fixed by a CRC-32 of its relative path: here 3, 4 and 1 files.
  assert.deepEqual(sizes, [3, 4, 1]);
  const merged = path.join(root, 'merged');
  const { code, stdout, stderr } = await runCli(['merge', '-o', merged, ...parts, '--json']);
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout) as Record<string, unknown>;
  assert.deepEqual({ ...summary, seconds: 0 }, { index: merged, tiles: PALETTE.length, duplicates: 0, seconds: 0 });
  assert.deepEqual(await picturesBySource(merged), await picturesBySource(whole.index));
  const loaded = await loadIndex(merged);
  assert.equal(loaded.ann.getCurrentCount(), PALETTE.length * loaded.manifest.crops);

  // Shards are deterministic: the same command gives the same part.
  const again = await processCollection([first, second], { out: path.join(root, 'again'), tileSize: 6, shard: { index: 1, count: 3 } });
  assert.deepEqual(await picturesBySource(again.index), await picturesBySource(parts[0]!));

  // Merging an index with itself keeps each tile once.
  const twice = await runCli(['merge', '-o', path.join(root, 'twice'), merged, merged]);
  assert.equal(twice.code, 0, twice.stderr);
  assert.equal(twice.stderr, `tsmosaic: ${PALETTE.length} tiles were in more than one index and are kept once\n`);
  assert.equal((await readManifest(path.join(root, 'twice'))).tileCount, PALETTE.length);
});

test('merge refuses indexes of another tile size or fit with a clear error, and --shard is validated', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const small = await processCollection(collection, { out: path.join(root, 'small'), tileSize: 6 });
  const large = await processCollection(collection, { out: path.join(root, 'large'), tileSize: 8 });
  const { code, stdout, stderr } = await runCli(['merge', '-o', path.join(root, 'merged'), small.index, large.index]);
  assert.equal(code, 1);
  assert.equal(stdout, '');
  assert.match(
    stderr,
    /^tsmosaic: cannot merge ".*large" with ".*small": it has tile size 8, not 6 \(process both with the same --tile-size, --fit and --crops\)\n$/,
  );
  const missingOut = await runCli(['merge', small.index]);
  assert.equal(missingOut.code, 2);
  assert.match(missingOut.stderr, /required option '-o, --out <dir>' not specified/);
  for (const shard of ['0/2', '3/2', '1/0', 'a/b', '2']) {
    const bad = await runCli(['process-collection', collection, '--shard', shard]);
    assert.equal(bad.code, 2, shard);
    assert.match(bad.stderr, /--shard.*Expected i\/n with 1 <= i <= n/, shard);
  }
});

test('merge refuses an input whose tiles.rgb or features.f32 is not the size its manifest gives, naming it quoted', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const good = await processCollection(collection, { out: path.join(root, 'good'), tileSize: 4 });
  for (const [file, change, reason] of [
    ['tiles.rgb', 4, `tiles.rgb has ${PALETTE.length * 5 * 4 * 4 * 3 + 4} bytes, expected ${PALETTE.length * 5 * 4 * 4 * 3}`],
    ['features.f32', -4, `features.f32 has ${PALETTE.length * 5 * 48 * 4 - 4} bytes, expected ${PALETTE.length * 5 * 48 * 4}`],
  ] as const) {
    // A name a terminal would act on: quoted and escaped in the message.
    const damaged = path.join(root, `damaged\u001b]0;x\u0007-${file}`);
    await cp(good.index, damaged, { recursive: true });
    await truncate(path.join(damaged, file), (await stat(path.join(damaged, file))).size + change);
    const out = path.join(root, `merged-${file}`);
    const { code, stdout, stderr } = await runCli(['merge', '-o', out, good.index, damaged]);
    assert.equal(code, 1, file);
    assert.equal(stdout, '');
    assert.equal(stderr, `tsmosaic: ${quote(damaged)} is damaged: ${reason}; run process-collection again\n`);
    assert.ok(!(await readdir(root)).some((name) => name.includes(`merged-${file}`)), 'nothing is left of the merged index');
  }
});

test('merge takes inputs of up to MAX_ROOTS collection folders in all, and refuses more before any work', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const many = await processCollection(collection, { out: path.join(root, 'many'), tileSize: 4 });
  const manifestFile = path.join(many.index, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { roots?: string[]; tiles: { root?: number }[] };
  manifest.roots = Array.from({ length: MAX_ROOTS - 1 }, (_, i) => `/folder-${i}`);
  manifest.tiles.forEach((tile, i) => (tile.root = MAX_ROOTS - 2 - i));
  await writeFile(manifestFile, JSON.stringify(manifest));
  const other = await processCollection(collection, { out: path.join(root, 'other'), tileSize: 4 });
  const merged = path.join(root, 'merged');
  const { code, stderr } = await runCli(['merge', '-o', merged, '-q', many.index, other.index]);
  assert.equal(code, 0, stderr);
  const roots = rootsOf(await readManifest(merged));
  assert.equal(roots.length, MAX_ROOTS);
  assert.equal(roots[1000], '/folder-1000');
  assert.equal(roots[MAX_ROOTS - 1], collection);

  // One folder more: refused before any work, rather than written unreadable.
  const third = await processCollection(await paletteCollection(path.join(root, 'third')), {
    out: path.join(root, 'third-index'),
    tileSize: 4,
  });
  const tooMany = path.join(root, 'too-many');
  const refused = await runCli(['merge', '-o', tooMany, '-q', merged, third.index]);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    `tsmosaic: cannot write ${quote(tooMany)}: its tiles come from ${MAX_ROOTS + 1} collection folders, more than an index can list (${MAX_ROOTS})\n`,
  );
  assert.ok(!(await readdir(root)).some((name) => name.includes('too-many')));
});
