import type { MosaicLayout } from './mosaic-layout.js';
import type { Rgb } from '../options/print.js';

/** A placement: which tile fills each cell of a `columns` x `rows` grid, row-major. */
export interface MosaicPlan {
  columns: number;
  rows: number;
  /** Tile ids, row-major (16 bits when the index has fewer than 65,536 tiles). */
  tiles: Uint16Array | Uint32Array;
  /** Optional: 1 where a cell's tile is mirrored left-right. */
  mirrored?: Uint8Array;
  /** Optional RGB offset per cell added to its tile's pixels (`--blend`), 3 values a cell. */
  tint?: Float32Array;
  /**
   * Where the cells lie when they are not whole tiles side by side (an exact output size, grout):
   * each cell shows the top-left part of its tile that fits it (see MosaicLayout).
   */
  layout?: MosaicLayout;
  /** The colour between cells when the layout has grout. Default white. */
  groutColour?: Rgb;
  /** For a part of a plan (a band): the grid row its first row is; regions are still given in the whole mosaic's pixels. Default 0. */
  firstRow?: number;
}

/** The size of the mosaic in pixels: its layout's, or whole tiles of `tileWidth` x `tileHeight` side by side. */
export function mosaicSize(plan: MosaicPlan, tileWidth: number, tileHeight: number): { width: number; height: number } {
  return plan.layout
    ? { width: plan.layout.width, height: plan.layout.height }
    : { width: plan.columns * tileWidth, height: plan.rows * tileHeight };
}

/** How many grid rows reach into the mosaic's first `pixelRows` rows of pixels. */
export function gridRowsThrough(plan: MosaicPlan, tileHeight: number, pixelRows: number): number {
  if (!plan.layout) return Math.ceil(pixelRows / tileHeight);
  const { rowStarts, rows } = plan.layout;
  let row = 0;
  while (row < rows && rowStarts[row]! < pixelRows) row++;
  return row;
}
