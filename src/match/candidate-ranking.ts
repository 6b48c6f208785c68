import type { CellAnswers } from './cell-search.js';
import type { RepeatRules } from './repeat-rules.js';
import { colourCost, descriptorLength, structureCosts, type MatchMethod, type TileDetail } from '../tiles/descriptors.js';

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
  // cheapestAllowed's answers: lower bounds, their order, structure parts and mirroring.
  private bounds = new Float64Array(UNBUDGETED_CANDIDATES);
  private order = new Int32Array(UNBUDGETED_CANDIDATES);
  private structureParts = new Float64Array(UNBUDGETED_CANDIDATES);
  private variantOf = new Uint8Array(UNBUDGETED_CANDIDATES);
  /** Values of a descriptor. */
  private readonly length: number;
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
    this.length = descriptorLength(method);
    this.stateOf = new Int32Array(rules.pictureCount);
    this.stateStamp = new Uint32Array(rules.pictureCount);
  }

  /** Ranks the cells of `cells` from now on. */
  startBand(cells: CellAnswers): void {
    this.band = cells;
  }

  /** Costs every choice for the band's cell `at` from its index answers. */
  costCandidates(at: number): void {
    const { k, neighbors } = this.band;
    const reranked = this.reranked;
    const first = at * k;
    if (k > this.choices.length) {
      this.choices = new Int32Array(k);
      this.costs = new Float64Array(k);
    }
    for (let i = 0; i < k; i++) {
      const tile = neighbors[first + i]!;
      if (reranked) this.costChoice(at, tile, i);
      else {
        this.choices[i] = tile * 2;
        this.costs[i] = i;
      }
    }
    this.choiceCount = k;
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
    for (let i = 0; i < tiles.length; i++) this.costChoice(at, tiles[i]!, i);
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

  /**
   * The `kept` least costly pictures the rules allow in grid cell `cell` (the band's cell `at`)
   * among its index answers, as allowedPictures writes them, cheapest first, each with
   * `diagonalCost` added where the rules find it diagonally above (relative costs only). Answers
   * are costed in the order of a lower bound of their cost (the colour part from lightness alone:
   * CIEDE2000 is at least |ΔL| / SL), and those whose bound cannot beat the kept are never
   * costed in full. Only with `detail` (relative costs).
   */
  cheapestAllowed(
    at: number,
    cell: number,
    kept: number,
    diagonalCost: number,
    pictures: Int32Array,
    choices: Int32Array,
    costs: Float64Array,
    offset: number,
  ): number {
    const { k, neighbors, descriptors: cells } = this.band;
    const rules = this.rules;
    const length = this.length;
    if (k > this.bounds.length) this.growAnswers(k);
    const { bounds, order, structureParts, variantOf, structures } = this;
    const first = at * k;
    const cellL = cells[at * length]!;
    for (let i = 0; i < k; i++) {
      const tile = neighbors[first + i]!;
      structureCosts(this.method, cells, at, this.tileDescriptors, tile, structures);
      const variant = this.variants === 2 && structures[1]! < structures[0]! ? 1 : 0;
      variantOf[i] = variant;
      // relativeCost in two parts: the structure part, kept for the full cost, and the colour part.
      structureParts[i] =
        RELATIVE_STRUCTURE * Math.log(RELATIVE_FLOOR + structures[variant]! + this.method.structureWeight * this.detail!.of(tile));
      const tileL = this.tileDescriptors[tile * length]!;
      const mean = (cellL + tileL) / 2 - 50;
      const shift = mean * mean;
      const lightness = Math.abs(cellL - tileL) / (1 + (0.015 * shift) / Math.sqrt(20 + shift));
      bounds[i] = Math.log(RELATIVE_FLOOR + lightness * (1 - 1e-9)) + structureParts[i]!;
      order[i] = i;
    }
    // Insertion sort: a few dozen answers.
    for (let i = 1; i < k; i++) {
      const item = order[i]!;
      let j = i - 1;
      for (; j >= 0 && bounds[order[j]!]! > bounds[item]!; j--) order[j + 1] = order[j]!;
      order[j + 1] = item;
    }
    let count = 0;
    for (let n = 0; n < k; n++) {
      const i = order[n]!;
      if (count === kept && bounds[i]! >= costs[offset + kept - 1]!) break;
      const tile = neighbors[first + i]!;
      const picture = rules.pictureOf(tile);
      if (!rules.allowed(picture, cell)) continue;
      const choice = tile * 2 + variantOf[i]!;
      let cost = Math.log(RELATIVE_FLOOR + colourCost(this.method, cells, at, this.tileDescriptors, tile)) + structureParts[i]!;
      if (diagonalCost > 0 && rules.diagonallyAbove(picture, cell)) cost += diagonalCost;
      // The kept list, cheapest first (ties: the smaller choice): a picture already in it keeps its cheaper crop.
      let held = offset;
      while (held < offset + count && pictures[held] !== picture) held++;
      if (held < offset + count) {
        if (!(cost < costs[held]! || (cost === costs[held] && choice < choices[held]!))) continue;
        for (let j = held; j < offset + count - 1; j++) {
          pictures[j] = pictures[j + 1]!;
          choices[j] = choices[j + 1]!;
          costs[j] = costs[j + 1]!;
        }
        count--;
      } else if (count === kept) {
        const last = offset + kept - 1;
        if (!(cost < costs[last]! || (cost === costs[last] && choice < choices[last]!))) continue;
        count--;
      }
      let place = offset + count;
      for (; place > offset && (costs[place - 1]! > cost || (costs[place - 1] === cost && choices[place - 1]! > choice)); place--) {
        pictures[place] = pictures[place - 1]!;
        choices[place] = choices[place - 1]!;
        costs[place] = costs[place - 1]!;
      }
      pictures[place] = picture;
      choices[place] = choice;
      costs[place] = cost;
      count++;
    }
    return count;
  }

  /** Room for `k` answers in cheapestAllowed. */
  private growAnswers(k: number): void {
    this.bounds = new Float64Array(k);
    this.order = new Int32Array(k);
    this.structureParts = new Float64Array(k);
    this.variantOf = new Uint8Array(k);
  }

  /** The cost of `tile` from its colour and structure parts (see the class). */
  /**
   * Costs `tile` for the band's cell `at` as choice i. The mean colours' cost is the same for a
   * tile and its mirror image, so only the one with the better structure can be chosen (the
   * other's choice is larger, and so loses ties, as costs that round equal, too).
   */
  private costChoice(at: number, tile: number, i: number): void {
    const structures = this.structures;
    const cells = this.band.descriptors;
    const colour = colourCost(this.method, cells, at, this.tileDescriptors, tile);
    structureCosts(this.method, cells, at, this.tileDescriptors, tile, structures);
    const straight = this.cost(tile, colour, structures[0]!);
    const mirrored = this.variants === 2 ? this.cost(tile, colour, structures[1]!) : Infinity;
    this.choices[i] = tile * 2 + (mirrored < straight ? 1 : 0);
    this.costs[i] = Math.min(straight, mirrored);
  }

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
