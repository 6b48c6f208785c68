import { UNBUDGETED_CANDIDATES, type CandidateRanking } from './candidate-ranking.js';
import type { RepeatRules } from './repeat-rules.js';

/** Pictures a cell weighs at most: every picture among its ranked answers. */
const STATES = UNBUDGETED_CANDIDATES;
/** States a cell keeps for the plan: its cheapest three (see keepCheapest). */
const KEPT = 3;

/**
 * Whether rows can be planned whole under a min-distance: below 2 the rule ties a cell to its left
 * and right neighbours only within its row (the rows above are already placed), so a row is a chain.
 */
export function rowPlannable(minDistance: number, maxUses: number, cells: number): boolean {
  return minDistance >= 1 && minDistance < 2 && maxUses >= cells;
}

/**
 * Plans a row of cells at once, without a budget and under a min-distance below 2: the choices of
 * least total cost in which no picture is beside itself (a Viterbi pass over the row, each cell's
 * states being the pictures the rows above allow it). Filled cell by cell, the first cells took a
 * scarce colour's best picture wherever it fitted and left their neighbours only far colours.
 * `diagonalCost` is added to a picture diagonally next to itself in the row above (0: none).
 */
export class RowPlanner {
  private pictures = new Int32Array(0);
  private choices = new Int32Array(0);
  private costs = new Float64Array(0);
  /** Total cost of the best plan of the row up to each state, and the state before it. */
  private totals = new Float64Array(0);
  private from = new Int32Array(0);
  private counts = new Uint8Array(0);

  constructor(
    private readonly ranking: CandidateRanking,
    private readonly rules: RepeatRules,
    private readonly diagonalCost: number,
    /** Costs farther tiles for a cell whose answers leave it fewer than two pictures (see CandidateRanking.costTiles). */
    private readonly costFarther: (at: number, cell: number) => void,
  ) {}

  /**
   * The choices (tile * 2 + mirrored) for the `columns` cells of the band's row starting at grid
   * cell `rowStart`, or undefined when no plan keeps the rule (an index of a few pictures).
   */
  plan(rowStart: number, columns: number): Int32Array | undefined {
    this.reserve(columns);
    const { ranking, rules, diagonalCost, pictures, choices, costs, totals, from, counts } = this;
    for (let x = 0; x < columns; x++) {
      const offset = x * KEPT;
      let count = ranking.cheapestAllowed(x, rowStart + x, KEPT, diagonalCost, pictures, choices, costs, offset);
      // Two pictures always leave a choice beside any neighbour.
      if (count < 2) {
        // Farther tiles are weighed in the room after the row's states, and the cheapest kept.
        const scratch = columns * KEPT;
        this.costFarther(x, rowStart + x);
        count = ranking.allowedPictures(rowStart + x, pictures, choices, costs, scratch, STATES);
        if (diagonalCost > 0) {
          for (let s = scratch; s < scratch + count; s++) if (rules.diagonallyAbove(pictures[s]!, rowStart + x)) costs[s]! += diagonalCost;
        }
        count = this.keepCheapest(scratch, count);
        pictures.copyWithin(offset, scratch, scratch + count);
        choices.copyWithin(offset, scratch, scratch + count);
        costs.copyWithin(offset, scratch, scratch + count);
      }
      if (count === 0) return undefined;
      counts[x] = count;
    }
    // Forward: each state's best total over the previous cell's states of another picture, which
    // is the previous cell's best, or its second best when the best is the same picture.
    for (let s = 0; s < counts[0]!; s++) {
      totals[s] = costs[s]!;
      from[s] = -1;
    }
    for (let x = 1; x < columns; x++) {
      const previous = (x - 1) * KEPT;
      let best = -1;
      let second = -1;
      for (let s = previous; s < previous + counts[x - 1]!; s++) {
        // A cell's states are of different pictures.
        if (best < 0 || totals[s]! < totals[best]!) {
          second = best;
          best = s;
        } else if (second < 0 || totals[s]! < totals[second]!) {
          second = s;
        }
      }
      const offset = x * KEPT;
      for (let s = offset; s < offset + counts[x]!; s++) {
        const before = pictures[s] === pictures[best] ? second : best;
        totals[s] = before < 0 ? Infinity : costs[s]! + totals[before]!;
        from[s] = before;
      }
    }
    const last = (columns - 1) * KEPT;
    let state = -1;
    for (let s = last; s < last + counts[columns - 1]!; s++) if (state < 0 || totals[s]! < totals[state]!) state = s;
    if (totals[state] === Infinity) return undefined;
    const planned = new Int32Array(columns);
    for (let x = columns - 1; x >= 0; x--) {
      planned[x] = choices[state]!;
      state = from[state]!;
    }
    return planned;
  }

  /**
   * Moves a cell's KEPT cheapest states (of `count` from `offset`) to its first places and gives how
   * many it keeps: a plan never needs more, as a cell's two neighbours in the row rule out two.
   */
  private keepCheapest(offset: number, count: number): number {
    const { pictures, choices, costs } = this;
    const kept = Math.min(KEPT, count);
    for (let place = offset; place < offset + kept; place++) {
      let cheapest = place;
      for (let s = place + 1; s < offset + count; s++) {
        if (costs[s]! < costs[cheapest]! || (costs[s] === costs[cheapest] && choices[s]! < choices[cheapest]!)) cheapest = s;
      }
      if (cheapest === place) continue;
      const picture = pictures[cheapest]!;
      const choice = choices[cheapest]!;
      const cost = costs[cheapest]!;
      pictures[cheapest] = pictures[place]!;
      choices[cheapest] = choices[place]!;
      costs[cheapest] = costs[place]!;
      pictures[place] = picture;
      choices[place] = choice;
      costs[place] = cost;
    }
    return kept;
  }

  /** Room for rows of `columns` cells. */
  private reserve(columns: number): void {
    if (this.counts.length >= columns) return;
    // KEPT states a cell, then room for one cell's farther tiles.
    const states = columns * KEPT + STATES;
    this.pictures = new Int32Array(states);
    this.choices = new Int32Array(states);
    this.costs = new Float64Array(states);
    this.totals = new Float64Array(states);
    this.from = new Int32Array(states);
    this.counts = new Uint8Array(columns);
  }
}
