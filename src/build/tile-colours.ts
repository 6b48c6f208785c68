import { STRUCTURE_GRID } from '../quality/fidelity.js';
import { tileFeatures } from '../tiles/features.js';
import type { TileStore } from '../tiles/tile-store.js';

/**
 * Per-cell RGB offsets that move each tile's mean `percent`% of the way to its cell's target mean
 * (`--blend`); `features` are the stored features, `stride` values a tile.
 */
export function blendTint(
  cellMeans: Float32Array,
  tiles: Uint16Array | Uint32Array,
  features: Float32Array,
  stride: number,
  percent: number,
): Float32Array {
  const tint = new Float32Array(tiles.length * 3);
  const subs = stride / 3;
  tiles.forEach((tile, cell) => {
    for (let c = 0; c < 3; c++) {
      let mean = 0;
      for (let sub = 0; sub < subs; sub++) mean += features[tile * stride + sub * 3 + c]! / subs;
      tint[cell * 3 + c] = ((cellMeans[cell * 3 + c]! - mean) * percent) / 100;
    }
  });
  return tint;
}

/** Every tile's STRUCTURE_GRID x STRUCTURE_GRID sRGB means at a reduced output tile size (at the indexed size they are the stored features). */
export function renderedStructure(store: TileStore): Float32Array {
  const perTile = STRUCTURE_GRID * STRUCTURE_GRID * 3;
  const structure = new Float32Array(store.count * perTile);
  for (let id = 0; id < store.count; id++) structure.set(tileFeatures(store.tile(id), store.shape), id * perTile);
  return structure;
}

/**
 * How many pictures the tile ids come from (tile `t` is a crop of picture `floor(t / crops)`), with
 * one byte a picture (a Set of one number per cell took 150 MB at 5 M cells).
 */
export function countPictures(tiles: Uint16Array | Uint32Array, crops: number): number {
  let highest = 0;
  for (const tile of tiles) if (tile > highest) highest = tile;
  const seen = new Uint8Array(Math.floor(highest / crops) + 1);
  let count = 0;
  for (const tile of tiles) {
    const picture = Math.floor(tile / crops);
    if (seen[picture] === 0) {
      seen[picture] = 1;
      count++;
    }
  }
  return count;
}
