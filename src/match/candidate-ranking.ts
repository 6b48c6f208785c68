import type { CellAnswers } from './cell-search.js';
import type { RepeatRules } from './repeat-rules.js';
import { colourCost, structureCosts, type MatchMethod } from '../tiles/descriptors.js';

/** Tiles fetched from the index per cell before ranking by cost; more are fetched when all are blocked. */
export const CANDIDATES = 16;

const NO_CELLS: CellAnswers = { descriptors: new Float32Array(0), k: 0, neighbors: new Int32Array(0), distances: new Float32Array(0) };

/**
 * Ranks a cell's candidates, each tile as it is and mirrored (a choice, `tile * 2 + mirrored`), by
 * match cost (lab) or by the index's own order (rgb), and picks the best one the rules allow.
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

  constructor(
    private readonly method: MatchMethod,
    private readonly tileDescriptors: Float32Array,
    private readonly rules: RepeatRules,
  ) {
    this.reranked = method.metric === 'lab';
    this.variants = method.metric === 'lab' && method.mirror ? 2 : 1;
    this.choices = new Int32Array(CANDIDATES * this.variants);
    this.costs = new Float64Array(CANDIDATES * this.variants);
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
    const choiceCount = k * (reranked ? variants : 1);
    this.choiceCount = choiceCount;
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
      // The mean colours' cost is the same for a tile and its mirror image: computed once.
      const colour = colourCost(this.method, cells, at, this.tileDescriptors, tile);
      structureCosts(this.method, cells, at, this.tileDescriptors, tile, structures);
      for (let variant = 0; variant < variants; variant++) {
        choices[filled] = tile * 2 + variant;
        costs[filled++] = colour + structures[variant]!;
      }
    }
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
        const cost = colour + this.structures[variant]!;
        if (cost < bestCost) {
          best = tile * 2 + variant;
          bestCost = cost;
        }
      }
    }
    return best;
  }
}
