import { createHash } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { reasonOf, TsmosaicError, UsageError } from '../errors.js';
import { quote } from '../text.js';
import { rootsOf, type IndexManifest, type TileSource } from './format.js';
import { assertIndexFileSizes, readManifest, RERUN } from './read-index.js';
import { EarlierTiles } from './reuse.js';
import { IndexWriter } from './write-index.js';

export interface MergeIndexesOptions {
  /** `tiles`: pictures copied (or left out as duplicates) of all inputs'; `index`: HNSW shards built. */
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

/** What the merge keeps of an input between reading its manifest first and copying its tiles. */
interface CheckedInput {
  input: string;
  tileCount: number;
  /** A hash of the manifest but its tiles: the input must be the same when its tiles are copied. */
  header: string;
}

/**
 * Merges indexes built separately (e.g. the shards of one collection, or different collections)
 * into one new index at `out`, written atomically: tiles in input order, the HNSW index rebuilt
 * over all of them. A file present in several inputs (the same collection folder and path) is kept
 * once, from the first, so merging a merged index with one of its parts gives the merged index's
 * pictures again. Every input is checked before anything is written; then one input at a time is
 * held in memory (its manifest and features), so memory does not grow with the number of inputs.
 * @throws {TsmosaicError} when an input is not a readable index, or the inputs differ in tile size,
 * fit or features.
 * @example
 * await mergeIndexes(['part1', 'part2'], 'index');
 */
export async function mergeIndexes(inputs: string[], out: string, options: MergeIndexesOptions = {}): Promise<MergeIndexesResult> {
  const started = performance.now();
  if (inputs.length === 0) throw new UsageError('Expected at least one index to merge but received none');
  const { signal, onProgress } = options;
  const target = path.resolve(out);
  // Of the first input, only what every other must share: its tiles need not stay in memory.
  let first: IndexKind | undefined;
  const checked: CheckedInput[] = [];
  // Each collection folder once, numbered in input order (a map: each input may list thousands).
  const rootIds = new Map<string, number>();
  for (const input of inputs) {
    const manifest = await readManifest(input);
    first ??= kindOf(manifest);
    assertSameKind(manifest, input, first, inputs[0]!);
    await assertIndexFileSizes(input, manifest);
    for (const root of rootsOf(manifest)) if (!rootIds.has(root)) rootIds.set(root, rootIds.size);
    checked.push({ input, tileCount: manifest.tileCount, header: headerHash(manifest) });
    signal?.throwIfAborted();
  }
  const { tileWidth, tileHeight, fit, crops, features } = first!;
  const total = checked.reduce((sum, { tileCount }) => sum + tileCount, 0);
  const writer = await IndexWriter.create(target, {
    roots: [...rootIds.keys()],
    tileShape: { width: tileWidth, height: tileHeight },
    fit,
    featureKind: features.kind,
    featureDimensions: features.dimensions,
    crops,
    // A merge that fits one HNSW shard builds it while copying, as process-collection does.
    expectedTiles: total * crops,
  });
  // Pictures by merged folder number and path: shorter keys than the folders' names.
  const seen = new Set<string>();
  let duplicates = 0;
  let done = 0;
  try {
    for (const { input, tileCount, header } of checked) {
      const manifest = await readManifest(input);
      if (headerHash(manifest) !== header || manifest.tileCount !== tileCount) {
        throw new TsmosaicError(`${quote(input)} changed while it was being merged; merge again`);
      }
      const inputRoots = rootsOf(manifest).map((root) => rootIds.get(root)!);
      let store: EarlierTiles;
      try {
        store = await EarlierTiles.open(
          path.resolve(input),
          manifest.tileCount,
          { width: tileWidth, height: tileHeight },
          features.dimensions,
          crops,
          true,
        );
      } catch (error) {
        throw new TsmosaicError(`${quote(input)} is damaged: ${reasonOf(error)}; ${RERUN}`, 1, { cause: error });
      }
      try {
        for (const [id, tile] of manifest.tiles.entries()) {
          const root = inputRoots[tile.root ?? 0]!;
          const key = `${root}\0${tile.source}`;
          if (seen.has(key)) {
            duplicates++;
          } else {
            seen.add(key);
            const source: TileSource = { ...tile, root };
            if (source.root === 0) delete source.root;
            await writer.addTile(await store.pixels(id), store.features(id), source);
          }
          onProgress?.({ stage: 'tiles', done: ++done, total });
          if (done % 256 === 0) signal?.throwIfAborted();
        }
      } finally {
        await store.close();
      }
    }
    onProgress?.({ stage: 'index', done: 0, total: 1 });
    signal?.throwIfAborted();
    await writer.commit({ signal, onProgress: (built, shards) => onProgress?.({ stage: 'index', done: built, total: shards }) });
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return { index: target, tiles: writer.tileCount, duplicates, seconds: (performance.now() - started) / 1000 };
}

/** What the inputs of a merge must have in common. */
type IndexKind = Pick<IndexManifest, 'tileWidth' | 'tileHeight' | 'fit' | 'crops' | 'features'>;

/** A manifest's kind alone (a copy that keeps nothing else of it alive). */
function kindOf({ tileWidth, tileHeight, fit, crops, features }: IndexKind): IndexKind {
  return { tileWidth, tileHeight, fit, crops, features };
}

/** @throws {TsmosaicError} when `manifest` (of `input`) has another tile size, fit, crops or features than `first`'s. */
function assertSameKind(manifest: IndexKind, input: string, first: IndexKind, firstInput: string): void {
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
      `cannot merge ${quote(input)} with ${quote(firstInput)}: it has ${differences.join(', ')} (process both with the same --tile-size, --fit and --crops)`,
    );
  }
}

/** A hash of everything in a manifest but its tiles (which the tile count stands for). */
function headerHash(manifest: IndexManifest): string {
  return createHash('sha1')
    .update(JSON.stringify({ ...manifest, tiles: undefined }))
    .digest('base64url');
}

/** An index's tile size as a user gives it: `20` for squares, else `30x20`. */
function sizeOf({ tileWidth, tileHeight }: Pick<IndexManifest, 'tileWidth' | 'tileHeight'>): string {
  return tileWidth === tileHeight ? String(tileWidth) : `${tileWidth}x${tileHeight}`;
}
