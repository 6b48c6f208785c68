/**
 * Where each cell of a mosaic lies in the output image. Cells are `tileWidth` x `tileHeight` px
 * side by side when the output is made of whole tiles; when its size is given (a print of an
 * exact size in pixels) or tiles are set apart by grout, cell edges are spread over the output by
 * rounding, so cells differ from each other by at most a pixel and the output measures exactly
 * what was asked. Grout lies between cells, never around the outer edge.
 */
export interface MosaicLayout {
  /** Output size in pixels. */
  width: number;
  height: number;
  columns: number;
  rows: number;
  /** Edge of the tiles rendered into the cells: every cell is at most this large. */
  tileWidth: number;
  tileHeight: number;
  /** Grout between cells, in pixels (0: none). */
  grout: number;
  /** Left edge of each cell, and one more: the right edge of the last plus the grout. */
  columnStarts: Int32Array;
  /** Top edge of each cell row, and one more. */
  rowStarts: Int32Array;
}

/** The layout of whole tiles side by side: `columns * tileWidth` x `rows * tileHeight`, no grout. */
export function tiledLayout(columns: number, rows: number, tileWidth: number, tileHeight: number): MosaicLayout {
  return {
    width: columns * tileWidth,
    height: rows * tileHeight,
    columns,
    rows,
    tileWidth,
    tileHeight,
    grout: 0,
    columnStarts: Int32Array.from({ length: columns + 1 }, (_, c) => c * tileWidth),
    rowStarts: Int32Array.from({ length: rows + 1 }, (_, r) => r * tileHeight),
  };
}

/**
 * The layout of a `columns` x `rows` grid over an output of exactly `width` x `height` px with
 * `grout` px between cells: cell `c` spans [columnStarts[c], columnStarts[c + 1] - grout).
 * @throws {RangeError} when the grout leaves a cell no pixel
 */
export function fittedLayout(width: number, height: number, columns: number, rows: number, grout = 0): MosaicLayout {
  const starts = (size: number, count: number): Int32Array =>
    Int32Array.from({ length: count + 1 }, (_, i) => Math.round((i * (size + grout)) / count));
  const columnStarts = starts(width, columns);
  const rowStarts = starts(height, rows);
  const largest = (edges: Int32Array): number => {
    let most = 0;
    for (let i = 0; i + 1 < edges.length; i++) most = Math.max(most, edges[i + 1]! - edges[i]! - grout);
    return most;
  };
  const smallest = (edges: Int32Array): number => {
    let least = Infinity;
    for (let i = 0; i + 1 < edges.length; i++) least = Math.min(least, edges[i + 1]! - edges[i]! - grout);
    return least;
  };
  if (smallest(columnStarts) < 1 || smallest(rowStarts) < 1) {
    throw new RangeError(`${columns} x ${rows} cells with ${grout} px of grout do not fit ${width} x ${height} px`);
  }
  return { width, height, columns, rows, tileWidth: largest(columnStarts), tileHeight: largest(rowStarts), grout, columnStarts, rowStarts };
}

/** Whether every cell is a whole tile, side by side (the layout `tiledLayout` makes). */
export function isTiled(layout: MosaicLayout): boolean {
  if (layout.grout !== 0) return false;
  return layout.width === layout.columns * layout.tileWidth && layout.height === layout.rows * layout.tileHeight;
}
