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

  constructor(
    readonly cells: number,
    entries: number,
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

  /** Adds an entry to cell `cell`'s list. */
  add(cell: number, picture: number, cost: number, choice: number): void {
    let at = this.end[cell]!;
    if (at === this.start[cell]! + this.room[cell]!) at = this.move(cell);
    this.picture[at] = picture;
    this.cost[at] = cost;
    this.choice[at] = choice;
    this.end[cell] = at + 1;
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
