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
}
