import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { TileStore } from '../src/tiles/tile-store.js';
import {
  DEEP_ZOOM_JPEG_QUALITY,
  deepZoomLayout,
  dziDescriptor,
  tileRegion,
  type DeepZoomLayout,
  type DeepZoomLevel,
} from '../src/render/deep-zoom-layout.js';
import { writeDeepZoom } from '../src/render/deep-zoom.js';
import { stripesOf } from '../src/render/deep-zoom-stripes.js';
import { renderRegion, type MosaicPlan, type Region } from '../src/render/render-region.js';
import { writeMosaic } from '../src/render/write-mosaic.js';
import { abandonedWorkRunning } from '../src/yield.js';
import { assertPyramidOf, cropRaw, tempDir } from './helpers.js';

const root = await tempDir();
const TILE = 12;

/** 24 tiles, each a different flat colour with a darker cross, so levels can be told apart. */
function crossStore(count = 24): TileStore {
  const pixels = Buffer.alloc(count * TILE * TILE * 3);
  for (let id = 0; id < count; id++) {
    const colour = [(id * 53) % 256, (id * 97 + 40) % 256, (id * 151 + 80) % 256];
    for (let y = 0; y < TILE; y++) {
      for (let x = 0; x < TILE; x++) {
        const dark = x === TILE / 2 || y === TILE / 2;
        for (let c = 0; c < 3; c++) pixels[((id * TILE + y) * TILE + x) * 3 + c] = dark ? colour[c]! >> 1 : colour[c]!;
      }
    }
  }
  return new TileStore(pixels, { width: TILE, height: TILE }, count);
}

function plan(columns: number, rows: number, count: number): MosaicPlan {
  return { columns, rows, tiles: Uint32Array.from({ length: columns * rows }, (_, i) => (i * 7 + Math.floor(i / columns) * 3) % count) };
}

/** Mean of each channel of raw RGB pixels. */
function means(pixels: Uint8Array): number[] {
  const sum = [0, 0, 0];
  for (let i = 0; i < pixels.length; i++) sum[i % 3]! += pixels[i]!;
  return sum.map((value) => value / (pixels.length / 3));
}

function assertClose(found: number[], expected: number[], tolerance: number, label: string): void {
  const worst = Math.max(...found.map((value, c) => Math.abs(value - expected[c]!)));
  assert.ok(worst <= tolerance, `${label}: ${found.map((v) => v.toFixed(1)).join(',')} vs ${expected.map((v) => v.toFixed(1)).join(',')}`);
}

test('the pyramid has one level per halving down to 1x1 px, tiles of 254 px without overlap', () => {
  const layout = deepZoomLayout(12000, 9480);
  assert.equal(layout.levels.length, 15);
  assert.deepEqual(layout.levels[14], { level: 14, width: 12000, height: 9480, columns: 48, rows: 38 });
  assert.deepEqual(layout.levels[13], { level: 13, width: 6000, height: 4740, columns: 24, rows: 19 });
  assert.deepEqual(layout.levels[0], { level: 0, width: 1, height: 1, columns: 1, rows: 1 });
  const top = layout.levels[14]!;
  assert.deepEqual(tileRegion(layout, top, 0, 0), { left: 0, top: 0, width: 254, height: 254 });
  assert.deepEqual(tileRegion(layout, top, 1, 1), { left: 254, top: 254, width: 254, height: 254 });
  assert.deepEqual(tileRegion(layout, top, 47, 37), { left: 11938, top: 9398, width: 62, height: 82 });
  assert.equal(
    dziDescriptor(layout),
    '<?xml version="1.0" encoding="UTF-8"?>\n<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="jpeg" Overlap="0" TileSize="254">\n  <Size Width="12000" Height="9480"/>\n</Image>\n',
  );
});

test('writes every tile of every level; the full size is the PNG of the same plan, JPEG-coded', async () => {
  const store = crossStore();
  const mosaic = plan(100, 70, store.count);
  const folder = path.join(root, 'pyramid');
  await mkdir(folder);
  const file = path.join(folder, 'bee.dzi');
  const progress = new Map<string, number>();
  await writeMosaic(mosaic, store, file, 'dzi', { onProgress: (stage, done, total) => progress.set(stage, done / total) });
  assert.deepEqual(Object.fromEntries(progress), { render: 1, tiles: 1 }, 'progress ends at 100 % for both steps');
  const layout = deepZoomLayout(1200, 840);
  assert.deepEqual((await readdir(folder)).sort(), ['bee.dzi', 'bee_files', 'index.html', 'openseadragon'], 'no temporary is left');
  assert.equal(await readFile(file, 'utf8'), dziDescriptor(layout));
  const tiles = path.join(folder, 'bee_files');
  assert.deepEqual(
    (await readdir(tiles)).sort((a, b) => Number(a) - Number(b)),
    layout.levels.map((level) => String(level.level)),
    'one folder a level, nothing else',
  );

  const full = renderRegion(mosaic, store, { left: 0, top: 0, width: 1200, height: 840 });
  for (const level of layout.levels) {
    const files = await readdir(path.join(tiles, String(level.level)));
    assert.equal(files.length, level.columns * level.rows, `level ${level.level}`);
    for (const [column, row] of [
      [0, 0],
      [level.columns - 1, level.rows - 1],
      [Math.floor(level.columns / 2), Math.floor(level.rows / 2)],
    ] as const) {
      const region = tileRegion(layout, level, column, row);
      const tile = path.join(tiles, String(level.level), `${column}_${row}.jpeg`);
      const { data, info } = await sharp(tile).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height], [region.width, region.height], `size of ${tile}`);
      // The tile shows the same part of the mosaic as the full-size rendering, reduced.
      const scale = 2 ** (layout.levels.length - 1 - level.level);
      const source: Region = {
        left: region.left * scale,
        top: region.top * scale,
        width: Math.min(1200 - region.left * scale, region.width * scale),
        height: Math.min(840 - region.top * scale, region.height * scale),
      };
      assertClose(means(data), means(cropRaw(full, 1200, source)), 4, `${tile}`);
    }
  }

  const png = path.join(root, 'bee.png');
  await writeMosaic(mosaic, store, png, 'png');
  await assertPyramidOf(file, png);
});

test('the viewer inlines the descriptor and uses the canvas drawer, with OpenSeadragon copied beside it', async () => {
  const folder = path.join(root, 'pyramid');
  const html = await readFile(path.join(folder, 'index.html'), 'utf8');
  assert.match(html, /<script src="openseadragon\/openseadragon\.min\.js"><\/script>/);
  assert.match(html, /drawer: 'canvas'/);
  assert.match(html, /"Url":"bee_files\/","Format":"jpeg","Overlap":"0","TileSize":"254","Size":\{"Width":"1200","Height":"840"\}/);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing loaded from the network');
  const library = await readdir(path.join(folder, 'openseadragon'));
  assert.ok(library.includes('openseadragon.min.js') && library.includes('images'));
});

test('writing again replaces the pyramid; foreign files are never replaced', async () => {
  const store = crossStore();
  const folder = path.join(root, 'again');
  await mkdir(folder);
  const file = path.join(folder, 'm.dzi');
  await writeMosaic(plan(100, 70, store.count), store, file, 'dzi');
  await writeMosaic(plan(10, 7, store.count), store, file, 'dzi');
  const levels = await readdir(path.join(folder, 'm_files'));
  assert.equal(levels.length, deepZoomLayout(120, 84).levels.length, 'levels of the first, larger pyramid are gone');
  assert.deepEqual((await readdir(folder)).sort(), ['index.html', 'm.dzi', 'm_files', 'openseadragon']);

  const foreign = path.join(root, 'foreign');
  await mkdir(foreign);
  await writeFile(path.join(foreign, 'index.html'), '<p>my home page</p>');
  await assert.rejects(
    writeMosaic(plan(10, 7, store.count), store, path.join(foreign, 'm.dzi'), 'dzi'),
    /index\.html" exists and was not written by tsmosaic/,
  );
  await mkdir(path.join(foreign, 'n_files'));
  await assert.rejects(
    writeMosaic(plan(10, 7, store.count), store, path.join(foreign, 'n.dzi'), 'dzi'),
    /n_files" exists and is not the tile folder of "n\.dzi"/,
  );
  assert.deepEqual((await readdir(foreign)).sort(), ['index.html', 'n_files']);
});

for (const stage of ['render', 'tiles']) {
  test(`a pyramid aborted while it ${stage === 'render' ? 'renders the raw image' : 'writes the tiles'} leaves nothing behind`, async () => {
    const store = crossStore();
    const folder = path.join(root, `aborted-${stage}`);
    await mkdir(folder);
    const controller = new AbortController();
    const reason = new Error('stop');
    // 6000 x 4800 px: libvips writes tiles for most of a second.
    const writing = writeMosaic(plan(500, 400, store.count), store, path.join(folder, 'm.dzi'), 'dzi', {
      signal: controller.signal,
      onProgress: (step, done) => {
        if (step === stage && done > 0) controller.abort(reason);
      },
    });
    await assert.rejects(writing, (error) => error === reason);
    assert.deepEqual(await readdir(folder), []);
    // libvips cannot be stopped: what it writes after its folder is gone must not bring it back.
    while (abandonedWorkRunning()) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await readdir(folder), []);
  });
}

/** 1,500 x 700 px: a colour gradient, a fine checkerboard in some squares, and thin lines across every stripe border. */
function detailedImage(width: number, height: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const checkered = (Math.floor(x / 90) + Math.floor(y / 90)) % 3 === 0;
      const dark = checkered ? (Math.floor(x / 6) + Math.floor(y / 6)) % 2 === 0 : (x + 2 * y) % 97 < 4 || x % 127 < 2;
      pixels[i] = dark ? 20 : Math.round((x / width) * 255);
      pixels[i + 1] = dark ? 30 : Math.round((y / height) * 255);
      pixels[i + 2] = dark ? 40 : 128 + Math.round(60 * Math.sin(x / 40));
    }
  }
  return pixels;
}

/** Halves an image as dzsave does: each pixel the mean of a 2x2 block, of the pixels there are at odd edges. */
function halve(pixels: Float64Array, width: number, height: number): { pixels: Float64Array; width: number; height: number } {
  const w = Math.ceil(width / 2);
  const h = Math.ceil(height / 2);
  const out = new Float64Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        let count = 0;
        for (const sy of [2 * y, 2 * y + 1]) {
          for (const sx of [2 * x, 2 * x + 1]) {
            if (sx < width && sy < height) {
              sum += pixels[(sy * width + sx) * 3 + c]!;
              count++;
            }
          }
        }
        out[(y * w + x) * 3 + c] = sum / count;
      }
    }
  }
  return { pixels: out, width: w, height: h };
}

/** A level of a written pyramid as one raw image, after checking its tile names and sizes against the layout. */
async function stitchedLevel(tiles: string, layout: DeepZoomLayout, level: DeepZoomLevel): Promise<Buffer> {
  const folder = path.join(tiles, String(level.level));
  const expected = Array.from(
    { length: level.columns * level.rows },
    (_, i) => `${i % level.columns}_${Math.floor(i / level.columns)}.jpeg`,
  );
  assert.deepEqual((await readdir(folder)).sort(), expected.sort(), `tiles of level ${level.level}`);
  const pixels = Buffer.alloc(level.width * level.height * 3);
  for (let row = 0; row < level.rows; row++) {
    for (let column = 0; column < level.columns; column++) {
      const region = tileRegion(layout, level, column, row);
      const { data, info } = await sharp(path.join(folder, `${column}_${row}.jpeg`))
        .raw()
        .toBuffer({ resolveWithObject: true });
      assert.deepEqual(
        [info.width, info.height, info.channels],
        [region.width, region.height, 3],
        `size of ${level.level}/${column}_${row}`,
      );
      for (let y = 0; y < region.height; y++) {
        data.copy(pixels, ((region.top + y) * level.width + region.left) * 3, y * region.width * 3, (y + 1) * region.width * 3);
      }
    }
  }
  return pixels;
}

/** `pixels` (a level's size, any numbers) as the pyramid's tiles show it: rounded and JPEG-coded tile by tile. */
async function codedAsTiles(pixels: ArrayLike<number>, layout: DeepZoomLayout, level: DeepZoomLevel): Promise<Buffer> {
  const rounded = Buffer.from(Array.from(pixels, (value) => Math.round(value)));
  const coded = Buffer.alloc(rounded.length);
  for (let row = 0; row < level.rows; row++) {
    for (let column = 0; column < level.columns; column++) {
      const region = tileRegion(layout, level, column, row);
      const raw = { width: region.width, height: region.height, channels: 3 } as const;
      const jpeg = await sharp(cropRaw(rounded, level.width, region), { raw })
        .jpeg({ quality: DEEP_ZOOM_JPEG_QUALITY, optimiseCoding: false })
        .toBuffer();
      const data = await sharp(jpeg).raw().toBuffer();
      for (let y = 0; y < region.height; y++) {
        data.copy(coded, ((region.top + y) * level.width + region.left) * 3, y * region.width * 3, (y + 1) * region.width * 3);
      }
    }
  }
  return coded;
}

/** Mean absolute difference over columns [left, left + width) of two images `width` px wide. */
function meanDifference(found: Uint8Array, expected: ArrayLike<number>, imageWidth: number, left = 0, width = imageWidth): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < found.length; i++) {
    const x = Math.floor(i / 3) % imageWidth;
    if (x < left || x >= left + width) continue;
    sum += Math.abs(found[i]! - expected[i]!);
    count++;
  }
  return sum / count;
}

test('a pyramid written in column stripes has every tile of every level, the image halved without seams, as one written whole', async () => {
  const [width, height] = [1500, 700];
  const image = detailedImage(width, height);
  const renderBand = (top: number, rows: number, into: Buffer): Buffer => {
    image.copy(into, 0, top * width * 3, (top + rows) * width * 3);
    return into.subarray(0, rows * width * 3);
  };
  const layout = deepZoomLayout(width, height);
  const top = layout.levels.length - 1;
  // Stripes of 508 px: 3, and the 750 px level below them is striped again (2 stripes).
  const stripeLevels = 1;
  assert.equal(stripesOf(width, height, stripeLevels).length, 3);
  assert.equal(stripesOf(750, 350, stripeLevels).length, 2);
  // A last stripe too small for the levels it must give joins the one before.
  assert.deepEqual(
    stripesOf(4064 * 2 + 3, 10, 4),
    [0, 4064, 8128].map((left) => ({ left, width: left === 8128 ? 3 : 4064 })),
  );
  assert.deepEqual(stripesOf(4064 * 2 + 3, 3, 4), [
    { left: 0, width: 4064 },
    { left: 4064, width: 4067 },
  ]);
  const folder = path.join(root, 'striped');
  await mkdir(folder);
  const progress: number[] = [];
  await writeDeepZoom(path.join(folder, 's.dzi'), width, height, renderBand, {
    stripeLevels,
    onProgress: (stage, done, total) => stage === 'tiles' && progress.push(done / total),
  });
  assert.deepEqual(
    progress,
    [...progress].sort((a, b) => a - b),
    'the tiles counted never go back',
  );
  assert.equal(progress.at(-1), 1);
  assert.deepEqual((await readdir(folder)).sort(), ['index.html', 'openseadragon', 's.dzi', 's_files'], 'no temporary is left');
  assert.equal(await readFile(path.join(folder, 's.dzi'), 'utf8'), dziDescriptor(layout));
  assert.deepEqual(
    (await readdir(path.join(folder, 's_files'))).sort((a, b) => Number(a) - Number(b)),
    layout.levels.map((level) => String(level.level)),
    'one folder a level, nothing else',
  );

  const whole = path.join(root, 'unstriped');
  await mkdir(whole);
  await writeDeepZoom(path.join(whole, 'w.dzi'), width, height, renderBand, { stripeLevels: 20 });

  let expected: { pixels: Float64Array; width: number; height: number } = { pixels: Float64Array.from(image), width, height };
  for (const level of [...layout.levels].reverse()) {
    const striped = await stitchedLevel(path.join(folder, 's_files'), layout, level);
    const unstriped = await stitchedLevel(path.join(whole, 'w_files'), layout, level);
    const label = `level ${level.level} (${level.width} x ${level.height})`;
    assert.deepEqual([expected.width, expected.height], [level.width, level.height]);
    // The exact halving, JPEG-coded as the tiles are: what one dzsave of the whole writes.
    const coded = await codedAsTiles(expected.pixels, layout, level);
    const difference = meanDifference(striped, coded, level.width);
    const halvings = top - level.level;
    if (halvings <= stripeLevels) {
      assert.ok(striped.equals(unstriped), `${label}: the stripes' tiles are the whole's`);
      assert.ok(difference < 0.5, `${label} is the image halved, off by ${difference.toFixed(2)}`);
    } else {
      // From the tiles of a level above, decoded: JPEG's loss once more, a third of its own on this hard image.
      assert.ok(difference < 4, `${label} is the image halved, off by ${difference.toFixed(2)}`);
      const fromWhole = meanDifference(striped, unstriped, level.width);
      assert.ok(fromWhole < 4, `${label} is as written whole, off by ${fromWhole.toFixed(2)}`);
    }
    // The stripes' borders at this level, and those of the 750 px level halved below it, striped again.
    const borders = [508, 1016, 2032].map((x) => x / 2 ** halvings).filter((x) => Number.isInteger(x) && x > 0 && x < level.width);
    for (const x of borders) {
      const seam = meanDifference(striped, coded, level.width, x - 1, 2);
      assert.ok(seam < 1 + 1.5 * difference, `${label}: columns ${x - 1} and ${x} are off by ${seam.toFixed(2)}`);
    }
    expected = halve(expected.pixels, expected.width, expected.height);
  }
});
