import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { TsmosaicError } from '../errors.js';
import { describeError, FileProblem, MAX_BUFFER_BYTES, readRegularFile, regularFileSize } from '../files/read.js';
import { quote } from '../text.js';
import { descriptorLength } from '../tiles/descriptors.js';
import { TileReader } from '../tiles/tile-file.js';
import { TileStore } from '../tiles/tile-store.js';
import { loadAnnShards, type AnnSearch, type AnnShards } from './ann.js';
import { INDEX_FILES, MAX_MANIFEST_BYTES, type IndexManifest } from './format.js';

export { MAX_MANIFEST_BYTES };
import { checkManifest, ManifestProblem } from './manifest-check.js';

/** An index loaded for matching: all but its tile pixels. */
export interface IndexForMatching {
  folder: string;
  manifest: IndexManifest;
  /** Tiles in the index: `manifest.tileCount * manifest.crops`, picture after picture. */
  tileCount: number;
  /** The stored features (see FeatureKind), tile-major. */
  features: Float32Array;
  /** HNSW index over the candidate vectors of `manifest.ann.method`. */
  ann: AnnSearch;
}

/** An index loaded for matching and rendering. */
export interface LoadedIndex extends IndexForMatching {
  /** Every tile, picture after picture. */
  tiles: TileStore;
}

/** What a message about a damaged index tells the user to do. */
export const RERUN = 'run process-collection again';

/**
 * Reads and checks an index folder's manifest (every field, in type and range) without loading
 * the heavy files.
 * @throws {TsmosaicError} when the folder is missing, not an index, of another format version or damaged
 */
export async function readManifest(folder: string): Promise<IndexManifest> {
  const shown = quote(folder);
  try {
    if (!(await stat(folder)).isDirectory()) throw new TsmosaicError(`${shown} is not an index folder (it is a file)`);
  } catch (error) {
    if (error instanceof TsmosaicError) throw error;
    throw new TsmosaicError(`index folder not found: ${shown}`);
  }
  let value: unknown;
  try {
    value = JSON.parse((await readRegularFile(path.join(folder, INDEX_FILES.manifest), { maxBytes: MAX_MANIFEST_BYTES })).toString('utf8'));
  } catch (error) {
    if (error instanceof FileProblem && error.message === 'is missing') {
      throw new TsmosaicError(`${shown} is not a tsmosaic index (no manifest.json); run process-collection first`);
    }
    const reason = error instanceof FileProblem ? `manifest.json ${error.message}` : 'manifest.json is not valid JSON';
    throw new TsmosaicError(`${shown} is not a readable tsmosaic index (${reason}); ${RERUN}`);
  }
  try {
    return checkManifest(value);
  } catch (error) {
    if (!(error instanceof ManifestProblem)) throw error;
    if (error.kind === 'not-an-index') throw new TsmosaicError(`${shown} is not a tsmosaic index (${error.message})`);
    if (error.kind === 'version') throw new TsmosaicError(`${shown} has ${error.message}: ${RERUN}`);
    throw new TsmosaicError(`${shown} has a damaged manifest.json: ${error.message}; ${RERUN}`);
  }
}

/**
 * Loads everything `build` needs from an index folder: manifest, tile pixels, features and the
 * HNSW index (read when first searched), checking every file's size against the manifest before
 * it is read, and every feature value.
 * @throws {TsmosaicError} when the folder is missing, not an index, of another version, or damaged
 */
export async function loadIndex(folder: string, manifest?: IndexManifest): Promise<LoadedIndex> {
  const checked = manifest ?? (await readManifest(folder));
  // Too large to load is said before anything is read.
  assertLoadable(folder, checked);
  const loaded = await loadIndexForMatching(folder, checked);
  return { ...loaded, tiles: await loadIndexTiles(loaded) };
}

/**
 * The tile pixels of an index loaded for matching, read whole into memory.
 * @throws {TsmosaicError} as loadIndex
 */
export async function loadIndexTiles({ folder, manifest, tileCount }: IndexForMatching): Promise<TileStore> {
  const tilePixels = await readExactly(folder, INDEX_FILES.tiles, assertLoadable(folder, manifest));
  return new TileStore(tilePixels, { width: manifest.tileWidth, height: manifest.tileHeight }, tileCount);
}

/**
 * loadIndex without the tile pixels, for builds that draw their tiles from the original pictures
 * (an index of 25,000 pictures holds 150 MB of them); `openIndexTiles` reads single tiles.
 * @throws {TsmosaicError} as loadIndex
 */
export async function loadIndexForMatching(folder: string, manifest?: IndexManifest): Promise<IndexForMatching> {
  const checked = manifest ?? (await readManifest(folder));
  const {
    crops,
    features: { dimensions },
  } = checked;
  const tileCount = checked.tileCount * crops;
  // Checked here too, so that a build drawing from the originals (which reads single tiles later)
  // refuses a damaged tiles.rgb before any work, not when an original fails.
  await assertFileBytes(folder, INDEX_FILES.tiles, tileCount * checked.tileWidth * checked.tileHeight * 3);
  const featureBytes = await readExactly(folder, INDEX_FILES.features, tileCount * dimensions * 4);
  const features = new Float32Array(featureBytes.buffer, featureBytes.byteOffset, featureBytes.byteLength / 4);
  const bad = features.findIndex((value) => !(value >= 0 && value <= 255));
  if (bad >= 0) {
    throw new TsmosaicError(
      `${quote(folder)} is damaged: ${INDEX_FILES.features} holds ${features[bad]} for tile ${Math.floor(bad / dimensions)}, not a colour from 0 to 255; ${RERUN}`,
    );
  }
  return { folder, manifest: checked, tileCount, features, ann: new LazyAnn(folder, checked) };
}

/**
 * The tiles of an index loaded for matching, read from its tiles.rgb one at a time, after its size
 * is checked against the manifest; to be closed.
 * @throws {TsmosaicError} when tiles.rgb is missing, not a regular file or of another size
 */
export async function openIndexTiles({ folder, manifest, tileCount }: IndexForMatching): Promise<TileReader> {
  const shape = { width: manifest.tileWidth, height: manifest.tileHeight };
  const file = path.join(folder, INDEX_FILES.tiles);
  const expected = tileCount * shape.width * shape.height * 3;
  await assertFileBytes(folder, INDEX_FILES.tiles, expected);
  let descriptor: number | undefined;
  try {
    // Without blocking: a FIFO put in its place after the check would otherwise hang the open.
    descriptor = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const opened = fstatSync(descriptor);
    if (!opened.isFile() || opened.size !== expected) throw new FileProblem('changed while it was read');
    // A read that fails later (the file shrank, an I/O error) names the index as damaged too.
    const failure = (error: unknown): Error => damaged(folder, INDEX_FILES.tiles, new FileProblem(problemOf(error), { cause: error }));
    const reader = new TileReader(descriptor, file, shape, tileCount, failure);
    descriptor = undefined;
    return reader;
  } catch (error) {
    throw damaged(folder, INDEX_FILES.tiles, error instanceof FileProblem ? error : new FileProblem(problemOf(error), { cause: error }));
  } finally {
    if (descriptor !== undefined) closeSync(descriptor);
  }
}

/**
 * The bytes of an index's tile pixels, which `loadIndex` holds in memory; checked from the
 * manifest alone, so that an index too large for it is refused before anything is read or started.
 * @throws {TsmosaicError} when they are more than one buffer can hold
 */
export function assertLoadable(folder: string, manifest: Pick<IndexManifest, 'tileCount' | 'crops' | 'tileWidth' | 'tileHeight'>): number {
  const { tileWidth, tileHeight } = manifest;
  const tileSize = tileWidth === tileHeight ? `${tileWidth}` : `${tileWidth}x${tileHeight}`;
  const tileCount = manifest.tileCount * manifest.crops;
  const tileBytes = tileCount * tileWidth * tileHeight * 3;
  if (tileBytes > MAX_BUFFER_BYTES) {
    throw new TsmosaicError(
      `${quote(folder)} holds ${tileCount} tiles of ${tileSize} px (${(tileBytes / 1e9).toFixed(1)} GB of pixels), more than this tsmosaic can load (${(MAX_BUFFER_BYTES / 1e9).toFixed(1)} GB): index fewer pictures or with a smaller --tile-size`,
    );
  }
  return tileBytes;
}

/** What an index folder's HNSW shard files must hold, from its checked manifest. */
export function annShardsOf(manifest: Pick<IndexManifest, 'tileCount' | 'crops' | 'ann'>): AnnShards {
  const { ann } = manifest;
  return {
    dimensions: descriptorLength(ann.method),
    m: ann.m,
    tiles: manifest.tileCount * manifest.crops,
    shardTiles: ann.shardTiles,
    ...(ann.shardLightness ? { lightness: ann.shardLightness } : {}),
  };
}

/**
 * Loads the HNSW index (all its shards) of the index folder `folder` described by `manifest`,
 * each file checked before hnswlib reads it.
 * @throws {TsmosaicError} when it is damaged
 */
export function loadIndexAnn(folder: string, manifest: Pick<IndexManifest, 'tileCount' | 'crops' | 'ann'>): AnnSearch {
  try {
    return loadAnnShards(folder, annShardsOf(manifest));
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new TsmosaicError(`${quote(folder)} is damaged: its HNSW index cannot be used (${reason}); ${RERUN}`);
  }
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

/**
 * Checks that an index folder's tiles.rgb and features.f32 are regular files of the sizes its
 * manifest gives, without reading them (`merge` checks every input before it copies any).
 * @throws {TsmosaicError} naming the folder and the file, as loadIndex would
 */
export async function assertIndexFileSizes(
  folder: string,
  manifest: Pick<IndexManifest, 'tileCount' | 'crops' | 'tileWidth' | 'tileHeight' | 'features'>,
): Promise<void> {
  const tiles = manifest.tileCount * manifest.crops;
  for (const [name, bytes] of [
    [INDEX_FILES.tiles, tiles * manifest.tileWidth * manifest.tileHeight * 3],
    [INDEX_FILES.features, tiles * manifest.features.dimensions * 4],
  ] as const) {
    let size: number;
    try {
      size = await regularFileSize(path.join(folder, name));
    } catch (error) {
      if (!(error instanceof FileProblem)) throw error;
      throw new TsmosaicError(`${quote(folder)} is damaged: ${name} ${error.message}; ${RERUN}`, 1, { cause: error });
    }
    if (size !== bytes) throw new TsmosaicError(`${quote(folder)} is damaged: ${name} has ${size} bytes, expected ${bytes}; ${RERUN}`);
  }
}

/** A file of the index folder, which must have exactly `bytes` bytes (checked before it is read). */
async function readExactly(folder: string, name: string, bytes: number): Promise<Buffer> {
  try {
    return await readRegularFile(path.join(folder, name), { bytes });
  } catch (error) {
    throw damaged(folder, name, error);
  }
}

/** Checks that file `name` of an index folder is a regular file of `bytes` bytes, as readExactly would. */
async function assertFileBytes(folder: string, name: string, bytes: number): Promise<void> {
  try {
    const size = await regularFileSize(path.join(folder, name));
    if (size !== bytes) throw new FileProblem(`has ${size} bytes, expected ${bytes}`);
  } catch (error) {
    throw damaged(folder, name, error);
  }
}

/** A file-system error as a short reason (see describeError), or another error's message. */
function problemOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ? describeError(error) : (error as Error).message;
}

/** The error for file `name` of an index folder that cannot be read as it should. */
function damaged(folder: string, name: string, error: unknown): TsmosaicError {
  const reason = error instanceof FileProblem ? `${name} ${error.message}` : `cannot read ${name}`;
  return new TsmosaicError(`${quote(folder)} is damaged: ${reason}; ${RERUN}`, 1, { cause: error });
}
