import type { TileStore } from '../index-store/tile-store.js';

/** A placement: which tile fills each cell of a `columns` x `rows` grid, row-major. */
export interface MosaicPlan {
  columns: number;
  rows: number;
  tiles: Uint32Array;
}

/** A rectangle of the output image, in pixels. */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Renders any rectangle of the mosaic as raw interleaved RGB by copying tile rows: no per-tile
 * image operations, so a full 4000x4000 canvas takes tens of milliseconds.
 */
export function renderRegion(plan: MosaicPlan, store: TileStore, region: Region): Buffer {
  const { tileSize, tileBytes, pixels } = store;
  const { left, top, width, height } = region;
  const canvas = Buffer.allocUnsafe(width * height * 3);
  const firstColumn = Math.floor(left / tileSize);
  const lastColumn = Math.floor((left + width - 1) / tileSize);
  for (let y = 0; y < height; y++) {
    const mosaicY = top + y;
    const rowInTile = mosaicY % tileSize;
    const planRow = Math.floor(mosaicY / tileSize) * plan.columns;
    let written = y * width * 3;
    for (let column = firstColumn; column <= lastColumn; column++) {
      const from = Math.max(left, column * tileSize) - column * tileSize;
      const to = Math.min(left + width, (column + 1) * tileSize) - column * tileSize;
      const start = plan.tiles[planRow + column]! * tileBytes + (rowInTile * tileSize + from) * 3;
      pixels.copy(canvas, written, start, start + (to - from) * 3);
      written += (to - from) * 3;
    }
  }
  return canvas;
}
