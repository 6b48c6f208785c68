import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { TileStore } from '../src/tiles/tile-store.js';
import { renderRegion, type MosaicPlan, type Region } from '../src/render/render-region.js';
import { ONE_PIECE_MAX_BYTES, writeMosaic } from '../src/render/write-mosaic.js';
import { renderVipsFiles, vipsHeader, type BandRenderer } from '../src/render/vips-file.js';
import { cropRaw, tempDir } from './helpers.js';
import { seededRandom } from '../src/match/random.js';

const root = await tempDir();
const TILE = 10;

/** Seeded, so every run draws the same tiles and the same samples. */
const random = seededRandom;

/** 32 tiles of distinct gradients: a pixel out of place anywhere shows in the comparison. */
function gradientStore(count = 32): TileStore {
  const pixels = Buffer.alloc(count * TILE * TILE * 3);
  for (let id = 0; id < count; id++) {
    for (let y = 0; y < TILE; y++) {
      for (let x = 0; x < TILE; x++) {
        const at = ((id * TILE + y) * TILE + x) * 3;
        pixels[at] = (id * 8 + x * 3) & 255;
        pixels[at + 1] = (id * 37 + y * 11) & 255;
        pixels[at + 2] = (x * 20 + y * 5 + id) & 255;
      }
    }
  }
  return new TileStore(pixels, { width: TILE, height: TILE }, count);
}

function randomPlan(columns: number, rows: number, count: number, seed: number): MosaicPlan {
  const next = random(seed);
  return { columns, rows, tiles: Uint32Array.from({ length: columns * rows }, () => Math.floor(next() * count)) };
}

/** Regions of the image to compare: the corners and random rectangles straddling tiles and bands. */
function sampleRegions(width: number, height: number, seed: number): Region[] {
  const next = random(seed);
  const regions: Region[] = [
    { left: 0, top: 0, width: 37, height: 23 },
    { left: width - 41, top: height - 29, width: 41, height: 29 },
  ];
  for (let i = 0; i < 12; i++) {
    const w = 1 + Math.floor(next() * 300);
    const h = 1 + Math.floor(next() * 300);
    regions.push({ left: Math.floor(next() * (width - w)), top: Math.floor(next() * (height - h)), width: w, height: h });
  }
  return regions;
}

test('the libvips header is the one libvips writes', async () => {
  const file = path.join(root, 'reference.v');
  await sharp({ create: { width: 5, height: 3, channels: 3, background: { r: 1, g: 2, b: 3 } } }).toFile(file);
  const { readFile } = await import('node:fs/promises');
  const written = await readFile(file);
  assert.deepEqual(vipsHeader(5, 3), written.subarray(0, 64));
});

test('an image rendered into column ranges of their own gives each file exactly its columns', async () => {
  const width = 1000;
  const height = 3000;
  // A pixel that tells its column and row: a column out of place in any file shows.
  const renderBand: BandRenderer = (top, rows, into) => {
    const band = into.subarray(0, rows * width * 3);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < width; x++) {
        const at = (y * width + x) * 3;
        band[at] = x & 255;
        band[at + 1] = x >> 8;
        band[at + 2] = (top + y) & 255;
      }
    }
    return band;
  };
  const folder = path.join(root, 'parts');
  await mkdir(folder);
  // 3,000 rows of 3,000 bytes are more than one 8 MB band: parts are written band after band.
  const ranges = [
    { left: 0, width: 256 },
    { left: 256, width: 512 },
    { left: 768, width: 232 },
  ];
  const parts = ranges.map((range, i) => ({ ...range, file: path.join(folder, `part${i}.v`) }));
  const rowsDone: number[] = [];
  await renderVipsFiles(parts, width, height, renderBand, (done) => rowsDone.push(done));
  assert.equal(rowsDone.at(-1), height);
  const whole = Buffer.alloc(width * height * 3);
  renderBand(0, height, whole);
  for (const part of parts) {
    const { data, info } = await sharp(part.file).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [part.width, height, 3]);
    const expected = await sharp(whole, { raw: { width, height, channels: 3 } })
      .extract({ left: part.left, top: 0, width: part.width, height })
      .raw()
      .toBuffer();
    assert.ok(data.equals(expected), `${path.basename(part.file)} holds columns ${part.left} to ${part.left + part.width}`);
  }
});

for (const format of ['png', 'tiff'] as const) {
  test(`a ${format.toUpperCase()} too large for one piece is streamed band by band and shows the plan's pixels`, async () => {
    const store = gradientStore();
    // 8000 x 6000 px: 144 MB of raw pixels, three times the one-piece limit (18 bands of 8 MB, 69 PNG bands).
    const plan = randomPlan(800, 600, store.count, 7);
    const width = plan.columns * TILE;
    const height = plan.rows * TILE;
    assert.ok(width * height * 3 > 2 * ONE_PIECE_MAX_BYTES);
    const folder = path.join(root, format);
    await mkdir(folder);
    const file = path.join(folder, `mosaic.${format === 'png' ? 'png' : 'tif'}`);
    const stages = new Map<string, number>();
    await writeMosaic(plan, store, file, format, { onProgress: (stage, done, total) => stages.set(stage, done / total) });
    // PNG renders and encodes band by band in one step.
    assert.deepEqual(
      Object.fromEntries(stages),
      format === 'png' ? { encode: 1 } : { render: 1, encode: 1 },
      'progress ends at 100 % for every step',
    );
    assert.deepEqual(await readdir(folder), [path.basename(file)], 'the temporary files are gone');

    const { data, info } = await sharp(file, { limitInputPixels: false }).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels, info.format], [width, height, 3, 'raw']);
    for (const region of sampleRegions(width, height, 11)) {
      assert.ok(cropRaw(data, width, region).equals(renderRegion(plan, store, region)), `region ${JSON.stringify(region)}`);
    }
  });
}

test('a large JPEG is streamed too (lossy: compared by region means)', async () => {
  const store = gradientStore();
  const plan = randomPlan(600, 500, store.count, 3);
  const width = plan.columns * TILE;
  const height = plan.rows * TILE;
  const file = path.join(root, 'mosaic.jpg');
  await writeMosaic(plan, store, file, 'jpeg');
  const { data } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const mean = (pixels: Buffer, channel: number): number => {
    let sum = 0;
    for (let i = channel; i < pixels.length; i += 3) sum += pixels[i]!;
    return sum / (pixels.length / 3);
  };
  for (const region of sampleRegions(width, height, 5).filter((r) => r.width >= 20 && r.height >= 20)) {
    const expected = renderRegion(plan, store, region);
    const found = cropRaw(data, width, region);
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(mean(expected, c) - mean(found, c)) < 3, `region ${JSON.stringify(region)} channel ${c}`);
    }
  }
});

test('a failed write leaves nothing but what was there', async () => {
  const store = gradientStore();
  const plan = randomPlan(600, 500, store.count, 3);
  const folder = path.join(root, 'failing');
  // The final name is taken by a folder: the rename at the end fails.
  await mkdir(path.join(folder, 'taken.png'), { recursive: true });
  await assert.rejects(writeMosaic(plan, store, path.join(folder, 'taken.png'), 'png'), /cannot write .*taken\.png/);
  assert.deepEqual(await readdir(folder), ['taken.png']);
  assert.deepEqual(await readdir(path.join(folder, 'taken.png')), []);
});

test('an aborted write removes its temporaries and throws the reason', async () => {
  const store = gradientStore();
  const plan = randomPlan(800, 600, store.count, 9);
  const folder = path.join(root, 'aborted');
  await mkdir(folder);
  const controller = new AbortController();
  const reason = new Error('stop');
  const writing = writeMosaic(plan, store, path.join(folder, 'm.png'), 'png', {
    signal: controller.signal,
    // Stopped once some rows are written (PNG reports them as `encode`), long before the last.
    onProgress: (_stage, done, total) => {
      if (done > 0 && done < total) controller.abort(reason);
    },
  });
  await assert.rejects(writing, (error) => error === reason);
  assert.deepEqual(await readdir(folder), []);
});

test('tile rows copied as 32-bit words (tiles of 4n px) or bytes, mirrored or not, give the same pixels as a pixel-by-pixel copy', () => {
  for (const tileSize of [4, 8, 5]) {
    const count = 9;
    const next = random(tileSize);
    // Tile pixels at the start of their own memory: 4-byte aligned, so rows of 4n px go as words.
    const pixels = Buffer.from(new ArrayBuffer(count * tileSize * tileSize * 3));
    pixels.set(Array.from({ length: pixels.length }, () => Math.floor(next() * 256)));
    const store = new TileStore(pixels, { width: tileSize, height: tileSize }, count);
    const plan = randomPlan(13, 7, count, tileSize);
    plan.mirrored = Uint8Array.from(plan.tiles, () => (next() < 0.5 ? 1 : 0));
    const width = plan.columns * tileSize;
    const height = plan.rows * tileSize;
    const pixelAt = (x: number, y: number, c: number): number => {
      const cell = Math.floor(y / tileSize) * plan.columns + Math.floor(x / tileSize);
      const tileX = plan.mirrored![cell] ? tileSize - 1 - (x % tileSize) : x % tileSize;
      return store.pixels[plan.tiles[cell]! * store.tileBytes + ((y % tileSize) * tileSize + tileX) * 3 + c]!;
    };
    // Whole rows (aligned), and regions starting and ending inside tiles (unaligned pieces).
    for (const region of [
      { left: 0, top: 0, width, height },
      { left: 1, top: 3, width: width - 3, height: height - 5 },
      { left: tileSize, top: 1, width: 2 * tileSize, height: 2 },
    ]) {
      const expected = Buffer.alloc(region.width * region.height * 3);
      for (let y = 0; y < region.height; y++) {
        for (let x = 0; x < region.width; x++)
          for (let c = 0; c < 3; c++) expected[(y * region.width + x) * 3 + c] = pixelAt(region.left + x, region.top + y, c);
      }
      assert.ok(renderRegion(plan, store, region).equals(expected), `tile size ${tileSize}, region ${JSON.stringify(region)}`);
      // Into a canvas at an odd byte offset: every row by Buffer.copy.
      const odd = Buffer.alloc(expected.length + 1).subarray(1);
      assert.ok(
        renderRegion(plan, store, region, odd).equals(expected),
        `odd canvas, tile size ${tileSize}, region ${JSON.stringify(region)}`,
      );
    }
  }
});
