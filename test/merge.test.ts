import assert from 'node:assert/strict';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { mergeIndexes, processCollection, readManifest } from '../src/index.js';
import { ONE_SHARD_TILES } from '../src/index-store/ann.js';
import { quote } from '../src/text.js';
import { picturesBySource, runCli, tempDir } from './helpers.js';
import { PALETTE, paletteCollection } from './fixtures.js';

/** The palette collection indexed whole and in three parts (3, 4 and 1 pictures). */
async function wholeAndParts(root: string): Promise<{ whole: string; parts: string[] }> {
  const collection = await paletteCollection(root);
  const whole = (await processCollection(collection, { out: path.join(root, 'whole'), tileSize: 4 })).index;
  const parts: string[] = [];
  for (let index = 1; index <= 3; index++) {
    parts.push(
      (await processCollection(collection, { out: path.join(root, `part-${index}`), tileSize: 4, shard: { index, count: 3 } })).index,
    );
  }
  return { whole, parts };
}

test('merging is idempotent: a merged index with one of its parts keeps each picture once, even written over itself', async () => {
  const root = await tempDir();
  const { whole, parts } = await wholeAndParts(root);
  const merged = path.join(root, 'merged');
  const first = await runCli(['merge', '-o', merged, ...parts, '-q']);
  assert.equal(first.code, 0, first.stderr);
  const expected = await picturesBySource(whole);
  assert.deepEqual(await picturesBySource(merged), expected);

  // The merged index and a part, in either order: the same pictures, the part's left out as duplicates.
  for (const inputs of [
    [merged, parts[1]!],
    [parts[1]!, merged],
  ]) {
    const again = path.join(root, 'again');
    const { code, stdout, stderr } = await runCli(['merge', '-o', again, ...inputs, '--json']);
    assert.equal(code, 0, stderr);
    const { tiles, duplicates } = JSON.parse(stdout) as { tiles: number; duplicates: number };
    const partPictures = (await readManifest(parts[1]!)).tileCount;
    assert.deepEqual([tiles, duplicates], [PALETTE.length, partPictures]);
    assert.deepEqual(await picturesBySource(again), expected);
    await rm(again, { recursive: true });
  }

  // Into the merged index itself (a part run again, merged in place): read before it is replaced.
  const inPlace = await runCli(['merge', '-o', merged, merged, parts[2]!, '-q']);
  assert.equal(inPlace.code, 0, inPlace.stderr);
  assert.deepEqual(await picturesBySource(merged), expected);
  assert.deepEqual((await readdir(root)).sort(), ['collection', 'merged', 'part-1', 'part-2', 'part-3', 'whole'], 'no temporary is left');
});

test('a merge that fits one HNSW shard builds one, as process-collection does; each shard is reported', async () => {
  const root = await tempDir();
  const { whole, parts } = await wholeAndParts(root);
  const progress: string[] = [];
  const merged = await mergeIndexes(parts, path.join(root, 'merged'), {
    onProgress: ({ stage, done, total }) => {
      if (stage === 'index') progress.push(`${done}/${total}`);
    },
  });
  const { ann } = await readManifest(merged.index);
  assert.equal(ann.shardTiles, ONE_SHARD_TILES);
  assert.deepEqual(ann, (await readManifest(whole)).ann);
  assert.deepEqual(progress, ['0/1', '1/1']);
});

test('merge checks every input before writing: a damaged last input or one changed meanwhile leaves nothing', async () => {
  const root = await tempDir();
  const { parts } = await wholeAndParts(root);
  const damaged = path.join(root, 'damaged');
  await cp(parts[2]!, damaged, { recursive: true });
  await rm(path.join(damaged, 'features.f32'));
  const out = path.join(root, 'merged');
  // Refused while checking, before the first input's tiles are copied.
  const copied: number[] = [];
  await assert.rejects(
    mergeIndexes([parts[0]!, parts[1]!, damaged], out, { onProgress: ({ stage, done }) => stage === 'tiles' && copied.push(done) }),
    { message: `${quote(damaged)} is damaged: features.f32 is missing; run process-collection again` },
  );
  assert.deepEqual(copied, []);

  // An input rewritten after it was checked (here as the first input's tiles are copied): refused when its turn comes.
  const manifestFile = path.join(parts[1]!, 'manifest.json');
  const rewritten = (await readFile(manifestFile, 'utf8')).replace(/"createdAt": "[^"]*"/, '"createdAt": "2030-01-01T00:00:00.000Z"');
  await assert.rejects(
    mergeIndexes(parts, out, {
      onProgress: ({ stage, done }) => {
        if (stage === 'tiles' && done === 1) writeFileSync(manifestFile, rewritten);
      },
    }),
    { message: `${quote(parts[1]!)} changed while it was being merged; merge again` },
  );
  assert.deepEqual(
    (await readdir(root)).sort(),
    ['collection', 'damaged', 'part-1', 'part-2', 'part-3', 'whole'],
    'nothing is left of the merge',
  );
  await writeFile(manifestFile, rewritten);
  assert.equal((await mergeIndexes(parts, out)).tiles, PALETTE.length);
});
