import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { reasonOf, TsmosaicError, UsageError } from '../errors.js';
import { quote } from '../text.js';
import { rootsOf, type IndexManifest, type TileSource } from './format.js';
import { readManifest } from './read-index.js';
import { EarlierTiles, tileKey } from './reuse.js';
import { IndexWriter } from './write-index.js';

export interface MergeIndexesOptions {
  onProgress?: (progress: { stage: 'tiles' | 'index'; done: number; total: number }) => void;
  /** Aborting stops the merge between tiles or HNSW shards; nothing is left but the inputs. */
  signal?: AbortSignal;
}

export interface MergeIndexesResult {
  /** Absolute path of the index written. */
  index: string;
  tiles: number;
  /** Tiles left out because an earlier input already has the same file (same folder and path). */
  duplicates: number;
  seconds: number;
}

/**
 * Merges indexes built separately (e.g. the shards of one collection, or different collections)
 * into one new index at `out`, written atomically: tiles in input order, the HNSW index rebuilt
 * over all of them. A file present in several inputs is kept once, from the first.
 * @throws {TsmosaicError} when an input is not a readable index, or the inputs differ in tile size,
 * fit or features.
 * @example
 * await mergeIndexes(['part1', 'part2'], 'index');
 */
export async function mergeIndexes(inputs: string[], out: string, options: MergeIndexesOptions = {}): Promise<MergeIndexesResult> {
  const started = performance.now();
  if (inputs.length === 0) throw new UsageError('Expected at least one index to merge but received none');
  const target = path.resolve(out);
  const manifests: IndexManifest[] = [];
  for (const input of inputs) manifests.push(await readManifest(input));
  const first = manifests[0]!;
  manifests.forEach((manifest, i) => {
    const differences: string[] = [];
    if (manifest.tileWidth !== first.tileWidth || manifest.tileHeight !== first.tileHeight) {
      differences.push(`tile size ${sizeOf(manifest)}, not ${sizeOf(first)}`);
    }
    if (manifest.fit !== first.fit) differences.push(`fit ${manifest.fit}, not ${first.fit}`);
    if (manifest.crops !== first.crops) differences.push(`${manifest.crops} crops per picture, not ${first.crops}`);
    if (manifest.features.kind !== first.features.kind || manifest.features.dimensions !== first.features.dimensions) {
      differences.push(
        `features ${manifest.features.kind}/${manifest.features.dimensions}, not ${first.features.kind}/${first.features.dimensions}`,
      );
    }
    if (differences.length > 0) {
      throw new TsmosaicError(
        `cannot merge ${quote(inputs[i]!)} with ${quote(inputs[0]!)}: it has ${differences.join(', ')} (process both with the same --tile-size, --fit and --crops)`,
      );
    }
  });

  // Each collection folder once, numbered in input order (a map: each input may list thousands).
  const rootIds = new Map<string, number>();
  for (const manifest of manifests) for (const root of rootsOf(manifest)) if (!rootIds.has(root)) rootIds.set(root, rootIds.size);
  const roots = [...rootIds.keys()];
  const writer = await IndexWriter.create(target, {
    roots,
    tileShape: { width: first.tileWidth, height: first.tileHeight },
    fit: first.fit,
    featureKind: first.features.kind,
    featureDimensions: first.features.dimensions,
    crops: first.crops,
  });
  const total = manifests.reduce((sum, manifest) => sum + manifest.tileCount, 0);
  const seen = new Set<string>();
  let duplicates = 0;
  let done = 0;
  try {
    for (const [i, manifest] of manifests.entries()) {
      const inputRoots = rootsOf(manifest);
      let store: EarlierTiles;
      try {
        store = await EarlierTiles.open(
          path.resolve(inputs[i]!),
          manifest.tileCount,
          { width: manifest.tileWidth, height: manifest.tileHeight },
          manifest.features.dimensions,
          manifest.crops,
          true,
        );
      } catch (error) {
        throw new TsmosaicError(`${quote(inputs[i]!)} is damaged: ${reasonOf(error)}; run process-collection again`, 1, { cause: error });
      }
      try {
        for (const [id, tile] of manifest.tiles.entries()) {
          const root = inputRoots[tile.root ?? 0]!;
          const key = tileKey(root, tile.source);
          if (seen.has(key)) {
            duplicates++;
          } else {
            seen.add(key);
            const source: TileSource = { ...tile, root: rootIds.get(root)! };
            if (source.root === 0) delete source.root;
            await writer.addTile(await store.pixels(id), store.features(id), source);
          }
          options.onProgress?.({ stage: 'tiles', done: ++done, total });
          if (done % 256 === 0) options.signal?.throwIfAborted();
        }
      } finally {
        await store.close();
      }
    }
    options.onProgress?.({ stage: 'index', done: 0, total: 1 });
    options.signal?.throwIfAborted();
    await writer.commit({ signal: options.signal });
    options.onProgress?.({ stage: 'index', done: 1, total: 1 });
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return { index: target, tiles: writer.tileCount, duplicates, seconds: (performance.now() - started) / 1000 };
}

/** An index's tile size as a user gives it: `20` for squares, else `30x20`. */
function sizeOf({ tileWidth, tileHeight }: Pick<IndexManifest, 'tileWidth' | 'tileHeight'>): string {
  return tileWidth === tileHeight ? String(tileWidth) : `${tileWidth}x${tileHeight}`;
}
