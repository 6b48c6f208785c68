import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { deepZoomLayout, tileRegion } from '../src/render/deep-zoom-layout.js';
import { renderRegion, type MosaicPlan } from '../src/render/render-region.js';
import { writeMosaic } from '../src/render/write-mosaic.js';
import { fittedLayout, type MosaicLayout } from '../src/tiles/mosaic-layout.js';
import { TileFile } from '../src/tiles/tile-file.js';
import { TileStore } from '../src/tiles/tile-store.js';
import { PALETTE, paletteCollection } from './fixtures.js';
import { cropRaw, rawImage, runCli, tempDir } from './helpers.js';
import { readManifest } from '../src/index-store/read-index.js';

/** `count` tiles of `width` x `height` px: every pixel a function of its tile, x and y, so any misplaced byte shows. */
function patternStore(width: number, height: number, count: number): TileStore {
  const pixels = Buffer.alloc(count * width * height * 3);
  for (let id = 0; id < count; id++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const at = ((id * height + y) * width + x) * 3;
        pixels[at] = (id * 37 + x * 11) % 256;
        pixels[at + 1] = (id * 59 + y * 13) % 256;
        pixels[at + 2] = (x * 7 + y * 5 + id) % 256;
      }
    }
  }
  return new TileStore(pixels, { width, height }, count);
}

/** The mosaic computed pixel by pixel from the definition: cell (c, r) holds its tile, mirrored or not. */
function reference(plan: MosaicPlan, store: TileStore): Buffer {
  const { tileWidth: w, tileHeight: h } = store;
  const width = plan.columns * w;
  const out = Buffer.alloc(width * plan.rows * h * 3);
  for (let y = 0; y < plan.rows * h; y++) {
    for (let x = 0; x < width; x++) {
      const cell = Math.floor(y / h) * plan.columns + Math.floor(x / w);
      const tileX = plan.mirrored?.[cell] ? w - 1 - (x % w) : x % w;
      store.tile(plan.tiles[cell]!).copy(out, (y * width + x) * 3, ((y % h) * w + tileX) * 3, ((y % h) * w + tileX) * 3 + 3);
    }
  }
  return out;
}

const root = await tempDir();

test('rectangular tiles render exactly, mirrored or not, in any region, landscape and portrait', () => {
  for (const [w, h] of [
    [12, 8],
    [8, 12],
    [7, 3],
  ] as const) {
    const store = patternStore(w, h, 9);
    const plan: MosaicPlan = {
      columns: 11,
      rows: 6,
      tiles: Uint32Array.from({ length: 66 }, (_, i) => (i * 5) % 9),
      mirrored: Uint8Array.from({ length: 66 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
    };
    const whole = reference(plan, store);
    const width = 11 * w;
    assert.ok(renderRegion(plan, store, { left: 0, top: 0, width, height: 6 * h }).equals(whole), `${w}x${h} whole`);
    for (const region of [
      { left: w, top: h, width: 3 * w, height: 2 * h },
      { left: 3, top: 5, width: 17, height: 9 },
    ]) {
      assert.ok(renderRegion(plan, store, region).equals(cropRaw(whole, width, region)), `${w}x${h} region ${JSON.stringify(region)}`);
    }
  }
});

test('rectangular tiles end to end: the PNG and the deep zoom pyramid hold the mosaic', async () => {
  const store = patternStore(12, 8, 9);
  const plan: MosaicPlan = {
    columns: 30,
    rows: 20,
    tiles: Uint32Array.from({ length: 600 }, (_, i) => (i * 7 + Math.floor(i / 30)) % 9),
    mirrored: Uint8Array.from({ length: 600 }, (_, i) => (i % 4 === 1 ? 1 : 0)),
  };
  const whole = reference(plan, store);
  const png = path.join(root, 'shapes.png');
  await writeMosaic(plan, store, png, 'png');
  const decoded = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([decoded.info.width, decoded.info.height], [360, 160]);
  assert.ok(decoded.data.equals(whole), 'the PNG is the mosaic, byte for byte');

  const dzi = path.join(root, 'shapes.dzi');
  await writeMosaic(plan, store, dzi, 'dzi');
  const layout = deepZoomLayout(360, 160);
  const top = layout.levels.at(-1)!;
  const region = tileRegion(layout, top, 1, 0);
  // JPEG blurs the per-pixel pattern: compared in blocks of 4 x 4 px.
  const blocks = (pixels: Buffer): Promise<Buffer> =>
    sharp(pixels, { raw: { width: region.width, height: region.height, channels: 3 } })
      .resize(Math.floor(region.width / 4), Math.floor(region.height / 4), { kernel: 'linear' })
      .raw()
      .toBuffer();
  const jpeg = await readFile(path.join(root, 'shapes_files', String(top.level), '1_0.jpeg'));
  const tile = await blocks(await sharp(jpeg).raw().toBuffer());
  const expected = await blocks(cropRaw(whole, 360, region));
  let difference = 0;
  for (let i = 0; i < tile.length; i++) difference += Math.abs(tile[i]! - expected[i]!);
  assert.ok(difference / tile.length < 6, `the full-size level shows the mosaic: mean difference ${difference / tile.length}`);
  // The level below: half the size.
  const half = layout.levels.at(-2)!;
  const reduced = await sharp(await readFile(path.join(root, 'shapes_files', String(half.level), '0_0.jpeg')))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([reduced.info.width, reduced.info.height], [Math.min(180, 255), 80]);
});

/** A fitted mosaic computed pixel by pixel: grout where no cell is, else the top-left part of the cell's tile. */
function fittedReference(plan: MosaicPlan, layout: MosaicLayout, store: TileStore, grout: readonly number[]): Buffer {
  const out = Buffer.alloc(layout.width * layout.height * 3);
  for (let y = 0; y < layout.height; y++) {
    const row = layout.rowStarts.findLastIndex((start) => start <= y);
    for (let x = 0; x < layout.width; x++) {
      const column = layout.columnStarts.findLastIndex((start) => start <= x);
      const inCell =
        row < layout.rows &&
        column < layout.columns &&
        y < layout.rowStarts[row + 1]! - layout.grout &&
        x < layout.columnStarts[column + 1]! - layout.grout;
      const at = (y * layout.width + x) * 3;
      if (!inCell) {
        out.set(grout, at);
        continue;
      }
      const cell = row * plan.columns + column;
      const cellX = x - layout.columnStarts[column]!;
      const tileX = plan.mirrored?.[cell] ? store.tileWidth - 1 - cellX : cellX;
      const from = ((y - layout.rowStarts[row]!) * store.tileWidth + tileX) * 3;
      store.tile(plan.tiles[cell]!).copy(out, at, from, from + 3);
    }
  }
  return out;
}

test('cells of an exact output size with grout: every pixel is the cell part of its tile or the grout colour', async () => {
  const layout = fittedLayout(301, 203, 13, 9, 3);
  const store = patternStore(layout.tileWidth, layout.tileHeight, 9);
  const plan: MosaicPlan = {
    columns: 13,
    rows: 9,
    tiles: Uint32Array.from({ length: 117 }, (_, i) => (i * 5 + 2) % 9),
    mirrored: Uint8Array.from({ length: 117 }, (_, i) => (i % 3 === 1 ? 1 : 0)),
    layout,
    groutColour: [250, 20, 90],
  };
  const whole = fittedReference(plan, layout, store, [250, 20, 90]);
  assert.ok(renderRegion(plan, store, { left: 0, top: 0, width: 301, height: 203 }).equals(whole), 'the whole mosaic');
  for (const region of [
    { left: 17, top: 21, width: 90, height: 40 },
    { left: 0, top: 190, width: 301, height: 13 },
  ]) {
    assert.ok(renderRegion(plan, store, region).equals(cropRaw(whole, 301, region)), `region ${JSON.stringify(region)}`);
  }
  // The last column and row end at the edge: no grout around the outside.
  assert.notDeepEqual([...whole.subarray((202 * 301 + 300) * 3, (202 * 301 + 300) * 3 + 3)], [250, 20, 90]);

  const png = path.join(root, 'fitted.png');
  await writeMosaic(plan, store, png, 'png');
  const decoded = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([decoded.info.width, decoded.info.height], [301, 203]);
  assert.ok(decoded.data.equals(whole), 'the PNG is the mosaic, byte for byte');
  const dzi = path.join(root, 'fitted.dzi');
  await writeMosaic(plan, store, dzi, 'dzi');
  const top = deepZoomLayout(301, 203).levels.at(-1)!;
  const first = await sharp(await readFile(path.join(root, 'fitted_files', String(top.level), '0_0.jpeg'))).metadata();
  assert.deepEqual([first.width, first.height], [254, 203]);
  // Its second tile, the last 47 columns.
  const region = tileRegion(deepZoomLayout(301, 203), top, 1, 0);
  const blocks = (pixels: Buffer): Promise<Buffer> =>
    sharp(pixels, { raw: { width: region.width, height: region.height, channels: 3 } })
      .resize(Math.floor(region.width / 4), Math.floor(region.height / 4), { kernel: 'linear' })
      .raw()
      .toBuffer();
  const shown = await blocks(
    await sharp(await readFile(path.join(root, 'fitted_files', String(top.level), '1_0.jpeg')))
      .raw()
      .toBuffer(),
  );
  const expected = await blocks(cropRaw(whole, 301, region));
  let difference = 0;
  for (let i = 0; i < shown.length; i++) difference += Math.abs(shown[i]! - expected[i]!);
  assert.ok(difference / shown.length < 6, `the full-size level shows the fitted mosaic: mean difference ${difference / shown.length}`);
  const half = deepZoomLayout(301, 203).levels.at(-2)!;
  const reduced = await sharp(await readFile(path.join(root, 'fitted_files', String(half.level), '0_0.jpeg'))).metadata();
  assert.deepEqual([reduced.width, reduced.height], [151, 102]);
});

test('a mosaic drawn from a tile file is the one drawn from the store: PNG and deep zoom byte for byte', async () => {
  const store = patternStore(10, 6, 12);
  const file = new TileFile(path.join(root, 'tiles.bin'), store.shape, 12);
  // Only the tiles the plan uses are in the file, in another order than their ids.
  for (const id of [7, 3, 11, 0, 5]) file.add(id, store.tile(id));
  file.sync();
  const plan: MosaicPlan = {
    columns: 50,
    rows: 40,
    tiles: Uint32Array.from({ length: 2000 }, (_, i) => [7, 3, 11, 0, 5][(i * 3 + Math.floor(i / 50)) % 5]!),
    mirrored: Uint8Array.from({ length: 2000 }, (_, i) => (i % 7 === 2 ? 1 : 0)),
  };
  for (const [name, source] of [
    ['store', store],
    ['file', file],
  ] as const) {
    await writeMosaic(plan, source, path.join(root, `from-${name}.png`), 'png');
    await writeMosaic(plan, source, path.join(root, `from-${name}.dzi`), 'dzi');
  }
  assert.ok(
    (await sharp(path.join(root, 'from-file.png')).raw().toBuffer()).equals(
      await sharp(path.join(root, 'from-store.png')).raw().toBuffer(),
    ),
  );
  const levels = deepZoomLayout(500, 240).levels;
  for (const level of [levels.at(-1)!, levels.at(-2)!, levels.at(-4)!]) {
    const [a, b] = await Promise.all(
      ['file', 'store'].map((name) =>
        sharp(path.join(root, `from-${name}_files`, String(level.level), '0_0.jpeg'))
          .raw()
          .toBuffer(),
      ),
    );
    // The same pixels in, the same tiles out.
    assert.ok(a!.equals(b!), `level ${level.level}`);
  }
  file.close();
});

test('rectangular tiles end to end: an index of 15x10 tiles, builds whose rows follow the target and the tile shape', async () => {
  const folder = path.join(root, 'rect');
  const collection = await paletteCollection(folder);
  const index = path.join(folder, 'index');
  const indexed = await runCli(['process-collection', collection, '-o', index, '-s', '15x10', '-q']);
  assert.equal(indexed.code, 0, indexed.stderr);
  const manifest = await readManifest(index);
  assert.deepEqual([manifest.version, manifest.tileWidth, manifest.tileHeight], [4, 15, 10]);
  const info = await runCli(['info', index]);
  assert.match(info.stdout, /tile size {5}15x10 px/);
  // A 60 x 40 px target: 12 columns of 3:2 tiles over a 3:2 target give 12 rows.
  const target = path.join(folder, 'target.png');
  await rawImage(
    target,
    Uint8Array.from({ length: 60 * 40 * 3 }, (_, i) => PALETTE[Math.floor(i / 3 / 60 / 5) % PALETTE.length]![i % 3]!),
    60,
    40,
  );
  for (const [args, size] of [
    [[], [180, 120]],
    [
      ['--tile-size', '30'],
      [360, 240],
    ],
    [
      ['--tile-size', '6x4'],
      [72, 48],
    ],
  ] as const) {
    const out = path.join(folder, `rect-${size[0]}.png`);
    const built = await runCli(['build', index, target, '--tiles-across', '12', '--min-distance', '0', ...args, '-o', out, '--json', '-q']);
    assert.equal(built.code, 0, built.stderr);
    const summary = JSON.parse(built.stdout) as { width: number; height: number; columns: number; rows: number };
    assert.deepEqual([summary.columns, summary.rows, summary.width, summary.height], [12, 12, ...size], args.join(' '));
    const metadata = await sharp(out).metadata();
    assert.deepEqual([metadata.width, metadata.height], size);
  }
  const dzi = await runCli(['build', index, target, '--tiles-across', '12', '--deepzoom', path.join(folder, 'zoom'), '-q']);
  assert.equal(dzi.code, 0, dzi.stderr);
  const wrong = await runCli(['build', index, target, '--tile-size', '30x30', '-o', path.join(folder, 'wrong.png')]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /^tsmosaic: --tile-size 30x30 is not of the index's tile ratio \(15x10\)/);
  const bad = await runCli(['process-collection', collection, '-o', path.join(folder, 'bad'), '-s', '30x0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--tile-size.*Expected a size in px/);
});

test('an index of format 3 (square tiles of tileSize) is still read and built from', async () => {
  const folder = path.join(root, 'v3');
  const collection = await paletteCollection(folder);
  const index = path.join(folder, 'index');
  assert.equal((await runCli(['process-collection', collection, '-o', index, '-s', '6', '-q'])).code, 0);
  const manifest = JSON.parse(await readFile(path.join(index, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const { tileWidth } = manifest;
  delete manifest.tileWidth;
  delete manifest.tileHeight;
  await writeFile(path.join(index, 'manifest.json'), JSON.stringify({ ...manifest, version: 3, tileSize: tileWidth }));
  const target = path.join(folder, 'target.png');
  await rawImage(
    target,
    Uint8Array.from({ length: 20 * 10 * 3 }, (_, i) => PALETTE[Math.floor(i / 3) % PALETTE.length]![i % 3]!),
    20,
    10,
  );
  const built = await runCli(['build', index, target, '-o', path.join(folder, 'v3.png'), '--json', '-q']);
  assert.equal(built.code, 0, built.stderr);
  assert.deepEqual((JSON.parse(built.stdout) as { width: number }).width, 20 * 6);
  const info = await runCli(['info', index, '--json']);
  assert.deepEqual((JSON.parse(info.stdout) as { version: number; tileWidth: number }).version, 3);
});
