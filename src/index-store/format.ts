import type { FeatureKind } from '../collection/features.js';
import type { TileFit } from '../collection/load-tile.js';
import type { MatchMethod } from '../match/method.js';

/** Identifies a tsmosaic index folder's manifest. */
export const INDEX_FORMAT = 'tsmosaic-index';
/** Bumped whenever the on-disk layout changes; `build` refuses other versions. */
export const INDEX_FORMAT_VERSION = 2;

/** Names of the files inside an index folder. */
export const INDEX_FILES = {
  manifest: 'manifest.json',
  tiles: 'tiles.rgb',
  features: 'features.f32',
  ann: 'hnsw.bin',
} as const;

/** Where a tile came from, relative to the collection folder, and the file's identity then. */
export interface TileSource {
  source: string;
  size: number;
  mtimeMs: number;
}

/** Contents of manifest.json, version 1. */
export interface IndexManifest {
  format: typeof INDEX_FORMAT;
  version: number;
  createdAt: string;
  /** Absolute path of the collection folder when the index was made (informational only). */
  collection: string;
  tileSize: number;
  tileCount: number;
  fit: TileFit;
  /** Feature vector stored per tile in features.f32 (float32, little-endian, tile-major). */
  features: { kind: FeatureKind; grid: number; dimensions: number };
  /**
   * The hnswlib-node index in hnsw.bin: euclidean ('l2') over the candidate vectors of `method`
   * (labels are tile ids). `build` with another method builds its own index in memory.
   */
  ann: { distance: 'l2'; m: number; efConstruction: number; method: MatchMethod };
  /** One entry per tile, in tile-id order (the order of tiles.rgb and features.f32). */
  tiles: TileSource[];
}
