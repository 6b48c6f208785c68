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

  constructor(
    private readonly plan: MosaicPlan,
    private readonly source: TileSource,
  ) {}

  render(region: Region, into?: Buffer): Buffer {
    const { plan, source } = this;
    if (source instanceof TileStore) return renderRegion(plan, source, region, into);
    const first = gridRowsThrough(plan, source.tileHeight, region.top + 1) - 1;
    const last = gridRowsThrough(plan, source.tileHeight, region.top + region.height) - 1;
    if (!this.band || this.band.first !== first || this.band.last !== last)
      this.band = { first, last, ...readBand(plan, source, first, last) };
    return renderRegion(this.band.plan, this.band.store, region, into);
  }
}

/** Grid rows `first` to `last` of `plan` as a plan of their own over a store of the tiles they use, read from `file`. */
export function readBand(plan: MosaicPlan, file: TileFile, first: number, last: number): { plan: MosaicPlan; store: TileStore } {
  const offset = plan.firstRow ?? 0;
  const [start, end] = [(first - offset) * plan.columns, (last + 1 - offset) * plan.columns];
  const { ids, local } = localTiles(plan.tiles.subarray(start, end));
  const part: MosaicPlan = {
    ...plan,
    rows: last + 1 - first,
    tiles: local,
    firstRow: first,
    ...(plan.mirrored ? { mirrored: plan.mirrored.subarray(start, end) } : {}),
    ...(plan.tint ? { tint: plan.tint.subarray(start * 3, end * 3) } : {}),
  };
  return { plan: part, store: file.load(ids) };
}
