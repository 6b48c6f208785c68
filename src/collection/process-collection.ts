import os from 'node:os';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { TsmosaicError } from '../errors.js';
import { expectInteger, expectOneOf, MAX_TILE_SIZE } from '../options.js';
import { IndexWriter } from '../index-store/write-index.js';
import { FEATURE_DIMENSIONS, tileFeatures } from './features.js';
import { loadTile, type LoadedTile, type TileFit, UnreadableImageError } from './load-tile.js';
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
  /** Index folder to write. Default: `index` beside the collection folder. */
  out?: string;
  /** Edge of the stored square tiles in pixels. Default 20. */
  tileSize?: number;
  /** `crop` (default) keeps the aspect ratio and crops to the centre square; `stretch` squashes. */
  fit?: TileFit;
  /** Images decoded at once. Default: twice the available cores. */
  concurrency?: number;
  /** Aborting stops the run between images; the previous index stays as it was. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /** Called once for each file that is skipped, as soon as it is. */
  onSkip?: (skipped: SkippedFile) => void;
}

export interface ProcessCollectionResult {
  /** Absolute path of the index folder written. */
  index: string;
  tiles: number;
  skipped: SkippedFile[];
  seconds: number;
}

export const DEFAULT_TILE_SIZE = 20;

/**
 * Scans `collection` for images, turns each into a square tile with its colour features, and
 * writes an index folder (tiles, features, HNSW index, manifest) atomically.
 * Unreadable files are skipped and reported through `onSkip` and the result.
 * @throws {TsmosaicError} when the collection is missing or yields no usable image.
 * @example
 * const { index, tiles } = await processCollection('./puppies', { tileSize: 32 });
 */
export async function processCollection(collection: string, options: ProcessCollectionOptions = {}): Promise<ProcessCollectionResult> {
  const started = performance.now();
  const tileSize = expectInteger('tileSize', options.tileSize ?? DEFAULT_TILE_SIZE, 1, MAX_TILE_SIZE);
  const fit = expectOneOf('fit', options.fit ?? 'crop', ['crop', 'stretch']);
  const concurrency = expectInteger('concurrency', options.concurrency ?? os.availableParallelism() * 2, 1, 256);
  const root = path.resolve(collection);
  const out = path.resolve(options.out ?? path.join(path.dirname(root), 'index'));
  const { onProgress, onSkip, signal } = options;

  await assertFolder(collection, root);
  signal?.throwIfAborted();
  onProgress?.({ stage: 'scan', done: 0, total: 0 });
  const files = await scanCollection(root, [out]);
  onProgress?.({ stage: 'scan', done: files.length, total: files.length });

  const featureKind = 'srgb-grid';
  const writer = await IndexWriter.create(out, {
    collection: root,
    tileSize,
    fit,
    featureKind,
    featureDimensions: FEATURE_DIMENSIONS[featureKind],
  });
  const skipped: SkippedFile[] = [];
  try {
    // Tiles finish out of order; they are written in scan order so ids are deterministic.
    const finished = new Map<number, LoadedTile | SkippedFile>();
    let nextToWrite = 0;
    let nextToLoad = 0;
    const flush = async (): Promise<void> => {
      while (finished.has(nextToWrite)) {
        const outcome = finished.get(nextToWrite)!;
        finished.delete(nextToWrite);
        const relative = files[nextToWrite]!;
        nextToWrite++;
        if ('reason' in outcome) {
          skipped.push(outcome);
          onSkip?.(outcome);
        } else {
          await writer.addTile(outcome.pixels, tileFeatures(outcome.pixels, tileSize), { source: relative, size: outcome.size, mtimeMs: outcome.mtimeMs });
        }
        onProgress?.({ stage: 'tiles', done: nextToWrite, total: files.length });
      }
    };
    const worker = async (): Promise<void> => {
      while (nextToLoad < files.length) {
        signal?.throwIfAborted();
        const position = nextToLoad++;
        const relative = files[position]!;
        try {
          finished.set(position, await loadTile(path.join(root, relative), tileSize, fit));
        } catch (error) {
          if (!(error instanceof UnreadableImageError)) throw error;
          finished.set(position, { file: path.join(collection, relative), reason: error.message });
        }
        await flush();
      }
    };
    // Let every worker stop before cleaning up, so none writes into an aborted index.
    const outcomes = await Promise.allSettled(Array.from({ length: Math.min(concurrency, Math.max(1, files.length)) }, worker));
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    signal?.throwIfAborted();

    if (writer.tileCount === 0) {
      const detail = files.length === 0 ? 'no image files found' : `all ${files.length} image files were skipped`;
      throw new TsmosaicError(`no usable image in ${collection}: ${detail}`);
    }
    onProgress?.({ stage: 'index', done: 0, total: 1 });
    await writer.commit();
    onProgress?.({ stage: 'index', done: 1, total: 1 });
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return { index: out, tiles: writer.tileCount, skipped, seconds: (performance.now() - started) / 1000 };
}

async function assertFolder(given: string, resolved: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(resolved)).isDirectory();
  } catch {
    throw new TsmosaicError(`collection folder not found: ${given}`);
  }
  if (!isDirectory) throw new TsmosaicError(`collection is not a folder: ${given}`);
}
