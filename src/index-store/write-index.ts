import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TsmosaicError, reasonOf } from '../errors.js';
import { DEFAULT_METHOD, descriptorLength } from '../tiles/descriptors.js';
import { STORED_GRID, type CropCount, type FeatureKind, type TileFit, type TileShape } from '../tiles/features.js';
import { ANN_SHARD_TILES, AnnShardWriter, annShardFile, ONE_SHARD_TILES } from './ann.js';
import { annDescription, annFromFeatures, copyCheckedShards, StoredToAnnVectors, type ReusableAnn } from './ann-build.js';
import { BatchFile, WRITE_BATCH_BYTES } from './batch-file.js';
import {
  CHECKPOINT_FILE,
  INDEX_FILES,
  INDEX_FORMAT,
  INDEX_FORMAT_VERSION,
  MAX_MANIFEST_BYTES,
  MAX_ROOTS,
  SOURCES_FILE,
  type Checkpoint,
  type IndexManifest,
  type LightnessRange,
  type TileSource,
} from './format.js';
import { fsyncFile, ownedByMe, Temporary } from '../files/publish.js';
import { assertReplaceable, trustedCheckpoint, type FoundCheckpoint } from './index-temporaries.js';
import { sourceRecord, writeManifest } from './manifest-file.js';
import { quote } from '../text.js';
import { yieldToEventLoop } from '../yield.js';

export type { FoundCheckpoint, ReusableAnn };

/** What the writer needs to know before the first tile. */
export interface IndexWriterOptions {
  /** The collection folders, absolute; `TileSource.root` indexes into this. */
  roots: string[];
  tileShape: TileShape;
  fit: TileFit;
  featureKind: FeatureKind;
  /** Features per tile. */
  featureDimensions: number;
  /** Tiles per picture: each `addTile` takes this many tiles' pixels and features. */
  crops: CropCount;
  /** Tiles per HNSW shard (default: ONE_SHARD_TILES when `expectedTiles` fit it, else ANN_SHARD_TILES). */
  annShardTiles?: number;
  /**
   * At most this many tiles (all crops) will be added: when they fit one shard, the HNSW graph is
   * built as tiles arrive, while the decoders work, instead of after the last one.
   */
  expectedTiles?: number;
}

/**
 * Writes a new index into a hidden temporary folder beside `target` and renames it into place on
 * `commit()`, so an interrupted run never leaves a half-written folder under the final name.
 * Tile pixels, features and source records go to disk in small batches as they are added and
 * nothing per tile stays in memory, so memory does not grow with the collection: the HNSW index is
 * built from the features read back (or, when it is one shard, as tiles arrive), and the
 * manifest's tile list is copied from the records. A checkpoint with
 * the number of tiles on disk is rewritten every few seconds, so the work of an interrupted or
 * killed run can be reused by the next (see `checkpoints`).
 */
export class IndexWriter {
  readonly target: string;
  /** The temporary folder the index is written into. */
  readonly temporary: string;
  private readonly owned: Temporary;
  /** Checkpoints of earlier runs that stopped or died, found by `create`, most tiles first. */
  readonly checkpoints: FoundCheckpoint[];
  private readonly options: IndexWriterOptions;
  private readonly tileFile: BatchFile;
  private readonly featureFile: BatchFile;
  private readonly sourceFile: BatchFile;
  private count = 0;
  private writeError: Error | undefined;
  private onDisk = 0;
  /** The only shard, built as tiles arrive (see `expectedTiles`), with a copy of a picture's features and its vectors' scratch. */
  private live: { shard: AnnShardWriter; features: Float32Array; vectors: StoredToAnnVectors } | undefined;
  private lastCheckpoint = performance.now();
  private checkpointing: Promise<void> | undefined;
  private readonly shardTiles: number;

  private constructor(target: string, owned: Temporary, options: IndexWriterOptions, checkpoints: FoundCheckpoint[]) {
    const temporary = owned.path;
    this.target = target;
    this.owned = owned;
    this.temporary = temporary;
    this.options = options;
    this.checkpoints = checkpoints;
    const expected = options.expectedTiles;
    this.shardTiles = options.annShardTiles ?? (expected !== undefined && expected <= ONE_SHARD_TILES ? ONE_SHARD_TILES : ANN_SHARD_TILES);
    const opened: BatchFile[] = [];
    try {
      for (const name of [INDEX_FILES.tiles, INDEX_FILES.features, SOURCES_FILE]) opened.push(new BatchFile(path.join(temporary, name)));
    } catch (error) {
      for (const file of opened) file.close();
      throw error;
    }
    [this.tileFile, this.featureFile, this.sourceFile] = opened as [BatchFile, BatchFile, BatchFile];
    if (expected !== undefined && expected <= this.shardTiles) {
      const shard = new AnnShardWriter(descriptorLength(DEFAULT_METHOD));
      shard.start(expected);
      this.live = {
        shard,
        features: new Float32Array(options.featureDimensions * options.crops),
        vectors: new StoredToAnnVectors(options.crops),
      };
    }
  }

  private files(): BatchFile[] {
    return [this.tileFile, this.featureFile, this.sourceFile];
  }

  /**
   * Checks that `target` may be replaced, opens a new temporary folder beside it and goes through
   * the temporaries of runs that are gone (their lock is free): a checkpoint this user wrote for
   * this target is kept for reuse (and locked while this writer lives), anything else is removed.
   * @throws {TsmosaicError} when `target` exists and is neither an index nor an empty folder, or
   * there are more than MAX_ROOTS collection folders.
   */
  static async create(target: string, options: IndexWriterOptions): Promise<IndexWriter> {
    // An index of more could not be read back (see checkManifest).
    if (options.roots.length > MAX_ROOTS) {
      throw new TsmosaicError(
        `cannot write ${quote(target)}: its tiles come from ${options.roots.length} collection folders, more than an index can list (${MAX_ROOTS})`,
      );
    }
    await assertReplaceable(target);
    const checkpoints: FoundCheckpoint[] = [];
    let owned: Temporary | undefined;
    try {
      await mkdir(path.dirname(target), { recursive: true });
      for (const stale of await Temporary.findStale(target)) {
        const checkpoint = await trustedCheckpoint(stale.path, target);
        if (checkpoint) checkpoints.push({ folder: stale.path, checkpoint, temporary: stale });
        // Another user's leftovers are theirs to remove.
        else if (await ownedByMe(stale.path)) await stale.discard();
        else await stale.keep();
      }
      owned = await Temporary.create(target);
      await mkdir(owned.path);
      return new IndexWriter(
        target,
        owned,
        options,
        checkpoints.sort((a, b) => b.checkpoint.tileCount - a.checkpoint.tileCount),
      );
    } catch (error) {
      await owned?.discard().catch(() => undefined);
      await Promise.all(checkpoints.map(({ temporary }) => temporary.keep().catch(() => undefined)));
      if (error instanceof TsmosaicError) throw error;
      throw new TsmosaicError(`cannot write the index folder ${quote(target)}: ${reasonOf(error)}`, 1, { cause: error });
    }
  }

  get tileCount(): number {
    return this.count;
  }

  /** Appends one picture's tiles (`crops` of them, features of each); ids are given in call order. */
  async addTile(pixels: Uint8Array, features: ArrayLike<number>, source: TileSource): Promise<void> {
    if (this.writeError) throw new TsmosaicError(`cannot write ${quote(this.target)}: ${reasonOf(this.writeError)}`);
    const dimensions = this.options.featureDimensions * this.options.crops;
    if (features.length !== dimensions) throw new RangeError(`expected ${dimensions} features, received ${features.length}`);
    if (this.live) this.addToLiveShard(features);
    this.count++;
    this.tileFile.append(pixels);
    this.featureFile.appendFloats(features);
    this.sourceFile.appendText(sourceRecord(source));
    if (this.tileFile.batched + this.featureFile.batched >= WRITE_BATCH_BYTES) this.writePending();
    if (!this.checkpointing && performance.now() - this.lastCheckpoint > CHECKPOINT_INTERVAL_MS) {
      this.checkpointing = this.writeCheckpoint(false).then(() => {
        this.lastCheckpoint = performance.now();
        this.checkpointing = undefined;
      });
    }
  }

  /** Adds the next picture's tiles to the shard built as tiles arrive, or gives it up when more tiles come than expected. */
  private addToLiveShard(features: ArrayLike<number>): void {
    const { shard, features: picture, vectors } = this.live!;
    const { crops } = this.options;
    if ((this.count + 1) * crops > this.options.expectedTiles!) {
      shard.drop();
      this.live = undefined;
      return;
    }
    picture.set(features);
    const described = vectors.of(picture, crops);
    const length = descriptorLength(DEFAULT_METHOD);
    for (let crop = 0; crop < crops; crop++) shard.add(described.subarray(crop * length, (crop + 1) * length), this.count * crops + crop);
  }

  /**
   * Writes the tiles added since the last batch, one blocking write per file. Blocking: the page
   * cache takes 64 KiB in microseconds, while an asynchronous write waits in libuv's pool behind
   * the decoders, and its buffer, held that long, was left for a late garbage collection.
   * @throws {TsmosaicError} when a file cannot be written (disk full); the error is kept for commit.
   */
  private writePending(): void {
    if (this.writeError) throw new TsmosaicError(`cannot write ${quote(this.target)}: ${reasonOf(this.writeError)}`);
    try {
      for (const file of this.files()) file.flush();
      this.onDisk = this.count;
    } catch (error) {
      this.writeError = error instanceof Error ? error : new Error(String(error));
      throw new TsmosaicError(`cannot write ${quote(this.target)}: ${reasonOf(this.writeError)}`, 1, { cause: error });
    }
  }

  /**
   * Stops writing and keeps the temporary folder with a checkpoint of every tile on disk, for the
   * next run to reuse; checkpoints of earlier runs with fewer tiles are removed. Returns the number
   * of tiles kept. Falls back to `abort()` when the folder cannot be kept.
   */
  async suspend(): Promise<number> {
    try {
      await this.checkpointing;
      this.writePending();
      const kept = await this.writeCheckpoint(true);
      if (this.writeError) throw this.writeError;
      for (const file of this.files()) file.close();
      await this.owned.keep();
      for (const earlier of this.checkpoints) {
        if (earlier.checkpoint.tileCount <= kept) await earlier.temporary.discard();
        else await earlier.temporary.keep();
      }
      return kept;
    } catch {
      await this.abort();
      return 0;
    }
  }

  /** Writes the last batch and closes the files; throws a write error, even one that happened before. */
  private endFiles(): void {
    try {
      this.writePending();
    } finally {
      for (const file of this.files()) file.close();
    }
  }

  /**
   * Makes the tiles on disk durable, then writes checkpoint.json (durably, by rename) counting them,
   * so that after a power cut a checkpoint never counts tiles that are not there; returns their number.
   */
  private async writeCheckpoint(suspended: boolean): Promise<number> {
    const count = this.onDisk;
    const { roots, tileShape, fit, crops, featureKind: kind, featureDimensions: dimensions } = this.options;
    const checkpoint: Checkpoint = {
      format: 'tsmosaic-checkpoint',
      suspended,
      target: this.target,
      roots,
      tileWidth: tileShape.width,
      tileHeight: tileShape.height,
      fit,
      crops,
      features: { kind, dimensions },
      tileCount: count,
    };
    const file = path.join(this.temporary, CHECKPOINT_FILE);
    try {
      await Promise.all(this.files().map((batch) => batch.sync()));
      await writeFile(`${file}.new`, JSON.stringify(checkpoint));
      await fsyncFile(`${file}.new`);
      await rename(`${file}.new`, file);
    } catch (error) {
      // A missing checkpoint only costs the next run some work; a full disk shows up in commit.
      this.writeError ??= error instanceof Error ? error : new Error(String(error));
    }
    return count;
  }

  /**
   * Writes features, the ANN index and the manifest (last), then moves the folder into place.
   * `annFrom`: an index folder whose HNSW shards were built over exactly these tiles in this order
   * (and in shards of the same size), copied instead of rebuilt (building costs seconds per 10,000 tiles).
   * Aborting `signal` stops it up to the manifest with the signal's reason; every tile may then be
   * kept with `suspend`. `onProgress` is told each HNSW shard written (`done` of `total`).
   */
  async commit(
    options: { annFrom?: ReusableAnn; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<void> {
    try {
      await this.writeRest(options.annFrom, options.signal, options.onProgress);
    } catch (error) {
      if (error instanceof TsmosaicError) throw error;
      throw new TsmosaicError(`cannot write the index folder ${quote(this.target)}: ${reasonOf(error)}`, 1, { cause: error });
    }
  }

  private async writeRest(
    annFrom: ReusableAnn | undefined,
    signal: AbortSignal | undefined,
    onProgress: ((done: number, total: number) => void) | undefined,
  ): Promise<void> {
    await this.checkpointing;
    // The files stay open until the HNSW index is built: interrupted meanwhile, `suspend` keeps every tile.
    this.writePending();
    const { featureDimensions: dimensions, featureKind: kind, roots, tileShape, fit, crops } = this.options;
    const count = this.count;
    let shardLightness: LightnessRange[] | undefined;
    // Copied shards keep the size they were cut at; shards that do not check out are rebuilt.
    let shardTiles = this.shardTiles;
    if (annFrom) {
      try {
        await copyCheckedShards(annFrom, count * crops, this.temporary);
        shardLightness = annFrom.shardLightness;
        shardTiles = annFrom.shardTiles;
      } catch {
        shardLightness = undefined;
      }
    }
    // Every crop of every picture is a tile of its own in the HNSW index: copied above, built as the
    // tiles arrived (one shard, written now; either is one step of progress), or built now shard by shard.
    if (shardLightness === undefined && this.live) shardLightness = [this.live.shard.write(path.join(this.temporary, annShardFile(0)))];
    if (shardLightness) onProgress?.(1, 1);
    else shardLightness = await annFromFeatures(this.temporary, count * crops, dimensions, this.shardTiles, signal, onProgress);
    this.live = undefined;
    await yieldToEventLoop(signal);
    this.endFiles();
    await rm(path.join(this.temporary, CHECKPOINT_FILE), { force: true });
    const header: Omit<IndexManifest, 'tiles'> = {
      format: INDEX_FORMAT,
      version: INDEX_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      collection: roots[0]!,
      ...(roots.length > 1 ? { roots } : {}),
      tileWidth: tileShape.width,
      tileHeight: tileShape.height,
      tileCount: count,
      fit,
      crops,
      features: { kind, grid: STORED_GRID, dimensions },
      ann: { ...annDescription(shardTiles), shardLightness },
    };
    // An index whose manifest could not be read back is refused rather than written.
    const sources = (await stat(path.join(this.temporary, SOURCES_FILE))).size;
    if (sources > MAX_MANIFEST_BYTES - 64 * 1024) {
      throw new TsmosaicError(
        `an index of ${count} pictures would have a manifest over ${MAX_MANIFEST_BYTES / 1e6} MB, more than tsmosaic reads: index the collection in parts (--shard) and use them as separate indexes`,
      );
    }
    await writeManifest(this.temporary, header);
    await rm(path.join(this.temporary, SOURCES_FILE));
    await this.owned.publish();
    // The new index holds everything earlier checkpoints could give.
    for (const { temporary } of this.checkpoints) await temporary.discard();
  }

  /** Removes the temporary folder; the previous index (if any) and earlier checkpoints are left as they were. */
  async abort(): Promise<void> {
    await this.checkpointing;
    for (const file of this.files()) file.close();
    await this.owned.discard();
    for (const { temporary } of this.checkpoints) await temporary.keep().catch(() => undefined);
  }
}

/** Seconds between checkpoints: a kill -9 loses at most this much work. */
const CHECKPOINT_INTERVAL_MS = 2000;
