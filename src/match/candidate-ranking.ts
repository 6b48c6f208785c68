import type { CellAnswers } from './cell-search.js';
import type { RepeatRules } from './repeat-rules.js';
import { colourCost, structureCosts, type MatchMethod, type TileDetail } from '../tiles/descriptors.js';

/** Tiles fetched from the index per cell before ranking by cost; more are fetched when all are blocked. */
export const CANDIDATES = 16;
/**
 * Candidates per cell without a budget: the index ranks by CIELAB distance, the placement by
 * relativeCost, and scarce colours' best matches lay beyond the 16th (docs/design.md).
 */
export const UNBUDGETED_CANDIDATES = 24;

/** Weight of the structure part in relativeCost, against 1 for the colour part. */
const RELATIVE_STRUCTURE = 0.35;
/** Errors below about this many units barely count in relativeCost (the cost grows with the log of error + this). */
const RELATIVE_FLOOR = 0.5;

/**
 * The match cost without a budget, from the colour part (CIEDE2000 of the means) and the
 * structure part (sub-squares and detail): each counts by its ratio to the alternatives', not its
 * size, so that grey, low-contrast targets (colour errors of 1-2, structure of 10-20) and icon
 * sets (every tile busy) trade the same shares as photographs do.
 */
function relativeCost(colour: number, structure: number): number {
  return Math.log(RELATIVE_FLOOR + colour) + RELATIVE_STRUCTURE * Math.log(RELATIVE_FLOOR + structure);
}

const NO_CELLS: CellAnswers = { descriptors: new Float32Array(0), k: 0, neighbors: new Int32Array(0), distances: new Float32Array(0) };

/**
 * Ranks a cell's candidates, each tile as it is and mirrored (a choice, `tile * 2 + mirrored`), by
 * match cost (lab) or by the index's own order (rgb), and picks the best one the rules allow. Given
 * each tile's `detail` (builds without a budget), the cost is relativeCost with the detail added
 * to the structure part; otherwise the sum of the two parts.
 */
export class CandidateRanking {
  private readonly reranked: boolean;
  private readonly variants: number;
  /** The band's cells: their descriptors and index answers. */
  private band = NO_CELLS;
  // The costed choices of the cell being chosen and their costs, unsorted.
  private choices: Int32Array;
  private costs: Float64Array;
  private choiceCount = 0;
  /** A candidate's structure cost as it is and mirrored. */
  private readonly structures = new Float64Array(2);
  // allowedPictures' state of each picture (-1: not allowed), valid where stateStamp holds its call's stamp.
  private readonly stateOf: Int32Array;
  private readonly stateStamp: Uint32Array;
  private stamp = 0;

  constructor(
    private readonly method: MatchMethod,
    private readonly tileDescriptors: Float32Array,
    private readonly rules: RepeatRules,
    private readonly detail?: TileDetail,
  ) {
    this.reranked = method.metric === 'lab';
    this.variants = method.metric === 'lab' && method.mirror ? 2 : 1;
    this.choices = new Int32Array(UNBUDGETED_CANDIDATES);
    this.costs = new Float64Array(UNBUDGETED_CANDIDATES);
    this.stateOf = new Int32Array(rules.pictureCount);
    this.stateStamp = new Uint32Array(rules.pictureCount);
  }

  /** Ranks the cells of `cells` from now on. */
  startBand(cells: CellAnswers): void {
    this.band = cells;
  }

  /** Costs every choice for the band's cell `at` from its index answers. */
  costCandidates(at: number): void {
    const { k, neighbors, descriptors: cells } = this.band;
    const reranked = this.reranked;
    const variants = this.variants;
    const first = at * k;
    const choiceCount = k;
    if (choiceCount > this.choices.length) {
      this.choices = new Int32Array(choiceCount);
      this.costs = new Float64Array(choiceCount);
    }
    const choices = this.choices;
    const costs = this.costs;
    const structures = this.structures;
    let filled = 0;
    for (let i = 0; i < k; i++) {
      const tile = neighbors[first + i]!;
      if (!reranked) {
        choices[filled] = tile * 2;
        costs[filled++] = i;
        continue;
      }
      // The mean colours' cost is the same for a tile and its mirror image, so only the one with
      // the better structure can be chosen (the other's choice is larger, and so loses ties too).
      const colour = colourCost(this.method, cells, at, this.tileDescriptors, tile);
      structureCosts(this.method, cells, at, this.tileDescriptors, tile, structures);
      const variant = variants === 2 && structures[1]! < structures[0]! ? 1 : 0;
      choices[filled] = tile * 2 + variant;
      costs[filled++] = this.cost(tile, colour, structures[variant]!);
    }
    this.choiceCount = filled;
  }

  /**
   * Costs `tiles` (farther tiles, after the index's answers were all blocked) as the choices for the
   * band's cell `at`, in place of its answers.
   */
  costTiles(at: number, tiles: ArrayLike<number>): void {
    if (tiles.length > this.choices.length) {
      this.choices = new Int32Array(tiles.length);
      this.costs = new Float64Array(tiles.length);
    }
    const cells = this.band.descriptors;
    const structures = this.structures;
    for (let i = 0; i < tiles.length; i++) {
      const tile = tiles[i]!;
      const colour = colourCost(this.method, cells, at, this.tileDescriptors, tile);
      structureCosts(this.method, cells, at, this.tileDescriptors, tile, structures);
      const variant = this.variants === 2 && structures[1]! < structures[0]! ? 1 : 0;
      this.choices[i] = tile * 2 + variant;
      this.costs[i] = this.cost(tile, colour, structures[variant]!);
    }
    this.choiceCount = tiles.length;
  }

  /**
   * The costed choices the rules allow in grid cell `cell`, the least costly of each picture (ties:
   * the smaller choice), written from `offset` of `pictures`, `choices` and `costs`, at most `max`;
   * returns how many. Rules are checked against placed cells only: a row plan weighs its own row.
   */
  allowedPictures(cell: number, pictures: Int32Array, choices: Int32Array, costs: Float64Array, offset: number, max: number): number {
    const rules = this.rules;
    const { stateOf, stateStamp } = this;
    const stamp = ++this.stamp;
    let count = 0;
    for (let i = 0; i < this.choiceCount; i++) {
      const choice = this.choices[i]!;
      const cost = this.costs[i]!;
      const picture = rules.pictureOf(choice >> 1);
      if (stateStamp[picture] === stamp) {
        const at = stateOf[picture]!;
        if (at >= 0 && (cost < costs[at]! || (cost === costs[at] && choice < choices[at]!))) {
          choices[at] = choice;
          costs[at] = cost;
        }
        continue;
      }
      stateStamp[picture] = stamp;
      stateOf[picture] = -1;
      if (count === max || !rules.allowed(picture, cell)) continue;
      const at = offset + count;
      stateOf[picture] = at;
      pictures[at] = picture;
      choices[at] = choice;
      costs[at] = cost;
      count++;
    }
    return count;
  }

  /** The cost of `tile` from its colour and structure parts (see the class). */
  private cost(tile: number, colour: number, structure: number): number {
    const detail = this.detail;
    return detail ? relativeCost(colour, structure + this.method.structureWeight * detail.of(tile)) : colour + structure;
  }

  /**
   * The least costly costed choice (ties: the smaller) that the rules allow in grid cell `cell`,
   * or undefined. Picked by selection, not sorting: the first pick is nearly always allowed; a
   * blocked pick rules out every choice of its picture (other crops, the mirror image) at once.
   */
  bestAllowed(cell: number): number | undefined {
    const rules = this.rules;
    const blocking = rules.blocking;
    const choices = this.choices;
    const costs = this.costs;
    const choiceCount = this.choiceCount;
    let blocked = -1;
    for (;;) {
      let best = -1;
      for (let i = 0; i < choiceCount; i++) {
        if (choices[i]! < 0) continue;
        if (blocked >= 0 && rules.pictureOf(choices[i]! >> 1) === blocked) {
          choices[i] = -1;
          continue;
        }
        if (best < 0 || costs[i]! < costs[best]! || (costs[i] === costs[best] && choices[i]! < choices[best]!)) best = i;
      }
      if (best < 0) return undefined;
      const choice = choices[best]!;
      if (!blocking) return choice;
      const picture = rules.pictureOf(choice >> 1);
      if (rules.allowed(picture, cell)) return choice;
      blocked = picture;
    }
  }

  /** The least costly choice among `tiles` for the band's cell `at`, each tile as it is and mirrored. */
  cheapest(at: number, tiles: ArrayLike<number>): number {
    const cells = this.band.descriptors;
    let best = tiles[0]! * 2;
    let bestCost = Infinity;
    for (let i = 0; i < tiles.length; i++) {
      const tile = tiles[i]!;
      const colour = colourCost(this.method, cells, at, this.tileDescriptors, tile);
      structureCosts(this.method, cells, at, this.tileDescriptors, tile, this.structures);
      for (let variant = 0; variant < this.variants; variant++) {
        const cost = this.cost(tile, colour, this.structures[variant]!);
        if (cost < bestCost) {
          best = tile * 2 + variant;
          bestCost = cost;
        }
      }
    }
    return best;
  }
}
