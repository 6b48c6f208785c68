import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { TileStore } from '../src/tiles/tile-store.js';
import { deepZoomLayout, dziDescriptor, tileRegion } from '../src/render/deep-zoom-layout.js';
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

test('the pyramid has one level per halving down to 1x1 px, tiles of 254 px plus overlap', () => {
  const layout = deepZoomLayout(12000, 9480);
  assert.equal(layout.levels.length, 15);
  assert.deepEqual(layout.levels[14], { level: 14, width: 12000, height: 9480, columns: 48, rows: 38 });
  assert.deepEqual(layout.levels[13], { level: 13, width: 6000, height: 4740, columns: 24, rows: 19 });
  assert.deepEqual(layout.levels[0], { level: 0, width: 1, height: 1, columns: 1, rows: 1 });
  const top = layout.levels[14]!;
  assert.deepEqual(tileRegion(layout, top, 0, 0), { left: 0, top: 0, width: 255, height: 255 });
  assert.deepEqual(tileRegion(layout, top, 1, 1), { left: 253, top: 253, width: 256, height: 256 });
  assert.deepEqual(tileRegion(layout, top, 47, 37), { left: 11937, top: 9397, width: 63, height: 83 });
  assert.equal(
    dziDescriptor(layout),
    '<?xml version="1.0" encoding="UTF-8"?>\n<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="jpeg" Overlap="1" TileSize="254">\n  <Size Width="12000" Height="9480"/>\n</Image>\n',
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
  assert.match(html, /"Url":"bee_files\/","Format":"jpeg","Overlap":"1","TileSize":"254","Size":\{"Width":"1200","Height":"840"\}/);
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
