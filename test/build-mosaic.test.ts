import assert from 'node:assert/strict';
import { cp, readdir, writeFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { buildMosaic, INDEX_FORMAT_VERSION, processCollection, TsmosaicError } from '../src/index.js';
import { colourDistance, decode, meanOf, rawImage, tempDir } from './helpers.js';
import { lookalikeFiles, NOT_ACCEPTED, PALETTE, paletteCollection, paletteIndex } from './fixtures.js';

const root = await tempDir();
const collection = await paletteCollection(root);
const TILE = 10;
const { index } = await processCollection(collection, { tileSize: TILE });

/** A target whose pixels are PALETTE colours, slightly perturbed, in a known layout. */
async function paletteTarget(file: string, width: number, height: number): Promise<number[]> {
  const layout: number[] = [];
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const choice = (i * 5 + Math.floor(i / width)) % PALETTE.length;
    layout.push(choice);
    pixels.set(
      PALETTE[choice]!.map((value, c) => Math.min(255, Math.max(0, value + ((i + c) % 7) - 3))),
      i * 3,
    );
  }
  await rawImage(file, pixels, width, height);
  return layout;
}

test('one tile per target pixel, each the tile of the nearest colour', async () => {
  const target = path.join(root, 'target.png');
  const layout = await paletteTarget(target, 9, 6);
  const out = path.join(root, 'mosaic.png');
  const result = await buildMosaic(index, target, { out, minDistance: 0 });
  assert.equal(result.output, out);
  assert.deepEqual([result.columns, result.rows, result.width, result.height], [9, 6, 90, 60]);
  assert.equal(result.distinctTiles, new Set(layout).size);
  const mosaic = await decode(out);
  assert.deepEqual([mosaic.width, mosaic.height], [90, 60]);
  layout.forEach((expected, cell) => {
    const x = (cell % 9) * TILE;
    const y = Math.floor(cell / 9) * TILE;
    const found = paletteIndex(meanOf(mosaic.data, mosaic.width, x, y, TILE, TILE));
    assert.equal(found, expected, `cell ${cell}`);
  });
  assert.deepEqual(Object.keys(result.timings), ['loadIndex', 'target', 'match', 'assemble', 'encode']);
});

test('a wide target is sampled down to 200 columns with a note; --tiles-across overrides', async () => {
  const target = path.join(root, 'wide.png');
  await sharp({ create: { width: 500, height: 100, channels: 3, background: { r: 230, g: 30, b: 30 } } })
    .png()
    .toFile(target);
  const notes: string[] = [];
  const wide = await buildMosaic(index, target, { out: path.join(root, 'wide-mosaic.png'), onNote: (note) => notes.push(note) });
  assert.deepEqual([wide.columns, wide.rows], [200, 40]);
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /500 px wide: sampling it down to 200 tiles across/);
  const narrow = await buildMosaic(index, target, {
    out: path.join(root, 'narrow.png'),
    tilesAcross: 25,
    onNote: (note) => notes.push(note),
  });
  assert.deepEqual([narrow.columns, narrow.rows, narrow.width, narrow.height], [25, 5, 250, 50]);
  const upscaled = await buildMosaic(index, target, { out: path.join(root, 'up.png'), tilesAcross: 1000, maxPixels: 1e8 });
  assert.deepEqual([upscaled.columns, upscaled.rows], [1000, 200], '--tiles-across also goes beyond one tile per pixel');
  assert.equal(notes.length, 1, 'no note when the width is chosen');
});

test('cells average the target region they cover', async () => {
  // 40x20: left half red, right half blue, as a 2x1 grid.
  const pixels = new Uint8Array(40 * 20 * 3);
  for (let i = 0; i < 800; i++) pixels.set(i % 40 < 20 ? PALETTE[0]! : PALETTE[2]!, i * 3);
  const target = await rawImage(path.join(root, 'halves.png'), pixels, 40, 20);
  const out = path.join(root, 'halves-mosaic.png');
  await buildMosaic(index, target, { out, tilesAcross: 2 });
  const mosaic = await decode(out);
  assert.ok(colourDistance(meanOf(mosaic.data, mosaic.width, 0, 0, TILE, TILE), PALETTE[0]!) <= 4);
  assert.ok(colourDistance(meanOf(mosaic.data, mosaic.width, TILE, 0, TILE, TILE), PALETTE[2]!) <= 4);
});

test('a smaller output tile size scales the tiles down; a larger one draws them from the originals', async () => {
  const target = path.join(root, 'small-target.png');
  const layout = await paletteTarget(target, 5, 4);
  const out = path.join(root, 'small.png');
  const result = await buildMosaic(index, target, { out, tileSize: 4, minDistance: 0 });
  assert.deepEqual([result.width, result.height], [20, 16]);
  const mosaic = await decode(out);
  layout.forEach((expected, cell) => {
    const found = paletteIndex(meanOf(mosaic.data, 20, (cell % 5) * 4, Math.floor(cell / 5) * 4, 4, 4));
    assert.equal(found, expected, `cell ${cell}`);
  });
  const larger = await buildMosaic(index, target, { out, tileSize: TILE + 1, minDistance: 0 });
  assert.deepEqual([larger.width, larger.height, larger.originals?.missing], [5 * (TILE + 1), 4 * (TILE + 1), 0]);
  const drawn = await decode(out);
  layout.forEach((expected, cell) => {
    const found = paletteIndex(
      meanOf(drawn.data, larger.width, (cell % 5) * (TILE + 1), Math.floor(cell / 5) * (TILE + 1), TILE + 1, TILE + 1),
    );
    assert.equal(found, expected, `cell ${cell} at ${TILE + 1} px`);
  });
});

test('writes every supported format, chosen by extension', async () => {
  const target = path.join(root, 'formats-target.png');
  await paletteTarget(target, 6, 4);
  for (const extension of ['png', 'jpg', 'jpeg', 'webp', 'tif', 'tiff', 'avif']) {
    const out = path.join(root, 'formats', `m.${extension}`);
    await mkdir(path.dirname(out), { recursive: true });
    await buildMosaic(index, target, { out });
    const metadata = await sharp(out).metadata();
    assert.deepEqual([metadata.width, metadata.height], [60, 40], extension);
    const expected = { jpg: 'jpeg', tif: 'tiff', avif: 'heif' }[extension] ?? extension;
    assert.equal(metadata.format, expected, extension);
  }
  assert.deepEqual(
    (await readdir(path.join(root, 'formats'))).filter((name) => name.startsWith('.')),
    [],
    'no temporary files left',
  );
  await assert.rejects(buildMosaic(index, target, { out: path.join(root, 'm.bmp') }), /cannot tell the output format of .*m\.bmp/);
});

test('refuses outputs over the pixel or format limits before any work, suggesting a width', async () => {
  const target = path.join(root, 'limit-target.png');
  await paletteTarget(target, 40, 30);
  const out = path.join(root, 'limit.png');
  await assert.rejects(buildMosaic(index, target, { out, maxPixels: 50_000 }), (error: unknown) => {
    assert.ok(error instanceof TsmosaicError);
    assert.match(
      error.message,
      /the mosaic would be 400x300 px \(0\.1 megapixels\), more than --max-pixels 50000: use --tiles-across 25 or fewer, or write deep zoom tiles \(-o <name>\.dzi or --deepzoom <dir>\), up to 10,000,000 px a side$/,
    );
    return true;
  });
  // 25 columns of 10 px = 250x190 = 47,500 px: the suggestion really fits.
  const fits = await buildMosaic(index, target, { out, maxPixels: 50_000, tilesAcross: 25 });
  assert.ok(fits.width * fits.height <= 50_000);
  await assert.rejects(
    buildMosaic(index, target, { out: path.join(root, 'huge.webp'), tilesAcross: 2000 }),
    /the mosaic would be 20000x15000 px \(300\.0 megapixels\), larger than WebP allows \(16383 px per side\): use --tiles-across 1638 or fewer/,
  );
  assert.ok(!(await readdir(root)).includes('huge.webp'));
});

test('clear errors for a missing, foreign or outdated index and a bad target', async () => {
  const target = path.join(root, 'err-target.png');
  await paletteTarget(target, 4, 4);
  const out = path.join(root, 'err.png');
  await assert.rejects(buildMosaic(path.join(root, 'no-index'), target, { out }), /index folder not found: .*no-index/);
  const foreign = path.join(root, 'foreign');
  await mkdir(foreign);
  await assert.rejects(
    buildMosaic(foreign, target, { out }),
    /is not a tsmosaic index \(no manifest\.json\); run process-collection first/,
  );
  const old = path.join(root, 'old-index');
  await mkdir(old);
  const manifest = JSON.parse(await readFile(path.join(index, 'manifest.json'), 'utf8')) as { version: number };
  await writeFile(path.join(old, 'manifest.json'), JSON.stringify({ ...manifest, version: 0 }));
  await assert.rejects(
    buildMosaic(old, target, { out }),
    new RegExp(`index format version 0, this tsmosaic reads versions 3 and ${INDEX_FORMAT_VERSION}: run process-collection again`),
  );
  await writeFile(path.join(old, 'manifest.json'), JSON.stringify({ ...manifest }));
  await assert.rejects(buildMosaic(old, target, { out }), /old-index" is damaged: tiles\.rgb is missing; run process-collection again/);
  await assert.rejects(buildMosaic(index, path.join(root, 'missing.png'), { out }), /target image not found: .*missing\.png/);
  const notImage = path.join(root, 'not-image.png');
  await writeFile(notImage, 'hello');
  await assert.rejects(buildMosaic(index, notImage, { out }), /target is not an image tsmosaic can read: .*not-image\.png/);
  const refused = path.join(root, 'refused');
  await mkdir(refused);
  for (const [name, kind] of Object.entries(await lookalikeFiles(refused))) {
    const file = path.join(refused, name);
    await assert.rejects(buildMosaic(index, file, { out }), {
      name: 'TsmosaicError',
      message: `target is not an image tsmosaic can read: ${JSON.stringify(file)} (${NOT_ACCEPTED} (it looks like ${kind}))`,
    });
  }
  await assert.rejects(buildMosaic(index, target, { out: target }), /would overwrite the target/);
});

test('a target that cannot be decoded is named, whether this thread or the cell worker decodes it, and no output is left', async () => {
  // A whole header, half the pixels: read as an image, but not decoded.
  const whole = await sharp({
    create: { width: 40, height: 30, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
  })
    .png()
    .toBuffer();
  const target = path.join(root, 'cut-target.png');
  await writeFile(target, whole.subarray(0, Math.floor(whole.length / 2)));
  // 4 x 3 cells on this thread; 160 x 120 (over 16,384) by the worker.
  for (const tilesAcross of [4, 160]) {
    const out = path.join(root, `cut-${tilesAcross}.png`);
    await assert.rejects(buildMosaic(index, target, { out, tilesAcross, tileSize: 1 }), /cannot decode the target image .*cut-target\.png/);
    assert.ok(!(await readdir(root)).some((name) => name.includes(`cut-${tilesAcross}.png`)));
  }
});

test('a damaged HNSW index is named, whether this thread or the cell worker reads it, and no output is left', async () => {
  const damaged = path.join(root, 'damaged-hnsw');
  await cp(index, damaged, { recursive: true });
  await writeFile(path.join(damaged, 'hnsw.bin'), 'not an index');
  const target = path.join(root, 'damaged-target.png');
  await paletteTarget(target, 40, 30);
  // 4 x 3 cells on this thread; 160 x 120 (over 16,384) by the worker.
  for (const tilesAcross of [4, 160]) {
    const out = path.join(root, `damaged-${tilesAcross}.png`);
    await assert.rejects(
      buildMosaic(damaged, target, { out, tilesAcross, tileSize: 1 }),
      /damaged-hnsw" is damaged: its HNSW index cannot be used \(hnsw\.bin: the file has 12 bytes, fewer than the 96 of its header\)/,
    );
    assert.ok(!(await readdir(root)).some((name) => name.includes(`damaged-${tilesAcross}.png`)));
  }
});
