import type { CandidateLists } from './candidate-lists.js';
import { TimeSlicer } from '../yield.js';

/** What the assignment may do with each picture. */
export interface AuctionPictures {
  /** Uses each picture may have: -1 = no limit, 0 = none. */
  capacity: Int32Array;
  /**
   * Written by the assignment: the price of each picture's cheapest use, Infinity for a picture
   * without uses; `AuctionHooks.priced` tells of each change.
   */
  price: Float64Array;
}

/** What the assignment asks of its caller as it goes. */
export interface AuctionHooks {
  /** `pictures.price[picture]` changed. */
  priced(picture: number): void;
  /** A phase starts: prices may have fallen in the last (see offerUnheld); none after the last phase. */
  phaseStarts(): void;
  /**
   * Adds to group `group`'s list pictures not on it that are cheapest at current prices, and sets
   * its `outside` to a bound on the cost + price of any picture still not on it; false when it
   * lists every picture already.
   */
  farther(group: number): boolean;
}

/** Kinds of use a unit can hold. */
const NORMAL = 0;
const UNLIMITED = 1;
/** (A picture not on the group's list: its list is extended.) */
const ELSEWHERE = 2;

/** `held` of a unit that holds nothing. */
const NOTHING = -1;

/** Each scaling phase divides the bid increment by this. */
const SCALING = 5;
/** Elsewhere is chosen only when better by this many increments: lists grow as prices settle, not with every rise. */
const ELSEWHERE_SLACK = 4;

/**
 * The assignment of units (cells) to pictures under budgets, by Bertsekas' auction with epsilon
 * scaling, for the transportation problem: units come in groups that share their costs (cells of
 * about one colour), and a group with units holding nothing bids for as many uses at once,
 * raising each use's price to where it is no better than the next best use, whose holder bids
 * again. Each use of a picture with a budget is an object with a price of its own (a heap per
 * picture); pictures without a limit are never priced. Each group bids over a list of candidates,
 * extended when a picture not on it may be better (its `outside` bound). After each phase the uses
 * that lost their holder offer themselves (the reverse auction), so that the problem's inequality
 * constraints end settled.
 * Ends within `units x finalEpsilon` of the optimum over the lists. Deterministic: groups bid in
 * the order given, then as their units are outbid.
 */
export class Auction {
  /** The picture each unit holds (NOTHING while it has none). */
  readonly held: Int32Array;
  /** The list entry each unit holds (see CandidateLists, per group). */
  readonly entry: Int32Array;
  private readonly kind: Uint8Array;
  /** Heap position of the use a unit holds (NORMAL). */
  private readonly slot: Int32Array;
  /** Picture j's priced uses are heap positions [heapBase[j], heapBase[j + 1]): a min-heap by price. */
  private readonly heapBase: Int32Array;
  private readonly heapPrice: Float64Array;
  private readonly heapHolder: Int32Array;
  /** The group of each unit, and each group's units: group g's are units[unitStart[g] .. unitStart[g + 1]). */
  private readonly groupOf: Int32Array;
  /** Units holding nothing per group; groups with some wait in the queue. */
  private readonly idle: Int32Array;
  /** Per group, for offers: whether its units changed, its unit of lowest value, that value and the next lowest. */
  private readonly stale: Uint8Array;
  private readonly lowestUnit: Int32Array;
  private readonly lowestValue: Float64Array;
  private readonly nextLowestValue: Float64Array;
  /** The outcome of scanLowest. */
  private readonly scanned = { unit: -1, lowest: Infinity, nextLowest: Infinity };
  private readonly queued: Uint8Array;
  private readonly queue: Int32Array;
  private queueHead = 0;
  private queueLength = 0;
  private epsilon = 1;
  // The candidate uses of the group bidding: value, list entry, kind and heap position, and their ranking.
  private candidateValue = new Float64Array(64);
  private candidateEntry = new Int32Array(64);
  private candidateKind = new Uint8Array(64);
  private candidateSlot = new Int32Array(64);
  private candidateOrder = new Uint32Array(64);
  private candidates = 0;
  private slotPrices = new Int32Array(16);
  /** Pictures whose uses a bid took (their heaps are mended after it). */
  private readonly touched: number[] = [];

  constructor(
    private readonly lists: CandidateLists,
    private readonly pictures: AuctionPictures,
    private readonly hooks: AuctionHooks,
    /** Groups' units: group g's are units[unitStart[g] .. unitStart[g + 1]); the groups bid in their order first. */
    private readonly unitStart: Int32Array,
    private readonly units: Int32Array,
  ) {
    const unitCount = units.length;
    const groupCount = unitStart.length - 1;
    const count = pictures.capacity.length;
    this.held = new Int32Array(unitCount).fill(NOTHING);
    this.entry = new Int32Array(unitCount).fill(-1);
    this.kind = new Uint8Array(unitCount);
    this.slot = new Int32Array(unitCount);
    this.groupOf = new Int32Array(unitCount);
    for (let group = 0; group < groupCount; group++) {
      for (let i = unitStart[group]!; i < unitStart[group + 1]!; i++) this.groupOf[units[i]!] = group;
    }
    this.heapBase = new Int32Array(count + 1);
    for (let picture = 0; picture < count; picture++) {
      const capacity = pictures.capacity[picture]!;
      // More uses than units is no limit.
      if (capacity >= unitCount) pictures.capacity[picture] = -1;
      this.heapBase[picture + 1] = this.heapBase[picture]! + (capacity > 0 && capacity < unitCount ? capacity : 0);
    }
    this.heapPrice = new Float64Array(this.heapBase[count]!);
    this.heapHolder = new Int32Array(this.heapBase[count]!).fill(NOTHING);
    this.idle = new Int32Array(groupCount);
    this.stale = new Uint8Array(groupCount).fill(1);
    this.lowestUnit = new Int32Array(groupCount);
    this.lowestValue = new Float64Array(groupCount);
    this.nextLowestValue = new Float64Array(groupCount);
    this.queued = new Uint8Array(groupCount);
    this.queue = new Int32Array(groupCount);
    for (let group = 0; group < groupCount; group++) {
      this.idle[group] = unitStart[group + 1]! - unitStart[group]!;
      if (this.idle[group]! > 0) this.enqueue(group);
    }
    for (let picture = 0; picture < count; picture++) this.reprice(picture);
  }

  /**
   * Runs the phases from `firstEpsilon` down to `finalEpsilon` (each SCALING times smaller), or
   * to `share` of the mean cost the units hold once a phase is over if that is more (the result is
   * then within that share of the optimum), pausing for the event loop (see TimeSlicer) and
   * stopping with `signal`'s reason.
   */
  async solve(firstEpsilon: number, finalEpsilon: number, share: number, signal?: AbortSignal): Promise<void> {
    const slicer = new TimeSlicer(signal);
    for (let epsilon = Math.max(firstEpsilon, finalEpsilon); ; epsilon = Math.max(finalEpsilon, epsilon / SCALING)) {
      await this.phase(epsilon, slicer);
      finalEpsilon = Math.max(finalEpsilon, (share * this.totalCost()) / this.held.length);
      if (epsilon <= finalEpsilon) return;
    }
  }

  /**
   * One phase at `epsilon`: units whose use is no longer within epsilon of their group's best are
   * released (their uses keep their prices), groups bid until every unit holds one, then uses left
   * without a holder offer themselves (see offerUnheld). Returns the number of bids.
   */
  async phase(epsilon: number, slicer = new TimeSlicer()): Promise<number> {
    this.epsilon = epsilon;
    this.hooks.phaseStarts();
    await this.releaseUnsettled(slicer);
    let bids = 0;
    while (this.queueLength > 0) {
      const group = this.queue[this.queueHead]!;
      this.queueHead = this.queueHead + 1 === this.queue.length ? 0 : this.queueHead + 1;
      this.queueLength--;
      this.queued[group] = 0;
      this.bid(group);
      if ((++bids & 63) === 0 && slicer.due) await slicer.pause();
    }
    await this.offerUnheld(slicer);
    return bids;
  }

  /** The total cost of what the units hold. */
  totalCost(): number {
    let total = 0;
    for (let unit = 0; unit < this.held.length; unit++) if (this.held[unit] !== NOTHING) total += this.lists.cost[this.entry[unit]!]!;
    return total;
  }

  /** Releases every unit whose use is worse than its group's best choice by more than epsilon. */
  private async releaseUnsettled(slicer: TimeSlicer): Promise<void> {
    const { unitStart, units } = this;
    for (let group = 0; group < unitStart.length - 1; group++) {
      this.gather(group, 1, false);
      if (this.candidates === 0) continue;
      const best = this.candidateValue[this.candidateOrder[0]!]!;
      for (let i = unitStart[group]!; i < unitStart[group + 1]!; i++) {
        const unit = units[i]!;
        if (this.held[unit] !== NOTHING && this.ownValue(unit) < best - this.epsilon) this.release(unit);
      }
      if ((group & 255) === 255 && slicer.due) await slicer.pause();
    }
  }

  /**
   * Collects the uses on `group`'s list (each picture's `wanted` cheapest, one use of a picture
   * without a limit, and elsewhere, which stand for as many as wanted) with their
   * value to the group, ranked best first into candidateOrder (only the best `wanted` + 1 in order).
   * `bidding`: leaves out uses the group's own units hold.
   */
  private gather(group: number, wanted: number, bidding: boolean): void {
    const { lists, heapBase, heapPrice } = this;
    const { picture: entryPicture, cost: entryCost } = lists;
    const { capacity } = this.pictures;
    this.candidates = 0;
    for (let e = lists.start[group]!, end = lists.end[group]!; e < end; e++) {
      const picture = entryPicture[e]!;
      const cost = entryCost[e]!;
      const limit = capacity[picture]!;
      if (limit < 0) this.addCandidate(-cost, e, UNLIMITED, -1);
      else if (limit > 0) {
        const base = heapBase[picture]!;
        if (this.slotPrices.length < limit) this.slotPrices = new Int32Array(limit);
        if (wanted === 1 && !this.ownedBy(base, group, bidding)) {
          this.addCandidate(-cost - heapPrice[base]!, e, NORMAL, base);
          // The next cheapest use ranks the margin of the first.
          if (limit > 1) {
            const next = limit > 2 && heapPrice[base + 2]! < heapPrice[base + 1]! ? base + 2 : base + 1;
            this.addCandidate(-cost - heapPrice[next]!, e, NORMAL, next);
          }
        } else {
          // The `wanted` + 1 cheapest uses not held by the group, in price order (the heaps are small: a budget each).
          const positions = this.slotPrices;
          let found = 0;
          for (let at = base; at < heapBase[picture + 1]!; at++) {
            if (this.ownedBy(at, group, bidding)) continue;
            // Insertion by price (then position): the heaps are small.
            let i = found++;
            while (
              i > 0 &&
              (heapPrice[positions[i - 1]!]! > heapPrice[at]! || (heapPrice[positions[i - 1]!] === heapPrice[at] && positions[i - 1]! > at))
            ) {
              positions[i] = positions[i - 1]!;
              i--;
            }
            positions[i] = at;
          }
          for (let i = 0; i < Math.min(found, wanted + 1); i++)
            this.addCandidate(-cost - heapPrice[positions[i]!]!, e, NORMAL, positions[i]!);
        }
      }
    }
    const outside = lists.outside[group]!;
    if (outside < Infinity) this.addCandidate(-outside - ELSEWHERE_SLACK * this.epsilon, -1, ELSEWHERE, -1);
    this.rank(wanted + 1);
  }

  /** Whether heap position `at` is held by a unit of `group` (and that counts). */
  private ownedBy(at: number, group: number, bidding: boolean): boolean {
    const holder = this.heapHolder[at]!;
    return bidding && holder >= 0 && this.groupOf[holder] === group;
  }

  private addCandidate(value: number, entry: number, kind: number, slot: number): void {
    if (this.candidates === this.candidateValue.length) {
      const size = this.candidates * 2;
      const grow = <T extends Float64Array | Int32Array | Uint8Array | Uint32Array>(array: T, next: T): T => {
        next.set(array);
        return next;
      };
      this.candidateValue = grow(this.candidateValue, new Float64Array(size));
      this.candidateEntry = grow(this.candidateEntry, new Int32Array(size));
      this.candidateKind = grow(this.candidateKind, new Uint8Array(size));
      this.candidateSlot = grow(this.candidateSlot, new Int32Array(size));
      this.candidateOrder = new Uint32Array(size);
    }
    const at = this.candidates++;
    this.candidateValue[at] = value;
    this.candidateEntry[at] = entry;
    this.candidateKind[at] = kind;
    this.candidateSlot[at] = slot;
  }

  /** Puts the best `wanted` candidates, best first (ties: the earlier), at the start of candidateOrder. */
  private rank(wanted: number): void {
    const order = this.candidateOrder;
    const count = this.candidates;
    for (let i = 0; i < count; i++) order[i] = i;
    const top = Math.min(wanted, count);
    // Quickselect the best `top` to the front, then sort them.
    let low = 0;
    let high = count - 1;
    while (high > low && top - 1 < high && top - 1 >= low) {
      const pivot = order[(low + high) >>> 1]!;
      let i = low;
      let j = high;
      while (i <= j) {
        while (this.before(order[i]!, pivot)) i++;
        while (this.before(pivot, order[j]!)) j--;
        if (i <= j) {
          const swap = order[i]!;
          order[i++] = order[j]!;
          order[j--] = swap;
        }
      }
      if (top - 1 <= j) high = j;
      else if (top - 1 >= i) low = i;
      else break;
    }
    if (top > 32) {
      const values = this.candidateValue;
      order.subarray(0, top).sort((a, b) => values[b]! - values[a]! || a - b);
      return;
    }
    for (let i = 1; i < top; i++) {
      const candidate = order[i]!;
      let k = i;
      while (k > 0 && this.before(candidate, order[k - 1]!)) {
        order[k] = order[k - 1]!;
        k--;
      }
      order[k] = candidate;
    }
  }

  /** Whether candidate a ranks before b: of more value, or as much and gathered earlier. */
  private before(a: number, b: number): boolean {
    const values = this.candidateValue;
    return values[a]! > values[b]! || (values[a] === values[b] && a < b);
  }

  /**
   * Group `group` bids for a use for each of its idle units: the best of its candidates, each
   * priced up to where it is no better than the first one not taken (less epsilon); a candidate
   * elsewhere first extends the list. Candidates without a limit or elsewhere stand for any number.
   */
  private bid(group: number): void {
    for (;;) {
      const wanted = this.idle[group]!;
      if (wanted === 0) return;
      this.gather(group, wanted, true);
      const { candidateOrder: order, candidateValue: values, candidateKind: kinds } = this;
      if (this.candidates === 0) throw new Error(`no picture left for cells of group ${group}`);
      // The uses taken: the best `wanted`, a use without a limit or elsewhere standing for all that follow.
      let taken = 0;
      let last = -1;
      while (taken < wanted && last + 1 < this.candidates) {
        last++;
        const kind = kinds[order[last]!]!;
        taken += kind === UNLIMITED || kind === ELSEWHERE ? wanted - taken : 1;
      }
      const firstKind = kinds[order[0]!]!;
      if (firstKind === ELSEWHERE || this.elsewhereAmong(last)) {
        if (!this.hooks.farther(group)) this.lists.outside[group] = Infinity;
        continue;
      }
      // The next best use: the first not taken, or more of one without a limit that was.
      const next =
        kinds[order[last]!] === UNLIMITED ? values[order[last]!]! : last + 1 < this.candidates ? values[order[last + 1]!]! : -Infinity;
      const touched = this.touched;
      touched.length = 0;
      for (let i = 0; i <= last && this.idle[group]! > 0; i++) {
        const candidate = order[i]!;
        const kind = kinds[candidate]!;
        // (With no next best, any raise keeps the unit within epsilon of its best: the least.)
        const margin = next === -Infinity ? 0 : Math.max(0, values[candidate]! - next);
        const copies = kind === UNLIMITED ? this.idle[group]! : 1;
        for (let copy = 0; copy < copies; copy++) this.take(group, candidate, margin + this.epsilon);
      }
      // Heaps are mended once every use is taken: the candidates hold heap positions.
      for (const picture of touched) {
        this.heapify(picture);
        this.reprice(picture);
      }
      return;
    }
  }

  /** Whether one of the first `last` + 1 ranked candidates is elsewhere. */
  private elsewhereAmong(last: number): boolean {
    for (let i = 0; i <= last; i++) if (this.candidateKind[this.candidateOrder[i]!] === ELSEWHERE) return true;
    return false;
  }

  /** An idle unit of `group` takes candidate `candidate`, raising its price by `increment`; its holder becomes idle. */
  private take(group: number, candidate: number, increment: number): void {
    const unit = this.idleUnit(group);
    const entry = this.candidateEntry[candidate]!;
    const kind = this.candidateKind[candidate]!;
    const picture = this.lists.picture[entry]!;
    let evicted = NOTHING;
    if (kind === NORMAL) {
      const at = this.candidateSlot[candidate]!;
      evicted = this.heapHolder[at]!;
      this.heapPrice[at]! += increment;
      this.heapHolder[at] = unit;
      this.slot[unit] = at;
      if (!this.touched.includes(picture)) this.touched.push(picture);
    }
    this.held[unit] = picture;
    this.entry[unit] = entry;
    this.kind[unit] = kind;
    this.idle[group]!--;
    this.stale[group] = 1;
    if (evicted >= 0) this.becomeIdle(evicted);
  }

  /** An idle unit of `group`. */
  private idleUnit(group: number): number {
    for (let i = this.unitStart[group]!; i < this.unitStart[group + 1]!; i++)
      if (this.held[this.units[i]!] === NOTHING) return this.units[i]!;
    throw new Error(`group ${group} has no idle unit`);
  }

  /** `unit` was outbid: it holds nothing and its group bids again. */
  private becomeIdle(unit: number): void {
    this.held[unit] = NOTHING;
    this.stale[this.groupOf[unit]!] = 1;
    const group = this.groupOf[unit]!;
    this.idle[group]!++;
    this.enqueue(group);
  }

  /** `unit` gives up its use, which keeps its price, and its group bids again. */
  private release(unit: number): void {
    if (this.kind[unit] === NORMAL) this.heapHolder[this.slot[unit]!] = NOTHING;
    this.becomeIdle(unit);
  }

  private enqueue(group: number): void {
    if (this.queued[group]) return;
    this.queued[group] = 1;
    let at = this.queueHead + this.queueLength;
    if (at >= this.queue.length) at -= this.queue.length;
    this.queue[at] = group;
    this.queueLength++;
  }

  /** What the use `unit` holds is worth to it at its current price. */
  private ownValue(unit: number): number {
    const kind = this.kind[unit];
    const cost = this.lists.cost[this.entry[unit]!]!;
    if (kind === NORMAL) return -cost - this.heapPrice[this.slot[unit]!]!;
    return -cost;
  }

  /** Sets `price[picture]` from its uses' prices and tells the hooks. */
  private reprice(picture: number): void {
    const { capacity, price } = this.pictures;
    const limit = capacity[picture]!;
    const lowest = limit < 0 ? 0 : limit > 0 ? this.heapPrice[this.heapBase[picture]!]! : Infinity;
    if (price[picture] === lowest) return;
    price[picture] = lowest;
    this.hooks.priced(picture);
  }

  /**
   * Ends a phase: a use no unit holds must cost nothing (in an optimum, a picture that is not used
   * up is free), so each one that still has a price offers itself, Bertsekas' reverse auction: to
   * the unit it is worth most to, at the price the next best would pay, which leaves its own use
   * to offer itself in turn; or, when no unit wants it, it becomes free (with the picture's other
   * uses). Keeps every unit within epsilon of its group's best choice.
   */
  private async offerUnheld(slicer: TimeSlicer): Promise<void> {
    const count = this.pictures.capacity.length;
    const lists = this.lists;
    const pending: number[] = [];
    for (let picture = 0; picture < count; picture++) if (this.unheldPriced(picture) >= 0) pending.push(picture);
    if (pending.length === 0) return;
    // Which groups list each picture: entries byPicture[from[p] .. from[p + 1]).
    const groups = lists.cells;
    const from = new Int32Array(count + 1);
    for (let group = 0; group < groups; group++)
      for (let e = lists.start[group]!; e < lists.end[group]!; e++) from[lists.picture[e]! + 1]!++;
    for (let picture = 0; picture < count; picture++) from[picture + 1]! += from[picture]!;
    const next = from.slice(0, count);
    const byPicture = new Int32Array(from[count]!);
    const groupOfEntry = new Int32Array(lists.size);
    for (let group = 0; group < groups; group++) {
      for (let e = lists.start[group]!; e < lists.end[group]!; e++) {
        byPicture[next[lists.picture[e]!]!++] = e;
        groupOfEntry[e] = group;
      }
    }
    let offers = 0;
    while (pending.length > 0) {
      const picture = pending.pop()!;
      const at = this.unheldPriced(picture);
      if (at < 0) continue;
      const left = this.offer(picture, at, from, byPicture, groupOfEntry);
      if (left !== undefined) pending.push(left);
      if (this.unheldPriced(picture) >= 0) pending.push(picture);
      if ((++offers & 255) === 0 && slicer.due) await slicer.pause();
    }
  }

  /** Finds `group`'s unit of lowest value, that value and the next lowest (see offer). */
  private refreshLowest(group: number): void {
    this.scanLowest(group, NOTHING);
    this.lowestUnit[group] = this.scanned.unit;
    this.lowestValue[group] = this.scanned.lowest;
    this.nextLowestValue[group] = this.scanned.nextLowest;
    this.stale[group] = 0;
  }

  /**
   * Into `scanned`: `group`'s unit of lowest value (one holding nothing is lowest of all), that
   * value and the next lowest, leaving out units that hold a use of `picture`.
   */
  private scanLowest(group: number, picture: number): void {
    let unit = -1;
    let lowest = Infinity;
    let nextLowest = Infinity;
    for (let u = this.unitStart[group]!; u < this.unitStart[group + 1]!; u++) {
      const candidate = this.units[u]!;
      if (picture !== NOTHING && this.held[candidate] === picture) continue;
      const value = this.held[candidate] === NOTHING ? -Infinity : this.ownValue(candidate);
      if (value < lowest) {
        nextLowest = lowest;
        lowest = value;
        unit = candidate;
      } else if (value < nextLowest) nextLowest = value;
    }
    this.scanned.unit = unit;
    this.scanned.lowest = lowest;
    this.scanned.nextLowest = nextLowest;
  }

  /** A heap position of `picture` no unit holds that has a price, or -1. */
  private unheldPriced(picture: number): number {
    for (let at = this.heapBase[picture]!; at < this.heapBase[picture + 1]!; at++) {
      if (this.heapHolder[at]! < 0 && this.heapPrice[at]! > 0) return at;
    }
    return -1;
  }

  /**
   * Offers the unheld use of `picture` at heap position `at` to the unit it is worth most to;
   * returns the picture that unit left when its use must offer itself in turn.
   */
  private offer(picture: number, at: number, from: Int32Array, byPicture: Int32Array, groupOfEntry: Int32Array): number | undefined {
    let bestWorth = -Infinity;
    let secondWorth = -Infinity;
    let bestUnit = -1;
    let bestEntry = -1;
    for (let i = from[picture]!; i < from[picture + 1]!; i++) {
      const e = byPicture[i]!;
      const group = groupOfEntry[e]!;
      const worthBase = -this.lists.cost[e]!;
      // The unit of the group that gains most: the one whose use is worth least to it; the next
      // such unit bounds the price as another group would (both kept per group until it changes).
      if (this.stale[group]) this.refreshLowest(group);
      let unit = this.lowestUnit[group]!;
      let lowest = this.lowestValue[group]!;
      let nextLowest = this.nextLowestValue[group]!;
      if (unit >= 0 && this.held[unit] === picture) {
        // (It holds a use of this picture: the others are looked at.)
        this.scanLowest(group, picture);
        unit = this.scanned.unit;
        lowest = this.scanned.lowest;
        nextLowest = this.scanned.nextLowest;
      }
      if (unit < 0) continue;
      const worth = worthBase - lowest;
      const nextWorth = worthBase - nextLowest;
      if (worth > bestWorth) {
        secondWorth = Math.max(bestWorth, nextWorth);
        bestWorth = worth;
        bestUnit = unit;
        bestEntry = e;
      } else if (worth > secondWorth) secondWorth = worth;
    }
    const { heapBase, heapPrice } = this;
    if (bestWorth <= 0) {
      // No unit wants it even for nothing: the picture is not used up, so its uses are free.
      for (let i = heapBase[picture]!; i < heapBase[picture + 1]!; i++) {
        heapPrice[i] = 0;
        if (this.heapHolder[i]! >= 0) this.stale[this.groupOf[this.heapHolder[i]!]!] = 1;
      }
      this.reprice(picture);
      return undefined;
    }
    const left = this.leave(bestUnit);
    const base = heapBase[picture]!;
    const end = heapBase[picture + 1]!;
    let lowest = Math.max(0, secondWorth - this.epsilon);
    for (let i = base; i < end; i++) if (this.heapHolder[i]! >= 0) lowest = Math.min(lowest, heapPrice[i]!);
    // Every use of the picture at that price: a holder of a dearer one would rather have this one.
    for (let i = base; i < end; i++) {
      if (heapPrice[i]! <= lowest) continue;
      heapPrice[i] = lowest;
      if (this.heapHolder[i]! >= 0) this.stale[this.groupOf[this.heapHolder[i]!]!] = 1;
    }
    heapPrice[at] = lowest;
    this.heapHolder[at] = bestUnit;
    this.slot[bestUnit] = at;
    this.heapify(picture);
    const group = this.groupOf[bestUnit]!;
    if (this.held[bestUnit] === NOTHING) this.idle[group]!--;
    this.held[bestUnit] = picture;
    this.stale[group] = 1;
    this.entry[bestUnit] = bestEntry;
    this.kind[bestUnit] = NORMAL;
    this.reprice(picture);
    return left;
  }

  /** `unit` leaves its use (kept at its price) for another; returns it when it must offer itself (see offer). */
  private leave(unit: number): number | undefined {
    const picture = this.held[unit]!;
    if (picture === NOTHING) return undefined;
    const kind = this.kind[unit];
    this.held[unit] = NOTHING;
    this.idle[this.groupOf[unit]!]!++;
    this.stale[this.groupOf[unit]!] = 1;
    if (kind === NORMAL) {
      this.heapHolder[this.slot[unit]!] = NOTHING;
      this.reprice(picture);
      return this.heapPrice[this.slot[unit]!]! > 0 ? picture : undefined;
    }
    return undefined;
  }

  /** Restores `picture`'s heap after its uses' prices changed anywhere. */
  private heapify(picture: number): void {
    const base = this.heapBase[picture]!;
    for (let at = base + ((this.heapBase[picture + 1]! - base) >>> 1) - 1; at >= base; at--) this.siftDown(picture, at);
  }

  /** Moves the use at heap position `at` of `picture` down to its place. */
  private siftDown(picture: number, at: number): void {
    const { heapPrice, heapHolder, slot } = this;
    const base = this.heapBase[picture]!;
    const size = this.heapBase[picture + 1]! - base;
    const price = heapPrice[at]!;
    const holder = heapHolder[at]!;
    let k = at - base;
    for (;;) {
      let child = 2 * k + 1;
      if (child >= size) break;
      if (child + 1 < size && heapPrice[base + child + 1]! < heapPrice[base + child]!) child++;
      if (heapPrice[base + child]! >= price) break;
      heapPrice[base + k] = heapPrice[base + child]!;
      const moved = heapHolder[base + child]!;
      heapHolder[base + k] = moved;
      if (moved >= 0) slot[moved] = base + k;
      k = child;
    }
    heapPrice[base + k] = price;
    heapHolder[base + k] = holder;
    if (holder >= 0) slot[holder] = base + k;
  }
}
