import { TsmosaicError } from '../errors.js';
import type { AnnSearch } from '../index-store/ann.js';
import { CachedSearch, type CellAnswers } from './cell-search.js';
import { colourCost, descriptorLength, structureCosts, type MatchMethod } from '../tiles/descriptors.js';
import { shuffledOrder } from './random.js';

/** No picture beside itself, nor diagonally, unless told otherwise (1 left diagonal runs of one tile: docs/design.md). */
export const DEFAULT_MIN_DISTANCE = 1.5;

/** Rules on where tiles may go. */
export interface PlacementRules {
  /** No picture repeated within this distance in cells (euclidean, between cell centres; 1 = not side by side, 1.5 = nor diagonally). 0 = no rule. */
  minDistance: number;
  /** Each tile used at most this many times. Infinity = no limit. */
  maxUses: number;
  /** Seed of the fill order. */
  seed: number;
}

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

/** Tiles fetched from the index per cell before ranking by cost; more are fetched when all are blocked. */
const CANDIDATES = 16;
/** Allowed tiles ranked by cost when every candidate is blocked and farther tiles are fetched (12: cell ΔE00 +2% at min-distance 5, half the time of ranking all). */
const FARTHER_RANKED = 12;
/**
 * Under a --max-uses budget, grids of up to this many cells (any 200-column grid up to 1:3.2) are
 * placed as one band, in one fill order, and larger ones in bands of BUDGET_BAND_CELLS: placed row
 * by row, the last rows would get what the budget left.
 */
const ONE_BAND_CELLS = 1 << 17;
/** Cells of a band of a larger grid under a budget (whole rows, at least one): memory stays flat. */
const BUDGET_BAND_CELLS = 1 << 15;

/** Rows of the bands a `columns` x `rows` grid is placed in under `rules`: one (see createTilePlacer), but see ONE_BAND_CELLS. */
export function placementBandRows(columns: number, rows: number, rules: PlacementRules): number {
  if (rules.maxUses >= columns * rows) return 1;
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
}

/**
 * Index answers placement wants for each cell of a `cells`-cell grid under `rules` (see CellAnswers):
 * CANDIDATES to rank when it ranks by cost or rules may block tiles, else the nearest (pycollage's method).
 */
export function candidateCount(method: MatchMethod, rules: PlacementRules, cells: number, searchable: number): number {
  const ranked = method.metric === 'lab' || rules.minDistance > 0 || rules.maxUses < cells;
  return Math.max(1, Math.min(ranked ? CANDIDATES : 1, searchable));
}

/** Placement of a grid band by band (see createTilePlacer). */
export interface TilePlacer {
  /** Tile id of every cell (see Placement), filled in as rows are placed. */
  readonly tiles: Uint16Array | Uint32Array;
  /** 1 where a cell's tile is mirrored, filled in as rows are placed. */
  readonly mirrored: Uint8Array;
  /** Places the cells of rows [firstRow, firstRow + rowCount), described and answered by `cells` (with `candidateCount` answers a cell). */
  placeRows(firstRow: number, rowCount: number, cells: CellAnswers): void;
  /** The placement, once every row is placed. */
  result(): Placement;
}

/**
 * Places tiles band by band: `placeRows` for consecutive bands of rows, top to bottom, then
 * `result`. Within a band cells are filled as `fillOrder` says; the min-distance rule also holds
 * against the rows above the band, already placed. Memory across the grid is the tile ids and
 * mirroring (3 bytes a cell with fewer than 65,536 tiles); everything else lives for one band.
 * `build` places one row a band unless a budget applies (placementBandRows): the output is then
 * encoded while later rows are placed, and the mosaics were closer to their targets than in one
 * global order (npm run bench's collection, 200 columns, 3 photos: cell ΔE00 2.5-4 % lower at
 * min-distance 1.5, 3-5 % at 5; bands of 10 to 40 rows were within 0.4 % of one band).
 * @throws {TsmosaicError} when the rules cannot be met by this many tiles at all.
 */
export function createTilePlacer(
  method: MatchMethod,
  columns: number,
  rows: number,
  catalogue: TileCatalogue,
  rules: PlacementRules,
  onProgress?: (done: number, total: number) => void,
): TilePlacer {
  const cellCount = columns * rows;
  const { minDistance, maxUses } = rules;
  const { count: tileCount, descriptors, ann } = catalogue;
  // The rules are about pictures: two crops of one picture count as the same tile.
  const group = catalogue.cropsPerPicture ?? 1;
  const pictureOf = (tile: number): number => (group === 1 ? tile : Math.floor(tile / group));
  const searchable = ann.getCurrentCount();
  const pictureCount = Math.ceil(tileCount / group);
  assertFeasible(cellCount, pictureCount, rules);
  const constrained = minDistance > 0 || maxUses < cellCount;
  const reranked = method.metric === 'lab';
  const variants = method.metric === 'lab' && method.mirror ? 2 : 1;
  const length = descriptorLength(method);
  const tiles = tileCount <= 0x10000 ? new Uint16Array(cellCount) : new Uint32Array(cellCount);
  const mirrored = new Uint8Array(cellCount);
  const uses = new Uint32Array(pictureCount);
  const reach = Math.floor(minDistance);
  let relaxed = 0;
  // The band being placed, from cell bandStart on, with its cells' descriptors and index answers.
  let bandStart = 0;
  let band: CellAnswers = { descriptors: new Float32Array(0), k: 0, neighbors: new Int32Array(0), distances: new Float32Array(0) };

  // Cells within min-distance of a cell, as offsets; a tile is checked against whichever is
  // shorter: the cells around (grid lookup) or the list of places it already has. Both cover the
  // window of the band and the `reach` rows above it, the only cells a cell of the band can be near.
  const disc = Int32Array.from(discOffsets(minDistance).flat());
  let windowTop = 0;
  let windowRows = 0;
  let placedTile = new Int32Array(0);
  let positions: (number[] | undefined)[] = [];
  const allowed = (candidate: number, cell: number): boolean => {
    const tile = pictureOf(candidate);
    if (uses[tile]! >= maxUses) return false;
    const placed = positions[tile];
    if (!placed) return true;
    const x = cell % columns;
    const y = (cell - x) / columns;
    if (placed.length < disc.length / 2) {
      for (const other of placed) {
        const dx = (other % columns) - x;
        if (dx > reach || dx < -reach) continue;
        const dy = (other - (other % columns)) / columns - y;
        if (dx * dx + dy * dy <= minDistance * minDistance) return false;
      }
      return true;
    }
    // (Offsets as dx, dy pairs of one flat array: destructuring pairs is slow in code not yet optimised.)
    for (let i = 0; i < disc.length; i += 2) {
      const ox = x + disc[i]!;
      const oy = y + disc[i + 1]! - windowTop;
      if (ox >= 0 && oy >= 0 && ox < columns && oy < windowRows && placedTile[oy * columns + ox] === tile) return false;
    }
    return true;
  };
  // Within one cell's choice nothing is placed, so each picture is checked once: its crops and
  // mirrored versions share the answer (with five crops, most candidates are a picture seen before).
  const checkedFor = new Int32Array(pictureCount).fill(-1);
  const checkedAnswer = new Uint8Array(pictureCount);
  const allowedHere = (candidate: number, cell: number): boolean => {
    const picture = pictureOf(candidate);
    if (checkedFor[picture] !== cell) {
      checkedFor[picture] = cell;
      checkedAnswer[picture] = allowed(candidate, cell) ? 1 : 0;
    }
    return checkedAnswer[picture] === 1;
  };

  // Farther tiles, when every answer of the band's is blocked.
  const searchCached = new CachedSearch(ann, method);
  const search = (cell: number, wanted: number): { neighbors: Int32Array } =>
    searchCached.nearest(band.descriptors, cell - bandStart, wanted);

  // The candidates of the cell being chosen (tile * 2 + mirrored) and their costs, unsorted.
  const maxChoices = CANDIDATES * variants;
  let choices = new Int32Array(maxChoices);
  let costs = new Float64Array(maxChoices);
  let choiceCount = 0;
  // A candidate's structure cost as it is and mirrored.
  const structures = new Float64Array(2);

  /**
   * Costs every candidate (tile * 2 + mirrored) for a cell, from the band's index answers for it,
   * into `choices` and `costs`.
   */
  const costCandidates = (cell: number): void => {
    const { k, neighbors, descriptors: cells } = band;
    const at = cell - bandStart;
    const first = at * k;
    choiceCount = k * (reranked ? variants : 1);
    if (choiceCount > choices.length) {
      choices = new Int32Array(choiceCount);
      costs = new Float64Array(choiceCount);
    }
    let filled = 0;
    for (let i = 0; i < k; i++) {
      const tile = neighbors[first + i]!;
      if (!reranked) {
        // The index's own order is the ranking.
        choices[filled] = tile * 2;
        costs[filled++] = i;
        continue;
      }
      // The mean colours' cost is the same for a tile and its mirror image: computed once.
      const colour = colourCost(method, cells, at, descriptors, tile);
      structureCosts(method, cells, at, descriptors, tile, structures);
      for (let variant = 0; variant < variants; variant++) {
        choices[filled] = tile * 2 + variant;
        costs[filled++] = colour + structures[variant]!;
      }
    }
  };

  /**
   * The least costly of the costed candidates (ties: the smaller choice) that the rules allow in
   * `cell`, or undefined. Picked by selection, not sorting: the first pick is nearly always
   * allowed. The rules block pictures, so a blocked pick rules out every candidate of its picture
   * (other crops, the mirror image), dropped in the next pass: with --min-distance 5 many are.
   */
  const bestAllowed = (cell: number): number | undefined => {
    let blocked = -1;
    for (;;) {
      let best = -1;
      for (let i = 0; i < choiceCount; i++) {
        if (choices[i]! < 0) continue;
        if (blocked >= 0 && pictureOf(choices[i]! >> 1) === blocked) {
          choices[i] = -1;
          continue;
        }
        if (best < 0 || costs[i]! < costs[best]! || (costs[i] === costs[best] && choices[i]! < choices[best]!)) best = i;
      }
      if (best < 0) return undefined;
      const choice = choices[best]!;
      if (!constrained || allowedHere(choice >> 1, cell)) return choice;
      blocked = pictureOf(choice >> 1);
    }
  };

  /** `tile * 2 + mirrored` of the least costly tile and orientation among `tiles`. */
  const cheapest = (cell: number, tiles: ArrayLike<number>): number => {
    const at = cell - bandStart;
    let best = tiles[0]! * 2;
    let bestCost = Infinity;
    for (let i = 0; i < tiles.length; i++) {
      const tile = tiles[i]!;
      const colour = colourCost(method, band.descriptors, at, descriptors, tile);
      structureCosts(method, band.descriptors, at, descriptors, tile, structures);
      for (let variant = 0; variant < variants; variant++) {
        const cost = colour + structures[variant]!;
        if (cost < bestCost) [best, bestCost] = [tile * 2 + variant, cost];
      }
    }
    return best;
  };

  const progressStep = Math.max(1, Math.floor(cellCount / 100));
  let step = 0;
  let bands = 0;

  /** Records `chosen` (tile * 2 + mirrored) as the tile of `cell`. */
  const place = (cell: number, chosen: number): void => {
    tiles[cell] = chosen >> 1;
    mirrored[cell] = chosen & 1;
    const picture = pictureOf(chosen >> 1);
    uses[picture]!++;
    placedTile[cell - windowTop * columns] = picture;
    if (minDistance > 0) (positions[picture] ??= []).push(cell);
    if (onProgress && (step + 1) % progressStep === 0) onProgress(step + 1, cellCount);
    step++;
  };

  /**
   * Places the band's cells from position `from` of its fill order (`order`, or row-major) on,
   * and stops at the first whose candidates the rules all block, giving its position (bandCells
   * when none is). The rare farther search is left to the caller: optimised code that had never
   * run it was thrown away when it first did (twice a bench build, each recompiling ~80 ms).
   */
  const placeRun = (from: number, bandCells: number, order: Uint32Array | null): number => {
    for (let inBand = from; inBand < bandCells; inBand++) {
      const cell = bandStart + (order ? order[inBand]! : inBand);
      let chosen: number | undefined;
      if (constrained || reranked) {
        costCandidates(cell);
        chosen = bestAllowed(cell);
      } else {
        // pycollage's method (no rules, no ranking): the nearest tile, no list needed.
        chosen = band.neighbors[(cell - bandStart) * band.k]! * 2;
      }
      if (chosen === undefined) return inBand;
      place(cell, chosen);
    }
    return bandCells;
  };

  /**
   * The choice for a cell whose ranked candidates are all blocked: walks further out in the
   * index's own order and ranks only the first few allowed tiles by cost (ranking every farther
   * tile cost more than all the rest); when max-uses has exhausted every tile near here, keeps
   * the budget and gives up the distance.
   */
  const fartherChoice = (cell: number): number => {
    for (let wanted = band.k * 4; ; wanted *= 4) {
      const { neighbors } = search(cell, Math.min(wanted, searchable));
      const open = neighbors.filter((candidate) => allowedHere(candidate, cell)).slice(0, FARTHER_RANKED);
      if (open.length > 0) return cheapest(cell, open);
      if (wanted >= searchable) break;
    }
    const { neighbors } = search(cell, searchable);
    relaxed++;
    return cheapest(cell, [neighbors.find((tile) => uses[pictureOf(tile)]! < maxUses) ?? neighbors[0]!]);
  };

  const placeRows: TilePlacer['placeRows'] = (firstRow, rowCount, cells) => {
    bandStart = firstRow * columns;
    const bandCells = rowCount * columns;
    if (cells.descriptors.length !== bandCells * length || cells.neighbors.length !== bandCells * cells.k) {
      throw new RangeError(
        `rows ${firstRow}-${firstRow + rowCount - 1}: answers for ${cells.descriptors.length / length} cells, expected ${bandCells}`,
      );
    }
    band = cells;
    startWindow(firstRow, rowCount);
    let order: Uint32Array | null = null;
    if (constrained) {
      // Regret: how much farther the second nearest picture is than the nearest, in the index's units
      // (crops of the best picture are no alternative under the rules).
      const { k, neighbors, distances } = cells;
      const regret = new Float32Array(bandCells);
      for (let cell = 0; cell < bandCells; cell++) {
        const first = cell * k;
        const best = pictureOf(neighbors[first]!);
        let second = 1;
        while (second < k && pictureOf(neighbors[first + second]!) === best) second++;
        regret[cell] = second < k ? Math.sqrt(distances[first + second]!) - Math.sqrt(distances[first]!) : Infinity;
      }
      // Band 0 keeps the seed itself, so a one-band grid is filled in the order it always was.
      order = fillOrder(regret, (rules.seed + bands * 0x9e3779b9) >>> 0);
    }
    bands++;

    for (let inBand = placeRun(0, bandCells, order); inBand < bandCells; inBand = placeRun(inBand + 1, bandCells, order)) {
      const cell = bandStart + (order ? order[inBand]! : inBand);
      place(cell, fartherChoice(cell));
    }
    if (firstRow + rowCount === rows) onProgress?.(cellCount, cellCount);
  };

  /** The window of the band rows [firstRow, firstRow + rowCount) and the `reach` rows above it, with what those hold. */
  const startWindow = (firstRow: number, rowCount: number): void => {
    windowTop = Math.max(0, firstRow - reach);
    windowRows = firstRow + rowCount - windowTop;
    placedTile = new Int32Array(windowRows * columns).fill(-1);
    positions = new Array<number[] | undefined>(pictureCount);
    for (let cell = windowTop * columns; cell < firstRow * columns; cell++) {
      const picture = pictureOf(tiles[cell]!);
      placedTile[cell - windowTop * columns] = picture;
      if (minDistance > 0) (positions[picture] ??= []).push(cell);
    }
  };

  const result = (): Placement => ({ tiles, mirrored, maxUses: uses.reduce((max, value) => Math.max(max, value), 0), relaxed });
  return { tiles, mirrored, placeRows, result };
}

/**
 * The order cells are filled in when rules apply: cells that lose most without their best tile
 * (largest `regret`) go first (measured: 2% lower cell ΔE00 than a plain random order at
 * min-distance 1), in a seeded random order within each whole unit of regret. Nothing spatial, so
 * no region is systematically filled last, as the bottom rows are in raster order.
 */
function fillOrder(regret: Float32Array, seed: number): Uint32Array {
  const order = shuffledOrder(regret.length, seed);
  const position = new Uint32Array(regret.length);
  order.forEach((cell, i) => (position[cell] = i));
  const bucket = Uint16Array.from(regret, (value) => Math.min(1000, Math.floor(value)));
  return order.sort((a, b) => bucket[b]! - bucket[a]! || position[a]! - position[b]!);
}

/** Offsets of the cells within `distance` of a cell (euclidean, excluding the cell itself). */
function discOffsets(distance: number): [number, number][] {
  const offsets: [number, number][] = [];
  const reach = Math.floor(distance);
  for (let dy = -reach; dy <= reach; dy++) {
    for (let dx = -reach; dx <= reach; dx++) if ((dx || dy) && dx * dx + dy * dy <= distance * distance) offsets.push([dx, dy]);
  }
  return offsets;
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
