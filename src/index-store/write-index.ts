import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, writeSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { TsmosaicError, reasonOf } from '../errors.js';
import { STORED_GRID, type CropCount, type FeatureKind, type TileFit } from '../tiles/features.js';

import { ANN_PARAMETERS, ANN_SHARD_TILES, AnnShardWriter, annShardCount, annShardFile, LightnessShards, ONE_SHARD_TILES } from './ann.js';
import { annVectors, DEFAULT_METHOD, descriptorLength, tileDescriptors } from '../tiles/descriptors.js';
import {
  CHECKPOINT_FILE,
  INDEX_FILES,
  INDEX_FORMAT,
  INDEX_FORMAT_VERSION,
  SOURCES_FILE,
  type Checkpoint,
  type IndexManifest,
  type LightnessRange,
  type TileSource,
} from './format.js';
import { isAlive, pathExists } from '../files/paths.js';

/** What the writer needs to know before the first tile. */
export interface IndexWriterOptions {
  /** The collection folders, absolute; `TileSource.root` indexes into this. */
  roots: string[];
  tileSize: number;
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
  readonly temporary: string;
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

  private constructor(target: string, temporary: string, options: IndexWriterOptions, checkpoints: FoundCheckpoint[]) {
    this.target = target;
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
   * Checks that `target` may be replaced, clears temporary folders left by killed runs and opens a
   * new temporary folder.
   * @throws {TsmosaicError} when `target` exists and is neither an index nor an empty folder.
   */
  static async create(target: string, options: IndexWriterOptions): Promise<IndexWriter> {
    await assertReplaceable(target);
    const parent = path.dirname(target);
    const temporary = path.join(parent, `${temporaryPrefix(path.basename(target))}${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(parent, { recursive: true });
      const checkpoints = await removeStaleTemporaries(parent, path.basename(target));
      await mkdir(temporary);
      return new IndexWriter(target, temporary, options, checkpoints);
    } catch (error) {
      throw new TsmosaicError(`cannot write the index folder ${target}: ${reasonOf(error)}`, 1, { cause: error });
    }
  }

  get tileCount(): number {
    return this.count;
  }

  /** Appends one picture's tiles (`crops` of them, features of each); ids are given in call order. */
  async addTile(pixels: Uint8Array, features: ArrayLike<number>, source: TileSource): Promise<void> {
    if (this.writeError) throw new TsmosaicError(`cannot write ${this.target}: ${reasonOf(this.writeError)}`);
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
    if (this.writeError) throw new TsmosaicError(`cannot write ${this.target}: ${reasonOf(this.writeError)}`);
    try {
      for (const file of this.files()) file.flush();
      this.onDisk = this.count;
    } catch (error) {
      this.writeError = error instanceof Error ? error : new Error(String(error));
      throw new TsmosaicError(`cannot write ${this.target}: ${reasonOf(this.writeError)}`, 1, { cause: error });
    }
  }

  /**
   * Stops writing and keeps the temporary folder with a checkpoint of every tile on disk, for the
   * next run to reuse; checkpoints of earlier runs with fewer tiles are removed. Returns the number
   * of tiles kept. Falls back to `abort()` when the folder cannot be kept.
   */
  async suspend(): Promise<number> {
    try {
      this.endFiles();
      await this.checkpointing;
      if (this.writeError) throw this.writeError;
      const kept = await this.writeCheckpoint(true);
      for (const earlier of this.checkpoints) {
        if (earlier.checkpoint.tileCount <= kept) await rm(earlier.folder, { recursive: true, force: true });
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

  /** Writes checkpoint.json (atomically, by rename) listing the tiles now on disk; returns their number. */
  private async writeCheckpoint(suspended: boolean): Promise<number> {
    const count = this.onDisk;
    const { roots, tileSize, fit, crops, featureKind: kind, featureDimensions: dimensions } = this.options;
    const checkpoint: Checkpoint = {
      format: 'tsmosaic-checkpoint',
      suspended,
      roots,
      tileSize,
      fit,
      crops,
      features: { kind, dimensions },
      tileCount: count,
    };
    const file = path.join(this.temporary, CHECKPOINT_FILE);
    try {
      await writeFile(`${file}.new`, JSON.stringify(checkpoint));
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
   */
  async commit(options: { annFrom?: ReusableAnn } = {}): Promise<void> {
    try {
      await this.writeRest(options.annFrom);
    } catch (error) {
      if (error instanceof TsmosaicError) throw error;
      throw new TsmosaicError(`cannot write the index folder ${this.target}: ${reasonOf(error)}`, 1, { cause: error });
    }
  }

  private async writeRest(annFrom: ReusableAnn | undefined): Promise<void> {
    this.endFiles();
    await this.checkpointing;
    if (this.writeError) throw new TsmosaicError(`cannot write ${this.target}: ${reasonOf(this.writeError)}`);
    await rm(path.join(this.temporary, CHECKPOINT_FILE), { force: true });
    const { featureDimensions: dimensions, featureKind: kind, roots, tileSize, fit, crops } = this.options;
    const count = this.count;
    let shardLightness: LightnessRange[];
    // Copied shards keep the size they were cut at.
    const shardTiles = annFrom?.shardTiles ?? this.shardTiles;
    if (annFrom) {
      for (let shard = 0; shard < annShardCount(count * crops, shardTiles); shard++) {
        await copyFile(path.join(annFrom.folder, annShardFile(shard)), path.join(this.temporary, annShardFile(shard)));
      }
      shardLightness = annFrom.shardLightness;
    } else if (this.live) {
      shardLightness = [this.live.shard.write(path.join(this.temporary, annShardFile(0)))];
    } else {
      // Every crop of every picture is a tile of its own in the HNSW index.
      shardLightness = await annFromFeatures(this.temporary, count * crops, dimensions, this.shardTiles);
    }
    this.live = undefined;
    const header: Omit<IndexManifest, 'tiles'> = {
      format: INDEX_FORMAT,
      version: INDEX_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      collection: roots[0]!,
      ...(roots.length > 1 ? { roots } : {}),
      tileSize,
      tileCount: count,
      fit,
      crops,
      features: { kind, grid: STORED_GRID, dimensions },
      ann: { ...annDescription(shardTiles), shardLightness },
    };
    await writeManifest(this.temporary, header);
    await rm(path.join(this.temporary, SOURCES_FILE));
    await swapIntoPlace(this.temporary, this.target);
    // The new index holds everything earlier checkpoints could give.
    for (const { folder } of this.checkpoints) await rm(folder, { recursive: true, force: true });
  }

  /** Removes the temporary folder; the previous index (if any) is untouched. */
  async abort(): Promise<void> {
    for (const file of this.files()) file.close();
    await this.checkpointing;
    await rm(this.temporary, { recursive: true, force: true });
  }
}

/** HNSW shards of an index folder that were built over exactly the tiles being written, in this order, to be copied. */
export interface ReusableAnn {
  folder: string;
  shardLightness: LightnessRange[];
  shardTiles: number;
}

/**
 * The `ann` entry of the manifests this version writes with shards of `shardTiles`, but for
 * `shardLightness`: an index's HNSW shards are reusable only when equal (copied, they keep their size).
 */
export function annDescription(shardTiles = ANN_SHARD_TILES): IndexManifest['ann'] {
  return {
    distance: ANN_PARAMETERS.space,
    m: ANN_PARAMETERS.m,
    efConstruction: ANN_PARAMETERS.efConstruction,
    method: DEFAULT_METHOD,
    shardTiles,
  };
}

function temporaryPrefix(name: string): string {
  return `.${name}.tmp-`;
}

function asidePrefix(name: string): string {
  return `.${name}.old-`;
}

/** An existing target may only be replaced when it is a tsmosaic index or an empty folder. */
async function assertReplaceable(target: string): Promise<void> {
  let entries: string[];
  try {
    const info = await stat(target);
    if (!info.isDirectory()) throw new TsmosaicError(`${target} exists and is not a folder; choose another --out`);
    entries = await readdir(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error instanceof TsmosaicError ? error : new TsmosaicError(`cannot use ${target} as the index folder: ${reasonOf(error)}`);
  }
  if (entries.length === 0) return;
  try {
    const manifest = JSON.parse(await readFile(path.join(target, INDEX_FILES.manifest), 'utf8')) as { format?: unknown };
    if (manifest.format === INDEX_FORMAT) return;
  } catch {
    // fall through: not an index
  }
  throw new TsmosaicError(`${target} exists and is not a tsmosaic index; refusing to replace it (choose another --out)`);
}

/** A checkpoint left by a run that was interrupted or killed, and its temporary folder. */
export interface FoundCheckpoint {
  folder: string;
  checkpoint: Checkpoint;
}

/** Bytes of tile pixels and features collected before they are written: one write per file per batch, not per tile. */
const WRITE_BATCH_BYTES = 64 * 1024;

/**
 * A file written from the start in batches: appended bytes are copied into one buffer, kept for
 * the whole run, and written by `flush` with blocking calls.
 */
class BatchFile {
  private descriptor: number | undefined;
  private buffer = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  /** Bytes appended and not yet written. */
  batched = 0;

  constructor(file: string) {
    this.descriptor = openSync(file, 'w');
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length).set(bytes);
    this.batched += bytes.length;
  }

  /** Appends `values` as 32-bit little-endian floats. */
  appendFloats(values: ArrayLike<number>): void {
    const space = this.reserve(values.length * 4);
    for (let i = 0; i < values.length; i++) space.writeFloatLE(values[i]!, i * 4);
    this.batched += values.length * 4;
  }

  appendText(text: string): void {
    this.batched += this.reserve(Buffer.byteLength(text)).write(text);
  }

  /** Writes every byte appended so far. */
  flush(): void {
    if (this.batched === 0) return;
    if (this.descriptor === undefined) throw new Error('file already closed');
    for (let written = 0; written < this.batched;) written += writeSync(this.descriptor, this.buffer, written, this.batched - written);
    this.batched = 0;
  }

  /** Closes the file (bytes not flushed are dropped); closing twice does nothing. */
  close(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
  }

  /** The next `length` bytes of the buffer, grown when they do not fit. */
  private reserve(length: number): Buffer {
    if (this.batched + length > this.buffer.length) {
      const larger = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.batched + length));
      this.buffer.copy(larger, 0, 0, this.batched);
      this.buffer = larger;
    }
    return this.buffer.subarray(this.batched, this.batched + length);
  }
}

/** Seconds between checkpoints: a kill -9 loses at most this much work. */
const CHECKPOINT_INTERVAL_MS = 2000;

/**
 * Cleans up after runs whose process is gone (killed, crashed): a previous index they had renamed
 * aside just before being killed is put back, and their temporary folders are deleted unless they
 * hold a checkpoint. Returns the checkpoints of runs that are gone or stopped, most tiles first.
 */
async function removeStaleTemporaries(parent: string, name: string): Promise<FoundCheckpoint[]> {
  const pattern = /^(?:tmp|old)-(\d+)-[0-9a-f]+$/;
  const checkpoints: FoundCheckpoint[] = [];
  for (const entry of (await readdir(parent)).sort()) {
    const kind = entry.startsWith(temporaryPrefix(name)) ? 'tmp' : entry.startsWith(asidePrefix(name)) ? 'old' : undefined;
    const pid = Number(pattern.exec(entry.slice(name.length + 2))?.[1]);
    if (!kind || !Number.isInteger(pid)) continue;
    const stale = path.join(parent, entry);
    const checkpoint = kind === 'tmp' ? await readCheckpoint(stale) : undefined;
    const gone = pid !== process.pid && !isAlive(pid);
    if (checkpoint && (gone || checkpoint.suspended)) {
      checkpoints.push({ folder: stale, checkpoint });
    } else if (!gone) {
      continue;
    } else if (kind === 'old' && !(await pathExists(path.join(parent, name)))) {
      await rename(stale, path.join(parent, name));
    } else {
      await rm(stale, { recursive: true, force: true });
    }
  }
  return checkpoints.sort((a, b) => b.checkpoint.tileCount - a.checkpoint.tileCount);
}

/**
 * The HNSW vectors of the default method (see `annVectors`) of tiles, from their stored features,
 * computed into arrays kept from call to call.
 */
class StoredToAnnVectors {
  private readonly descriptors: Float32Array;
  private readonly vectors: Float32Array;

  /** `tiles`: the most tiles asked for at once. */
  constructor(tiles: number) {
    this.descriptors = new Float32Array(tiles * descriptorLength(DEFAULT_METHOD));
    this.vectors = new Float32Array(this.descriptors.length);
  }

  /** The vectors of the first `tiles` tiles of `features`, one after another (valid until the next call). */
  of(features: Float32Array, tiles: number): Float32Array {
    return annVectors(tileDescriptors(features, tiles, DEFAULT_METHOD, this.descriptors), DEFAULT_METHOD, this.vectors);
  }
}

/** Tiles whose features are read and described at a time (192 KB of features). */
const ANN_BLOCK_TILES = 1024;
/** Scratch file in the temporary folder: every tile's id and HNSW vector, in shard order. */
const RANKED_FILE = 'ranked.tmp';

/**
 * Writes the HNSW shards of the default method over the first `count` tiles of `folder`'s
 * features.f32 and returns each shard's lightness range. Neither the features nor more than one
 * shard are held in memory: a first pass counts the tiles' lightness (see LightnessShards), a
 * second writes each tile's id and vector at its rank in a scratch file, so that every shard is
 * one run of it; each shard is then read back and its tiles added in id order.
 */
async function annFromFeatures(folder: string, count: number, dimensions: number, shardTiles: number): Promise<LightnessRange[]> {
  const length = descriptorLength(DEFAULT_METHOD);
  const plan = new LightnessShards(shardTiles);
  const rankedFile = path.join(folder, RANKED_FILE);
  const block = new Float32Array(ANN_BLOCK_TILES * dimensions);
  const vectors = new StoredToAnnVectors(ANN_BLOCK_TILES);
  // A record: the tile id (uint32), then its vector (float32 each).
  const stride = 1 + length;
  const record = new ArrayBuffer(stride * 4);
  const recordId = new Uint32Array(record, 0, 1);
  const recordVector = new Float32Array(record, 4, length);
  const recordBytes = new Uint8Array(record);
  const eachBlock = async (handle: FileHandle, visit: (vectors: Float32Array, first: number, tiles: number) => void): Promise<void> => {
    for (let first = 0; first < count; first += ANN_BLOCK_TILES) {
      const tiles = Math.min(ANN_BLOCK_TILES, count - first);
      const { bytesRead } = await handle.read(new Uint8Array(block.buffer), 0, tiles * dimensions * 4, first * dimensions * 4);
      if (bytesRead !== tiles * dimensions * 4) throw new Error(`${INDEX_FILES.features} is too short`);
      visit(vectors.of(block, tiles), first, tiles);
    }
  };
  let features: FileHandle | undefined;
  let ranked: number | undefined;
  try {
    features = await open(path.join(folder, INDEX_FILES.features), 'r');
    await eachBlock(features, (described, first, tiles) => {
      for (let tile = 0; tile < tiles; tile++) plan.count(described[tile * length]!);
    });
    ranked = openSync(rankedFile, 'w+');
    const rankedFd = ranked;
    plan.startPass();
    await eachBlock(features, (described, first, tiles) => {
      for (let tile = 0; tile < tiles; tile++) {
        const vector = described.subarray(tile * length, (tile + 1) * length);
        recordId[0] = first + tile;
        recordVector.set(vector);
        // Blocking: one small write per tile, at its rank (the page cache takes them in microseconds).
        writeSync(rankedFd, recordBytes, 0, stride * 4, plan.rankOf(vector[0]!) * stride * 4);
      }
    });
    const writer = new AnnShardWriter(length);
    const ranges: LightnessRange[] = [];
    const shardRecords = new ArrayBuffer(Math.min(shardTiles, Math.max(1, count)) * stride * 4);
    for (let shard = 0; shard < annShardCount(count, shardTiles); shard++) {
      const tiles = Math.max(0, Math.min(shardTiles, count - shard * shardTiles));
      const bytes = tiles * stride * 4;
      if (readSync(rankedFd, new Uint8Array(shardRecords, 0, bytes), 0, bytes, shard * shardTiles * stride * 4) !== bytes)
        throw new Error(`${RANKED_FILE} is too short`);
      const ids = new Uint32Array(shardRecords);
      const values = new Float32Array(shardRecords);
      // Tiles enter each shard in id order, as `buildAnn` adds them.
      const order = Array.from({ length: tiles }, (_, i) => i).sort((a, b) => ids[a * stride]! - ids[b * stride]!);
      writer.start(tiles);
      for (const i of order) writer.add(values.subarray(i * stride + 1, (i + 1) * stride), ids[i * stride]!);
      ranges.push(writer.write(path.join(folder, annShardFile(shard))));
    }
    return ranges;
  } finally {
    await features?.close();
    if (ranked !== undefined) closeSync(ranked);
    await rm(rankedFile, { force: true });
  }
}

/** A tile's line in SOURCES_FILE: as it is copied into the manifest's `tiles` list. */
function sourceRecord(source: TileSource): string {
  return `  ${JSON.stringify(source)},\n`;
}

/** The first `count` tiles' sources recorded in a temporary folder's SOURCES_FILE, one by one. */
export async function* readSources(folder: string, count: number): AsyncGenerator<TileSource> {
  if (count === 0) return;
  const lines = createInterface({ input: createReadStream(path.join(folder, SOURCES_FILE)), crlfDelay: Infinity });
  let read = 0;
  try {
    for await (const line of lines) {
      yield JSON.parse(line.slice(0, line.lastIndexOf(','))) as TileSource;
      if (++read === count) return;
    }
  } finally {
    lines.close();
  }
  throw new Error(`${SOURCES_FILE} has ${read} records, expected ${count}`);
}

/** Bytes copied at a time from SOURCES_FILE into the manifest. */
const COPY_BYTES = 256 * 1024;

/**
 * Writes manifest.json: `header`, then its `tiles` copied byte for byte from the folder's
 * SOURCES_FILE (one tile per line) through one small buffer, so no list of every tile is built in
 * memory.
 */
async function writeManifest(folder: string, header: Omit<IndexManifest, 'tiles'>): Promise<void> {
  const sources = await open(path.join(folder, SOURCES_FILE), 'r');
  const manifest = await open(path.join(folder, INDEX_FILES.manifest), 'w');
  try {
    // Every record ends with ",\n": the last one's comma is left out.
    const length = Math.max(0, (await sources.stat()).size - 2);
    await manifest.write(JSON.stringify(header, null, 1).replace(/\n\}$/, ',\n "tiles": [\n'));
    const buffer = Buffer.alloc(COPY_BYTES);
    for (let position = 0; position < length;) {
      const { bytesRead } = await sources.read(buffer, 0, Math.min(buffer.length, length - position), position);
      if (bytesRead === 0) throw new Error(`${SOURCES_FILE} is shorter than expected`);
      await manifest.write(buffer, 0, bytesRead);
      position += bytesRead;
    }
    await manifest.write('\n ]\n}\n');
  } finally {
    await sources.close();
    await manifest.close();
  }
}

async function readCheckpoint(folder: string): Promise<Checkpoint | undefined> {
  try {
    const checkpoint = JSON.parse(await readFile(path.join(folder, CHECKPOINT_FILE), 'utf8')) as Partial<Checkpoint>;
    if (checkpoint.format === 'tsmosaic-checkpoint' && Number.isInteger(checkpoint.tileCount) && Array.isArray(checkpoint.roots))
      return checkpoint as Checkpoint;
  } catch {
    // no checkpoint yet, or a damaged one: the folder is not reusable
  }
  return undefined;
}

/**
 * Moves the finished folder to `target`. A directory cannot be swapped atomically from Node, so the
 * old index is first renamed aside; the window between the two renames is a few microseconds.
 */
async function swapIntoPlace(temporary: string, target: string): Promise<void> {
  const aside = path.join(path.dirname(target), `${asidePrefix(path.basename(target))}${process.pid}-${randomBytes(4).toString('hex')}`);
  let hadPrevious = true;
  try {
    await rename(target, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    hadPrevious = false;
  }
  try {
    await rename(temporary, target);
  } catch (error) {
    if (hadPrevious) await rename(aside, target);
    throw error;
  }
  if (hadPrevious) await rm(aside, { recursive: true, force: true });
}
