import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadIndex, readManifest, TsmosaicError } from '../src/index.js';
import { quote } from '../src/text.js';
import { FEATURE_DIMENSIONS } from '../src/tiles/features.js';
import {
  ADD_BATCH,
  ANN_SHARD_TILES,
  AnnShardWriter,
  annShardFile,
  buildAnn,
  createAnn,
  loadAnn,
  loadAnnShards,
  ONE_SHARD_TILES,
  ShardedAnn,
} from '../src/index-store/ann.js';
import type { TileSource } from '../src/index-store/format.js';
import { IndexWriter } from '../src/index-store/write-index.js';
import { DEFAULT_METHOD } from '../src/tiles/descriptors.js';
import { annVectors, descriptorLength, tileDescriptors } from '../src/tiles/descriptors.js';
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
  options: { roots: string[]; tileSize: number; annShardTiles?: number; expectedTiles?: number },
  pixels: (id: number) => Uint8Array,
  source: (id: number) => TileSource,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const { tileSize, ...rest } = options;
  const writer = await IndexWriter.create(target, {
    ...rest,
    tileShape: { width: tileSize, height: tileSize },
    fit: 'crop',
    featureKind: 'srgb-grid',
    featureDimensions: DIMENSIONS,
    crops: 1,
  });
  for (let id = 0; id < features.length / DIMENSIONS; id++) {
    await writer.addTile(pixels(id), features.subarray(id * DIMENSIONS, (id + 1) * DIMENSIONS), source(id));
  }
  await writer.commit({ onProgress });
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
  await writeTiles(
    target,
    features,
    { roots: ['/a', '/b'], tileSize },
    (id) => new Uint8Array(tileSize * tileSize * 3).fill(id % 256),
    (id) => sources[id]!,
  );

  assert.deepEqual((await readdir(target)).sort(), ['features.f32', 'hnsw.bin', 'manifest.json', 'tiles.rgb']);
  const manifest = await readManifest(target);
  assert.deepEqual(manifest.tiles, sources);
  assert.deepEqual(manifest.roots, ['/a', '/b']);
  const loaded = await loadIndex(target);
  assert.deepEqual(loaded.features, features);
  assert.equal(loaded.tiles.tile(300)[0], 300 % 256);

  const whole = path.join(root, 'whole.bin');
  (
    await buildAnn(annVectors(tileDescriptors(features, count, DEFAULT_METHOD), DEFAULT_METHOD), descriptorLength(DEFAULT_METHOD), count)
  ).writeIndexSync(whole);
  assert.ok((await readFile(path.join(target, 'hnsw.bin'))).equals(await readFile(whole)), 'same graph as built from all features at once');
});

test('a writer with one picture of five crops writes a valid index of five tiles', async () => {
  const target = path.join(await tempDir(), 'index');
  const writer = await IndexWriter.create(target, {
    roots: ['/a'],
    tileShape: { width: 1, height: 1 },
    fit: 'stretch',
    featureKind: 'srgb-grid',
    featureDimensions: DIMENSIONS,
    crops: 5,
  });
  const features = Float32Array.from({ length: 5 * DIMENSIONS }, (_, i) => Math.floor(i / DIMENSIONS) * 10);
  await assert.rejects(
    writer.addTile(new Uint8Array(15), features.subarray(DIMENSIONS), { source: 'x.png', size: 1, mtimeMs: 2 }),
    /expected 240 features, received 192/,
  );
  await writer.addTile(
    Uint8Array.from({ length: 15 }, (_, i) => i),
    features,
    { source: 'x.png', size: 1, mtimeMs: 2 },
  );
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

test('the HNSW index is written in shards of neighbouring lightness, each the graph of its tiles, searched together as one', async () => {
  const root = await tempDir();
  const target = path.join(root, 'index');
  const count = 2500;
  const shardTiles = 1000;
  // Pictures of one colour each, with a little texture: near neighbours, as in a photo collection.
  const random = seededRandom(9);
  const features = new Float32Array(count * DIMENSIONS);
  for (let tile = 0; tile < count; tile++) {
    const colour = [random(), random(), random()].map((value) => value * 235);
    for (let i = 0; i < DIMENSIONS; i++) features[tile * DIMENSIONS + i] = Math.round(colour[i % 3]! + random() * 20);
  }
  const progress: [number, number][] = [];
  await writeTiles(
    target,
    features,
    { roots: ['/a'], tileSize: 1, annShardTiles: shardTiles },
    () => new Uint8Array(3),
    (id) => ({ source: `${id}.jpg`, size: 1, mtimeMs: 1 }),
    (done, total) => progress.push([done, total]),
  );
  assert.deepEqual((await readdir(target)).filter((name) => name.startsWith('hnsw')).sort(), ['hnsw.1.bin', 'hnsw.2.bin', 'hnsw.bin']);
  assert.deepEqual(
    progress,
    [
      [1, 3],
      [2, 3],
      [3, 3],
    ],
    'each shard is reported as it is written',
  );
  assert.deepEqual(
    (await readdir(target)).sort(),
    ['features.f32', 'hnsw.1.bin', 'hnsw.2.bin', 'hnsw.bin', 'manifest.json', 'tiles.rgb'],
    'no scratch file is left',
  );
  const { ann: described } = await readManifest(target);
  assert.equal(described.shardTiles, shardTiles);

  // The shards as specified: tiles ranked by lightness in 4096 steps of 0..100, then by id, cut every shardTiles.
  const length = descriptorLength(DEFAULT_METHOD);
  const vectors = annVectors(tileDescriptors(features, count, DEFAULT_METHOD), DEFAULT_METHOD);
  const lightness = (tile: number): number => vectors[tile * length]!;
  const stepOf = (tile: number): number => Math.min(4095, Math.floor((lightness(tile) / 100) * 4096));
  const ranked = Array.from({ length: count }, (_, tile) => tile).sort((a, b) => stepOf(a) - stepOf(b) || a - b);
  const expectedRanges: [number, number][] = [];
  for (const [shard, first] of [
    [0, 0],
    [1, 1000],
    [2, 2000],
  ] as const) {
    const tiles = ranked.slice(first, first + shardTiles).sort((a, b) => a - b);
    const own = createAnn(length, tiles.length);
    for (const tile of tiles) own.addPoint(Array.from(vectors.subarray(tile * length, (tile + 1) * length)), tile);
    const file = path.join(root, `shard-${shard}.bin`);
    own.writeIndexSync(file);
    assert.ok((await readFile(path.join(target, annShardFile(shard)))).equals(await readFile(file)), `shard ${shard}`);
    expectedRanges.push([Math.min(...tiles.map(lightness)), Math.max(...tiles.map(lightness))]);
  }
  assert.deepEqual(described.shardLightness, expectedRanges);
  assert.ok(expectedRanges[0]![1] < expectedRanges[2]![0], 'the darkest shard and the lightest do not overlap');

  assert.equal((await loadIndex(target)).ann.getCurrentCount(), count);
  // The index as build loads it, with each shard's searches counted.
  let searches = 0;
  const shards = [0, 1, 2].map((shard) => {
    const loaded = loadAnn(path.join(target, annShardFile(shard)), {
      dimensions: length,
      m: 16,
      count: shard < 2 ? shardTiles : count - 2 * shardTiles,
      labels: count,
    });
    return {
      getCurrentCount: () => loaded.getCurrentCount(),
      searchKnn: (query: number[], k: number) => {
        searches++;
        return loaded.searchKnn(query, k);
      },
    };
  });
  const ann = new ShardedAnn(shards, described.shardLightness);
  const everyShard = loadAnnShards(target, { dimensions: length, m: 16, tiles: count, shardTiles });
  for (let query = 0; query < 300; query++) {
    const tile = Math.floor(random() * count);
    const vector = Array.from(vectors.subarray(tile * length, (tile + 1) * length));
    const { neighbors, distances } = ann.searchKnn(vector, 16);
    assert.equal(distances[0], 0, 'a tile is at distance 0 of itself, whichever shard holds it');
    assert.equal(neighbors.length, 16);
    assert.ok(
      distances.every((distance, i) => i === 0 || distance >= distances[i - 1]!),
      'merged answers are sorted',
    );
    // Shards whose lightness is too far to hold one of the 16 nearest are skipped: same answer as asking every shard.
    assert.deepEqual({ neighbors, distances }, everyShard.searchKnn(vector, 16));
  }
  assert.ok(searches < 300 * 2, `${searches} shard searches for 300 queries over 3 shards: most skip a shard`);
});

test('a tile with damaged (NaN) features gives a manifest with readable shard ranges, and build refuses the index by name', async () => {
  const root = await tempDir();
  const target = path.join(root, 'index');
  const features = randomFeatures(30, 5);
  features.fill(Number.NaN, 7 * DIMENSIONS, 8 * DIMENSIONS);
  await writeTiles(
    target,
    features,
    { roots: ['/a'], tileSize: 1, annShardTiles: 10 },
    () => new Uint8Array(3),
    (id) => ({ source: `${id}.jpg`, size: 1, mtimeMs: 1 }),
  );
  const { ann: described } = await readManifest(target);
  assert.equal(described.shardLightness?.length, 3);
  assert.ok(described.shardLightness!.flat().every((value) => Number.isFinite(value)));
  await assert.rejects(loadIndex(target), /features\.f32 holds NaN for tile 7, not a colour from 0 to 255/);
});

test('a run that fits one shard builds it as tiles arrive: the same files as building it at the end', async () => {
  const root = await tempDir();
  // More than one run of ADD_BATCH tiles, so the live shard adds runs while tiles arrive.
  const count = ADD_BATCH * 2 + 60;
  const features = randomFeatures(count, 11);
  const write = async (name: string, expectedTiles?: number): Promise<{ ann: Buffer; manifest: unknown }> => {
    const target = path.join(root, name);
    await writeTiles(
      target,
      features,
      { roots: ['/a'], tileSize: 1, annShardTiles: 2000, ...(expectedTiles === undefined ? {} : { expectedTiles }) },
      () => new Uint8Array(3),
      (id) => ({ source: `${id}.jpg`, size: 1, mtimeMs: 1 }),
    );
    const { ann } = await readManifest(target);
    return { ann: await readFile(path.join(target, annShardFile(0))), manifest: ann };
  };
  const atTheEnd = await write('at-the-end');
  // Exactly as many tiles as expected, fewer (files skipped), and more than expected (given up, built at the end).
  for (const expectedTiles of [count, count + 40, count - 1]) {
    const live = await write(`expected-${expectedTiles}`, expectedTiles);
    assert.ok(live.ann.equals(atTheEnd.ann), `hnsw.bin with ${expectedTiles} tiles expected`);
    assert.deepEqual(live.manifest, atTheEnd.manifest);
  }
});

test('a shard writer adds its vectors in runs: the same graph as adding them one by one, whatever the run length', async () => {
  const root = await tempDir();
  const length = descriptorLength(DEFAULT_METHOD);
  const count = 100;
  const random = seededRandom(21);
  const vectors = new Float32Array(count * length).map(() => random() * 100);
  const expected = path.join(root, 'expected.bin');
  (await buildAnn(vectors, length, count)).writeIndexSync(expected);
  // One scratch vector, overwritten before every add, as the index writer's callers do.
  const scratch = new Float32Array(length);
  const add = (writer: AnnShardWriter, i: number, label: number): void => {
    scratch.set(vectors.subarray(i * length, (i + 1) * length));
    writer.add(scratch, label);
    scratch.fill(-1);
  };
  for (const [batch, restart] of [
    [1, 'drop'],
    [7, 'drop'],
    [7, 'start'],
    [100, 'drop'],
    [1000, 'start'],
  ] as const) {
    const writer = new AnnShardWriter(length, batch);
    // A shard given up halfway (its held vectors too) leaves nothing behind for the next.
    writer.start(count);
    for (let i = 0; i < 10; i++) add(writer, i, 1000 + i);
    if (restart === 'drop') writer.drop();
    writer.start(count);
    for (let i = 0; i < count; i++) add(writer, i, i);
    const file = path.join(root, `batch-${batch}-${restart}.bin`);
    const range = writer.write(file);
    assert.ok(
      (await readFile(file)).equals(await readFile(expected)),
      `runs of ${batch}, restarted by ${restart}: same hnsw file as buildAnn`,
    );
    let low = Infinity;
    let high = -Infinity;
    for (let i = 0; i < count; i++) {
      low = Math.min(low, vectors[i * length]!);
      high = Math.max(high, vectors[i * length]!);
    }
    assert.deepEqual(range, [low, high]);
  }
  assert.throws(() => new AnnShardWriter(length).add([1, 2, 3], 0), RangeError);
});

test('shard size: one shard of ONE_SHARD_TILES when the expected tiles fit it, else shards of ANN_SHARD_TILES', async () => {
  const root = await tempDir();
  const features = randomFeatures(20, 12);
  const shardTilesOf = async (name: string, expectedTiles?: number): Promise<number | undefined> => {
    const target = path.join(root, name);
    await writeTiles(
      target,
      features,
      { roots: ['/a'], tileSize: 1, ...(expectedTiles === undefined ? {} : { expectedTiles }) },
      () => new Uint8Array(3),
      (id) => ({ source: `${id}.jpg`, size: 1, mtimeMs: 1 }),
    );
    return (await readManifest(target)).ann.shardTiles;
  };
  assert.equal(await shardTilesOf('fits', ONE_SHARD_TILES), ONE_SHARD_TILES);
  assert.equal(await shardTilesOf('larger', ONE_SHARD_TILES + 1), ANN_SHARD_TILES);
  // Not told (merging, or reusing shards): the size large collections get.
  assert.equal(await shardTilesOf('unknown'), ANN_SHARD_TILES);
});

test('an index of more than 16 HNSW shards, and more than one per 8,192 tiles, is refused by its manifest before any is loaded', async () => {
  const root = await tempDir();
  const write = async (name: string, count: number): Promise<string> => {
    const target = path.join(root, name);
    await writeTiles(
      target,
      randomFeatures(count, 13),
      { roots: ['/a'], tileSize: 1, annShardTiles: 1 },
      () => new Uint8Array(3),
      (id) => ({ source: `${id}.jpg`, size: 1, mtimeMs: 1 }),
    );
    return target;
  };
  // hnswlib takes ~2.6 MB for each index however small: 500 shards of one tile took 1.3 GB to build from (2.6 GB with the cell worker).
  const sixteen = await write('sixteen', 16);
  assert.equal((await loadIndex(sixteen)).ann.searchKnn(new Array<number>(15).fill(50), 3).neighbors.length, 3);
  const seventeen = await write('seventeen', 17);
  await assert.rejects(
    readManifest(seventeen),
    new TsmosaicError(
      `${quote(seventeen)} has a damaged manifest.json: ann.shardTiles is 1: 17 HNSW shards for 17 tiles, expected at most 16; run process-collection again`,
    ),
  );
});
