import { gridRowsThrough, type MosaicPlan } from '../tiles/mosaic-plan.js';
import type { TileFile } from '../tiles/tile-file.js';
import { localTiles } from '../tiles/tile-file.js';
import { TileStore } from '../tiles/tile-store.js';
import { renderRegion, type Region } from './render-region.js';

/** Where a mosaic's tile pixels come from: a store in memory, or a file of the tiles it uses. */
export type TileSource = TileStore | TileFile;

/**
 * Draws regions of a mosaic from a tile source. From a TileFile, the tiles of the grid rows a
 * region covers are read into a store of their own (the last one kept, as consecutive bands
 * often cover the same rows), so memory holds a band's tiles, never all of them.
 */
export class SourceRenderer {
  private band: { first: number; last: number; plan: MosaicPlan; store: TileStore } | undefined;
  /** The memory bands are read into, as large as the largest. */
  private scratch: Buffer = Buffer.alloc(0);

  constructor(
    private readonly plan: MosaicPlan,
    private readonly source: TileSource,
  ) {}

  render(region: Region, into?: Buffer): Buffer {
    const { plan, source } = this;
    if (source instanceof TileStore) return renderRegion(plan, source, region, into);
    const canvas = into ? into.subarray(0, region.width * region.height * 3) : Buffer.allocUnsafe(region.width * region.height * 3);
    // A grid row at a time: a region across two would hold both rows' tiles at once (39 MB
    // across a 2 Gpx print), and the scratch memory would keep that size.
    const end = region.top + region.height;
    for (let top = region.top; top < end;) {
      const row = gridRowsThrough(plan, source.tileHeight, top + 1) - 1;
      const bottom = Math.min(end, gridRowEnd(plan, source.tileHeight, row));
      if (!this.band || this.band.first !== row) {
        // Sized once for the largest grid row: grown band by band, each size left its buffer to the
        // garbage collector (a 2 Gpx print's scratch went 9 -> 13 MB in 19 steps, +25 MB at peak).
        if (this.scratch.length === 0) this.scratch = Buffer.allocUnsafe(largestGridRowBytes(plan, source.tileBytes));
        this.band = { first: row, last: row, ...readBand(plan, source, row, row, this.scratch) };
      }
      const part = { ...region, top, height: bottom - top };
      renderRegion(this.band.plan, this.band.store, part, canvas.subarray((top - region.top) * region.width * 3));
      top = bottom;
    }
    return canvas;
  }

  /** Drops the tiles read for the last band and the scratch memory (read again if another region is rendered). */
  release(): void {
    this.band = undefined;
    this.scratch = Buffer.alloc(0);
  }
}

/** Bytes of the tiles of the grid row of `plan` that uses the most distinct ones (a tile used mirrored counts apart). */
function largestGridRowBytes(plan: MosaicPlan, tileBytes: number): number {
  const { columns, tiles, mirrored } = plan;
  const seen = new Set<number>();
  let most = 0;
  for (let start = 0; start < tiles.length; start += columns) {
    seen.clear();
    for (let cell = start; cell < start + columns; cell++) seen.add(tiles[cell]! * 2 + (mirrored?.[cell] ?? 0));
    most = Math.max(most, seen.size);
  }
  return most * tileBytes;
}

/** The pixel row after grid row `row` of `plan` (its grout included), as gridRowsThrough counts them. */
function gridRowEnd(plan: MosaicPlan, tileHeight: number, row: number): number {
  if (!plan.layout) return (row + 1) * tileHeight;
  return row + 1 < plan.layout.rows ? plan.layout.rowStarts[row + 1]! : Infinity;
}

/**
 * Grid rows `first` to `last` of `plan` as a plan of their own over a store of the tiles they use,
 * read from `file` (into `into` when large enough); a tile used mirrored is stored mirrored, so
 * the band is drawn by copying rows.
 */
function readBand(plan: MosaicPlan, file: TileFile, first: number, last: number, into?: Buffer): { plan: MosaicPlan; store: TileStore } {
  const offset = plan.firstRow ?? 0;
  const [start, end] = [(first - offset) * plan.columns, (last + 1 - offset) * plan.columns];
  const mirrored = plan.mirrored?.subarray(start, end);
  // A tile and its mirror image are two tiles of the band: tile * 2 + mirrored.
  const variants = Uint32Array.from({ length: end - start }, (_, cell) => plan.tiles[start + cell]! * 2 + (mirrored?.[cell] ?? 0));
  const { ids, local } = localTiles(variants);
  const store = file.load(
    Uint32Array.from(ids, (variant) => variant >> 1),
    into,
  );
  ids.forEach((variant, i) => {
    if (variant & 1) flipTile(store, i);
  });
  const part: MosaicPlan = {
    columns: plan.columns,
    rows: last + 1 - first,
    tiles: local,
    firstRow: first,
    ...(plan.tint ? { tint: plan.tint.subarray(start * 3, end * 3) } : {}),
    ...(plan.layout ? { layout: plan.layout } : {}),
    ...(plan.groutColour ? { groutColour: plan.groutColour } : {}),
  };
  return { plan: part, store };
}

/** Mirrors tile `id` of `store` left-right, in place. */
function flipTile(store: TileStore, id: number): void {
  const { tileWidth, tileHeight } = store;
  const pixels = store.tile(id);
  for (let y = 0; y < tileHeight; y++) {
    for (let left = y * tileWidth * 3, right = left + (tileWidth - 1) * 3; left < right; left += 3, right -= 3) {
      for (let c = 0; c < 3; c++) {
        const swap = pixels[left + c]!;
        pixels[left + c] = pixels[right + c]!;
        pixels[right + c] = swap;
      }
    }
  }
}
