import { stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import { TsmosaicError, UsageError } from '../errors.js';
import { UnreadableImageError } from '../files/image-file.js';
import type { TileSource } from '../index-store/format.js';
import { IndexWriter } from '../index-store/write-index.js';
import { tileKey } from '../index-store/reuse.js';
import { PROCESS_COLLECTION_OPTIONS, tileShapeOf, type TileSize } from '../options/options.js';
import { resolveShard, type Shard, type ShardOption } from '../options/shard.js';
import { checkOption, type IntegerSpec } from '../options/schema.js';
import { quote } from '../text.js';
import { FEATURE_DIMENSIONS, tileBytes, tilesFeatures, type CropCount, type FeatureKind, type TileFit } from '../tiles/features.js';
import { runInOrder } from './in-order-queue.js';
import { defaultConcurrency, loadTile, ReadBuffer, ReadBudget } from './load-tile.js';
import { openCheckpoint, openPrevious, reuseIfUnchanged, TileMemoryPool, type ReadyTile, type Settings } from './reuse-policy.js';
import { scanCollection } from './scan.js';

/** Progress of a long step: `done` of `total` units. */
export interface Progress {
  stage: 'scan' | 'tiles' | 'index';
  done: number;
  total: number;
}

/** A file that did not become a tile, and why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

export interface ProcessCollectionOptions {
  /** Index folder to write. Default: `index` beside the (first) collection folder. */
  out?: string;
  /** Edge of the stored square tiles in pixels. Default 20. */
  tileSize?: TileSize;
  /** `crop` (default) keeps the aspect ratio and crops to the centre square; `stretch` squashes. */
  fit?: TileFit;
  /**
   * Tiles cut from each picture: 5 (default) stores the centre square and four corner squares, so
   * `build` can choose the part of a picture that fits a cell best (never two of one picture where
   * the placement rules forbid repeats); 1 stores only the centre square, as pycollage does.
   */
  crops?: CropCount;
  /** Decode every file even when `out` holds an index whose tiles could be reused. */
  rebuild?: boolean;
  /**
   * Process only this part of the files (chosen by a hash of each file's relative path): part
   * `index` of `count`, or `{ index: 'auto' }` for the part the job runner gives the process in its
   * environment (see resolveShard), of `count` parts or as many as the runner says.
   */
  shard?: ShardOption;
  /** Where an `auto` shard looks for the job runner's variables. Default: `process.env`. */
  environment?: Readonly<Record<string, string | undefined>>;
  /** Pictures read and handed to the decoders at once. Default: twice libuv's threads, 8 (see `defaultConcurrency`). */
  concurrency?: number;
  /** Aborting stops the run between images; the previous index stays as it was. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /** Called once for each file that is skipped, as soon as it is. */
  onSkip?: (skipped: SkippedFile) => void;
  /** Called with one-line notes worth telling a user (e.g. why earlier tiles are not reused). */
  onNote?: (message: string) => void;
}

export interface ProcessCollectionResult {
  /** Absolute path of the index folder written. */
  index: string;
  tiles: number;
  /** Tiles decoded from their files in this run. */
  processed: number;
  /** Tiles copied from the previous index because their files are unchanged. */
  reused: number;
  /** Tiles of the previous index whose files are gone (deleted, renamed, or outside the shard). */
  removed: number;
  skipped: SkippedFile[];
  seconds: number;
}

const OPTIONS = PROCESS_COLLECTION_OPTIONS;
/**
 * Bytes of decoded tiles that may wait for a slower picture before them to be written: pictures
 * are started at most this far ahead (at least one per lane), so a slow one cannot pile up tiles.
 */
const WAITING_BYTES = 64 * 1024 * 1024;
/** Pictures in flight (API only). */
const CONCURRENCY: IntegerSpec = { key: 'concurrency', kind: 'integer', flags: '', help: 'pictures in flight', min: 1, max: 256 };

/** A file found by the scan: its collection folder (index into the roots) and its relative path. */
interface ScannedFile {
  root: number;
  relative: string;
}

/**
 * Scans the collection folder(s) for images, turns each into a square tile with its colour
 * features, and writes an index folder (tiles, features, HNSW index, manifest) atomically.
 * When `out` already holds an index with the same tile size and fit, tiles of unchanged files
 * (same relative path and size, and same mtime or fingerprint) are copied from it, not decoded.
 * Unreadable files are skipped and reported through `onSkip` and the result.
 * @throws {TsmosaicError} when a collection is missing or none yields a usable image.
 * @throws {UsageError} for invalid options.
 * @example
 * const { index, tiles, reused } = await processCollection('./puppies', { tileSize: 32 });
 */
export async function processCollection(
  collection: string | string[],
  options: ProcessCollectionOptions = {},
): Promise<ProcessCollectionResult> {
  const started = performance.now();
  const tileShape = tileShapeOf(checkOption(OPTIONS.tileSize, options.tileSize));
  const fit = checkOption(OPTIONS.fit, options.fit);
  const crops = checkOption(OPTIONS.crops, options.crops);
  const concurrency = checkOption(CONCURRENCY, options.concurrency) ?? defaultConcurrency();
  const shardOption = checkOption(OPTIONS.shard, options.shard);
  const resolved = shardOption && resolveShard(shardOption, options.environment ?? process.env);
  const shard = resolved?.shard;
  const given = Array.isArray(collection) ? collection : [collection];
  if (given.length === 0) throw new UsageError('Expected at least one collection folder but received none');
  const roots = given.map((folder) => path.resolve(folder));
  assertDistinct(given, roots);
  const out = path.resolve(options.out ?? path.join(path.dirname(roots[0]!), 'index'));
  const { onProgress, onSkip, onNote, signal } = options;

  for (const [i, root] of roots.entries()) await assertFolder(given[i]!, root);
  if (resolved?.from) onNote?.(`part ${resolved.shard.index} of ${resolved.shard.count} (${resolved.from})`);
  signal?.throwIfAborted();
  onProgress?.({ stage: 'scan', done: 0, total: 0 });
  const files: ScannedFile[] = [];
  let scanned = 0;
  const skipped: SkippedFile[] = [];
  for (const [root, folder] of roots.entries()) {
    const scan = await scanCollection(folder, [out], signal);
    for (const relative of scan.files) {
      scanned++;
      if (!shard || inShard(relative, shard)) files.push({ root, relative });
    }
    for (const { relative, reason } of scan.problems) skipped.push({ file: path.join(given[root]!, relative), reason });
  }
  skipped.forEach((problem) => onSkip?.(problem));
  onProgress?.({ stage: 'scan', done: files.length, total: files.length });

  const featureKind: FeatureKind = 'srgb-grid';
  const featureDimensions = FEATURE_DIMENSIONS[featureKind];
  const settings: Settings = { tileShape, fit, crops, featureKind, featureDimensions };
  const previous = options.rebuild ? undefined : await openPrevious(out, settings, onNote);
  // When the run fits one HNSW shard, it is built while decoding (unless the old one may be copied).
  const writer = await IndexWriter.create(out, {
    roots,
    ...settings,
    expectedTiles: previous?.reusableAnn ? undefined : files.length * crops,
  });
  const resumed = options.rebuild ? undefined : await openCheckpoint(writer.checkpoints, settings);
  if (resumed) onNote?.(`resuming an interrupted run: ${resumed.tiles.count} tiles already done`);
  let processed = 0;
  let reused = 0;
  // The previous HNSW shards stay valid only when every tile is reused at its own id.
  let sameTiles = previous !== undefined && previous.tiles.count === files.length;
  try {
    const memory = new TileMemoryPool(tileBytes(tileShape) * crops, featureDimensions * crops);
    // Large files read whole, counted across the decoders (see ReadBudget); one read buffer a lane.
    const budget = new ReadBudget();
    const reading = Array.from({ length: concurrency }, () => new ReadBuffer(budget));
    await runInOrder<ReadyTile | SkippedFile>({
      count: files.length,
      concurrency,
      window: Math.min(4 * concurrency, Math.floor(WAITING_BYTES / (tileBytes(tileShape) * crops))),
      signal,
      produce: async (position, lane) => {
        const file = files[position]!;
        const root = roots[file.root]!;
        const absolute = path.join(root, file.relative);
        const earlier = previous?.find(root, file.relative);
        const done = resumed?.find(root, file.relative);
        try {
          const copied =
            (earlier && (await reuseIfUnchanged(absolute, file.root, earlier))) ??
            (done && (await reuseIfUnchanged(absolute, file.root, done)));
          return copied ?? (await decode(absolute, file, settings, reading[lane]!, memory));
        } catch (error) {
          if (!(error instanceof UnreadableImageError)) throw error;
          return { file: path.join(given[file.root]!, file.relative), reason: error.message };
        }
      },
      consume: async (outcome, position) => {
        if ('reason' in outcome) {
          skipped.push(outcome);
          onSkip?.(outcome);
          sameTiles = false;
        } else {
          if (outcome.earlier) reused++;
          else processed++;
          if (outcome.earlier?.store !== previous?.tiles || outcome.earlier?.id !== writer.tileCount) sameTiles = false;
          await writer.addTile(outcome.pixels, outcome.features, outcome.source);
          if (outcome.memory) memory.give(outcome.memory);
        }
        onProgress?.({ stage: 'tiles', done: position + 1, total: files.length });
      },
    });

    if (writer.tileCount === 0) {
      const where = given.map(quote).join(', ');
      const detail =
        files.length > 0
          ? `all ${files.length} image files were skipped`
          : shard && scanned > 0
            ? `none of the ${scanned} image files is in part ${shard.index} of ${shard.count} (use fewer parts)`
            : 'no image files found';
      throw new TsmosaicError(`no usable image in ${where}: ${detail}`);
    }
    onProgress?.({ stage: 'index', done: 0, total: 1 });
    await previous?.tiles.close();
    await resumed?.tiles.close();
    await writer.commit({
      annFrom: sameTiles ? previous?.reusableAnn : undefined,
      signal,
      onProgress: (done, total) => onProgress?.({ stage: 'index', done, total }),
    });
  } catch (error) {
    await previous?.tiles.close().catch(() => undefined);
    await resumed?.tiles.close().catch(() => undefined);
    if (signal?.aborted) {
      const kept = await writer.suspend();
      if (kept > 0) onNote?.(`${kept} tiles done are kept: run the same command again to continue`);
    } else {
      await writer.abort();
    }
    throw error;
  }
  const removed = previous ? previous.countMissing(new Set(files.map(({ root, relative }) => tileKey(roots[root]!, relative)))) : 0;
  return { index: out, tiles: writer.tileCount, processed, reused, removed, skipped, seconds: (performance.now() - started) / 1000 };
}

async function decode(
  absolute: string,
  file: ScannedFile,
  { tileShape, fit, crops }: Settings,
  reading: ReadBuffer,
  pool: TileMemoryPool,
): Promise<ReadyTile> {
  const memory = pool.take();
  try {
    const shape = tileShape;
    const { pixels, size, mtimeMs, fingerprint } = await loadTile(absolute, shape, fit, crops, reading, { into: memory.pixels });
    const source: TileSource = { source: file.relative, size, mtimeMs, ...(file.root > 0 ? { root: file.root } : {}), fingerprint };
    return { pixels, features: tilesFeatures(pixels, shape, crops, memory.features), source, memory };
  } catch (error) {
    pool.give(memory);
    throw error;
  }
}

/** Whether a relative path belongs to a shard: a hash of the path, so adding files never moves others. */
function inShard(relative: string, shard: Shard): boolean {
  return crc32(relative) % shard.count === shard.index - 1;
}

function assertDistinct(given: string[], roots: string[]): void {
  for (const [i, root] of roots.entries()) {
    for (const [j, other] of roots.entries()) {
      const relative = path.relative(other, root);
      if (i !== j && (relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative)))) {
        throw new UsageError(
          `collection folders must not overlap: ${given[i]} is ${relative === '' ? 'the same as' : 'inside'} ${given[j]}`,
        );
      }
    }
  }
}

async function assertFolder(given: string, resolved: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(resolved)).isDirectory();
  } catch {
    throw new TsmosaicError(`collection folder not found: ${quote(given)}`);
  }
  if (!isDirectory) throw new TsmosaicError(`collection is not a folder: ${quote(given)}`);
}
