import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { TsmosaicError, reasonOf } from '../errors.js';
import { STORED_GRID, type FeatureKind } from '../collection/features.js';
import { DEFAULT_METHOD } from '../match/defaults.js';
import { annVectors, descriptorLength, tileDescriptors } from '../match/method.js';
import type { CropCount, TileFit } from '../collection/load-tile.js';
import { ANN_PARAMETERS, buildAnn } from './ann.js';
import { CHECKPOINT_FILE, INDEX_FILES, INDEX_FORMAT, INDEX_FORMAT_VERSION, type Checkpoint, type IndexManifest, type TileSource } from './format.js';
import { isAlive, pathExists } from '../files.js';

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
}

/**
 * Writes a new index into a hidden temporary folder beside `target` and renames it into place on
 * `commit()`, so an interrupted run never leaves a half-written folder under the final name.
 * Tile pixels and features stream to disk as they are added (only the small feature vectors also
 * stay in memory), and a checkpoint listing the tiles on disk is rewritten every few seconds, so
 * the work of an interrupted or killed run can be reused by the next (see `checkpoints`).
 */
export class IndexWriter {
  readonly target: string;
  readonly temporary: string;
  /** Checkpoints of earlier runs that stopped or died, found by `create`, most tiles first. */
  readonly checkpoints: FoundCheckpoint[];
  private readonly options: IndexWriterOptions;
  private readonly tileStream: WriteStream;
  private readonly featureStream: WriteStream;
  private features: Float32Array;
  private readonly sources: TileSource[] = [];
  private writeError: Error | undefined;
  private tilesOnDisk = 0;
  private featuresOnDisk = 0;
  private lastCheckpoint = performance.now();
  private checkpointing: Promise<void> | undefined;

  private constructor(target: string, temporary: string, options: IndexWriterOptions, checkpoints: FoundCheckpoint[]) {
    this.target = target;
    this.temporary = temporary;
    this.options = options;
    this.checkpoints = checkpoints;
    this.tileStream = createWriteStream(path.join(temporary, INDEX_FILES.tiles));
    this.featureStream = createWriteStream(path.join(temporary, INDEX_FILES.features));
    // A write error (disk full) is kept and thrown by the next addTile or commit.
    for (const stream of [this.tileStream, this.featureStream]) {
      stream.on('error', (error) => {
        this.writeError ??= error;
      });
    }
    this.features = new Float32Array(1024 * options.featureDimensions * options.crops);
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
    return this.sources.length;
  }

  /** Appends one picture's tiles (`crops` of them); ids are given in call order. */
  async addTile(pixels: Uint8Array, features: ArrayLike<number>, source: TileSource): Promise<void> {
    if (this.writeError) throw new TsmosaicError(`cannot write ${this.target}: ${reasonOf(this.writeError)}`);
    const dimensions = this.options.featureDimensions * this.options.crops;
    const id = this.sources.length;
    if ((id + 1) * dimensions > this.features.length) {
      const grown = new Float32Array(this.features.length * 2);
      grown.set(this.features);
      this.features = grown;
    }
    this.features.set(Array.from(features), id * dimensions);
    this.sources.push(source);
    const featureBytes = new Uint8Array(this.features.buffer.slice(id * dimensions * 4, (id + 1) * dimensions * 4));
    const featuresReady = this.featureStream.write(featureBytes, (error) => {
      if (!error) this.featuresOnDisk++;
    });
    const tilesReady = this.tileStream.write(pixels, (error) => {
      if (!error) this.tilesOnDisk++;
    });
    if (!featuresReady) await once(this.featureStream, 'drain');
    if (!tilesReady) await once(this.tileStream, 'drain');
    if (!this.checkpointing && performance.now() - this.lastCheckpoint > CHECKPOINT_INTERVAL_MS) {
      this.checkpointing = this.writeCheckpoint(false).then(() => {
        this.lastCheckpoint = performance.now();
        this.checkpointing = undefined;
      });
    }
  }

  /**
   * Stops writing and keeps the temporary folder with a checkpoint of every tile on disk, for the
   * next run to reuse; checkpoints of earlier runs with fewer tiles are removed. Returns the number
   * of tiles kept. Falls back to `abort()` when the folder cannot be kept.
   */
  async suspend(): Promise<number> {
    try {
      await this.endStreams();
      await this.checkpointing;
      if (this.writeError) throw this.writeError;
      const kept = await this.writeCheckpoint(true);
      for (const earlier of this.checkpoints) {
        if (earlier.checkpoint.tiles.length <= kept) await rm(earlier.folder, { recursive: true, force: true });
      }
      return kept;
    } catch {
      await this.abort();
      return 0;
    }
  }

  /** Ends both streams; rejects with a write error even one that happened before (no 'finish' then). */
  private async endStreams(): Promise<void> {
    await Promise.all([this.tileStream, this.featureStream].map((stream) => {
      stream.end();
      return finished(stream);
    }));
  }

  /** Writes checkpoint.json (atomically, by rename) listing the tiles now on disk; returns their number. */
  private async writeCheckpoint(suspended: boolean): Promise<number> {
    const count = Math.min(this.tilesOnDisk, this.featuresOnDisk);
    const { roots, tileSize, fit, crops, featureKind: kind, featureDimensions: dimensions } = this.options;
    const checkpoint: Checkpoint = { format: 'tsmosaic-checkpoint', suspended, roots, tileSize, fit, crops, features: { kind, dimensions }, tiles: this.sources.slice(0, count) };
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
   * `annFrom`: an hnsw.bin built over exactly these tiles in this order by an earlier run, copied
   * instead of rebuilt (building costs seconds per 10,000 tiles).
   */
  async commit(options: { annFrom?: string } = {}): Promise<void> {
    try {
      await this.writeRest(options.annFrom);
    } catch (error) {
      if (error instanceof TsmosaicError) throw error;
      throw new TsmosaicError(`cannot write the index folder ${this.target}: ${reasonOf(error)}`, 1, { cause: error });
    }
  }

  private async writeRest(annFrom: string | undefined): Promise<void> {
    await this.endStreams();
    await this.checkpointing;
    if (this.writeError) throw new TsmosaicError(`cannot write ${this.target}: ${reasonOf(this.writeError)}`);
    await rm(path.join(this.temporary, CHECKPOINT_FILE), { force: true });
    const { featureDimensions: dimensions, featureKind: kind, roots, tileSize, fit, crops } = this.options;
    const count = this.sources.length;
    const features = this.features.subarray(0, count * crops * dimensions);
    if (annFrom) {
      await copyFile(annFrom, path.join(this.temporary, INDEX_FILES.ann));
    } else {
      const vectors = annVectors(tileDescriptors(features, count * crops, DEFAULT_METHOD), DEFAULT_METHOD);
      buildAnn(vectors, descriptorLength(DEFAULT_METHOD), count * crops).writeIndexSync(path.join(this.temporary, INDEX_FILES.ann));
    }
    const manifest: IndexManifest = {
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
      ann: annDescription(),
      tiles: this.sources,
    };
    await writeFile(path.join(this.temporary, INDEX_FILES.manifest), `${JSON.stringify(manifest, null, 1)}\n`);
    await swapIntoPlace(this.temporary, this.target);
    // The new index holds everything earlier checkpoints could give.
    for (const { folder } of this.checkpoints) await rm(folder, { recursive: true, force: true });
  }

  /** Removes the temporary folder; the previous index (if any) is untouched. */
  async abort(): Promise<void> {
    this.tileStream.destroy();
    this.featureStream.destroy();
    await this.checkpointing;
    await rm(this.temporary, { recursive: true, force: true });
  }
}

/** The `ann` entry of the manifests this version writes: an hnsw.bin is reusable only when equal. */
export function annDescription(): IndexManifest['ann'] {
  return { distance: ANN_PARAMETERS.space, m: ANN_PARAMETERS.m, efConstruction: ANN_PARAMETERS.efConstruction, method: DEFAULT_METHOD };
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
  return checkpoints.sort((a, b) => b.checkpoint.tiles.length - a.checkpoint.tiles.length);
}

async function readCheckpoint(folder: string): Promise<Checkpoint | undefined> {
  try {
    const checkpoint = JSON.parse(await readFile(path.join(folder, CHECKPOINT_FILE), 'utf8')) as Partial<Checkpoint>;
    if (checkpoint.format === 'tsmosaic-checkpoint' && Array.isArray(checkpoint.tiles) && Array.isArray(checkpoint.roots)) return checkpoint as Checkpoint;
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
