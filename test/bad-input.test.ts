import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { loadIndex, processCollection } from '../src/index.js';
import { lookalikeFiles, nonRegularLinks, NOT_ACCEPTED } from './fixtures.js';
import { colourDistance, handToUnprivileged, pngClaiming, ROOT, runCli, runUnprivileged, solidImage, tempDir } from './helpers.js';

/** A collection with one good picture and one file of every kind of bad input the issue lists. */
async function badCollection(
  root: string,
): Promise<{ collection: string; bad: Record<string, RegExp>; good: Record<string, readonly number[]> }> {
  const collection = path.join(root, 'collection');
  await mkdir(collection, { recursive: true });
  const noise = (width: number, height: number): Buffer =>
    Buffer.from(Array.from({ length: width * height * 3 }, (_, i) => (i * 7919) % 251));
  const jpeg = await sharp(noise(300, 200), { raw: { width: 300, height: 200, channels: 3 } })
    .jpeg()
    .toBuffer();
  const png = await sharp(noise(300, 200), { raw: { width: 300, height: 200, channels: 3 } })
    .png()
    .toBuffer();
  await writeFile(path.join(collection, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  await writeFile(path.join(collection, 'truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
  await writeFile(path.join(collection, 'zero.jpg'), '');
  await writeFile(path.join(collection, 'random.png'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)));
  await writeFile(path.join(collection, 'text.jpg'), 'this is a text file, not a picture\n');
  await mkdir(path.join(collection, 'folder.jpg'));
  await symlink('loop.jpg', path.join(collection, 'loop.jpg'));
  await writeFile(path.join(collection, 'huge.png'), pngClaiming(100_000, 100_000));
  await mkdir(path.join(collection, 'sub'));
  await symlink('..', path.join(collection, 'sub', 'up'));
  await nonRegularLinks(collection);
  const lookalikes = await lookalikeFiles(collection);
  const bad: Record<string, RegExp> = {
    ...Object.fromEntries(
      Object.entries(lookalikes).map(([name, kind]) => [name, new RegExp(`^${NOT_ACCEPTED} \\(it looks like ${kind}\\)$`)]),
    ),
    'truncated.jpg': /^truncated image/,
    'truncated.png': /^truncated image/,
    'zero.jpg': /^empty file$/,
    'random.png': new RegExp(`^${NOT_ACCEPTED}$`),
    'text.jpg': new RegExp(`^${NOT_ACCEPTED} \\(it looks like text\\)$`),
    'folder.jpg': /^not a regular file$/,
    // Opened, /dev/zero would be read forever; the FIFO, opened without O_NONBLOCK, would block.
    'device.jpg': /^not a regular file$/,
    'fifo.jpg': /^not a regular file$/,
    'loop.jpg': /^symbolic link loop$/,
    'huge.png': /larger than \d+ pixels, not decoded/,
    up: /^symbolic link to a folder already scanned/,
  };
  await solidImage(path.join(collection, 'with space.png'), [230, 30, 30]);
  await solidImage(path.join(collection, 'ünïcødé-写真.png'), [30, 200, 40]);
  await solidImage(path.join(collection, 'new\nline.png'), [40, 60, 220]);
  // An animated GIF: a yellow frame, then a black one; the tile is the first frame.
  const frame = (r: number, g: number, b: number): sharp.Sharp =>
    sharp({ create: { width: 24, height: 24, channels: 3, background: { r, g, b } } });
  const gif = await sharp([await frame(240, 230, 40).png().toBuffer(), await frame(0, 0, 0).png().toBuffer()], { join: { animated: true } })
    .gif()
    .toBuffer();
  await writeFile(path.join(collection, 'animated.gif'), gif);
  const good: Record<string, readonly number[]> = {
    'with space.png': [230, 30, 30],
    'ünïcødé-写真.png': [30, 200, 40],
    'new\nline.png': [40, 60, 220],
    'animated.gif': [240, 230, 40],
  };
  return { collection, bad, good };
}

test('every kind of bad input gives one warning, the run goes on and the index is valid', async () => {
  const root = await tempDir();
  const { collection, bad, good } = await badCollection(root);
  assert.equal((await sharp(path.join(collection, 'animated.gif')).metadata()).pages, 2, 'fixture: the GIF really has two frames');
  const out = path.join(root, 'index');
  const { code, stdout, stderr } = await runCli(['process-collection', collection, '-o', out, '-s', '8', '--json'], { timeout: 60_000 });
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout) as { tiles: number; skipped: { file: string; reason: string }[] };
  assert.equal(summary.tiles, Object.keys(good).length);
  assert.deepEqual(summary.skipped.map(({ file }) => path.basename(file)).sort(), Object.keys(bad).sort());
  for (const { file, reason } of summary.skipped) assert.match(reason, bad[path.basename(file)]!, file);
  const lines = stderr.trimEnd().split('\n');
  for (const name of Object.keys(bad)) {
    assert.equal(
      lines.filter((line) => line.startsWith('tsmosaic: warning: skipped ') && line.includes(JSON.stringify(name).slice(1, -1))).length,
      1,
      `one warning for ${name}: ${stderr}`,
    );
  }
  assert.ok(lines.includes(`tsmosaic: ${Object.keys(good).length} tiles indexed, ${Object.keys(bad).length} files skipped`), stderr);
  assert.equal(lines.length, Object.keys(bad).length + 1, `nothing else on stderr: ${stderr}`);

  const loaded = await loadIndex(out);
  assert.deepEqual(loaded.manifest.tiles.map(({ source }) => source).sort(), Object.keys(good).sort(), 'odd names are stored as they are');
  loaded.manifest.tiles.forEach(({ source }, id) => {
    const pixel = loaded.tiles.tile(id * loaded.manifest.crops);
    assert.ok(
      colourDistance([pixel[0]!, pixel[1]!, pixel[2]!], good[source]!) <= 6,
      `${JSON.stringify(source)}: ${pixel.subarray(0, 3).join(',')}`,
    );
  });
});

test('a file deleted between scan and read is one warning, and the run goes on', async () => {
  const root = await tempDir();
  const collection = path.join(root, 'collection');
  await mkdir(collection);
  await solidImage(path.join(collection, 'stays.png'), [10, 200, 10]);
  await solidImage(path.join(collection, 'vanishes.png'), [200, 10, 10]);
  const skipped: string[] = [];
  const result = await processCollection(collection, {
    tileSize: 8,
    concurrency: 1,
    onProgress: ({ stage, done, total }) => {
      // The scan has listed both files; delete one before any is read.
      if (stage === 'scan' && total === 2 && done === 2) rmSync(path.join(collection, 'vanishes.png'));
    },
    onSkip: ({ file, reason }) => skipped.push(`${path.basename(file)}: ${reason}`),
  });
  assert.equal(result.tiles, 1);
  assert.deepEqual(skipped, ['vanishes.png: file disappeared before it could be read']);
  assert.deepEqual(
    (await loadIndex(result.index)).manifest.tiles.map(({ source }) => source),
    ['stays.png'],
  );
});

test('an unreadable file (chmod 000) is one warning (read as nobody when the tests run as root, which reads anything)', async () => {
  const root = await tempDir();
  const collection = path.join(root, 'collection');
  await mkdir(collection);
  await solidImage(path.join(collection, 'readable.png'), [10, 200, 10]);
  const locked = await solidImage(path.join(collection, 'locked.png'), [200, 10, 10]);
  await handToUnprivileged(root);
  await chmod(locked, 0o000);
  let result: unknown;
  try {
    result = await runUnprivileged(
      `const { processCollection } = await import(process.argv[1]);
      const { loadSharp } = await import(process.argv[2]);
      await loadSharp();
      dropPrivileges();
      const { tiles, skipped } = await processCollection(process.argv[3], { tileSize: 8 });
      console.log(JSON.stringify({ tiles, skipped }));`,
      [path.join(ROOT, 'src', 'index.ts'), path.join(ROOT, 'src', 'load-sharp.ts'), collection],
    );
  } finally {
    await chmod(locked, 0o644);
  }
  assert.deepEqual(result, { tiles: 1, skipped: [{ file: locked, reason: 'permission denied' }] });
  assert.ok((await readFile(locked)).length > 0);
});
