import { setImmediate } from 'node:timers';
import { TsmosaicError } from '../errors.js';
import type { AnnSearch } from '../index-store/ann.js';
import { CANDIDATES, CandidateRanking, UNBUDGETED_CANDIDATES } from './candidate-ranking.js';
import { CachedSearch, type CellAnswers } from './cell-search.js';
import { descriptorLength, type MatchMethod, type TileDetail } from '../tiles/descriptors.js';
import { BudgetedPlacement, type PictureRules } from './budgeted-placement.js';
import { shuffledOrder } from './random.js';
import { discOffsets, RepeatRules } from './repeat-rules.js';
import { RowPlanner, rowPlannable } from './row-planner.js';

/**
 * No picture beside itself, nor diagonally, unless told otherwise (1 left diagonal runs of one
 * tile: docs/design.md); without a budget the diagonal part is weighed (PlacementRules.weighDiagonal).
 */
export const DEFAULT_MIN_DISTANCE = 1.5;

/** Rules on where tiles may go. */
export interface PlacementRules extends PictureRules {
  /** No picture repeated within this distance in cells (euclidean, between cell centres; 1 = not side by side, 1.5 = nor diagonally). 0 = no rule. */
  minDistance: number;
  /** Each tile used at most this many times. Infinity = no limit. */
  maxUses: number;
  /** Seed of the fill order. */
  seed: number;
  /**
   * Without a budget and at a min-distance from 1.5 to 2, keep pictures apart side by side only
   * and weigh a diagonal repeat as DIAGONAL_COST instead (the default: docs/design.md).
   */
  weighDiagonal?: boolean;
}

/** What a picture diagonally next to itself costs where rules.weighDiagonal (see relativeCost: about 5 % more colour error). */
const DIAGONAL_COST = 0.05;

export interface Placement {
  /** Tile id of every cell, row-major: 16 bits when the index has at most 65,536 tiles. */
  tiles: Uint16Array | Uint32Array;
  /** 1 where the tile is mirrored left-right. */
  mirrored: Uint8Array;
  /** How often the most used picture is used. */
  maxUses: number;
  /** Cells where the rules could not all be kept (only possible when max-uses runs out locally). */
  relaxed: number;
}

/**
 * Under budgets (see budgeted), grids of up to this many cells are placed as one assignment, and
 * larger ones in bands of BUDGET_BAND_CELLS: the assignment's time grows faster than its cells,
 * its memory with them. Each band's budget is what earlier bands left (docs/design.md).
 */
const ONE_BAND_CELLS = 1 << 14;
/** Cells of a band of a larger grid under budgets (whole rows, at least one). */
const BUDGET_BAND_CELLS = 1 << 14;

/** Whether `rules` put budgets on the pictures of a `cells`-cell grid: they are then placed as an assignment (see BudgetedPlacement). */
export function budgeted(rules: PlacementRules, cells: number): boolean {
  return rules.maxUses < cells || rules.required !== undefined || (rules.excluded?.length ?? 0) > 0;
}

/**
 * Rows of the bands a `columns` x `rows` grid is placed in under `rules`: one, so that the output
 * is encoded while later rows are placed, and mosaics came closer to their targets than in one fill
 * order (docs/design.md); but see ONE_BAND_CELLS.
 */
export function placementBandRows(columns: number, rows: number, rules: PlacementRules): number {
  if (!budgeted(rules, columns * rows)) return 1;
  return columns * rows <= ONE_BAND_CELLS ? rows : Math.max(1, Math.floor(BUDGET_BAND_CELLS / columns));
}

/** What placement needs to know about the tiles. */
export interface TileCatalogue {
  count: number;
  /** Descriptors of every tile for the method (see method.ts). */
  descriptors: Float32Array;
  /** HNSW index over `annVectors(descriptors)`, labels = tile ids (it may leave tiles out). */
  ann: AnnSearch;
  /** Tiles `t` with the same `Math.floor(t / cropsPerPicture)` are crops of one picture: the rules treat them as one tile. Default 1. */
  cropsPerPicture?: number;
  /** Whether only each picture's centre (crop 0) may be placed (the index answers hold only those). */
  centresOnly?: boolean;
  /** Each tile's detail below the method's grid (lab only): given, builds without a budget cost tiles relatively (see CandidateRanking). */
  detail?: TileDetail;
}

/**
 * Index answers placement wants for each cell of a `cells`-cell grid under `rules` (see CellAnswers):
 * CANDIDATES to rank when it ranks by cost or rules may block tiles, else the nearest (pycollage's method).
 */
export function candidateCount(method: MatchMethod, rules: PlacementRules, cells: number, searchable: number): number {
  const ranked = method.metric === 'lab' || rules.minDistance > 0 || budgeted(rules, cells);
  const wanted = method.metric === 'lab' && !budgeted(rules, cells) ? UNBUDGETED_CANDIDATES : CANDIDATES;
  return Math.max(1, Math.min(ranked ? wanted : 1, searchable));
}

/** Allowed tiles ranked by cost when every candidate is blocked and farther tiles are fetched (see docs/design.md). */
const FARTHER_RANKED = 12;
/** Bands of up to this many cells (every row of a grid up to 4,096 columns) are placed in one call, without a pause. */
const UNPAUSED_CELLS = 4096;
/** Cells placed between looks at the clock in larger bands. */
const RUN_CELLS = 512;
/** Work between pauses for the event loop in larger bands: a signal (Ctrl-C) is handled only between tasks. */
const PAUSE_MS = 25;

/**
 * Places tiles band by band: `placeRows` for consecutive bands of rows, top to bottom, then
 * `result`. Within a band cells are filled in a fill order (see fillOrder); min-distance also
 * holds against the rows above the band. Only the tile ids and mirroring (3 bytes a cell with
 * fewer than 65,536 tiles) last across the grid; the rest lives for one band.
 * @throws {TsmosaicError} when the rules cannot be met by this many tiles at all.
 */
export class TilePlacer {
  /** Tile id of every cell (see Placement), filled in as rows are placed. */
  readonly tiles: Uint16Array | Uint32Array;
  /** 1 where a cell's tile is mirrored, filled in as rows are placed. */
  readonly mirrored: Uint8Array;
  private readonly rules: RepeatRules;
  private readonly ranking: CandidateRanking;
  /** Plans whole rows when there is no budget and the rule reaches only a cell's row neighbours. */
  private readonly rowPlanner: RowPlanner | undefined;
  /** Farther tiles, when every answer of the band's is blocked. */
  private readonly search: CachedSearch;
  private readonly searchable: number;
  private readonly descriptorLength: number;
  private readonly cellCount: number;
  /** Whether cells are ranked (by cost or rules), not given the index's nearest tile. */
  private readonly ranked: boolean;
  private readonly seed: number;
  private readonly progressStep: number;
  /** Under budgets, the assignment that places every band instead of the greedy fill. */
  private readonly budgeted: BudgetedPlacement | undefined;
  private placed = 0;
  private bands = 0;
  private relaxed = 0;
  // The band being placed, from cell bandStart on.
  private bandStart = 0;
  private band: CellAnswers = { descriptors: new Float32Array(0), k: 0, neighbors: new Int32Array(0), distances: new Float32Array(0) };

  constructor(
    method: MatchMethod,
    private readonly columns: number,
    private readonly rows: number,
    catalogue: TileCatalogue,
    rules: PlacementRules,
    private readonly onProgress?: (done: number, total: number) => void,
  ) {
    this.cellCount = columns * rows;
    const crops = catalogue.cropsPerPicture ?? 1;
    const pictureCount = Math.ceil(catalogue.count / crops);
    assertFeasible(this.cellCount, pictureCount - (rules.excluded?.length ?? 0), rules);
    const unbudgeted = !budgeted(rules, this.cellCount);
    const weighed =
      rules.weighDiagonal === true &&
      catalogue.detail !== undefined &&
      unbudgeted &&
      rules.minDistance >= Math.SQRT2 &&
      rules.minDistance < 2;
    const hardDistance = weighed ? 1 : rules.minDistance;
    this.rules = new RepeatRules(columns, this.cellCount, pictureCount, crops, hardDistance, rules.maxUses);
    this.seed = rules.seed;
    this.ranking = new CandidateRanking(method, catalogue.descriptors, this.rules, unbudgeted ? catalogue.detail : undefined);
    this.rowPlanner =
      unbudgeted && catalogue.detail && rowPlannable(hardDistance, rules.maxUses, this.cellCount)
        ? new RowPlanner(this.ranking, this.rules, weighed ? DIAGONAL_COST : 0, (at, cell) => this.costFarther(at, cell))
        : undefined;
    this.search = new CachedSearch(catalogue.ann, method);
    this.searchable = catalogue.ann.getCurrentCount();
    this.descriptorLength = descriptorLength(method);
    this.ranked = this.rules.blocking || method.metric === 'lab';
    this.tiles = catalogue.count <= 0x10000 ? new Uint16Array(this.cellCount) : new Uint32Array(this.cellCount);
    this.mirrored = new Uint8Array(this.cellCount);
    this.progressStep = Math.max(1, Math.floor(this.cellCount / 100));
    this.budgeted = budgeted(rules, this.cellCount)
      ? new BudgetedPlacement(
          method,
          columns,
          rows,
          { ...catalogue, cropsPerPicture: crops, centresOnly: catalogue.centresOnly ?? false },
          this.rules,
          rules.maxUses,
          rules,
          this,
        )
      : undefined;
  }

  /**
   * Places the cells of rows [firstRow, firstRow + rowCount), described and answered by `cells`
   * (`candidateCount` answers a cell). Bands of over UNPAUSED_CELLS cells pause for the event loop
   * every PAUSE_MS, then stop with `signal`'s reason if it is aborted.
   */
  async placeRows(firstRow: number, rowCount: number, cells: CellAnswers, signal?: AbortSignal): Promise<void> {
    const columns = this.columns;
    const bandCells = rowCount * columns;
    if (cells.descriptors.length !== bandCells * this.descriptorLength || cells.neighbors.length !== bandCells * cells.k) {
      throw new RangeError(
        `rows ${firstRow}-${firstRow + rowCount - 1}: answers for ${cells.descriptors.length / this.descriptorLength} cells, expected ${bandCells}`,
      );
    }
    this.bandStart = firstRow * columns;
    this.band = cells;
    // Band 0 keeps the seed itself, so a one-band grid is filled in the order it always was.
    const seed = (this.seed + this.bands * 0x9e3779b9) >>> 0;
    this.bands++;
    if (this.budgeted) {
      await this.budgeted.placeBand(firstRow, rowCount, cells, fillOrder(cells, this.rules, seed), signal);
      this.placed += bandCells;
      this.onProgress?.(this.placed, this.cellCount);
      return;
    }
    this.ranking.startBand(cells);
    this.rules.startBand(firstRow, rowCount, this.tiles);
    if (this.rowPlanner && rowCount === 1) {
      const planned = this.rowPlanner.plan(this.bandStart, columns);
      if (planned) {
        for (let x = 0; x < columns; x++) this.place(this.bandStart + x, planned[x]!);
        if (firstRow + rowCount === this.rows) this.onProgress?.(this.cellCount, this.cellCount);
        return;
      }
    }
    const order = this.rules.blocking ? fillOrder(cells, this.rules, seed) : null;

    const pausing = bandCells > UNPAUSED_CELLS;
    let paused = performance.now();
    for (let inBand = 0; inBand < bandCells;) {
      const end = pausing ? Math.min(bandCells, inBand + RUN_CELLS) : bandCells;
      inBand = this.placeRun(inBand, end, order);
      if (inBand < end) {
        const cell = this.bandStart + (order ? order[inBand]! : inBand);
        this.place(cell, this.fartherChoice(cell));
        inBand++;
      }
      if (pausing && inBand < bandCells && performance.now() - paused >= PAUSE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        signal?.throwIfAborted();
        paused = performance.now();
      }
    }
    if (firstRow + rowCount === this.rows) this.onProgress?.(this.cellCount, this.cellCount);
  }

  /** The placement, once every row is placed. */
  result(): Placement {
    if (this.budgeted) {
      return { tiles: this.tiles, mirrored: this.mirrored, maxUses: this.budgeted.mostUses(), relaxed: this.budgeted.relaxed };
    }
    return { tiles: this.tiles, mirrored: this.mirrored, maxUses: this.rules.mostUses(), relaxed: this.relaxed };
  }

  /**
   * Places the band's cells from position `from` to `to` of its fill order (`order`, or row-major)
   * and stops at the first whose candidates the rules all block, giving its position (`to` when
   * none is). The farther search is left to the caller: optimised code that had never run it was
   * thrown away when it first did.
   */
  private placeRun(from: number, to: number, order: Uint32Array | null): number {
    const bandStart = this.bandStart;
    const ranking = this.ranking;
    for (let inBand = from; inBand < to; inBand++) {
      const cell = bandStart + (order ? order[inBand]! : inBand);
      let chosen: number | undefined;
      if (this.ranked) {
        ranking.costCandidates(cell - bandStart);
        chosen = ranking.bestAllowed(cell);
      } else {
        // pycollage's method (no rules, no ranking): the nearest tile, no list needed.
        chosen = this.band.neighbors[(cell - bandStart) * this.band.k]! * 2;
      }
      if (chosen === undefined) return inBand;
      this.place(cell, chosen);
    }
    return to;
  }

  /** Records `chosen` (tile * 2 + mirrored) as the tile of `cell`. */
  private place(cell: number, chosen: number): void {
    this.tiles[cell] = chosen >> 1;
    this.mirrored[cell] = chosen & 1;
    this.rules.record(this.rules.pictureOf(chosen >> 1), cell);
    const placed = this.placed + 1;
    if (this.onProgress && placed % this.progressStep === 0) this.onProgress(placed, this.cellCount);
    this.placed = placed;
  }

  /**
   * Costs, for the row planner, the first few tiles beyond the band's answers for `cell` (at `at` of
   * the band) that the rows above allow, once they are of two pictures or the index is exhausted.
   */
  private costFarther(at: number, cell: number): void {
    const rules = this.rules;
    for (let wanted = this.band.k * 4; ; wanted *= 4) {
      const { neighbors } = this.search.nearest(this.band.descriptors, at, Math.min(wanted, this.searchable));
      const open = neighbors.filter((tile) => rules.allowed(rules.pictureOf(tile), cell)).slice(0, FARTHER_RANKED);
      const pictures = new Set(open.map((tile) => rules.pictureOf(tile)));
      if (pictures.size >= 2 || wanted >= this.searchable) {
        this.ranking.costTiles(at, open);
        return;
      }
    }
  }

  /**
   * The choice for a cell whose ranked candidates are all blocked: walks further out in the
   * index's own order and ranks only the first few allowed tiles by cost (ranking them all cost
   * more than the rest of placement); when max-uses has exhausted every tile near here, keeps the
   * budget and gives up the distance.
   */
  private fartherChoice(cell: number): number {
    const at = cell - this.bandStart;
    const rules = this.rules;
    for (let wanted = this.band.k * 4; ; wanted *= 4) {
      const { neighbors } = this.search.nearest(this.band.descriptors, at, Math.min(wanted, this.searchable));
      const open = neighbors.filter((tile) => rules.allowed(rules.pictureOf(tile), cell)).slice(0, FARTHER_RANKED);
      if (open.length > 0) return this.ranking.cheapest(at, open);
      if (wanted >= this.searchable) break;
    }
    const { neighbors } = this.search.nearest(this.band.descriptors, at, this.searchable);
    this.relaxed++;
    return this.ranking.cheapest(at, [neighbors.find((tile) => rules.hasUsesLeft(rules.pictureOf(tile))) ?? neighbors[0]!]);
  }
}

/**
 * The order a band's cells are filled in when rules apply: cells that lose most without their
 * best picture (largest regret) go first, in a seeded random order within each whole unit of
 * regret. Nothing spatial, so no region is systematically filled last, as the bottom rows are in
 * raster order.
 */
function fillOrder(cells: CellAnswers, rules: RepeatRules, seed: number): Uint32Array {
  // Regret: how much farther the second nearest picture is than the nearest, in the index's units
  // (crops of the best picture are no alternative under the rules).
  const { k, neighbors, distances } = cells;
  const count = neighbors.length / k;
  const bucket = new Uint16Array(count);
  for (let cell = 0; cell < count; cell++) {
    const first = cell * k;
    const best = rules.pictureOf(neighbors[first]!);
    let second = 1;
    while (second < k && rules.pictureOf(neighbors[first + second]!) === best) second++;
    const regret = second < k ? Math.fround(Math.sqrt(distances[first + second]!) - Math.sqrt(distances[first]!)) : Infinity;
    bucket[cell] = Math.min(1000, Math.floor(regret));
  }
  const order = shuffledOrder(count, seed);
  const position = new Uint32Array(count);
  order.forEach((cell, i) => (position[cell] = i));
  return order.sort((a, b) => bucket[b]! - bucket[a]! || position[a]! - position[b]!);
}

/** Cells a tile must differ from, itself included: how many different tiles the rule needs around a cell. */
function neighbourhood(distance: number): number {
  return discOffsets(distance).length + 1;
}

/** Fails at once, with the numbers, when the rules ask for more tiles than the index has. */
export function assertFeasible(cells: number, tileCount: number, { minDistance, maxUses }: PlacementRules): void {
  if (maxUses * tileCount < cells) {
    const need = Math.ceil(cells / maxUses);
    throw new TsmosaicError(
      `${cells} cells with each tile used at most ${maxUses} time${maxUses === 1 ? '' : 's'} need at least ${need} tiles; the index has ${tileCount} (use fewer --tiles-across or a larger --max-uses)`,
    );
  }
  const window = neighbourhood(minDistance);
  if (minDistance > 0 && tileCount < Math.min(window, cells)) {
    throw new TsmosaicError(
      `--min-distance ${minDistance} needs at least ${window} different tiles around each cell; the index has ${tileCount} (use a smaller --min-distance)`,
    );
  }
}

/** Largest min-distance up to `wanted` (by whole steps, via 1 from 1.5) that `tileCount` tiles can satisfy (for defaults on tiny indexes). */
export function feasibleMinDistance(wanted: number, tileCount: number): number {
  let distance = wanted;
  while (distance > 0 && neighbourhood(distance) > tileCount) distance = Number.isInteger(distance) ? distance - 1 : Math.floor(distance);
  return distance;
}
