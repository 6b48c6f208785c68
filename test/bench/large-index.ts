/**
 * `npm run bench:large-index`: an index whose tiles.rgb is over 2 GiB (readFile's limit) loads and
 * builds, and one over what a buffer can hold is refused before anything is allocated.
 *
 * The indexes are generated, not processed: 36,000 pictures of five 64 px crops (2.2 GB of
 * tiles, a sparse file of zeros), random colour features and real HNSW shards built from them;
 * the second claims 64,000 pictures (3.9 GB of tiles) at 96 px (8.8 GB), past the 4 GiB limit.
 * Each is given to `tsmosaic build` (a small grid) under the rusage wrapper: wall time, peak RSS,
 * exit code and stderr are printed as a table with the targets.
 */
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { annDescription, annFromFeatures } from '../../src/index-store/ann-build.js';
import { INDEX_FORMAT, INDEX_FORMAT_VERSION } from '../../src/index-store/format.js';
import { MAX_BUFFER_BYTES } from '../../src/files/read.js';
import { seededRandom } from '../../src/match/random.js';
import { runMeasured } from './measure.js';
import { BIN, REPO_ROOT } from './paths.js';
import { markdownTable, seconds } from './table.js';

const CROPS = 5;
const FEATURES = 48;

/** Writes an index folder of `pictures` pictures of `tileSize` px with sparse tiles and real shards. */
async function generatedIndex(folder: string, pictures: number, tileSize: number, shardTiles: number): Promise<number> {
  const tiles = pictures * CROPS;
  const random = seededRandom(pictures);
  const features = new Float32Array(tiles * FEATURES);
  for (let tile = 0; tile < tiles; tile++) {
    const base = [random() * 255, random() * 255, random() * 255];
    for (let i = 0; i < FEATURES; i++) features[tile * FEATURES + i] = Math.min(255, Math.max(0, base[i % 3]! + (random() - 0.5) * 40));
  }
  await writeFile(path.join(folder, 'features.f32'), new Uint8Array(features.buffer));
  const tileBytes = tiles * tileSize * tileSize * 3;
  const handle = await open(path.join(folder, 'tiles.rgb'), 'w');
  await handle.truncate(tileBytes);
  await handle.close();
  const shardLightness = await annFromFeatures(folder, tiles, FEATURES, shardTiles);
  const manifest = {
    format: INDEX_FORMAT,
    version: INDEX_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    collection: '/generated',
    tileWidth: tileSize,
    tileHeight: tileSize,
    tileCount: pictures,
    fit: 'crop',
    crops: CROPS,
    features: { kind: 'srgb-grid', grid: 4, dimensions: FEATURES },
    ann: { ...annDescription(shardTiles), shardLightness },
    tiles: Array.from({ length: pictures }, (_, i) => ({ source: `${i}.jpg`, size: 1000, mtimeMs: 0 })),
  };
  await writeFile(path.join(folder, 'manifest.json'), JSON.stringify(manifest));
  return tileBytes;
}

const scratch = await mkdtemp(path.join(os.tmpdir(), 'tsmosaic-large-index-'));
try {
  const target = path.join(REPO_ROOT, 'examples', 'photos', 'honey-bee.jpg');
  const rows: string[][] = [];
  for (const { name, pictures, tileSize, loads } of [
    { name: 'over 2 GiB', pictures: 36_000, tileSize: 64, loads: true },
    { name: 'over 4 GiB', pictures: 64_000, tileSize: 96, loads: false },
  ]) {
    const folder = path.join(scratch, name.replaceAll(' ', '-'));
    await mkdir(folder);
    const tileBytes = await generatedIndex(folder, pictures, tileSize, 8192);
    const out = path.join(scratch, `${name.replaceAll(' ', '-')}.png`);
    const run = await runMeasured([
      process.execPath,
      BIN,
      'build',
      folder,
      target,
      '-o',
      out,
      '--tiles-across',
      '40',
      '--tile-size',
      '8',
      '-q',
    ]);
    const loaded = run.code === 0;
    const refusedClearly =
      !loaded && /^tsmosaic: .* more than this tsmosaic can load/.test(run.stderr) && run.stderr.split('\n').length === 2;
    const pass = loads ? loaded : refusedClearly && run.peakRssMb < 200;
    rows.push([
      name,
      `${(tileBytes / 1e9).toFixed(2)} GB`,
      loads ? 'loads and builds' : `refused before allocating (limit ${(MAX_BUFFER_BYTES / 1e9).toFixed(1)} GB)`,
      String(run.code),
      seconds(run.wallSeconds),
      String(Math.round(run.peakRssMb)),
      run.stderr.trim().slice(0, 120),
      pass ? 'PASS' : 'MISS',
    ]);
    await rm(folder, { recursive: true, force: true });
    await rm(out, { force: true });
  }
  console.log(
    [
      '',
      "### Indexes past readFile's 2 GiB",
      '',
      ...markdownTable(['index', 'tiles.rgb', 'expected', 'exit', 'wall s', 'peak RSS MB', 'stderr', 'result'], rows),
    ].join('\n'),
  );
} finally {
  await rm(scratch, { recursive: true, force: true });
}
