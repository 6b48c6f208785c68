/**
 * Each cell's candidate pictures for the assignment (see Auction): the picture, its cost for the
 * cell and the choice that gives it (`tile * 2 + mirrored`), one list per cell in shared typed
 * arrays. A list that outgrows its room moves to the end of the arrays with twice the room, so
 * that adding to it costs the same however it grows.
 */
export class CandidateLists {
  /** Cell i's entries are [start[i], end[i]). */
  readonly start: Int32Array;
  readonly end: Int32Array;
  picture: Int32Array;
  cost: Float32Array;
  choice: Int32Array;
  /**
   * A bound on the cost + price of any picture not on cell i's list (see Auction); Infinity once
   * every picture is on it.
   */
  readonly outside: Float32Array;
  /** Entries cell i's list has room for. */
  private readonly room: Int32Array;
  private used = 0;
  /** Where each (cell, picture) is: an open-addressing table of keys cell * pictures + picture + 1 and entry numbers. */
  private keys = new Float64Array(1 << 12);
  private entries = new Int32Array(1 << 12);
  private filled = 0;

  constructor(
    readonly cells: number,
    entries: number,
    /** How many pictures there are (for the table of entries). */
    private readonly pictures: number,
  ) {
    this.start = new Int32Array(cells);
    this.end = new Int32Array(cells);
    this.room = new Int32Array(cells);
    this.outside = new Float32Array(cells);
    this.picture = new Int32Array(Math.max(16, entries));
    this.cost = new Float32Array(this.picture.length);
    this.choice = new Int32Array(this.picture.length);
  }

  /** Starts cell `cell`'s list, empty, with room for `room` entries. */
  reserve(cell: number, room: number): void {
    if (this.used + room > this.picture.length) this.grow(this.used + room);
    this.start[cell] = this.used;
    this.end[cell] = this.used;
    this.room[cell] = room;
    this.used += room;
  }

  /** Adds an entry to cell `cell`'s list for a picture not on it. */
  add(cell: number, picture: number, cost: number, choice: number): void {
    let at = this.end[cell]!;
    if (at === this.start[cell]! + this.room[cell]!) at = this.move(cell);
    this.picture[at] = picture;
    this.cost[at] = cost;
    this.choice[at] = choice;
    this.end[cell] = at + 1;
    if (2 * (this.filled + 1) > this.keys.length) this.rehash();
    const key = cell * this.pictures + picture + 1;
    const slot = this.slotOf(key);
    this.keys[slot] = key;
    this.entries[slot] = at - this.start[cell]!;
    this.filled++;
  }

  /** Whether `picture` is on cell `cell`'s list. */
  has(cell: number, picture: number): boolean {
    return this.find(cell, picture) >= 0;
  }

  /** Where `picture` is on cell `cell`'s list (an entry), or -1. */
  find(cell: number, picture: number): number {
    const slot = this.slotOf(cell * this.pictures + picture + 1);
    return this.keys[slot] === 0 ? -1 : this.start[cell]! + this.entries[slot]!;
  }

  /** The slot of `key` in the table, or the empty one where it would go. */
  private slotOf(key: number): number {
    const mask = this.keys.length - 1;
    let slot = (Math.imul(key | 0, 0x9e3779b1) ^ Math.imul(Math.floor(key / 4294967296), 0x85ebca6b)) & mask;
    while (this.keys[slot] !== 0 && this.keys[slot] !== key) slot = (slot + 1) & mask;
    return slot;
  }

  private rehash(): void {
    const keys = this.keys;
    const entries = this.entries;
    this.keys = new Float64Array(keys.length * 2);
    this.entries = new Int32Array(keys.length * 2);
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === 0) continue;
      const slot = this.slotOf(keys[i]!);
      this.keys[slot] = keys[i]!;
      this.entries[slot] = entries[i]!;
    }
  }

  /** Entries held in all, those of lists that moved included. */
  get size(): number {
    return this.used;
  }

  /** Moves cell `cell`'s list to the end of the arrays, with twice its room (at least 4); returns where its next entry goes. */
  private move(cell: number): number {
    const from = this.start[cell]!;
    const length = this.end[cell]! - from;
    const room = Math.max(4, length * 2);
    if (this.used + room > this.picture.length) this.grow(this.used + room);
    const to = this.used;
    this.picture.copyWithin(to, from, from + length);
    this.cost.copyWithin(to, from, from + length);
    this.choice.copyWithin(to, from, from + length);
    this.start[cell] = to;
    this.end[cell] = to + length;
    this.room[cell] = room;
    this.used += room;
    return to + length;
  }

  private grow(needed: number): void {
    const size = Math.max(needed, Math.ceil(this.picture.length * 1.5));
    const picture = new Int32Array(size);
    const cost = new Float32Array(size);
    const choice = new Int32Array(size);
    picture.set(this.picture.subarray(0, this.used));
    cost.set(this.cost.subarray(0, this.used));
    choice.set(this.choice.subarray(0, this.used));
    this.picture = picture;
    this.cost = cost;
    this.choice = choice;
  }
}
