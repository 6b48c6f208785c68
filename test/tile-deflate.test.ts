import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { fittedLayout } from '../src/tiles/mosaic-layout.js';
import { mosaicSize } from '../src/tiles/mosaic-plan.js';
import { TileStore } from '../src/tiles/tile-store.js';
import { seededRandom } from '../src/match/random.js';
import { huffmanLengths, reversedCodes } from '../src/render/huffman.js';
import { renderRegion, type MosaicPlan } from '../src/render/render-region.js';
import { TileRowDeflater } from '../src/render/tile-deflate.js';
import { writeMosaic } from '../src/render/write-mosaic.js';
import { subFilter } from '../src/render/write-png.js';
import { decode, tempDir } from './helpers.js';

/** Kraft's sum of a code's lengths: 1 for a complete prefix code. */
function kraft(lengths: Uint8Array): number {
  let sum = 0;
  for (const length of lengths) if (length > 0) sum += 2 ** -length;
  return sum;
}

/** The bits an optimal (unlimited) Huffman code takes for `frequencies`: the sum of its joined weights. */
function huffmanCost(frequencies: number[]): number {
  const queue = frequencies.filter((f) => f > 0).sort((a, b) => a - b);
  let cost = 0;
  while (queue.length > 1) {
    const joined = queue.shift()! + queue.shift()!;
    cost += joined;
    queue.splice(queue.findIndex((f) => f >= joined) === -1 ? queue.length : queue.findIndex((f) => f >= joined), 0, joined);
  }
  return cost;
}

test('huffmanLengths: optimal when the code fits, complete and within the limit when it does not', () => {
  const next = seededRandom(5);
  const frequencies = Array.from({ length: 257 }, () => 1 + Math.floor(next() * 1000));
  const lengths = huffmanLengths(frequencies, 15);
  assert.equal(kraft(lengths), 1);
  assert.equal(
    frequencies.reduce((bits, f, i) => bits + f * lengths[i]!, 0),
    huffmanCost(frequencies),
  );

  // Fibonacci weights make a Huffman code as deep as there are symbols: 30 symbols, limited to 15 and to 7 bits.
  const fibonacci = [1, 1];
  while (fibonacci.length < 30) fibonacci.push(fibonacci.at(-1)! + fibonacci.at(-2)!);
  for (const limit of [15, 7]) {
    const limited = huffmanLengths(fibonacci, limit);
    assert.equal(Math.max(...limited), limit);
    assert.equal(kraft(limited), 1, `complete at ${limit} bits`);
    // Heavier symbols never get longer codes.
    for (let i = 1; i < fibonacci.length; i++) assert.ok(limited[i]! <= limited[i - 1]!, `lengths by weight at ${limit} bits`);
  }

  assert.deepEqual([...huffmanLengths([0, 5, 0], 15)], [0, 1, 0]);
  assert.deepEqual([...huffmanLengths([0, 0], 15)], [0, 0]);
  assert.throws(() => huffmanLengths(new Array<number>(9).fill(1), 3), /9 symbols do not fit codes of 3 bits/);
  assert.throws(() => huffmanLengths([1, 0.5], 15), /frequency of symbol 1: 0.5/);
  assert.throws(() => huffmanLengths([2 ** 40, 1], 15), /frequency of symbol 0/);
});

test('reversedCodes gives RFC 1951’s canonical codes, bit-reversed', () => {
  // RFC 1951 3.2.2: lengths (3, 3, 3, 3, 3, 2, 4, 4) for A-H give 010, 011, 100, 101, 110, 00, 1110, 1111.
  const codes = reversedCodes(Uint8Array.from([3, 3, 3, 3, 3, 2, 4, 4]));
  const expected = ['010', '011', '100', '101', '110', '00', '1110', '1111'];
  expected.forEach((code, symbol) => {
    const reversed = [...code].reverse().join('');
    assert.equal(codes[symbol], parseInt(reversed, 2), `symbol ${symbol}`);
  });
});

/** A store of `count` tiles of `tileSize` px (or `tileSize` x `tileHeight`): noisy pictures, or with `flat`, the first `flat` tiles one colour each. */
function randomStore(count: number, tileSize: number, seed: number, flat = 0, tileHeight = tileSize): TileStore {
  const next = seededRandom(seed);
  const bytes = tileSize * tileHeight * 3;
  const pixels = Buffer.alloc(count * bytes);
  for (let tile = 0; tile < count; tile++) {
    const colour = [0, 1, 2].map(() => Math.floor(next() * 256));
    for (let i = 0; i < bytes; i++) pixels[tile * bytes + i] = tile < flat ? colour[i % 3]! : Math.floor(next() * 256);
  }
  return new TileStore(pixels, { width: tileSize, height: tileHeight }, count);
}

/** A random plan over `store`, mirrored cells among them; `tilesFor(row)` picks the tile ids a row may use. */
function randomPlan(columns: number, rows: number, seed: number, tilesFor: (row: number, next: () => number) => number): MosaicPlan {
  const next = seededRandom(seed);
  const tiles = new Uint16Array(columns * rows);
  const mirrored = new Uint8Array(columns * rows);
  for (let cell = 0; cell < tiles.length; cell++) {
    tiles[cell] = tilesFor(Math.floor(cell / columns), next);
    mirrored[cell] = next() < 0.5 ? 1 : 0;
  }
  return { columns, rows, tiles, mirrored };
}

/** The filtered rows zlib is given on writePng's path (render, then Sub), with their Adler-32. */
function filteredRows(plan: MosaicPlan, store: TileStore): { filtered: Buffer; adler: number } {
  const { width, height } = mosaicSize(plan, store.tileWidth, store.tileHeight);
  const pixels = renderRegion(plan, store, { left: 0, top: 0, width, height });
  const filtered = Buffer.alloc(height * (width * 3 + 1));
  const adler = subFilter(pixels, filtered, height, width * 3, 1);
  return { filtered, adler };
}

/** The deflate data TileRowDeflater makes in bands of `bandRows` rows, and its Adler-32. */
function coded(plan: MosaicPlan, store: TileStore, bandRows: number): { data: Buffer; adler: number } {
  const coder = new TileRowDeflater(plan, store);
  const { height } = mosaicSize(plan, store.tileWidth, store.tileHeight);
  const parts: Buffer[] = [];
  // (Copied: each band's bytes are a view, valid until the next call.)
  for (let top = 0; top < height; top += bandRows) parts.push(Buffer.from(coder.band(top, Math.min(bandRows, height - top))));
  parts.push(Buffer.from(coder.finish()));
  return { data: Buffer.concat(parts), adler: coder.adler };
}

test('TileRowDeflater codes exactly the Sub-filtered rows of the rendered mosaic, with their Adler-32', () => {
  // Tiles of 1 px (no bytes after the first pixel), odd sizes and 20 px; bands that split tiles.
  for (const [tileSize, bandRows] of [
    [1, 3],
    [2, 5],
    [5, 7],
    [20, 13],
    [20, 1000],
  ] as const) {
    const store = randomStore(40, tileSize, tileSize);
    const plan = randomPlan(9, 7, tileSize + 1, (_row, next) => Math.floor(next() * store.count));
    const expected = filteredRows(plan, store);
    const { data, adler } = coded(plan, store, bandRows);
    assert.ok(zlib.inflateRawSync(data).equals(expected.filtered), `${tileSize} px tiles, bands of ${bandRows} rows`);
    assert.equal(adler, expected.adler, `Adler-32, ${tileSize} px tiles`);
  }
});

test('TileRowDeflater codes cells smaller than their tiles (a print’s exact size) and tiles that are not square', () => {
  // 9 columns over 40 px: cells of 4 and 5 px showing the left of 5 px tiles, rows of 6 and 7 px
  // of 7 px tiles; cells of 1 and 2 px (a width with no bytes after the first pixel); whole tiles of 6 x 4 px.
  for (const [tileWidth, tileHeight, width, height, bandRows] of [
    [5, 7, 40, 45, 11],
    [2, 3, 13, 20, 4],
    [6, 4, 0, 0, 5],
  ] as const) {
    const store = randomStore(30, tileWidth, tileWidth * 7 + tileHeight, 0, tileHeight);
    const plan = randomPlan(9, 7, tileWidth + tileHeight, (_row, next) => Math.floor(next() * store.count));
    if (width > 0) plan.layout = fittedLayout(width, height, plan.columns, plan.rows);
    assert.ok(TileRowDeflater.supports(plan, store), `${tileWidth}x${tileHeight} px tiles`);
    const expected = filteredRows(plan, store);
    const { data, adler } = coded(plan, store, bandRows);
    assert.ok(zlib.inflateRawSync(data).equals(expected.filtered), `${tileWidth}x${tileHeight} px tiles into ${width}x${height} px`);
    assert.equal(adler, expected.adler, `Adler-32, ${tileWidth}x${tileHeight} px tiles into ${width}x${height} px`);
  }
  // Grout, and cells larger than the tiles, are rendered instead.
  const store = randomStore(30, 5, 1);
  const plan = randomPlan(9, 7, 2, (_row, next) => Math.floor(next() * store.count));
  assert.equal(TileRowDeflater.supports({ ...plan, layout: fittedLayout(44, 40, 9, 7, 1) }, store), false);
  assert.equal(TileRowDeflater.supports({ ...plan, layout: fittedLayout(50, 35, 9, 7) }, store), false);
});

test('TileRowDeflater takes a new code where the picture changes, and codes about as small as zlib', () => {
  // The top rows use only flat tiles (their filtered bytes nearly all 0), the rest only noisy ones:
  // a code made for the top would take 15 bits for most bytes below.
  const store = randomStore(60, 10, 9, 20);
  const plan = randomPlan(40, 60, 10, (row, next) => (row < 20 ? Math.floor(next() * 20) : 20 + Math.floor(next() * 40)));
  const expected = filteredRows(plan, store);
  const { data } = coded(plan, store, 100);
  assert.ok(zlib.inflateRawSync(data).equals(expected.filtered));
  const zlibSize = zlib.deflateRawSync(expected.filtered, { level: 1, strategy: zlib.constants.Z_HUFFMAN_ONLY }).length;
  assert.ok(data.length < zlibSize * 1.03, `${data.length} bytes against zlib's ${zlibSize}`);
});

test('a PNG mosaic written from its tiles decodes to the rendered pixels', async () => {
  const root = await tempDir();
  const store = randomStore(30, 8, 3);
  const plan = randomPlan(50, 40, 4, (_row, next) => Math.floor(next() * store.count));
  assert.ok(TileRowDeflater.supports(plan, store));
  const file = path.join(root, 'coded.png');
  await writeMosaic(plan, store, file, 'png');
  const { data, width, height } = await decode(file);
  assert.deepEqual([width, height], [400, 320]);
  assert.ok(data.equals(renderRegion(plan, store, { left: 0, top: 0, width, height })));
  // A tinted plan (--blend), and a store over 32 MB, are rendered and deflated by zlib instead.
  assert.equal(TileRowDeflater.supports({ ...plan, tint: new Float32Array(plan.tiles.length * 3) }, store), false);
  const large = new TileStore(Buffer.alloc(20 * 20 * 3 * 28_000), { width: 20, height: 20 }, 28_000);
  assert.equal(TileRowDeflater.supports(plan, large), false);
});
