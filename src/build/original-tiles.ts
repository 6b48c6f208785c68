import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UnreadableImageError } from '../files/image-file.js';
import type { Temporary } from '../files/publish.js';
import { fingerprintFile } from '../collection/fingerprint.js';
import { runInOrder } from '../collection/in-order-queue.js';
import { loadTile, ReadBuffer, ReadBudget } from '../collection/load-tile.js';
import { defaultConcurrency } from '../collection/process-collection.js';
import { rootsOf, type IndexManifest, type TileSource as IndexedFile } from '../index-store/format.js';
import { areaAverage, toBytes } from '../raster/area-average.js';
import { tileBytes, type TileShape } from '../tiles/features.js';
import { TileFile } from '../tiles/tile-file.js';
import type { TileStore } from '../tiles/tile-store.js';

/** What drawing tiles from the original pictures gave. */
export interface OriginalTiles {
  /** The tiles the plan uses, at the output's tile size. */
  tiles: TileFile;
  /** Pictures drawn from their original files. */
  used: number;
  /** Pictures whose original is missing, unreadable or changed since indexing: their stored tiles were enlarged. */
  missing: number;
  /** A few of those, as the index names them (collection folder and path). */
  missingExamples: string[];
}

/**
 * Draws the tiles `planTiles` uses at `shape` from the pictures' original files, into a tile file
 * at `temporary`: each picture decoded once, at the size needed, cut exactly as it was indexed
 * (the same crop windows; mirroring is the renderer's), on all cores. An original that is missing,
 * unreadable or changed since indexing (size, and mtime or fingerprint), or whose path would lead
 * out of its collection folder, is replaced by its stored tiles enlarged.
 */
export async function tilesFromOriginals(options: {
  manifest: IndexManifest;
  stored: TileStore;
  planTiles: Uint16Array | Uint32Array;
  shape: TileShape;
  temporary: Temporary;
  /** False: every picture's stored tiles are enlarged (--no-originals). */
  fromOriginals?: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}): Promise<OriginalTiles> {
  const { manifest, stored, planTiles, shape, temporary, signal, onProgress, fromOriginals = true } = options;
  const { crops } = manifest;
  // The crops each picture has in the plan (a bit per crop).
  const usedCrops = new Uint8Array(manifest.tileCount);
  for (const tile of planTiles) usedCrops[Math.floor(tile / crops)]! |= 1 << (tile % crops);
  const pictures: number[] = [];
  usedCrops.forEach((bits, picture) => bits && pictures.push(picture));
  const roots = rootsOf(manifest);
  const tiles = new TileFile(temporary.path, shape, manifest.tileCount * crops, { create: true });
  const budget = new ReadBudget();
  const concurrency = defaultConcurrency();
  const reading = Array.from({ length: concurrency }, () => new ReadBuffer(budget));
  const result: OriginalTiles = { tiles, used: 0, missing: 0, missingExamples: [] };
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
          return (await loadTile(file, shape, manifest.fit, crops, reading[lane]!)).pixels;
        } catch (error) {
          if (error instanceof UnreadableImageError) return undefined;
          throw error;
        }
      },
      consume: async (decoded, position) => {
        const picture = pictures[position]!;
        const bytes = tileBytes(shape);
        if (decoded) result.used++;
        else {
          result.missing++;
          const source = manifest.tiles[picture]!;
          if (result.missingExamples.length < 3) result.missingExamples.push(path.join(roots[source.root ?? 0]!, source.source));
        }
        for (let crop = 0; crop < crops; crop++) {
          if (!(usedCrops[picture]! & (1 << crop))) continue;
          const id = picture * crops + crop;
          tiles.add(id, decoded ? decoded.subarray(crop * bytes, (crop + 1) * bytes) : enlarged(stored, id, shape));
        }
        onProgress?.(position + 1, pictures.length);
      },
    });
    tiles.sync();
  } catch (error) {
    tiles.close();
    throw error;
  }
  return result;
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
function enlarged(stored: TileStore, id: number, shape: TileShape): Uint8Array {
  return toBytes(areaAverage(stored.tile(id), stored.tileWidth, stored.tileHeight, 3, shape.width, shape.height));
}
