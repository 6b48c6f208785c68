import type { AnnIndex } from '../index-store/ann.js';

/**
 * For each cell colour (interleaved 8-bit RGB, one triple per cell) the id of the tile whose mean
 * colour is nearest, by the HNSW index. Photos repeat colours a lot, so answers are cached per colour.
 */
export function nearestTiles(cellColours: Uint8Array, ann: AnnIndex, onRow?: (done: number) => void, rowLength = cellColours.length / 3): Uint32Array {
  const count = cellColours.length / 3;
  const tiles = new Uint32Array(count);
  const cache = new Map<number, number>();
  for (let cell = 0; cell < count; cell++) {
    const r = cellColours[cell * 3]!;
    const g = cellColours[cell * 3 + 1]!;
    const b = cellColours[cell * 3 + 2]!;
    const key = (r << 16) | (g << 8) | b;
    let tile = cache.get(key);
    if (tile === undefined) {
      tile = ann.searchKnn([r, g, b], 1).neighbors[0]!;
      cache.set(key, tile);
    }
    tiles[cell] = tile;
    if (onRow && (cell + 1) % rowLength === 0) onRow((cell + 1) / rowLength);
  }
  return tiles;
}
