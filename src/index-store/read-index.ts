import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TsmosaicError, reasonOf } from '../errors.js';
import { FEATURE_DIMENSIONS, isCropCount } from '../tiles/features.js';
import { annShardCount, loadAnnShards, type AnnSearch } from './ann.js';
import { descriptorLength } from '../tiles/descriptors.js';
import { INDEX_FILES, INDEX_FORMAT, INDEX_FORMAT_VERSION, type IndexManifest } from './format.js';
import { TileStore } from '../tiles/tile-store.js';

/** An index loaded for matching and rendering. */
export interface LoadedIndex {
  folder: string;
  manifest: IndexManifest;
  /** Every tile: `manifest.tileCount * manifest.crops`, picture after picture. */
  tiles: TileStore;
  /** The stored features (see FeatureKind), tile-major. */
  features: Float32Array;
  /** HNSW index over the candidate vectors of `manifest.ann.method`. */
  ann: AnnSearch;
}

const RERUN = 'run process-collection again';

/**
 * Reads and validates an index folder's manifest without loading the heavy files.
 * @throws {TsmosaicError} when the folder is missing, not an index, or of another format version.
 */
export async function readManifest(folder: string): Promise<IndexManifest> {
  try {
    if (!(await stat(folder)).isDirectory()) throw new TsmosaicError(`${folder} is not an index folder (it is a file)`);
  } catch (error) {
    if (error instanceof TsmosaicError) throw error;
    throw new TsmosaicError(`index folder not found: ${folder}`);
  }
  let manifest: Partial<IndexManifest>;
  try {
    manifest = JSON.parse(await readFile(path.join(folder, INDEX_FILES.manifest), 'utf8')) as Partial<IndexManifest>;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new TsmosaicError(
      `${folder} is not a tsmosaic index (${missing ? 'no manifest.json' : `unreadable manifest.json: ${reasonOf(error)}`}); run process-collection first`,
    );
  }
  if (manifest.format !== INDEX_FORMAT) {
    throw new TsmosaicError(`${folder} is not a tsmosaic index (manifest.json has no "format": "${INDEX_FORMAT}")`);
  }
  if (manifest.version !== INDEX_FORMAT_VERSION) {
    throw new TsmosaicError(
      `${folder} has index format version ${String(manifest.version)}, this tsmosaic reads version ${INDEX_FORMAT_VERSION}: ${RERUN}`,
    );
  }
  const { tileSize, tileCount, crops, features, tiles, ann } = manifest;
  const valid =
    Number.isInteger(tileSize) &&
    tileSize! > 0 &&
    isCropCount(crops) &&
    Number.isInteger(tileCount) &&
    tileCount! > 0 &&
    features !== undefined &&
    FEATURE_DIMENSIONS[features.kind] === features.dimensions &&
    ann !== undefined &&
    typeof ann.method === 'object' &&
    (ann.shardTiles === undefined || (Number.isInteger(ann.shardTiles) && ann.shardTiles > 0)) &&
    (ann.shardLightness === undefined ||
      (ann.shardTiles !== undefined && validRanges(ann.shardLightness, annShardCount(tileCount! * crops, ann.shardTiles)))) &&
    Array.isArray(tiles) &&
    tiles.length === tileCount;
  if (!valid) throw new TsmosaicError(`${folder} has a damaged manifest.json: ${RERUN}`);
  return manifest as IndexManifest;
}

/**
 * Loads everything `build` needs from an index folder: manifest, tile pixels, features and the
 * HNSW index (read when first searched), checking every file's size against the manifest.
 * @throws {TsmosaicError} when the folder is missing, not an index, of another version, or damaged.
 */
export async function loadIndex(folder: string, manifest?: IndexManifest): Promise<LoadedIndex> {
  const checked = manifest ?? (await readManifest(folder));
  const {
    tileSize,
    crops,
    features: { dimensions },
  } = checked;
  const tileCount = checked.tileCount * crops;
  const tilePixels = await readSized(folder, INDEX_FILES.tiles, tileCount * tileSize * tileSize * 3);
  const featureBytes = await readSized(folder, INDEX_FILES.features, tileCount * dimensions * 4);
  const features = new Float32Array(featureBytes.buffer.slice(featureBytes.byteOffset, featureBytes.byteOffset + featureBytes.byteLength));
  return { folder, manifest: checked, tiles: new TileStore(tilePixels, tileSize, tileCount), features, ann: new LazyAnn(folder, checked) };
}

/**
 * Loads the HNSW index (all its shards) of the index folder `folder` described by `manifest`.
 * @throws {TsmosaicError} when it is damaged.
 */
export function loadIndexAnn(folder: string, manifest: Pick<IndexManifest, 'tileCount' | 'crops' | 'ann'>): AnnSearch {
  const tileCount = manifest.tileCount * manifest.crops;
  const shards = annShardCount(tileCount, manifest.ann.shardTiles);
  let ann: AnnSearch;
  try {
    ann = loadAnnShards(folder, descriptorLength(manifest.ann.method), shards, manifest.ann.shardLightness);
  } catch (error) {
    throw new TsmosaicError(`${folder} is damaged: cannot read its HNSW index (${reasonOf(error)}); ${RERUN}`);
  }
  if (ann.getCurrentCount() !== tileCount) {
    throw new TsmosaicError(`${folder} is damaged: the HNSW index holds ${ann.getCurrentCount()} tiles, manifest ${tileCount}; ${RERUN}`);
  }
  return ann;
}

/**
 * An index folder's HNSW index, read when first searched: a build whose cells a worker searches
 * (with its own copy) reads it only if some cell has to look farther than its band's answers.
 */
class LazyAnn implements AnnSearch {
  private ann: AnnSearch | undefined;

  constructor(
    private readonly folder: string,
    private readonly manifest: Pick<IndexManifest, 'tileCount' | 'crops' | 'ann'>,
  ) {}

  getCurrentCount(): number {
    return this.manifest.tileCount * this.manifest.crops;
  }

  /** @throws {TsmosaicError} when the index is damaged. */
  searchKnn(query: number[], k: number): { neighbors: number[]; distances: number[] } {
    this.ann ??= loadIndexAnn(this.folder, this.manifest);
    return this.ann.searchKnn(query, k);
  }
}

/** Whether `ranges` is a list of `shards` [least, greatest] number pairs. */
function validRanges(ranges: unknown, shards: number): boolean {
  return (
    Array.isArray(ranges) &&
    ranges.length === shards &&
    ranges.every(
      (range) => Array.isArray(range) && range.length === 2 && range.every((value) => typeof value === 'number' && Number.isFinite(value)),
    )
  );
}

async function readSized(folder: string, name: string, expected: number): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(path.join(folder, name));
  } catch (error) {
    throw new TsmosaicError(`${folder} is damaged: cannot read ${name} (${reasonOf(error)}); ${RERUN}`);
  }
  if (data.length !== expected) {
    throw new TsmosaicError(`${folder} is damaged: ${name} has ${data.length} bytes, expected ${expected}; ${RERUN}`);
  }
  return data;
}
