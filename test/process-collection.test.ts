import assert from 'node:assert/strict';
import { appendFile, chown, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { processCollection, readManifest, loadIndex, TsmosaicError, type Progress } from '../src/index.js';
import { colourDistance, tempDir } from './helpers.js';
import { everyReadFormat, FORMAT_COLOUR, PALETTE, paletteCollection } from './fixtures.js';
import { Temporary } from '../src/files/publish.js';

test('indexes every image below the collection, skipping bad and hidden files', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root, { withBadFiles: true });
  const skippedLive: string[] = [];
  const stages = new Set<Progress['stage']>();
  const result = await processCollection(collection, {
    tileSize: 12,
    onSkip: ({ file }) => skippedLive.push(path.basename(file)),
    onProgress: ({ stage }) => stages.add(stage),
  });
  assert.equal(result.index, path.join(root, 'index'), 'default index folder sits beside the collection');
  assert.equal(result.tiles, PALETTE.length);
  assert.deepEqual(result.skipped.map(({ file }) => path.basename(file)).sort(), ['empty.jpg', 'notes.jpg']);
  assert.deepEqual(skippedLive.sort(), ['empty.jpg', 'notes.jpg']);
  for (const { file, reason } of result.skipped) {
    assert.ok(file.startsWith(collection), `skipped file named by its path: ${file}`);
    assert.ok(reason.length > 0 && !reason.includes('\n'));
  }
  assert.deepEqual([...stages].sort(), ['index', 'scan', 'tiles']);

  const manifest = await readManifest(result.index);
  assert.deepEqual([manifest.tileWidth, manifest.tileHeight, manifest.version], [12, 12, 4]);
  assert.equal(manifest.tileCount, PALETTE.length);
  assert.equal(manifest.crops, 5);
  assert.deepEqual(manifest.features, { kind: 'srgb-grid', grid: 4, dimensions: 48 });
  assert.deepEqual(
    manifest.tiles.map(({ source }) => source),
    ['c0.jpg', 'c1.PNG', 'c4.tif', 'c5.png', 'c7.gif', 'nested/c2.webp', 'nested/c6.JPG', 'nested/deeper/c3.jpeg'],
    'sources are relative and in a stable order',
  );
  const loaded = await loadIndex(result.index);
  assert.equal(loaded.tiles.count, PALETTE.length * 5, 'five crops per picture');
  manifest.tiles.forEach(({ source }, picture) => {
    const colour = PALETTE[Number(/c(\d)/.exec(source)![1])]!;
    // Every crop of a one-colour picture has its colour.
    for (let id = picture * 5; id < picture * 5 + 5; id++) {
      for (let sub = 0; sub < 16; sub++) {
        const feature = Array.from(loaded.features.subarray(id * 48 + sub * 3, id * 48 + sub * 3 + 3));
        assert.ok(colourDistance(feature, colour) <= 4, `${source} crop ${id % 5}: feature ${feature} vs ${colour}`);
      }
      const tile = loaded.tiles.tile(id);
      assert.ok(colourDistance([tile[0]!, tile[1]!, tile[2]!], colour) <= 4, `${source}: tile pixel`);
    }
  });
  const files = (await readdir(result.index)).sort();
  assert.deepEqual(files, ['features.f32', 'hnsw.bin', 'manifest.json', 'tiles.rgb']);
  assert.equal((await stat(path.join(result.index, 'tiles.rgb'))).size, PALETTE.length * 5 * 12 * 12 * 3);
});

test('every format tsmosaic reads is indexed: JPEG (RGB, CMYK), PNG (alpha, 16-bit, palette), WebP and GIF (first frame), TIFF, AVIF, HEIF', async () => {
  const root = await tempDir();
  const collection = path.join(root, 'collection');
  await mkdir(collection);
  const tolerances = await everyReadFormat(collection);
  const result = await processCollection(collection, { tileSize: 8, crops: 1 });
  assert.deepEqual(result.skipped, []);
  const loaded = await loadIndex(result.index);
  assert.deepEqual(loaded.manifest.tiles.map(({ source }) => source).sort(), Object.keys(tolerances).sort());
  loaded.manifest.tiles.forEach(({ source }, id) => {
    const pixel = loaded.tiles.tile(id);
    const colour = [pixel[0]!, pixel[1]!, pixel[2]!];
    assert.ok(colourDistance(colour, FORMAT_COLOUR) <= tolerances[source]!, `${source}: ${colour}`);
  });
});

test('the index still loads after the collection is gone, and a re-run replaces it', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const out = path.join(root, 'elsewhere', 'my-index');
  await processCollection(collection, { out, tileSize: 8 });
  await writeFile(path.join(collection, 'extra.png'), await readFile(path.join(collection, 'c5.png')));
  const second = await processCollection(collection, { out, tileSize: 8 });
  assert.equal(second.tiles, PALETTE.length + 1);
  assert.equal((await readManifest(out)).tileCount, PALETTE.length + 1);
  assert.deepEqual((await readdir(path.dirname(out))).sort(), ['my-index'], 'no temporary or old folders are left');
  await rm(collection, { recursive: true });
  const loaded = await loadIndex(out);
  assert.equal(loaded.tiles.count, (PALETTE.length + 1) * 5);
});

test('an output folder inside the collection is not scanned', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const out = path.join(collection, 'index');
  await processCollection(collection, { out, tileSize: 8 });
  const again = await processCollection(collection, { out, tileSize: 8 });
  assert.equal(again.tiles, PALETTE.length);
});

/** Runs processCollection and aborts it once `after` tiles are written; returns the notes. */
async function interruptedRun(collection: string, out: string, tileSize: number, after: number): Promise<string[]> {
  const controller = new AbortController();
  const notes: string[] = [];
  await assert.rejects(
    processCollection(collection, {
      out,
      tileSize,
      concurrency: 1,
      signal: controller.signal,
      onNote: (note) => notes.push(note),
      onProgress: ({ stage, done }) => {
        if (stage === 'tiles' && done === after) controller.abort(new TsmosaicError('stop', 130));
      },
    }),
    /stop/,
  );
  return notes;
}

test('an aborted run leaves the previous index intact and its finished tiles for the next run', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const out = path.join(root, 'index');
  await processCollection(collection, { out, tileSize: 8 });
  const before = await readFile(path.join(out, 'manifest.json'), 'utf8');
  assert.deepEqual(await interruptedRun(collection, out, 16, 3), [
    'the existing index has tile size 8, this run 16: processing every file',
    '3 tiles done are kept: run the same command again to continue',
  ]);
  assert.equal(await readFile(path.join(out, 'manifest.json'), 'utf8'), before);
  const left = (await readdir(root)).filter((name) => name.startsWith('.index.tmp-') && !name.endsWith('.lock'));
  assert.equal(left.length, 1, 'the interrupted run keeps its temporary folder');
  assert.ok((await readdir(root)).includes(`${left[0]}.lock`), 'with its lock file, now free');
  assert.ok((await readdir(path.join(root, left[0]!))).includes('checkpoint.json'));

  const notes: string[] = [];
  const resumed = await processCollection(collection, { out, tileSize: 16, onNote: (note) => notes.push(note) });
  assert.deepEqual([resumed.processed, resumed.reused], [PALETTE.length - 3, 3]);
  assert.ok(notes.includes('resuming an interrupted run: 3 tiles already done'), notes.join('; '));
  assert.deepEqual((await readdir(root)).sort(), ['collection', 'index'], 'the checkpoint is removed once used');
  const full = await processCollection(collection, { out: path.join(root, 'full'), tileSize: 16 });
  assert.deepEqual(await readFile(path.join(out, 'tiles.rgb')), await readFile(path.join(full.index, 'tiles.rgb')));
  assert.deepEqual(await readFile(path.join(out, 'features.f32')), await readFile(path.join(full.index, 'features.f32')));
});

test('the checkpoint of a killed run (streams ahead of it) is resumed; one of another tile size is only removed', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const out = path.join(root, 'index');
  await interruptedRun(collection, out, 12, 4);
  const [left] = temporaries(await readdir(root));
  // As a kill -9 leaves it: its lock free, a periodic checkpoint, more bytes on disk than it lists.
  const killed = path.join(root, '.index.tmp-0badc0de0badc0de');
  await rename(path.join(root, left!), killed);
  await rename(path.join(root, `${left!}.lock`), `${killed}.lock`);
  const checkpoint = JSON.parse(await readFile(path.join(killed, 'checkpoint.json'), 'utf8')) as { suspended: boolean; tileCount: number };
  assert.equal(checkpoint.tileCount, 4);
  await writeFile(path.join(killed, 'checkpoint.json'), JSON.stringify({ ...checkpoint, suspended: false, tileCount: 2 }));
  await appendFile(path.join(killed, 'tiles.rgb'), Buffer.alloc(100));
  await interruptedRun(collection, out, 10, 1);
  assert.equal(temporaries(await readdir(root)).length, 2);

  const result = await processCollection(collection, { out, tileSize: 12 });
  assert.deepEqual([result.processed, result.reused], [PALETTE.length - 2, 2]);
  assert.deepEqual((await readdir(root)).sort(), ['collection', 'index']);
  const full = await processCollection(collection, { out: path.join(root, 'full'), tileSize: 12 });
  assert.deepEqual(await readFile(path.join(out, 'tiles.rgb')), await readFile(path.join(full.index, 'tiles.rgb')));
});

test('a checkpoint whose source records are cut short is not reused: every file is decoded', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const out = path.join(root, 'index');
  await interruptedRun(collection, out, 12, 4);
  const [left] = temporaries(await readdir(root));
  const sources = path.join(root, left!, 'sources.ndjson');
  const records = (await readFile(sources, 'utf8')).split('\n');
  await writeFile(sources, records.slice(0, 2).join('\n'));
  const result = await processCollection(collection, { out, tileSize: 12 });
  assert.deepEqual([result.processed, result.reused], [PALETTE.length, 0]);
  assert.deepEqual((await readdir(root)).sort(), ['collection', 'index']);
});

test('a temporary folder left by a killed run is removed by the next run; one whose lock is held, or of a legacy name, is not', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  // A killed run's: its lock file is free.
  await mkdir(path.join(root, '.index.tmp-deadbeefdeadbeef'));
  await writeFile(path.join(root, '.index.tmp-deadbeefdeadbeef.lock'), '');
  // A live run's, maybe on another host sharing the folder: its lock is held (here by this process).
  const live = await Temporary.create(path.join(root, 'index'));
  await mkdir(live.path);
  await mkdir(path.join(root, '.index.tmp-4194305-deadbeef'));
  await processCollection(collection, { tileSize: 8 });
  assert.deepEqual(
    (await readdir(root)).sort(),
    [path.basename(live.path), `${path.basename(live.path)}.lock`, '.index.tmp-4194305-deadbeef', 'collection', 'index'].sort(),
  );
  await live.discard();
});

test('a checkpoint is resumed only for its own target and when this user wrote it', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const other = path.join(root, 'other');
  await interruptedRun(collection, other, 12, 4);
  const [left] = temporaries(await readdir(root));
  // Planted under the name of another target: its checkpoint names 'other'.
  const planted = path.join(root, `.index.tmp-${left!.slice('.other.tmp-'.length)}`);
  await rename(path.join(root, left!), planted);
  await rename(path.join(root, `${left!}.lock`), `${planted}.lock`);
  const out = path.join(root, 'index');
  const result = await processCollection(collection, { out, tileSize: 12 });
  assert.deepEqual([result.processed, result.reused], [PALETTE.length, 0]);
  assert.deepEqual((await readdir(root)).sort(), ['collection', 'index'], 'and removed');

  // Another user's checkpoint for this very target (CI runs as root, which can give it away).
  await rm(out, { recursive: true });
  await interruptedRun(collection, out, 12, 4);
  const [theirs] = temporaries(await readdir(root));
  for (const name of ['', '/checkpoint.json', '/tiles.rgb', '/features.f32', '/sources.ndjson']) {
    await chown(path.join(root, `${theirs!}${name}`), 65534, 65534);
  }
  const again = await processCollection(collection, { out, tileSize: 12 });
  assert.deepEqual([again.processed, again.reused], [PALETTE.length, 0]);
  assert.ok(temporaries(await readdir(root)).includes(theirs!), "another user's folder is left to them");
});

test('an index renamed aside by a killed run is put back', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const out = path.join(root, 'index');
  await processCollection(collection, { out, tileSize: 8 });
  // Killed between its two renames: the previous index aside, the lock free, no index.
  await rename(out, path.join(root, '.index.tmp-cafe0123cafe0123.old'));
  await writeFile(path.join(root, '.index.tmp-cafe0123cafe0123.lock'), '');
  // The next run first restores the old index, then replaces it as usual.
  await processCollection(collection, { out, tileSize: 8, fit: 'stretch' });
  assert.deepEqual((await readdir(root)).sort(), ['collection', 'index']);
  assert.equal((await readManifest(out)).fit, 'stretch');
});

test('refuses to replace a folder that is not an index', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const precious = path.join(root, 'documents');
  await mkdir(precious);
  await writeFile(path.join(precious, 'thesis.txt'), 'do not delete');
  await assert.rejects(processCollection(collection, { out: precious }), /not a tsmosaic index; refusing to replace it/);
  assert.equal(await readFile(path.join(precious, 'thesis.txt'), 'utf8'), 'do not delete');
});

test('a missing collection or one without usable images is an error', async () => {
  const root = await tempDir();
  await assert.rejects(processCollection(path.join(root, 'nope')), (error: unknown) => {
    assert.ok(error instanceof TsmosaicError);
    assert.equal(error.exitCode, 1);
    assert.match(error.message, /collection folder not found: .*nope/);
    return true;
  });
  const empty = path.join(root, 'empty');
  await mkdir(empty);
  await assert.rejects(processCollection(empty), /no usable image in ".*empty": no image files found/);
  await writeFile(path.join(empty, 'broken.jpg'), 'nope');
  await assert.rejects(processCollection(empty), /all 1 image files were skipped/);
  assert.deepEqual((await readdir(root)).sort(), ['empty'], 'nothing written');
});

test('options are validated with the option named', async () => {
  const root = await tempDir();
  await assert.rejects(
    processCollection(root, { tileSize: 0 }),
    /Expected a size in px: N for squares, or WxH, each side from 1 to 1024 for tileSize but received 0/,
  );
  await assert.rejects(processCollection(root, { tileSize: 1.5 }), /for tileSize but received 1.5/);
  // @ts-expect-error: an invalid fit from untyped callers
  await assert.rejects(processCollection(root, { fit: 'squash' }), /Expected one of crop, stretch for fit but received "squash"/);
});

/** The temporary folders (not lock files) among a folder's entries. */
function temporaries(names: string[]): string[] {
  return names.filter((name) => /^\.[^.]+\.tmp-/.test(name) && !name.endsWith('.lock')).sort();
}
