import { labToDin99oAt } from '../colour/din99.js';
import { descriptorLength, structureCosts, type MatchMethod } from '../tiles/descriptors.js';
import { TimeSlicer } from '../yield.js';
import { Auction } from './auction.js';
import { CandidateLists } from './candidate-lists.js';
import type { CellAnswers } from './cell-search.js';
import { ColourTree, type NearestGroups } from './colour-tree.js';
import type { RepeatRules } from './repeat-rules.js';
import { insertRequired, type BandAssignment } from './required-insertion.js';

/** Which pictures must appear and which must not (--use-all, --include, --exclude). */
export interface PictureRules {
  /** Pictures that must appear at least once; 'all': every picture not excluded. */
  required?: 'all' | Uint32Array;
  /** Pictures that must not appear. */
  excluded?: Uint32Array;
}

/** What the assignment needs to know about the tiles (see TileCatalogue). */
export interface BudgetCatalogue {
  count: number;
  descriptors: Float32Array;
  cropsPerPicture: number;
  /** Whether only each picture's centre (crop 0) may be chosen. */
  centresOnly: boolean;
}

/**
 * Cells whose mean colours round to the same multiple of this (DIN99o units, about CIEDE2000;
 * sRGB levels for rgb) form a group that bids as one, in bands of GROUP_ROUNDING_CELLS cells and
 * more; smaller bands in finer groups, down to 2 units (docs/design.md: time against fidelity).
 */
const GROUP_ROUNDING = 8;
const GROUP_ROUNDING_CELLS = 6400;
/** Most cells in a group: a colour of more is split (its groups bid apart, each with the list it needs). */
const GROUP_CELLS = 256;
/** Cells of a group whose index answers start its list (all costed for the group's mean, more add little). */
const ANSWERING_CELLS = 4;
/** Pictures added to a group's list when one not on it may be better. */
const FARTHER_PICTURES = 64;
/** Uses of its group a cell chooses from (the nearest in colour), in groups of more. */
const NEAR_USES = 16;
/** The assignment ends within this share of its optimum's cost (see Auction.solve). */
const FINAL_SHARE = 0.1;
/** The least final bid increment, as a share of the mean cost of the groups' best pictures. */
const FINAL_EPSILON = 0.002;

/**
 * Places bands of cells under --max-uses, --use-all, --include and --exclude. First as an
 * assignment of cells to pictures (see Auction): cells of about one colour form a group that bids
 * for uses of the pictures on its list, costed for the group's mean; the list starts from the index
 * answers, and when a picture not on a list may be better at current prices, the cheapest ones are
 * found in a tree of the tiles' colours and prices (see ColourTree). The pictures that must appear
 * and are still missing then displace the uses they cost least more than (see insertRequired).
 * Then each group's uses go to its cells by their own costs, in fill order, keeping --min-distance.
 * Budgets hold over the whole grid, band after band; the pictures that must appear are spread over
 * the bands in proportion to their cells.
 */
export class BudgetedPlacement {
  /** Cells that had to give up min-distance. */
  relaxed = 0;
  private readonly excluded: Uint8Array;
  private readonly required: Uint8Array;
  private readonly pictureCount: number;
  private readonly length: number;
  private readonly variants: number;
  /** Crops a picture may be placed by. */
  private readonly crops: number;
  /** Each picture's price in the band being placed (see AuctionPictures.price). */
  private readonly price: Float64Array;
  private readonly tiles: ColourTree;
  /** Each tile's mean colour in the space of the trees (see treeColours). */
  private readonly tileColours: Float32Array;
  private readonly structures = new Float64Array(2);
  private readonly found: NearestGroups;
  /** Each picture's price when its fall was last looked at, and the pictures whose price fell since (see lowerBounds). */
  private readonly lastPrice: Float64Array;
  private readonly fallen: number[] = [];
  /** Pictures on the list being extended: listedAt[p] === listStamp. */
  private readonly listedAt: Int32Array;
  private listStamp = 0;
  // The outcome of choiceCost and pictureCost.
  private cost = 0;
  private choice = 0;

  constructor(
    private readonly method: MatchMethod,
    private readonly columns: number,
    private readonly rows: number,
    private readonly catalogue: BudgetCatalogue,
    /** --min-distance, and the uses of each picture so far (their maxUses the budget's). */
    private readonly repeats: RepeatRules,
    private readonly maxUses: number,
    pictures: PictureRules,
    private readonly plan: { tiles: Uint16Array | Uint32Array; mirrored: Uint8Array },
  ) {
    const crops = catalogue.cropsPerPicture;
    this.pictureCount = Math.ceil(catalogue.count / crops);
    this.excluded = new Uint8Array(this.pictureCount);
    for (const picture of pictures.excluded ?? []) this.excluded[picture] = 1;
    this.required = new Uint8Array(this.pictureCount);
    if (pictures.required === 'all') this.required.fill(1);
    else for (const picture of pictures.required ?? []) this.required[picture] = 1;
    for (let picture = 0; picture < this.pictureCount; picture++) if (this.excluded[picture]) this.required[picture] = 0;
    this.length = descriptorLength(method);
    this.variants = method.metric === 'lab' && method.mirror ? 2 : 1;
    this.crops = catalogue.centresOnly ? 1 : crops;
    this.price = new Float64Array(this.pictureCount);
    this.listedAt = new Int32Array(this.pictureCount);
    this.lastPrice = new Float64Array(this.pictureCount);
    const placeable: number[] = [];
    for (let picture = 0; picture < this.pictureCount; picture++) {
      if (this.excluded[picture]) this.price[picture] = Infinity;
      else for (let crop = 0; crop < this.crops; crop++) placeable.push(picture * crops + crop);
    }
    this.tileColours = this.treeColours(catalogue.descriptors, catalogue.count);
    this.tiles = new ColourTree(this.tileColours, 3, Int32Array.from(placeable), crops, this.price);
    this.found = {
      groups: new Int32Array(FARTHER_PICTURES),
      points: new Int32Array(FARTHER_PICTURES),
      values: new Float64Array(FARTHER_PICTURES + 1),
    };
  }

  /** How often the most used picture is used. */
  mostUses(): number {
    return this.repeats.mostUses();
  }

  /**
   * Places rows [firstRow, firstRow + rowCount), described and answered by `cells`, into the plan;
   * `order` is the order cells are filled in (see fillOrder).
   */
  async placeBand(firstRow: number, rowCount: number, cells: CellAnswers, order: ArrayLike<number>, signal?: AbortSignal): Promise<void> {
    const slicer = new TimeSlicer(signal);
    const count = rowCount * this.columns;
    const rounding = Math.max(2, Math.min(GROUP_ROUNDING, GROUP_ROUNDING * Math.sqrt(count / GROUP_ROUNDING_CELLS)));
    // The band's cells with their colours in the trees' space, for grouping, costing and the trees.
    const cellItems: Described = { descriptors: cells.descriptors, colours: this.treeColours(cells.descriptors, count) };
    const groups = new CellGroups(
      cells.descriptors,
      cellItems.colours,
      this.length,
      count,
      order,
      (descriptors, at, into, to) => this.treeColour(descriptors, at, into, to),
      rounding,
    );
    const capacity = new Int32Array(this.pictureCount);
    for (let picture = 0; picture < this.pictureCount; picture++)
      capacity[picture] = this.excluded[picture] ? 0 : this.maxUses === Infinity ? -1 : this.maxUses - this.repeats.usesOf(picture);
    const held = await this.solveGroups(cells, groups, capacity, slicer);
    this.insertMissing(firstRow, count, groups, held);
    await this.placeCells(firstRow, rowCount, cellItems, groups, order, held, capacity, slicer);
  }

  /**
   * Puts the pictures this band must place that the assignment left out in place of the uses
   * they displace least (see insertRequired).
   */
  private insertMissing(firstRow: number, count: number, groups: CellGroups, held: BandAssignment): void {
    const kept = (picture: number): boolean => this.required[picture] === 1 && this.repeats.usesOf(picture) === 0;
    const holds = new Uint8Array(this.pictureCount);
    let keptHeld = 0;
    for (let unit = 0; unit < count; unit++) {
      const picture = held.picture[unit]!;
      if (kept(picture) && !holds[picture]) keptHeld++;
      holds[picture] = 1;
    }
    const missing = this.bandRequired(firstRow, count, groups, holds, keptHeld);
    const unplaced = insertRequired(groups, held, missing, {
      count: this.pictureCount,
      tileColours: this.tileColours,
      cropsPerPicture: this.catalogue.cropsPerPicture,
      crops: this.crops,
      kept,
      cost: (group, picture, out) => {
        this.pictureCost(groups, group, picture);
        out.cost = this.cost;
        out.choice = this.choice;
      },
    });
    if (unplaced.length > 0) throw new Error(`${unplaced.length} pictures that must appear could not be placed`);
  }

  /** The assignment of `groups`' cells to pictures under `capacity` (see Auction), unit by unit. */
  private async solveGroups(cells: CellAnswers, groups: CellGroups, capacity: Int32Array, slicer: TimeSlicer): Promise<BandAssignment> {
    const count = groups.cells.length;
    const lists = await this.candidateLists(cells, groups, (picture) => capacity[picture] !== 0, slicer);
    const answered = bidScale(groups, lists);
    const auction = new Auction(
      lists,
      { capacity: capacity.slice(), price: this.price },
      {
        priced: (picture) => {
          this.tiles.priced(picture);
          if (this.price[picture]! < this.lastPrice[picture]!) this.fallen.push(picture);
          this.lastPrice[picture] = this.price[picture]!;
        },
        farther: (group) => this.farther(groups, group, lists),
        phaseStarts: () => this.lowerBounds(groups, lists),
      },
      groups.start,
      groups.cells,
    );
    this.tiles.pricedAll();
    this.lastPrice.set(this.price);
    this.fallen.length = 0;
    // The index answers rank by their own distance: the tree adds the cheapest pictures at these
    // prices and a true bound on the rest.
    for (let group = 0; group < groups.count; group++) {
      if (!this.farther(groups, group, lists)) lists.outside[group] = Infinity;
      if ((group & 255) === 255) await slicer.pause();
    }
    // The bids' scale from the index answers; from the lists as the tree completed them when every
    // answer is a picture the bands above used up (else the increments would start at nothing).
    const { bestSum, dearest } = answered.dearest > 0 ? answered : bidScale(groups, lists);
    const finalEpsilon = Math.max(1e-4, (FINAL_EPSILON * bestSum) / count);
    await auction.solve(dearest / 4, finalEpsilon, FINAL_SHARE, slicer.signal);
    const held: BandAssignment = {
      picture: auction.held,
      choice: new Int32Array(count),
      cost: new Float64Array(count),
      required: new Uint8Array(count),
    };
    for (let unit = 0; unit < count; unit++) {
      held.choice[unit] = lists.choice[auction.entry[unit]!]!;
      held.cost[unit] = lists.cost[auction.entry[unit]!]!;
    }
    return held;
  }

  /**
   * Gives each cell one of its group's uses by its own cost, in fill order (a required use first,
   * to the group's cell it costs least in), keeping min-distance: a cell where every use left is
   * held within reach takes the nearest picture with a use to spare instead.
   */
  private async placeCells(
    firstRow: number,
    rowCount: number,
    cellItems: Described,
    groups: CellGroups,
    order: ArrayLike<number>,
    held: BandAssignment,
    capacity: Int32Array,
    slicer: TimeSlicer,
  ): Promise<void> {
    this.repeats.startBand(firstRow, rowCount, this.plan.tiles);
    const bandStart = firstRow * this.columns;
    const count = rowCount * this.columns;
    // Uses to spare: what the budget allows beyond what the assignment holds.
    const spare = new Float64Array(this.pictureCount);
    for (let picture = 0; picture < this.pictureCount; picture++) spare[picture] = capacity[picture]! < 0 ? Infinity : capacity[picture]!;
    for (let cell = 0; cell < count; cell++) spare[held.picture[cell]!]!--;
    this.price.fill(Infinity);
    for (let picture = 0; picture < this.pictureCount; picture++) if (spare[picture]! > 0) this.price[picture] = 0;
    this.tiles.pricedAll();
    const fill = new BandFill(groups, held, this.pictureCount, this.tileColours, cellItems.colours, (cell, picture, choice) => {
      this.repeats.record(picture, bandStart + cell);
      this.plan.tiles[bandStart + cell] = choice >> 1;
      this.plan.mirrored[bandStart + cell] = choice & 1;
    });
    this.placeRequiredUses(fill, cellItems, groups, held, bandStart);
    await this.fillInOrder(fill, cellItems, groups, order, spare, bandStart, slicer);
  }

  /** Places each required use of the band in the cell of its group it costs least in (min-distance first). */
  private placeRequiredUses(fill: BandFill, cellItems: Described, groups: CellGroups, held: BandAssignment, bandStart: number): void {
    const repeats = this.repeats;
    for (let group = 0; group < groups.count; group++) {
      const firstCell = groups.start[group]!;
      const endCell = groups.start[group + 1]!;
      for (let i = firstCell; i < endCell; i++) {
        if (!held.required[groups.cells[i]!]) continue;
        const picture = held.picture[groups.cells[i]!]!;
        const u = fill.unitUse[groups.cells[i]!]!;
        const tile = fill.useTile[u]!;
        let best = -1;
        let bestCost = Infinity;
        let bestChoice = 0;
        const consider = (cell: number, strict: boolean): void => {
          if (fill.placed[cell] || (strict && !repeats.allowed(picture, bandStart + cell))) return;
          this.choiceCost(cellItems, cell, tile);
          if (this.cost < bestCost) {
            bestCost = this.cost;
            best = cell;
            bestChoice = this.choice;
          }
        };
        const found = fill.nearestCells(group, tile);
        for (let f = 0; f < found; f++) consider(groups.cells[firstCell + fill.cellTrees.near.groups[f]!]!, true);
        // (All of a small group's cells, and all of a large one's when the nearest are all within reach of the picture.)
        for (const strict of [true, false]) {
          if (best >= 0) break;
          for (let j = firstCell; j < endCell; j++) consider(groups.cells[j]!, strict);
          if (best >= 0 && !strict) this.relaxed++;
        }
        fill.takeUse(group, u);
        fill.placeIn(group, best, picture, bestChoice);
      }
    }
  }

  /**
   * Gives each cell not placed yet, in fill order, the use of its group that costs it least and is
   * not held within reach; else the nearest picture with a use to spare, else (min-distance giving
   * way) a use of its group.
   */
  private async fillInOrder(
    fill: BandFill,
    cellItems: Described,
    groups: CellGroups,
    order: ArrayLike<number>,
    spare: Float64Array,
    bandStart: number,
    slicer: TimeSlicer,
  ): Promise<void> {
    const { useStart, usePicture, useTile, useLeft } = fill;
    for (let n = 0; n < order.length; n++) {
      const cell = order[n]!;
      if (fill.placed[cell]) continue;
      const group = groups.of[cell]!;
      let bestUse = -1;
      let bestCost = Infinity;
      let bestChoice = 0;
      const first = useStart[group]!;
      const end = useStart[group + 1]!;
      const consider = (u: number): void => {
        if (useLeft[u] === 0 || !this.repeats.allowed(usePicture[u]!, bandStart + cell)) return;
        this.choiceCost(cellItems, cell, useTile[u]!);
        if (this.cost < bestCost) {
          bestCost = this.cost;
          bestUse = u;
          bestChoice = this.choice;
        }
      };
      const c = cell * 3;
      const found = fill.useTrees.nearest(group, cellItems.colours[c]!, cellItems.colours[c + 1]!, cellItems.colours[c + 2]!);
      for (let i = 0; i < found; i++) consider(first + fill.useTrees.near.groups[i]!);
      // (All of a small group's uses, and all of a large one's when the nearest are all held within reach.)
      if (bestUse < 0) for (let u = first; u < end; u++) consider(u);
      if (bestUse >= 0) {
        fill.takeUse(group, bestUse);
        fill.placeIn(group, cell, usePicture[bestUse]!, bestChoice);
      } else {
        // Every use the group has left is held within reach: the nearest picture with a use to spare.
        const fallback = this.spareNearby(cellItems, cell, bandStart + cell, spare);
        let u = first;
        while (useLeft[u] === 0) u++;
        fill.takeUse(group, u);
        if (fallback >= 0) {
          // The group's use that is not placed becomes one to spare.
          const given = usePicture[u]!;
          if (spare[given]!++ === 0) {
            this.price[given] = 0;
            this.tiles.priced(given);
          }
          fill.placeIn(group, cell, fallback, this.choice);
        } else {
          // Not even one: min-distance gives way, the budget holds.
          this.choiceCost(cellItems, cell, useTile[u]!);
          fill.placeIn(group, cell, usePicture[u]!, this.choice);
          this.relaxed++;
        }
      }
      if ((n & 1023) === 1023) await slicer.pause();
    }
  }

  /**
   * The picture with a use to spare and not held within reach of band cell `cell` (`gridCell` in
   * the grid) that is nearest in colour (its best crop into `choice`), using one of its spare uses;
   * -1 when there is none.
   */
  private spareNearby(cellItems: Described, cell: number, gridCell: number, spare: Float64Array): number {
    const mark = ++this.listStamp;
    this.repeats.forEachNear(gridCell, (picture) => (this.listedAt[picture] = mark));
    const c = cell * 3;
    const colours = cellItems.colours;
    const count = this.tiles.nearest(colours[c]!, colours[c + 1]!, colours[c + 2]!, 1, this.found, this.listedAt, mark);
    if (count === 0) return -1;
    const picture = this.found.groups[0]!;
    this.pictureCost(cellItems, cell, picture);
    spare[picture]!--;
    if (spare[picture]! <= 0) {
      this.price[picture] = Infinity;
      this.tiles.priced(picture);
    }
    return picture;
  }

  /**
   * The pictures this band must add to those it `holds` (`keptHeld` of which must appear and have
   * not yet): on the last band every one still missing, else as many as make the band's share, in
   * proportion to its cells, those nearest in colour to a cell of it first. Counting the ones held
   * keeps the pictures to add within the uses that can be given up (each band holds at most its
   * cells), and leaves fewer to displace.
   */
  private bandRequired(firstRow: number, count: number, groups: CellGroups, holds: Uint8Array, keptHeld: number): number[] {
    const missing: number[] = [];
    for (let picture = 0; picture < this.pictureCount; picture++)
      if (this.required[picture] && this.repeats.usesOf(picture) === 0 && !holds[picture]) missing.push(picture);
    const remaining = (this.rows - firstRow) * this.columns;
    const share = Math.ceil(((missing.length + keptHeld) * count) / remaining);
    const wanted = Math.max(0, Math.min(missing.length, share - keptHeld));
    if (wanted === missing.length) return missing;
    const distance = new Float64Array(missing.length);
    const colours = this.tileColours;
    missing.forEach((picture, i) => {
      const at = picture * this.catalogue.cropsPerPicture * 3;
      groups.tree.nearest(colours[at]!, colours[at + 1]!, colours[at + 2]!, 1, this.found);
      distance[i] = this.found.values[0]!;
    });
    const byFit = missing.map((_, i) => i).sort((a, b) => distance[a]! - distance[b]! || a - b);
    return byFit.slice(0, wanted).map((i) => missing[i]!);
  }

  /**
   * Each group's usable pictures among its cells' index answers (the best crop and mirroring of
   * each, for the group's mean).
   */
  private async candidateLists(
    cells: CellAnswers,
    groups: CellGroups,
    usable: (picture: number) => boolean,
    slicer: TimeSlicer,
  ): Promise<CandidateLists> {
    const { k, neighbors } = cells;
    const lists = new CandidateLists(groups.count, groups.count * k, this.pictureCount);
    const crops = this.catalogue.cropsPerPicture;
    const tileSeen = new Int32Array(this.catalogue.count).fill(-1);
    for (let group = 0; group < groups.count; group++) {
      lists.reserve(group, k);
      // The answers of the group's first cells (in fill order): costed for the group's mean, more say little more.
      for (let i = groups.start[group]!; i < Math.min(groups.start[group + 1]!, groups.start[group]! + ANSWERING_CELLS); i++) {
        const cell = groups.cells[i]!;
        for (let q = 0; q < k; q++) {
          const tile = neighbors[cell * k + q]!;
          if (tileSeen[tile] === group) continue;
          tileSeen[tile] = group;
          this.choiceCost(groups, group, tile);
          const picture = Math.floor(tile / crops);
          if (!usable(picture)) continue;
          const entry = lists.find(group, picture);
          if (entry >= 0) {
            if (this.cost < lists.cost[entry]!) {
              lists.cost[entry] = this.cost;
              lists.choice[entry] = this.choice;
            }
            continue;
          }
          lists.add(group, picture, this.cost, this.choice);
        }
      }
      if ((group & 255) === 255) await slicer.pause();
    }
    return lists;
  }

  /**
   * Adds to `group`'s list the FARTHER_PICTURES usable pictures not on it of lowest distance +
   * price from its colour (see ColourTree), and bounds the cost + price of those still not on it;
   * false when every usable picture is on it.
   */
  private farther(groups: CellGroups, group: number, lists: CandidateLists): boolean {
    const mark = ++this.listStamp;
    for (let e = lists.start[group]!; e < lists.end[group]!; e++) this.listedAt[lists.picture[e]!] = mark;
    const found = this.found;
    const at = group * 3;
    // (Pictures without uses left are priced Infinity: the tree leaves them out.)
    const count = this.tiles.nearest(
      groups.colours[at]!,
      groups.colours[at + 1]!,
      groups.colours[at + 2]!,
      FARTHER_PICTURES,
      found,
      this.listedAt,
      mark,
    );
    if (count === 0) return false;
    for (let i = 0; i < count; i++) {
      const picture = found.groups[i]!;
      this.pictureCost(groups, group, picture);
      lists.add(group, picture, this.cost, this.choice);
    }
    lists.outside[group] = found.values[count]!;
    return true;
  }

  /**
   * Keeps every group's bound on what is not on its list (see farther) a bound once prices have
   * fallen: a picture that became cheaper lowers the bound of each group it is not listed for to
   * its distance + new price, where that is lower.
   */
  private lowerBounds(groups: CellGroups, lists: CandidateLists): void {
    if (this.fallen.length === 0) return;
    let highest = 0;
    for (let group = 0; group < groups.count; group++)
      if (lists.outside[group]! < Infinity) highest = Math.max(highest, lists.outside[group]!);
    const crops = this.catalogue.cropsPerPicture;
    for (const picture of new Set(this.fallen)) {
      const price = this.price[picture]!;
      if (!(price < highest)) continue;
      for (let crop = 0; crop < this.crops; crop++) {
        const at = (picture * crops + crop) * 3;
        groups.tree.within(
          this.tileColours[at]!,
          this.tileColours[at + 1]!,
          this.tileColours[at + 2]!,
          highest - price,
          (group, distance) => {
            const value = distance + price;
            if (value < lists.outside[group]! && !lists.has(group, picture)) lists.outside[group] = value;
          },
        );
      }
    }
    this.fallen.length = 0;
  }

  /** The cost of `picture` for item `at` of `items` (its best crop and mirroring), into `cost` and `choice`. */
  private pictureCost(items: Described, at: number, picture: number): void {
    let best = Infinity;
    let choice = 0;
    const first = picture * this.catalogue.cropsPerPicture;
    for (let crop = 0; crop < this.crops; crop++) {
      this.choiceCost(items, at, first + crop);
      if (this.cost < best) {
        best = this.cost;
        choice = this.choice;
      }
    }
    this.cost = best;
    this.choice = choice;
  }

  /**
   * The cost of `tile` for item `at` of `items` and the choice (`tile * 2 + mirrored`) giving it,
   * into `cost` and `choice`: the distance of the mean colours in the trees' space (see
   * treeColour), plus the structure part of the match cost (lab). It stands in for the match cost,
   * CIEDE2000 of the means plus structure, so that the trees' bounds on it hold (docs/design.md).
   */
  private choiceCost(items: Described, at: number, tile: number): void {
    const a = at * 3;
    const b = tile * 3;
    const colours = items.colours;
    const tiles = this.tileColours;
    const colour = Math.hypot(colours[a]! - tiles[b]!, colours[a + 1]! - tiles[b + 1]!, colours[a + 2]! - tiles[b + 2]!);
    if (this.method.metric === 'rgb') {
      this.cost = colour;
      this.choice = tile * 2;
      return;
    }
    structureCosts(this.method, items.descriptors, at, this.catalogue.descriptors, tile, this.structures);
    const mirrored = this.variants === 2 && this.structures[1]! < this.structures[0]! ? 1 : 0;
    this.cost = colour + this.structures[mirrored]!;
    this.choice = tile * 2 + mirrored;
  }

  /**
   * The mean colour of the descriptor at `at` of `descriptors` where the euclidean distance ranks
   * colours as the match cost does: DIN99o for the lab metric (close to CIEDE2000), sRGB for rgb.
   */
  private treeColour(descriptors: Float32Array, at: number, into: Float32Array, to = 0): void {
    if (this.method.metric === 'lab') labToDin99oAt(descriptors, at, into, to);
    else for (let i = 0; i < 3; i++) into[to + i] = descriptors[at + i]!;
  }

  private treeColours(descriptors: Float32Array, count: number): Float32Array {
    const colours = new Float32Array(count * 3);
    for (let i = 0; i < count; i++) this.treeColour(descriptors, i * this.length, colours, i * 3);
    return colours;
  }
}

/** The sum over `groups`' cells of their group's cheapest listed cost, and the dearest listed cost. */
function bidScale(groups: CellGroups, lists: CandidateLists): { bestSum: number; dearest: number } {
  let bestSum = 0;
  let dearest = 0;
  for (let group = 0; group < groups.count; group++) {
    let best = Infinity;
    for (let e = lists.start[group]!; e < lists.end[group]!; e++) {
      best = Math.min(best, lists.cost[e]!);
      dearest = Math.max(dearest, lists.cost[e]!);
    }
    if (best < Infinity) bestSum += best * groups.size(group);
  }
  return { bestSum, dearest };
}

/** Items (groups or cells) as costs need them: their descriptors and their colours in the trees' space. */
interface Described {
  descriptors: Float32Array;
  colours: Float32Array;
}

/**
 * The cells of a band in groups of about one colour (rounded to `rounding`), which bid
 * together: their members, the mean descriptor of each (its costs stand for its cells'), its colour
 * and a tree of the groups' colours. Groups are numbered, and their cells listed, in fill order.
 */
class CellGroups {
  readonly count: number;
  /** Group g's cells are cells[start[g] .. start[g + 1]). */
  readonly start: Int32Array;
  readonly cells: Int32Array;
  /** The group of each cell. */
  readonly of: Int32Array;
  /** Each group's mean descriptor. */
  readonly descriptors: Float32Array;
  /** Each group's colour in the trees' space (3 values). */
  readonly colours: Float32Array;
  readonly tree: ColourTree;

  constructor(
    descriptors: Float32Array,
    /** Each cell's colour in the trees' space. */
    cellColours: Float32Array,
    length: number,
    cellCount: number,
    order: ArrayLike<number>,
    treeColour: (descriptors: Float32Array, at: number, into: Float32Array, to?: number) => void,
    rounding: number,
  ) {
    // Colours first (by rounded colour, in fill order), then groups of at most GROUP_CELLS cells of a colour.
    const keys = new Map<number, number>();
    const colourOf = new Int32Array(cellCount);
    const colourSizes: number[] = [];
    for (let n = 0; n < order.length; n++) {
      const cell = order[n]!;
      const c = cell * 3;
      // (Rounded coordinates lie within ±512: DIN99o's within ±100, sRGB levels 0-255, rounding >= 2.)
      const key =
        (Math.round(cellColours[c]! / rounding) + 512) * 1048576 +
        (Math.round(cellColours[c + 1]! / rounding) + 512) * 1024 +
        (Math.round(cellColours[c + 2]! / rounding) + 512);
      let id = keys.get(key);
      if (id === undefined) {
        id = keys.size;
        keys.set(key, id);
        colourSizes.push(0);
      }
      colourOf[cell] = id;
      colourSizes[id]!++;
    }
    const colourMeans = new Float32Array(keys.size * length);
    for (let cell = 0; cell < cellCount; cell++) {
      const id = colourOf[cell]!;
      for (let i = 0; i < length; i++) colourMeans[id * length + i]! += descriptors[cell * length + i]! / colourSizes[id]!;
    }
    const firstGroup = new Int32Array(keys.size + 1);
    for (let id = 0; id < keys.size; id++) firstGroup[id + 1] = firstGroup[id]! + Math.ceil(colourSizes[id]! / GROUP_CELLS);
    this.count = firstGroup[keys.size]!;
    this.of = new Int32Array(cellCount);
    const seen = new Int32Array(keys.size);
    const sizes = new Int32Array(this.count);
    for (let n = 0; n < order.length; n++) {
      const cell = order[n]!;
      const id = colourOf[cell]!;
      const group = firstGroup[id]! + Math.floor(seen[id]!++ / GROUP_CELLS);
      this.of[cell] = group;
      sizes[group]!++;
    }
    this.start = new Int32Array(this.count + 1);
    for (let group = 0; group < this.count; group++) this.start[group + 1] = this.start[group]! + sizes[group]!;
    this.cells = new Int32Array(cellCount);
    const next = this.start.slice(0, this.count);
    for (let n = 0; n < order.length; n++) this.cells[next[this.of[order[n]!]!]!++] = order[n]!;
    // The groups of a colour share its mean: they are the same to the assignment.
    this.descriptors = new Float32Array(this.count * length);
    for (let id = 0; id < keys.size; id++) {
      for (let group = firstGroup[id]!; group < firstGroup[id + 1]!; group++)
        this.descriptors.set(colourMeans.subarray(id * length, (id + 1) * length), group * length);
    }
    this.colours = new Float32Array(this.count * 3);
    for (let group = 0; group < this.count; group++) treeColour(this.descriptors, group * length, this.colours, group * 3);
    const points = new Int32Array(this.count);
    for (let group = 0; group < this.count; group++) points[group] = group;
    this.tree = new ColourTree(this.colours, 3, points, 1, new Float64Array(this.count));
  }

  size(group: number): number {
    return this.start[group + 1]! - this.start[group]!;
  }
}

/**
 * A band's cells as they are placed: each group's uses by picture (group g's are [useStart[g],
 * useStart[g + 1]): use u of picture usePicture[u] by tile useTile[u], useLeft[u] of them left;
 * unitUse is each unit's), and the trees in which a cell or a use finds its match among the
 * nearest of its group in colour: the group's uses (gone once used up) and its cells (gone once
 * placed).
 */
class BandFill {
  readonly placed: Uint8Array;
  readonly usePicture: number[] = [];
  readonly useTile: number[] = [];
  readonly useLeft: number[] = [];
  readonly useStart: Int32Array;
  readonly unitUse: Int32Array;
  readonly useTrees: GroupTrees;
  readonly cellTrees: GroupTrees;
  /** Where each cell is in its group's list (groups.cells), for its group's tree of cells. */
  private readonly position: Int32Array;

  constructor(
    groups: CellGroups,
    held: BandAssignment,
    pictureCount: number,
    private readonly tileColours: Float32Array,
    cellColours: Float32Array,
    /** Records `picture` by `choice` in band cell `cell`. */
    private readonly place: (cell: number, picture: number, choice: number) => void,
  ) {
    const count = held.picture.length;
    this.placed = new Uint8Array(count);
    this.useStart = new Int32Array(groups.count + 1);
    this.unitUse = new Int32Array(count);
    const useOf = new Int32Array(pictureCount).fill(-1);
    for (let group = 0; group < groups.count; group++) {
      this.useStart[group] = this.usePicture.length;
      for (let i = groups.start[group]!; i < groups.start[group + 1]!; i++) {
        const unit = groups.cells[i]!;
        const picture = held.picture[unit]!;
        if (useOf[picture]! < this.useStart[group]!) {
          useOf[picture] = this.usePicture.length;
          this.usePicture.push(picture);
          this.useTile.push(held.choice[unit]! >> 1);
          this.useLeft.push(0);
        }
        this.unitUse[unit] = useOf[picture]!;
        this.useLeft[useOf[picture]!]!++;
      }
    }
    this.useStart[groups.count] = this.usePicture.length;
    const useColours = new Float32Array(this.usePicture.length * 3);
    this.useTile.forEach((tile, u) => useColours.set(tileColours.subarray(tile * 3, tile * 3 + 3), u * 3));
    this.useTrees = new GroupTrees(useColours, this.useStart);
    const byGroup = new Float32Array(count * 3);
    for (let i = 0; i < count; i++) byGroup.set(cellColours.subarray(groups.cells[i]! * 3, groups.cells[i]! * 3 + 3), i * 3);
    this.cellTrees = new GroupTrees(byGroup, groups.start);
    this.position = new Int32Array(count);
    for (let i = 0; i < count; i++) this.position[groups.cells[i]!] = i;
  }

  /** The cells of `group` not placed nearest in colour to `tile` (see GroupTrees.nearest; cellTrees.near holds them). */
  nearestCells(group: number, tile: number): number {
    const at = tile * 3;
    return this.cellTrees.nearest(group, this.tileColours[at]!, this.tileColours[at + 1]!, this.tileColours[at + 2]!);
  }

  /** One of use `u` of `group` is placed. */
  takeUse(group: number, u: number): void {
    if (--this.useLeft[u]! === 0) this.useTrees.take(group, u);
  }

  /** Places `picture` by `choice` in `cell` of `group`. */
  placeIn(group: number, cell: number, picture: number, choice: number): void {
    this.placed[cell] = 1;
    this.place(cell, picture, choice);
    this.cellTrees.take(group, this.position[cell]!);
  }
}

/**
 * Points (a band's cells or uses) listed group by group, group g's at [start[g], start[g + 1]),
 * with a tree of each group's colours built when first searched, for groups of more than
 * NEAR_USES: a point taken is priced Infinity, so searches pass it by.
 */
class GroupTrees {
  /** The outcome of nearest: near.groups[i] is the i-th point found, counted from its group's start. */
  readonly near: NearestGroups = {
    groups: new Int32Array(NEAR_USES),
    points: new Int32Array(NEAR_USES),
    values: new Float64Array(NEAR_USES + 1),
  };
  private readonly gone: Float64Array;
  private readonly trees = new Map<number, ColourTree>();

  constructor(
    private readonly colours: Float32Array,
    private readonly start: Int32Array,
  ) {
    this.gone = new Float64Array(colours.length / 3);
  }

  /** Finds up to NEAR_USES points of `group` not taken, nearest to the colour (a, b, c), into `near`; 0 for a small group (to be searched whole). */
  nearest(group: number, a: number, b: number, c: number): number {
    const first = this.start[group]!;
    const end = this.start[group + 1]!;
    if (end - first <= NEAR_USES) return 0;
    let tree = this.trees.get(group);
    if (!tree) {
      const points = Int32Array.from({ length: end - first }, (_, i) => i);
      tree = new ColourTree(this.colours.subarray(first * 3, end * 3), 3, points, 1, this.gone.subarray(first, end));
      this.trees.set(group, tree);
    }
    return tree.nearest(a, b, c, NEAR_USES, this.near);
  }

  /** Takes point `point` (counted from 0 over all groups) of `group` out of its searches. */
  take(group: number, point: number): void {
    this.gone[point] = Infinity;
    this.trees.get(group)?.priced(point - this.start[group]!);
  }
}
