import { ColourTree, type NearestGroups } from './colour-tree.js';

/** A band's assignment unit (cell) by unit, as insertRequired reads and changes it. */
export interface BandAssignment {
  /** The picture each unit holds. */
  picture: Int32Array;
  /** The tile choice each unit holds (tile * 2 + mirrored) and its cost, both for the unit's group. */
  choice: Int32Array;
  cost: Float64Array;
  /** 1 where the unit holds a use that must be placed (see insertRequired). */
  required: Uint8Array;
}

/** The band's groups of cells (see CellGroups): group g's units are cells[start[g] .. start[g + 1]). */
export interface InsertionGroups {
  count: number;
  start: Int32Array;
  cells: Int32Array;
  /** Each group's colour in the trees' space (3 values). */
  colours: Float32Array;
}

/** What insertRequired needs of the pictures. */
export interface InsertionPictures {
  count: number;
  /** Each tile's colour in the trees' space; picture p's crops are tiles p * cropsPerPicture + c. */
  tileColours: Float32Array;
  cropsPerPicture: number;
  /** Crops a picture may be placed by. */
  crops: number;
  /** Whether `picture` must appear and has not appeared before the band: its last use here is kept. */
  kept(picture: number): boolean;
  /** The cost of `picture` for `group` (its best crop and mirroring), into `into`. */
  cost(group: number, picture: number, into: { cost: number; choice: number }): void;
}

/** Groups each picture is costed for, per crop: the nearest by colour less what they would give up. */
const NEAREST_GROUPS = 4;

/**
 * Places the pictures that must appear and that the assignment left out (`missing`), each in
 * place of one use, where it costs least more than the use it displaces: a greedy assignment by
 * marginal cost, lowest first. Each group gives up its dearest uses first, never the last use of a
 * picture that must appear. Solving the budget first and inserting afterwards keeps the assignment
 * free of the price war that required uses start (each outbidding the next for the few cells near
 * its colour), at about 6 % more cell error than the assignment with them (docs/design.md). A cap
 * per group made it worse: the misfits then landed in uniform areas. Marks every kept picture's
 * first unit `required`. Returns the pictures that found no place.
 */
export function insertRequired(
  groups: InsertionGroups,
  held: BandAssignment,
  missing: readonly number[],
  pictures: InsertionPictures,
): number[] {
  const units = held.picture.length;
  const uses = new Int32Array(pictures.count);
  for (let unit = 0; unit < units; unit++) uses[held.picture[unit]!]!++;
  // (One more use of a picture held already could break its budget.)
  for (const picture of missing) if (uses[picture]! > 0) throw new Error(`picture ${picture} is held already`);
  const givers = new Givers(groups, held, uses, pictures);
  const best = { delta: 0, group: -1 };
  const queue = new PictureQueue(missing.length);
  // Each missing picture's best place as the groups stand, and that group's stamp then.
  const placeGroup = new Int32Array(missing.length);
  const placeStamp = new Int32Array(missing.length);
  const evaluate = (m: number): void => {
    givers.bestPlace(missing[m]!, best);
    placeGroup[m] = best.group;
    placeStamp[m] = best.group >= 0 ? givers.stamp[best.group]! : 0;
    if (best.group >= 0) queue.push(m, best.delta);
  };
  const into = { cost: 0, choice: 0 };
  const placed = new Uint8Array(missing.length);
  for (let m = 0; m < missing.length; m++) evaluate(m);
  while (queue.length > 0) {
    const m = queue.pop();
    const group = placeGroup[m]!;
    givers.settle(group);
    // The group changed since: other groups only got dearer, so its new cost may still be the best.
    if (givers.stamp[group] !== placeStamp[m]) {
      evaluate(m);
      continue;
    }
    pictures.cost(group, missing[m]!, into);
    givers.give(group, missing[m]!, into.choice, into.cost);
    placed[m] = 1;
  }
  // Every picture kept in the band: one of its units holds the use placement must place.
  const marked = new Uint8Array(pictures.count);
  for (let i = 0; i < units; i++) {
    const unit = groups.cells[i]!;
    const picture = held.picture[unit]!;
    held.required[unit] = 0;
    if (pictures.kept(picture) && !marked[picture]) held.required[unit] = marked[picture] = 1;
  }
  return missing.filter((_, m) => !placed[m]);
}

/**
 * The uses each group can give up, dearest first, with the tree of the groups' colours priced by
 * minus the cost of the use each would give up next, so that its search finds the groups of
 * lowest marginal cost for a colour (structure aside: a bound).
 */
class Givers {
  /** Changes with every change of a group's next use to give up. */
  readonly stamp: Int32Array;
  /** Group g's units by cost, dearest first, at start[g]..; next[g] is the next to give up. */
  private readonly byCost: Int32Array;
  private readonly next: Int32Array;
  private readonly price: Float64Array;
  private readonly tree: ColourTree;
  private readonly found: NearestGroups;
  private readonly into = { cost: 0, choice: 0 };
  private readonly seen: Int32Array;
  private visit = 0;

  constructor(
    private readonly groups: InsertionGroups,
    private readonly held: BandAssignment,
    private readonly uses: Int32Array,
    private readonly pictures: InsertionPictures,
  ) {
    const { count, start, cells } = groups;
    this.byCost = Int32Array.from(cells);
    for (let group = 0; group < count; group++) {
      this.byCost.subarray(start[group]!, start[group + 1]!).sort((a, b) => held.cost[b]! - held.cost[a]! || a - b);
    }
    this.next = start.slice(0, count);
    this.stamp = new Int32Array(count);
    this.price = new Float64Array(count);
    for (let group = 0; group < count; group++) {
      this.advance(group);
      this.reprice(group);
    }
    this.tree = new ColourTree(
      groups.colours,
      3,
      Int32Array.from({ length: count }, (_, g) => g),
      1,
      this.price,
    );
    this.found = {
      groups: new Int32Array(NEAREST_GROUPS),
      points: new Int32Array(NEAREST_GROUPS),
      values: new Float64Array(NEAREST_GROUPS + 1),
    };
    this.seen = new Int32Array(count);
  }

  /** The group where `picture` costs least more than the use it would displace, and that difference, into `best` (group -1: none). */
  bestPlace(picture: number, best: { delta: number; group: number }): void {
    best.delta = Infinity;
    best.group = -1;
    const colours = this.pictures.tileColours;
    const visit = ++this.visit;
    for (let crop = 0; crop < this.pictures.crops; crop++) {
      const at = (picture * this.pictures.cropsPerPicture + crop) * 3;
      const count = this.tree.nearest(colours[at]!, colours[at + 1]!, colours[at + 2]!, NEAREST_GROUPS, this.found);
      for (let f = 0; f < count; f++) {
        const group = this.found.groups[f]!;
        if (this.seen[group] === visit) continue;
        this.seen[group] = visit;
        this.pictures.cost(group, picture, this.into);
        const delta = this.into.cost + this.price[group]!;
        if (delta < best.delta || (delta === best.delta && group < best.group)) {
          best.delta = delta;
          best.group = group;
        }
      }
    }
  }

  /** Gives up `group`'s next use to `picture` by `choice` at `cost`. */
  give(group: number, picture: number, choice: number, cost: number): void {
    const unit = this.byCost[this.next[group]!]!;
    this.uses[this.held.picture[unit]!]!--;
    this.uses[picture]!++;
    this.held.picture[unit] = picture;
    this.held.choice[unit] = choice;
    this.held.cost[unit] = cost;
    this.next[group]!++;
    this.changed(group);
  }

  /** Moves `group`'s next use past those that became the last of a picture that must appear. */
  settle(group: number): void {
    const before = this.next[group]!;
    this.advance(group);
    if (this.next[group] !== before) this.changed(group);
  }

  private advance(group: number): void {
    const end = this.groups.start[group + 1]!;
    while (this.next[group]! < end && !this.givable(this.byCost[this.next[group]!]!)) this.next[group]!++;
  }

  private givable(unit: number): boolean {
    const picture = this.held.picture[unit]!;
    return !(this.pictures.kept(picture) && this.uses[picture] === 1);
  }

  private changed(group: number): void {
    this.advance(group);
    this.stamp[group]!++;
    this.reprice(group);
    this.tree.priced(group);
  }

  private reprice(group: number): void {
    const done = this.next[group]! >= this.groups.start[group + 1]!;
    this.price[group] = done ? Infinity : -this.held.cost[this.byCost[this.next[group]!]!]!;
  }
}

/** Missing pictures by their marginal cost, lowest first (ties: lower index), as a binary heap. */
class PictureQueue {
  length = 0;
  private readonly items: Int32Array;
  private readonly keys: Float64Array;

  constructor(capacity: number) {
    this.items = new Int32Array(capacity);
    this.keys = new Float64Array(capacity);
  }

  push(item: number, key: number): void {
    let at = this.length++;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!precedes(key, item, this.keys[parent]!, this.items[parent]!)) break;
      this.move(parent, at);
      at = parent;
    }
    this.items[at] = item;
    this.keys[at] = key;
  }

  pop(): number {
    const top = this.items[0]!;
    const item = this.items[--this.length]!;
    const key = this.keys[this.length]!;
    let at = 0;
    for (let child = 1; child < this.length; child = 2 * at + 1) {
      const right = child + 1;
      if (right < this.length && precedes(this.keys[right]!, this.items[right]!, this.keys[child]!, this.items[child]!)) child = right;
      if (!precedes(this.keys[child]!, this.items[child]!, key, item)) break;
      this.move(child, at);
      at = child;
    }
    this.items[at] = item;
    this.keys[at] = key;
    return top;
  }

  private move(from: number, to: number): void {
    this.items[to] = this.items[from]!;
    this.keys[to] = this.keys[from]!;
  }
}

function precedes(key: number, item: number, otherKey: number, otherItem: number): boolean {
  return key < otherKey || (key === otherKey && item < otherItem);
}
