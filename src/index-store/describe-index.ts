import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { TileFit } from '../tiles/features.js';
import { annShardCount } from './ann.js';
import { rootsOf, type IndexManifest } from './format.js';
import { readManifest } from './read-index.js';

/** What `tsmosaic info` tells about an index. */
export interface IndexInfo {
  index: string;
  format: string;
  version: number;
  createdAt: string;
  /** Pictures indexed. */
  tiles: number;
  tileWidth: number;
  tileHeight: number;
  fit: TileFit;
  /** Tiles cut from each picture. */
  crops: number;
  features: IndexManifest['features'];
  /** The HNSW index: its files (shards) and the tiles a shard holds at most. */
  ann: { shards: number; shardTiles: number };
  /** Each collection folder the tiles came from, with how many tiles it gave. */
  sources: { folder: string; tiles: number }[];
  /** Bytes of all files in the index folder. */
  bytes: number;
}

/**
 * Describes an index folder from its manifest and file sizes, without loading tiles.
 * @throws {TsmosaicError} when the folder is missing, not an index, or of another format version.
 */
export async function describeIndex(folder: string): Promise<IndexInfo> {
  const index = path.resolve(folder);
  const manifest = await readManifest(index);
  const roots = rootsOf(manifest);
  // Indexes written before shards hold every tile in one hnsw.bin.
  const tileTotal = manifest.tileCount * manifest.crops;
  const shardTiles = manifest.ann.shardTiles ?? Math.max(1, tileTotal);
  const counts = roots.map(() => 0);
  for (const tile of manifest.tiles) counts[tile.root ?? 0]!++;
  let bytes = 0;
  for (const entry of await readdir(index, { withFileTypes: true })) {
    if (entry.isFile()) bytes += (await stat(path.join(index, entry.name))).size;
  }
  return {
    index,
    format: manifest.format,
    version: manifest.version,
    createdAt: manifest.createdAt,
    tiles: manifest.tileCount,
    tileWidth: manifest.tileWidth,
    tileHeight: manifest.tileHeight,
    fit: manifest.fit,
    crops: manifest.crops,
    features: manifest.features,
    ann: { shards: annShardCount(tileTotal, manifest.ann.shardTiles), shardTiles },
    sources: roots.map((root, i) => ({ folder: root, tiles: counts[i]! })),
    bytes,
  };
}
