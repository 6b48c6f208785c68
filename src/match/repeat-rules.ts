/** Offsets of the cells within `distance` of a cell (euclidean, excluding the cell itself). */
export function discOffsets(distance: number): [number, number][] {
  const offsets: [number, number][] = [];
  const reach = Math.floor(distance);
  for (let dy = -reach; dy <= reach; dy++) {
    for (let dx = -reach; dx <= reach; dx++) if ((dx || dy) && dx * dx + dy * dy <= distance * distance) offsets.push([dx, dy]);
  }
  return offsets;
}

/**
 * The --min-distance and --max-uses rules, kept per picture (two crops of one picture are one tile
 * to them): each picture's uses over the grid, and where pictures lie in the window of the band
 * being placed and the rows above it within reach, the only cells a cell of the band can be near.
 */
export class RepeatRules {
  /** Whether the rules can block a tile at all on this grid. */
  readonly blocking: boolean;
  private readonly uses: Uint32Array;
  /** Cells within min-distance of a cell, as dx, dy pairs of one flat array (destructuring pairs is slow in code not yet optimised). */
  private readonly disc: Int32Array;
  private readonly discCells: number;
  private readonly reach: number;
  private readonly squaredDistance: number;
  private windowTop = 0;
  private windowRows = 0;
  /** The picture in each cell of the window, -1 where none is yet. */
  private placedPictures = new Int32Array(0);
  /** The cells of the window each picture is in (kept only under a min-distance). */
  private positions: (number[] | undefined)[] = [];
  // Nothing is placed while one cell is chosen, so each picture is checked once a cell: its crops
  // and mirror images share the answer.
  private readonly checkedFor: Int32Array;
  private readonly checkedAnswer: Uint8Array;

  constructor(
    private readonly columns: number,
    cells: number,
    readonly pictureCount: number,
    private readonly cropsPerPicture: number,
    private readonly minDistance: number,
    private readonly maxUses: number,
  ) {
    this.blocking = minDistance > 0 || maxUses < cells;
    this.uses = new Uint32Array(pictureCount);
    this.disc = Int32Array.from(discOffsets(minDistance).flat());
    this.discCells = this.disc.length / 2;
    this.reach = Math.floor(minDistance);
    this.squaredDistance = minDistance * minDistance;
    this.checkedFor = new Int32Array(pictureCount).fill(-1);
    this.checkedAnswer = new Uint8Array(pictureCount);
  }

  /** The picture tile `tile` is a crop of. */
  pictureOf(tile: number): number {
    return this.cropsPerPicture === 1 ? tile : Math.floor(tile / this.cropsPerPicture);
  }

  /** Moves the window to the band of rows [firstRow, firstRow + rowCount) and the rows in reach above it, placed in `tiles`. */
  startBand(firstRow: number, rowCount: number, tiles: Uint16Array | Uint32Array): void {
    const columns = this.columns;
    this.windowTop = Math.max(0, firstRow - this.reach);
    this.windowRows = firstRow + rowCount - this.windowTop;
    this.placedPictures = new Int32Array(this.windowRows * columns).fill(-1);
    this.positions = new Array<number[] | undefined>(this.pictureCount);
    for (let cell = this.windowTop * columns; cell < firstRow * columns; cell++) this.note(this.pictureOf(tiles[cell]!), cell);
  }

  /** Whether `picture` may go in `cell` of the band. */
  allowed(picture: number, cell: number): boolean {
    if (this.checkedFor[picture] !== cell) {
      this.checkedFor[picture] = cell;
      this.checkedAnswer[picture] = this.keeps(picture, cell) ? 1 : 0;
    }
    return this.checkedAnswer[picture] === 1;
  }

  /** Whether `picture` lies diagonally next to `cell` in the row above it (the only placed one a row plan sees). */
  diagonallyAbove(picture: number, cell: number): boolean {
    const columns = this.columns;
    const x = cell % columns;
    const y = (cell - x) / columns - this.windowTop;
    if (y < 1) return false;
    const above = (y - 1) * columns + x;
    return (x > 0 && this.placedPictures[above - 1] === picture) || (x + 1 < columns && this.placedPictures[above + 1] === picture);
  }

  /** Counts a use of `picture`, placed in `cell` of the band. */
  record(picture: number, cell: number): void {
    this.uses[picture]!++;
    this.note(picture, cell);
    // An answer kept for the picture may have changed (budgeted placement asks of a cell twice).
    this.checkedFor[picture] = -1;
  }

  /** How often `picture` is used so far. */
  usesOf(picture: number): number {
    return this.uses[picture]!;
  }

  /** Calls `visit` with the picture of every placed cell of the window within min-distance of `cell`. */
  forEachNear(cell: number, visit: (picture: number) => void): void {
    const { columns, disc, windowTop, windowRows, placedPictures } = this;
    const x = cell % columns;
    const y = (cell - x) / columns - windowTop;
    for (let i = 0; i < disc.length; i += 2) {
      const ox = x + disc[i]!;
      const oy = y + disc[i + 1]!;
      if (ox < 0 || oy < 0 || ox >= columns || oy >= windowRows) continue;
      const picture = placedPictures[oy * columns + ox]!;
      if (picture >= 0) visit(picture);
    }
  }

  /** Whether `picture` has uses left under --max-uses. */
  hasUsesLeft(picture: number): boolean {
    return this.uses[picture]! < this.maxUses;
  }

  /** How often the most used picture is used. */
  mostUses(): number {
    return this.uses.reduce((max, value) => Math.max(max, value), 0);
  }

  /** Notes `picture` in `cell` of the window. */
  private note(picture: number, cell: number): void {
    this.placedPictures[cell - this.windowTop * this.columns] = picture;
    if (this.minDistance > 0) (this.positions[picture] ??= []).push(cell);
  }

  /**
   * Checks `picture` against whichever is shorter: the list of places it already has, or the cells
   * around `cell` (a grid lookup).
   */
  private keeps(picture: number, cell: number): boolean {
    if (this.uses[picture]! >= this.maxUses) return false;
    const placed = this.positions[picture];
    if (!placed) return true;
    const columns = this.columns;
    const x = cell % columns;
    const y = (cell - x) / columns;
    if (placed.length < this.discCells) {
      const reach = this.reach;
      const squaredDistance = this.squaredDistance;
      for (const other of placed) {
        const dx = (other % columns) - x;
        if (dx > reach || dx < -reach) continue;
        const dy = (other - (other % columns)) / columns - y;
        if (dx * dx + dy * dy <= squaredDistance) return false;
      }
      return true;
    }
    const disc = this.disc;
    const windowTop = this.windowTop;
    const windowRows = this.windowRows;
    const placedPictures = this.placedPictures;
    for (let i = 0; i < disc.length; i += 2) {
      const ox = x + disc[i]!;
      const oy = y + disc[i + 1]! - windowTop;
      if (ox >= 0 && oy >= 0 && ox < columns && oy < windowRows && placedPictures[oy * columns + ox] === picture) return false;
    }
    return true;
  }
}
