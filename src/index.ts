export { processCollection } from './collection/process-collection.js';
export type { ProcessCollectionOptions, ProcessCollectionResult, Progress, SkippedFile } from './collection/process-collection.js';
export {
  BUILD_OPTIONS,
  DEFAULT_MAX_COLUMNS,
  DEFAULT_MAX_PIXELS,
  DEFAULT_TILE_SIZE,
  MERGE_OPTIONS,
  PROCESS_COLLECTION_OPTIONS,
  type AutoShard,
  type Shard,
  type ShardOption,
} from './options/options.js';
export type { OptionSpec } from './options/schema.js';
export type { TileFit } from './tiles/features.js';
export { buildMosaic } from './build/build-mosaic.js';
export type { BuildMosaicResult, BuildTimings } from './build/build-mosaic.js';
export type { BuildMosaicOptions, BuildProgress } from './build/settings.js';
export { readManifest, loadIndex } from './index-store/read-index.js';
export { describeIndex } from './index-store/describe-index.js';
export { mergeIndexes } from './index-store/merge-indexes.js';
export type { MergeIndexesOptions, MergeIndexesResult } from './index-store/merge-indexes.js';
export type { IndexInfo } from './index-store/describe-index.js';
export type { IndexManifest, TileSource } from './index-store/format.js';
export { INDEX_FORMAT, INDEX_FORMAT_VERSION } from './index-store/format.js';
export { TsmosaicError, UsageError, InterruptedError } from './errors.js';
export { compareImages } from './quality/compare-images.js';
export type { Fidelity } from './quality/fidelity.js';
