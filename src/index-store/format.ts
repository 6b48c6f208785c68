import type { CropCount, FeatureKind, TileFit } from '../tiles/features.js';
import type { MatchMethod } from '../tiles/descriptors.js';

/** The least and greatest first vector component (CIELAB lightness) of an HNSW shard's tiles. */
export type LightnessRange = [number, number];

/** Identifies a tsmosaic index folder's manifest. */
export const INDEX_FORMAT = 'tsmosaic-index';
/**
 * Bumped whenever the on-disk layout changes: version 4 has tiles of any shape (`tileWidth`,
 * `tileHeight`); version 3's square ones (`tileSize`) are still read. Others are refused.
 */
export const INDEX_FORMAT_VERSION = 4;
/** Older versions still read. */
export const READ_VERSIONS: readonly number[] = [3, INDEX_FORMAT_VERSION];

/**
 * Most collection folders an index lists (`roots`): `info` prints each, so their names (of up to
 * 4,096 characters) stay within a few tens of MB.
 */
export const MAX_ROOTS = 4_096;

/**
 * Largest manifest.json read: ~150 bytes a picture, a million pictures. Parsing holds its string
 * (UTF-16 when one character is beyond Latin-1) and the objects, up to ~5x the file in memory.
 */
export const MAX_MANIFEST_BYTES = 150_000_000;

/** Names of the files inside an index folder. */
export const INDEX_FILES = {
  manifest: 'manifest.json',
  tiles: 'tiles.rgb',
  features: 'features.f32',
  ann: 'hnsw.bin',
} as const;

/**
 * `checkpoint.json` in the temporary folder of a run in progress: how many tiles are complete, i.e.
 * have their pixels, features and source record in tiles.rgb, features.f32 and SOURCES_FILE (which
 * may hold more). Rewritten every few seconds and when the run is interrupted, so the next run can
 * reuse the finished part.
 */
export const CHECKPOINT_FILE = 'checkpoint.json';

/**
 * In the temporary folder of a run: one `TileSource` as JSON per line, in tile-id order, appended as
 * tiles are added (so no list of every tile is held in memory); the manifest's `tiles` are copied
 * from it, and it is removed before the folder becomes the index.
 */
export const SOURCES_FILE = 'sources.ndjson';

export interface Checkpoint {
  format: 'tsmosaic-checkpoint';
  /** Written by a run that stopped on a signal (rather than at one of its regular checkpoints). */
  suspended: boolean;
  /** The index folder the run was writing, absolute: a checkpoint is reused only for it. */
  target: string;
  roots: string[];
  tileWidth: number;
  tileHeight: number;
  fit: TileFit;
  crops: CropCount;
  features: { kind: FeatureKind; dimensions: number };
  /** The first `tileCount` tiles of the folder's files are complete. */
  tileCount: number;
}

/**
 * Where a tile came from and the file's identity then: `source` is relative to the collection
 * folder `roots[root]` (`root` absent = 0). `fingerprint` (absent in indexes of older tsmosaic) is
 * a hash of the file's size and sampled bytes, so a touched but unchanged file is recognised.
 */
export interface TileSource {
  source: string;
  size: number;
  mtimeMs: number;
  root?: number;
  fingerprint?: string;
}

/** Contents of manifest.json, version 3. */
export interface IndexManifest {
  format: typeof INDEX_FORMAT;
  version: number;
  createdAt: string;
  /** Absolute path of the (first) collection folder when the index was made (informational only). */
  collection: string;
  /** Every collection folder, absolute, when there are several (absent = `[collection]`). */
  roots?: string[];
  /** The size of the tiles (version 3 had square ones of `tileSize`: read as both). */
  tileWidth: number;
  tileHeight: number;
  /** Pictures indexed: entries of `tiles`. */
  tileCount: number;
  fit: TileFit;
  /**
   * Tiles cut from each picture (see `cropWindows`): tiles.rgb and features.f32 hold
   * `tileCount * crops` tiles, picture after picture, so tile `t` is crop `t % crops` of picture
   * `Math.floor(t / crops)`; crop 0 is the centre square.
   */
  crops: CropCount;
  /** Feature vector stored per tile in features.f32 (float32, little-endian, tile-major). */
  features: { kind: FeatureKind; grid: number; dimensions: number };
  /**
   * The hnswlib-node index: euclidean ('l2') over the candidate vectors of `method` of every tile,
   * all crops (labels are tile ids), in shards of `shardTiles` tiles (the last may hold fewer):
   * hnsw.bin, then hnsw.1.bin, hnsw.2.bin, ... (see `annShardFile`). With `shardLightness`, shard
   * `i` holds tiles of neighbouring lightness (first vector component) from `shardLightness[i][0]`
   * to `[1]`; without it (indexes of format 3 written before it), shard `i` holds tiles
   * `i x shardTiles` on. Without `shardTiles` (written before shards) hnsw.bin holds every tile.
   * `build` with another method builds its own index in memory.
   */
  ann: { distance: 'l2'; m: number; efConstruction: number; method: MatchMethod; shardTiles?: number; shardLightness?: LightnessRange[] };
  /** One entry per picture, in picture order (the order of tiles.rgb and features.f32). */
  tiles: TileSource[];
}

/** The collection folders of an index, absolute; `TileSource.root` indexes into this. */
export function rootsOf(manifest: Pick<IndexManifest, 'collection' | 'roots'>): string[] {
  return manifest.roots ?? [manifest.collection];
}

/**
 * Shards of an index of `tiles` tiles in shards of `shardTiles` (at least one, even when empty);
 * `shardTiles` undefined: an index written before shards, one hnsw.bin.
 */
export function annShardCount(tiles: number, shardTiles: number | undefined): number {
  return shardTiles === undefined ? 1 : Math.max(1, Math.ceil(tiles / shardTiles));
}

/**
 * Most HNSW shards an index of `tiles` tiles may have: 16, or one per 8,192 tiles (tsmosaic cuts
 * shards of at least ANN_SHARD_TILES, 8,192). hnswlib takes ~2.6 MB for each index however small
 * (its 65,536 label locks), so an index of tiny shards would take memory out of all proportion to
 * its files.
 */
export function maxAnnShards(tiles: number): number {
  return Math.max(16, Math.ceil(tiles / 8_192));
}
