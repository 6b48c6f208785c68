import { stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { UnreadableImageError } from '../files/image-file.js';
import type { Temporary } from '../files/publish.js';
import { fingerprintFile } from '../collection/fingerprint.js';
import { runInOrder } from '../collection/in-order-queue.js';
import { defaultConcurrency, loadTile, ReadBuffer, ReadBudget } from '../collection/load-tile.js';
import { rootsOf, type IndexManifest, type TileSource as IndexedFile } from '../index-store/format.js';
import { areaAverage, toBytes } from '../raster/area-average.js';
import { MAX_STORE_BYTES } from '../render/tile-deflate.js';
import type { TileSource } from '../render/tile-source.js';
import { CORNER_CROP } from '../tiles/crop-windows.js';
import { tileBytes, type TileShape } from '../tiles/features.js';
import type { MosaicPlan } from '../tiles/mosaic-plan.js';
import { TileFile } from '../tiles/tile-file.js';
import { TileStore, type StoredTiles } from '../tiles/tile-store.js';

/**
 * Drawn tiles that take up to this much are kept in memory, as a store of their own: a PNG is
 * then coded straight from them (as large a store as TileRowDeflater codes), and no band reads
 * them back from a file. More go to a file, so that memory does not grow with the mosaic.
 */
const IN_MEMORY_BYTES = MAX_STORE_BYTES;

/**
 * Draws the tiles a plan uses at `shape` from the pictures' original files: each picture decoded
 * once, at the size needed, cut exactly as it was indexed (the same crop windows; mirroring is the
 * renderer's), on all cores. Pictures are drawn in the order the grid first uses them, row by row,
 * so that a writer can draw its first bands while later pictures decode (see `readyThrough`). An
 * original that is missing, unreadable or changed since indexing (size, and mtime or fingerprint),
 * or whose path would lead out of its collection folder, is replaced by its stored tiles enlarged.
 * The tiles go to memory when they are few (see IN_MEMORY_BYTES), else to a tile file at
 * `temporary`.
 */
export class TileDrawing {
  /** The tiles drawn so far: a store of the tiles used, in the order they are drawn (see `plan`), or a file. */
  readonly tiles: TileSource;
  /** Resolves once every tile is drawn; rejects with the first failure (or the signal's reason). */
  readonly done: Promise<void>;
  /** Pictures drawn from their original files. */
  used = 0;
  /** Pictures whose original is missing, unreadable or changed since indexing: their stored tiles were enlarged. */
  missing = 0;
  /** A few of those, as the index names them (collection folder and path). */
  readonly missingExamples: string[] = [];
  /** Seconds from the start of the drawing to its end. */
  seconds = 0;
  /** Pictures in the order they are drawn: by first use in the grid, row by row. */
  private readonly pictures: number[] = [];
  /** By grid row: how many pictures must be drawn for every row up to it to be drawable. */
  private readonly neededThrough: Int32Array;
  /** When the tiles are in memory: by tile id, its place in the store. */
  private readonly slots: Int32Array | undefined;
  private drawn = 0;
  private failure: { error: unknown } | undefined;
  private waiting: (() => void)[] = [];

  constructor(options: {
    manifest: IndexManifest;
    stored: StoredTiles;
    /** The plan's tile ids, row-major, `columns` a row. */
    planTiles: Uint16Array | Uint32Array;
    columns: number;
    shape: TileShape;
    temporary: Temporary;
    /** False: every picture's stored tiles are enlarged (--no-originals). */
    fromOriginals?: boolean;
    /** Tiles that take up to this many bytes are kept in memory (default IN_MEMORY_BYTES; 0: always a file). */
    inMemoryBytes?: number;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
  }) {
    const { manifest, planTiles, columns } = options;
    const { crops } = manifest;
    // The crops each picture has in the plan (a bit per crop), and the order pictures are first used in.
    const usedCrops = new Uint8Array(manifest.tileCount);
    const rows = planTiles.length / columns;
    this.neededThrough = new Int32Array(rows);
    for (let row = 0; row < rows; row++) {
      for (let cell = row * columns; cell < (row + 1) * columns; cell++) {
        const picture = Math.floor(planTiles[cell]! / crops);
        if (usedCrops[picture] === 0) this.pictures.push(picture);
        usedCrops[picture]! |= 1 << (planTiles[cell]! % crops);
      }
      this.neededThrough[row] = this.pictures.length;
    }
    const count = countBits(usedCrops);
    if (count * tileBytes(options.shape) <= (options.inMemoryBytes ?? IN_MEMORY_BYTES)) {
      this.slots = slotsInDrawingOrder(this.pictures, usedCrops, manifest.tileCount * crops, crops);
      this.tiles = new TileStore(Buffer.alloc(count * tileBytes(options.shape)), options.shape, count);
    } else this.tiles = new TileFile(options.temporary.path, options.shape, manifest.tileCount * crops);
    this.done = this.draw({ ...options, usedCrops });
    this.done.catch(() => undefined); // the writer or the caller awaits it
  }

  /** `plan` as it is drawn from `tiles`: with a store's places for tile ids when the tiles are in memory. */
  plan(plan: MosaicPlan): MosaicPlan {
    const slots = this.slots;
    if (!slots) return plan;
    return { ...plan, tiles: Uint32Array.from(plan.tiles, (id) => slots[id]!) };
  }

  /** Closes the tile file, if the tiles went to one. */
  close(): void {
    if (this.tiles instanceof TileFile) this.tiles.close();
  }

  /** Resolves once every tile of grid rows [0, `rows`) is drawn; rejects if drawing failed. */
  async readyThrough(rows: number): Promise<void> {
    const needed = rows > 0 ? this.neededThrough[Math.min(rows, this.neededThrough.length) - 1]! : 0;
    while (this.drawn < needed) {
      if (this.failure) throw this.failure.error;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private async draw(options: {
    manifest: IndexManifest;
    stored: StoredTiles;
    shape: TileShape;
    usedCrops: Uint8Array;
    fromOriginals?: boolean;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
  }): Promise<void> {
    const { manifest, stored, shape, usedCrops, signal, onProgress, fromOriginals = true } = options;
    const { crops } = manifest;
    const { pictures, tiles } = this;
    const roots = rootsOf(manifest);
    const budget = new ReadBudget();
    const concurrency = defaultConcurrency();
    const reading = Array.from({ length: concurrency }, () => new ReadBuffer(budget));
    const bytes = tileBytes(shape);
    const started = performance.now();
    try {
      await runInOrder<Buffer | undefined>({
        count: pictures.length,
        concurrency,
        window: 4 * concurrency,
        signal,
        produce: async (position, lane) => {
          const picture = pictures[position]!;
          const source = manifest.tiles[picture]!;
          const file = originalPath(roots[source.root ?? 0]!, source);
          if (!fromOriginals || !file || !(await unchanged(file, source))) return undefined;
          try {
            const scale = drawingScale(usedCrops[picture]!);
            return (await loadTile(file, shape, manifest.fit, crops, reading[lane]!, { wanted: usedCrops[picture], decodeScale: scale }))
              .pixels;
          } catch (error) {
            if (error instanceof UnreadableImageError) return undefined;
            throw error;
          }
        },
        consume: async (decoded, position) => {
          const picture = pictures[position]!;
          if (decoded) this.used++;
          else {
            this.missing++;
            const source = manifest.tiles[picture]!;
            if (this.missingExamples.length < 3) this.missingExamples.push(path.join(roots[source.root ?? 0]!, source.source));
          }
          for (let crop = 0; crop < crops; crop++) {
            if (!(usedCrops[picture]! & (1 << crop))) continue;
            const id = picture * crops + crop;
            const pixels = decoded ? decoded.subarray(crop * bytes, (crop + 1) * bytes) : enlarged(stored, id, shape);
            if (tiles instanceof TileFile) tiles.add(id, pixels);
            else tiles.pixels.set(pixels, this.slots![id]! * bytes);
          }
          this.drawn = position + 1;
          this.wake();
          onProgress?.(position + 1, pictures.length);
        },
      });
    } catch (error) {
      this.failure = { error };
      this.wake();
      throw error;
    }
    this.seconds = (performance.now() - started) / 1000;
  }

  private wake(): void {
    const woken = this.waiting;
    this.waiting = [];
    for (const resolve of woken) resolve();
  }
}

/**
 * The size a picture is decoded at to draw the crops `used` (bits, see loadTile's `wanted`), in tile
 * sizes: as large as they need, a centre window at the tile size, corners at 1 / CORNER_CROP of
 * it. (The index decodes at twice the tile size: on the bench's print, drawing at that size took
 * 2.6x the time of decoding each picture once at the tile size; at this one, 1.9x.)
 */
export function drawingScale(used: number): number {
  return used === 1 ? 1 : 1 / CORNER_CROP;
}

/** How many bits are set in `masks`, all together. */
function countBits(masks: Uint8Array): number {
  let count = 0;
  for (const mask of masks) for (let bits = mask; bits !== 0; bits &= bits - 1) count++;
  return count;
}

/** By tile id (of `tiles` ids), its place among the tiles drawn, in the order they are drawn: `pictures`, each its crops `usedCrops` in order; -1 for the others. */
function slotsInDrawingOrder(pictures: number[], usedCrops: Uint8Array, tiles: number, crops: number): Int32Array {
  const slots = new Int32Array(tiles).fill(-1);
  let next = 0;
  for (const picture of pictures) {
    for (let crop = 0; crop < crops; crop++) if (usedCrops[picture]! & (1 << crop)) slots[picture * crops + crop] = next++;
  }
  return slots;
}

/** The original file of an indexed picture, or undefined when its path would lead out of its collection folder. */
function originalPath(root: string, source: IndexedFile): string | undefined {
  const file = path.resolve(root, source.source);
  const inside = path.relative(root, file);
  return inside && !inside.startsWith('..') && !path.isAbsolute(inside) ? file : undefined;
}

/** Whether a picture's file is still the one indexed: the same size, and the same mtime or fingerprint. */
async function unchanged(file: string, source: IndexedFile): Promise<boolean> {
  try {
    const { size, mtimeMs } = await stat(file);
    if (size !== source.size) return false;
    if (mtimeMs === source.mtimeMs) return true;
    return source.fingerprint !== undefined && source.fingerprint === (await fingerprintFile(file, size));
  } catch {
    return false;
  }
}

/** Stored tile `id` resized to `shape` by an exact area average. */
function enlarged(stored: StoredTiles, id: number, shape: TileShape): Uint8Array {
  return toBytes(areaAverage(stored.tile(id), stored.tileWidth, stored.tileHeight, 3, shape.width, shape.height));
}
