import path from 'node:path';
import { stat } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { annDescription, type ReusableAnn } from '../index-store/ann-build.js';
import { INDEX_FILES, rootsOf, type IndexManifest, type TileSource } from '../index-store/format.js';
import { readSources } from '../index-store/manifest-file.js';
import { readManifest } from '../index-store/read-index.js';
import { openEarlierTiles, tileKey, type EarlierTile, type EarlierTiles } from '../index-store/reuse.js';
import type { FoundCheckpoint } from '../index-store/write-index.js';
import type { CropCount, FeatureKind, TileFit, TileShape } from '../tiles/features.js';
import { fingerprintFile } from './fingerprint.js';

/*
 * Which tiles of earlier runs a run may copy instead of decoding their files again: those of the
 * previous index at the same place, and those of an interrupted run's checkpoint, when the file is
 * unchanged and the tiles were made with the same settings.
 */

/** A tile ready to be written, decoded now or copied from an earlier run. */
export interface ReadyTile {
  pixels: Uint8Array;
  features: ArrayLike<number>;
  source: TileSource;
  earlier?: EarlierTile;
  /** The memory `pixels` and `features` of a decoded picture live in, given back once written. */
  memory?: TileMemory;
}

/** Memory for one picture's tiles and their features. */
export interface TileMemory {
  pixels: Buffer;
  features: Float32Array;
}

/**
 * Tile memory reused from picture to picture: the writer copies a picture's tiles, so its memory
 * is taken again by a later one. New buffers per picture outlived young-generation collections and
 * made peak memory grow with the collection (docs/design.md: indexing).
 */
export class TileMemoryPool {
  private readonly spare: TileMemory[] = [];

  constructor(
    private readonly pixelBytes: number,
    private readonly featureCount: number,
  ) {}

  take(): TileMemory {
    return this.spare.pop() ?? { pixels: Buffer.alloc(this.pixelBytes), features: new Float32Array(this.featureCount) };
  }

  give(memory: TileMemory): void {
    this.spare.push(memory);
  }
}

/** What a run makes tiles with: earlier tiles are reused only when made with the same. */
export interface Settings {
  tileShape: TileShape;
  fit: TileFit;
  crops: CropCount;
  featureKind: FeatureKind;
  featureDimensions: number;
}

/** The tiles of an earlier run (the previous index, or an interrupted run's checkpoint), opened for reuse. */
export interface EarlierRun {
  tiles: EarlierTiles;
  find(root: string, relative: string): EarlierTile | undefined;
  /** How many of its tiles have no key in `present`. */
  countMissing(present: Set<string>): number;
}

/** The previous index at `out`, opened for reuse. */
export interface PreviousIndex extends EarlierRun {
  /** Its HNSW shards, when they were built the way this version builds them. */
  reusableAnn: ReusableAnn | undefined;
}

async function earlierRun(
  tiles: EarlierTiles,
  sources: Iterable<TileSource> | AsyncIterable<TileSource>,
  roots: string[],
): Promise<EarlierRun> {
  const byKey = new Map<string, EarlierTile>();
  let id = 0;
  for await (const source of sources) byKey.set(tileKey(roots[source.root ?? 0] ?? '', source.source), { store: tiles, id: id++, source });
  return {
    tiles,
    find: (root, relative) => byKey.get(tileKey(root, relative)),
    countMissing: (present) => [...byKey.keys()].filter((key) => !present.has(key)).length,
  };
}

/** Opens the checkpoint with the most tiles that was made with these settings, if any. */
export async function openCheckpoint(found: FoundCheckpoint[], settings: Settings): Promise<EarlierRun | undefined> {
  for (const { folder, checkpoint } of found) {
    const { tileWidth, tileHeight, fit, crops, features, tileCount, roots } = checkpoint;
    if (
      tileWidth !== settings.tileShape.width ||
      tileHeight !== settings.tileShape.height ||
      fit !== settings.fit ||
      crops !== settings.crops ||
      features.kind !== settings.featureKind ||
      features.dimensions !== settings.featureDimensions
    )
      continue;
    const store = await openEarlierTiles(folder, tileCount, settings.tileShape, features.dimensions, crops);
    if (typeof store === 'string') continue;
    try {
      return await earlierRun(store, readSources(folder, tileCount), roots);
    } catch {
      await store.close(); // damaged records: the checkpoint is not reusable
    }
  }
  return undefined;
}

/**
 * Opens the index at `out` for reuse, or explains in a note why it cannot be reused (another tile
 * size or fit, an older format, damage) and returns undefined: then every file is decoded.
 */
export async function openPrevious(
  out: string,
  settings: Settings,
  onNote: ((message: string) => void) | undefined,
): Promise<PreviousIndex | undefined> {
  try {
    await stat(path.join(out, INDEX_FILES.manifest));
  } catch {
    return undefined;
  }
  let manifest: IndexManifest;
  try {
    manifest = await readManifest(out);
  } catch (error) {
    onNote?.(`not reusing the existing index: ${error instanceof Error ? error.message : String(error)}; processing every file`);
    return undefined;
  }
  const differences: string[] = [];
  const { width, height } = settings.tileShape;
  if (manifest.tileWidth !== width || manifest.tileHeight !== height) {
    differences.push(`tile size ${shapeText(manifest.tileWidth, manifest.tileHeight)}, this run ${shapeText(width, height)}`);
  }
  if (manifest.fit !== settings.fit) differences.push(`fit ${manifest.fit}, this run ${settings.fit}`);
  if (manifest.crops !== settings.crops) differences.push(`${manifest.crops} crops per picture, this run ${settings.crops}`);
  if (manifest.features.kind !== settings.featureKind || manifest.features.dimensions !== settings.featureDimensions)
    differences.push('other features');
  if (differences.length > 0) {
    onNote?.(`the existing index has ${differences.join(', ')}: processing every file`);
    return undefined;
  }
  const tiles = await openEarlierTiles(out, manifest.tileCount, settings.tileShape, manifest.features.dimensions, manifest.crops);
  if (typeof tiles === 'string') {
    onNote?.(`not reusing the existing index (${tiles}): processing every file`);
    return undefined;
  }
  // Shards from before they were split by lightness are searched whole: rebuilt, not copied.
  const { shardLightness, ...ann } = manifest.ann;
  const { shardTiles } = ann;
  const reusable = shardLightness && shardTiles !== undefined && isDeepStrictEqual(ann, annDescription(shardTiles));
  return {
    ...(await earlierRun(tiles, manifest.tiles, rootsOf(manifest))),
    reusableAnn: reusable ? { folder: out, shardLightness, shardTiles } : undefined,
  };
}

/** The earlier tile of `absolute` when the file is unchanged: same size, and same mtime or fingerprint. */
export async function reuseIfUnchanged(absolute: string, root: number, earlier: EarlierTile): Promise<ReadyTile | undefined> {
  let size: number;
  let mtimeMs: number;
  try {
    ({ size, mtimeMs } = await stat(absolute));
  } catch {
    return undefined; // decoding reports why the file cannot be read
  }
  const known = earlier.source;
  if (size !== known.size) return undefined;
  if (
    mtimeMs !== known.mtimeMs &&
    (known.fingerprint === undefined || known.fingerprint !== (await fingerprintFile(absolute, size).catch(() => undefined)))
  ) {
    return undefined;
  }
  const source: TileSource = {
    source: known.source,
    size,
    mtimeMs,
    ...(root > 0 ? { root } : {}),
    ...(known.fingerprint ? { fingerprint: known.fingerprint } : {}),
  };
  return { pixels: await earlier.store.pixels(earlier.id), features: earlier.store.features(earlier.id), source, earlier };
}

/** A tile size as a user gives it: `20` for squares, else `30x20`. */
function shapeText(width: number, height: number): string {
  return width === height ? String(width) : `${width}x${height}`;
}
