import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadIndex, readManifest } from '../src/index.js';
import { FEATURE_DIMENSIONS } from '../src/collection/features.js';
import { addToAnn, annShardFile, buildAnn, createAnn } from '../src/index-store/ann.js';
import type { TileSource } from '../src/index-store/format.js';
import { IndexWriter } from '../src/index-store/write-index.js';
import { DEFAULT_METHOD } from '../src/match/defaults.js';
import { annVectors, descriptorLength, tileDescriptors } from '../src/match/method.js';
import { seededRandom } from '../src/match/random.js';
import { tempDir } from './helpers.js';

const DIMENSIONS = FEATURE_DIMENSIONS['srgb-grid'];

/** `count` tiles' features of whole values 0..255, from `seed`. */
function randomFeatures(count: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return new Float32Array(count * DIMENSIONS).map(() => Math.round(random() * 255));
}

/** Writes one-crop tiles (pixels and source of each from the callbacks, features from `features`) into a new index at `target`. */
async function writeTiles(
  target: string,
  features: Float32Array,
  options: { roots: string[]; tileSize: number; annShardTiles?: number },
  pixels: (id: number) => Uint8Array,
  source: (id: number) => TileSource,
): Promise<void> {
  const writer = await IndexWriter.create(target, { ...options, fit: 'crop', featureKind: 'srgb-grid', featureDimensions: DIMENSIONS, crops: 1 });
  for (let id = 0; id < features.length / DIMENSIONS; id++) {
    await writer.addTile(pixels(id), features.subarray(id * DIMENSIONS, (id + 1) * DIMENSIONS), source(id));
  }
  await writer.commit();
}

test('the writer streams every tile to disk: the manifest lists them in order, hnsw.bin is the one buildAnn makes', async () => {
  const root = await tempDir();
  const target = path.join(root, 'index');
  // More tiles than the HNSW index is fed at a time, and names that JSON must escape.
  const count = 2500;
  const tileSize = 2;
  const features = randomFeatures(count, 5);
  const sources: TileSource[] = Array.from({ length: count }, (_, id) => ({
    source: id % 2 === 0 ? `a/${id}.jpg` : `new\nline "${id}" ü,.jpg`,
    size: id + 1,
    mtimeMs: 1700000000000.5 + id,
    ...(id % 3 === 0 ? { root: 1 } : {}),
    fingerprint: `f${id}`,
  }));
  await writeTiles(target, features, { roots: ['/a', '/b'], tileSize }, (id) => new Uint8Array(tileSize * tileSize * 3).fill(id % 256), (id) => sources[id]!);

  assert.deepEqual((await readdir(target)).sort(), ['features.f32', 'hnsw.bin', 'manifest.json', 'tiles.rgb']);
  const manifest = await readManifest(target);
  assert.deepEqual(manifest.tiles, sources);
  assert.deepEqual(manifest.roots, ['/a', '/b']);
  const loaded = await loadIndex(target);
  assert.deepEqual(loaded.features, features);
  assert.equal(loaded.tiles.tile(300)[0], 300 % 256);

  const whole = path.join(root, 'whole.bin');
  buildAnn(annVectors(tileDescriptors(features, count, DEFAULT_METHOD), DEFAULT_METHOD), descriptorLength(DEFAULT_METHOD), count).writeIndexSync(whole);
  assert.ok((await readFile(path.join(target, 'hnsw.bin'))).equals(await readFile(whole)), 'same graph as built from all features at once');
});

test('a writer with one picture of five crops writes a valid index of five tiles', async () => {
  const target = path.join(await tempDir(), 'index');
  const writer = await IndexWriter.create(target, { roots: ['/a'], tileSize: 1, fit: 'stretch', featureKind: 'srgb-grid', featureDimensions: DIMENSIONS, crops: 5 });
  const features = Float32Array.from({ length: 5 * DIMENSIONS }, (_, i) => Math.floor(i / DIMENSIONS) * 10);
  await assert.rejects(writer.addTile(new Uint8Array(15), features.subarray(DIMENSIONS), { source: 'x.png', size: 1, mtimeMs: 2 }), /expected 240 features, received 192/);
  await writer.addTile(Uint8Array.from({ length: 15 }, (_, i) => i), features, { source: 'x.png', size: 1, mtimeMs: 2 });
  await writer.commit();
  const loaded = await loadIndex(target);
  assert.deepEqual(loaded.manifest.tiles, [{ source: 'x.png', size: 1, mtimeMs: 2 }]);
  assert.equal(loaded.manifest.crops, 5);
  assert.equal(loaded.manifest.roots, undefined);
  assert.deepEqual(loaded.features, features);
  assert.equal(loaded.tiles.count, 5);
  assert.deepEqual([...loaded.tiles.tile(4)], [12, 13, 14]);
  assert.equal(loaded.ann.getCurrentCount(), 5);
});

test('the HNSW index is written in shards, each the graph of its tiles, searched together as one', async () => {
  const root = await tempDir();
  const target = path.join(root, 'index');
  const count = 2500;
  const shardTiles = 1000;
  const features = randomFeatures(count, 9);
  await writeTiles(target, features, { roots: ['/a'], tileSize: 1, annShardTiles: shardTiles }, () => new Uint8Array(3), (id) => ({ source: `${id}.jpg`, size: 1, mtimeMs: 1 }));
  assert.deepEqual((await readdir(target)).filter((name) => name.startsWith('hnsw')).sort(), ['hnsw.1.bin', 'hnsw.2.bin', 'hnsw.bin']);
  assert.equal((await readManifest(target)).ann.shardTiles, shardTiles);

  const length = descriptorLength(DEFAULT_METHOD);
  const vectors = annVectors(tileDescriptors(features, count, DEFAULT_METHOD), DEFAULT_METHOD);
  for (const [shard, first] of [[0, 0], [1, 1000], [2, 2000]] as const) {
    const tiles = Math.min(shardTiles, count - first);
    const own = createAnn(length, tiles);
    addToAnn(own, vectors.subarray(first * length, (first + tiles) * length), length, first);
    const file = path.join(root, `shard-${shard}.bin`);
    own.writeIndexSync(file);
    assert.ok((await readFile(path.join(target, annShardFile(shard)))).equals(await readFile(file)), `shard ${shard}`);
  }

  const { ann } = await loadIndex(target);
  assert.equal(ann.getCurrentCount(), count);
  for (const tile of [5, 1500, 2499]) {
    const { neighbors, distances } = ann.searchKnn(Array.from(vectors.subarray(tile * length, (tile + 1) * length)), 16);
    assert.equal(neighbors[0], tile, 'a tile is its own nearest, whichever shard holds it');
    assert.equal(distances[0], 0);
    assert.equal(neighbors.length, 16);
    assert.ok(distances.every((distance, i) => i === 0 || distance >= distances[i - 1]!), 'merged answers are sorted');
    assert.ok(new Set(neighbors.map((neighbor) => Math.floor(neighbor / shardTiles))).size > 1, 'answers come from several shards');
  }
});
