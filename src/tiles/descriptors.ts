import { STORED_GRID } from './features.js';
import { ciede2000At } from '../colour/ciede2000.js';
import { srgbToLabAt } from '../colour/lab.js';

/**
 * How tiles are compared with target cells.
 * - `rgb`: pycollage's method, the euclidean distance of mean sRGB colours.
 * - `lab`: perceptual. Each cell and tile is described by its mean colour and the colours of a
 *   `grid` x `grid` split of it, all in CIELAB; the cost of a tile for a cell is the CIEDE2000 of the
 *   means plus `structureWeight` times the mean CIELAB distance of the sub-squares (CIEDE2000 there
 *   ranked tiles the same in our measurements at several times the cost). An HNSW index over
 *   [mean Lab, structureWeight x (sub-square Lab - mean Lab)] finds the candidates, which are then
 *   ranked by that cost.
 */
export interface MatchMethod {
  metric: 'rgb' | 'lab';
  grid: 1 | 2 | 4;
  structureWeight: number;
  /** Also try every tile mirrored left-right (lab only). */
  mirror: boolean;
}

/** The match method `build` uses unless told otherwise, and the one process-collection indexes (chosen by measurement: docs/design.md). */
export const DEFAULT_METHOD: MatchMethod = { metric: 'lab', grid: 2, structureWeight: 0.3, mirror: true };

/** pycollage's method. */
export const RGB_METHOD: MatchMethod = { metric: 'rgb', grid: 1, structureWeight: 0, mirror: false };

/** Values per descriptor: mean colour, then one colour per sub-square. */
export function descriptorLength(method: MatchMethod): number {
  return method.metric === 'rgb' || method.grid === 1 ? 3 : 3 + 3 * method.grid * method.grid;
}

/** Whether an HNSW index built for `a` serves `b` (the index ignores mirroring). */
export function sameIndexSpace(a: MatchMethod, b: MatchMethod): boolean {
  return a.metric === b.metric && a.grid === b.grid && (a.metric === 'rgb' || a.grid === 1 || a.structureWeight === b.structureWeight);
}

/**
 * Descriptors of `count` items whose sRGB means are given on a `side` x `side` split of each item
 * in `means`: item i's split starts at `start(i)` and its rows of sub-squares are `rowStride`
 * values apart (3 values a sub-square); `side` must be a multiple of the method's grid. Tiles
 * (stored features) and target cells (rows of the sampled target) differ only in that layout.
 */
function describe(
  means: Float32Array,
  count: number,
  side: number,
  start: (item: number) => number,
  rowStride: number,
  method: MatchMethod,
  into?: Float32Array,
): Float32Array {
  const length = descriptorLength(method);
  const grid = length === 3 ? 1 : method.grid;
  const out = into ? into.subarray(0, count * length) : new Float32Array(count * length);
  const sums = new Float64Array(grid * grid * 3);
  const block = side / grid;
  const perCoarse = block * block;
  for (let item = 0; item < count; item++) {
    sums.fill(0);
    const first = start(item);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const at = first + y * rowStride + x * 3;
        const coarse = (Math.floor(y / block) * grid + Math.floor(x / block)) * 3;
        sums[coarse]! += means[at]!;
        sums[coarse + 1]! += means[at + 1]!;
        sums[coarse + 2]! += means[at + 2]!;
      }
    }
    const base = item * length;
    let red = 0;
    let green = 0;
    let blue = 0;
    for (let i = 0; i < grid * grid * 3; i += 3) {
      red += sums[i]! / perCoarse / (grid * grid);
      green += sums[i + 1]! / perCoarse / (grid * grid);
      blue += sums[i + 2]! / perCoarse / (grid * grid);
    }
    if (method.metric === 'rgb') {
      out[base] = red;
      out[base + 1] = green;
      out[base + 2] = blue;
      continue;
    }
    srgbToLabAt(red, green, blue, out, base);
    if (grid === 1) continue;
    for (let i = 0; i < grid * grid; i++)
      srgbToLabAt(sums[i * 3]! / perCoarse, sums[i * 3 + 1]! / perCoarse, sums[i * 3 + 2]! / perCoarse, out, base + 3 + i * 3);
  }
  return out;
}

/**
 * Descriptors of tiles from their stored features (STORED_GRID x STORED_GRID sRGB means each),
 * written to the start of `into` when given (block-wise callers reuse one array rather than leave
 * one per block for the garbage collector).
 */
export function tileDescriptors(features: Float32Array, count: number, method: MatchMethod, into?: Float32Array): Float32Array {
  const stride = STORED_GRID * STORED_GRID * 3;
  return describe(features, count, STORED_GRID, (tile) => tile * stride, STORED_GRID * 3, method, into);
}

/**
 * The descriptors of every cell of a `columns` x `rows` grid, row-major, from the target's sRGB
 * means at `grid` x the grid's resolution (see targetMeans); written to the start of `into` when given.
 */
export function cellDescriptors(
  means: Float32Array,
  columns: number,
  rows: number,
  method: MatchMethod,
  into?: Float32Array,
): Float32Array {
  const grid = descriptorLength(method) === 3 ? 1 : method.grid;
  const width = columns * grid;
  return describe(
    means,
    columns * rows,
    grid,
    (cell) => (Math.floor(cell / columns) * grid * width + (cell % columns) * grid) * 3,
    width * 3,
    method,
    into,
  );
}

/**
 * The vectors the HNSW index holds for descriptors: euclidean distance between them ranks
 * candidates. Written to the start of `into` when given; may be `descriptors` itself.
 */
export function annVectors(descriptors: Float32Array, method: MatchMethod, into?: Float32Array): Float32Array {
  const length = descriptorLength(method);
  if (length === 3) return descriptors;
  const vectors = into
    ? into.length === descriptors.length
      ? into
      : into.subarray(0, descriptors.length)
    : new Float32Array(descriptors.length);
  for (let base = 0; base < descriptors.length; base += length) {
    for (let i = 0; i < 3; i++) vectors[base + i] = descriptors[base + i]!;
    for (let i = 3; i < length; i++) vectors[base + i] = method.structureWeight * (descriptors[base + i]! - descriptors[base + (i % 3)]!);
  }
  return vectors;
}

/** Sub-square of a tile seen at position `sub` of a `grid` x `grid` split when the tile is mirrored. */
export function mirroredSub(sub: number, grid: number): number {
  const x = sub % grid;
  return sub - x + (grid - 1 - x);
}

/*
 * The cost of `tile` (optionally mirrored) for `cell`, what the placement minimises, is
 * colourCost + structureCosts; `cells` and `tiles` are descriptor arrays of the method. The two
 * parts are apart because the colour part is the same for a tile and its mirror image.
 */

/** The part of the match cost from the mean colours. */
export function colourCost(method: MatchMethod, cells: Float32Array, cell: number, tiles: Float32Array, tile: number): number {
  const length = descriptorLength(method);
  const a = cell * length;
  const b = tile * length;
  if (method.metric === 'rgb') {
    return (cells[a]! - tiles[b]!) ** 2 + (cells[a + 1]! - tiles[b + 1]!) ** 2 + (cells[a + 2]! - tiles[b + 2]!) ** 2;
  }
  return ciede2000At(cells, a, tiles, b);
}

/**
 * The part of the match cost from the sub-squares (0 for the rgb metric and a 1x1 grid), of `tile`
 * for `cell` as it is (into `out[0]`) and mirrored (into `out[1]`), in one pass over the cell's
 * sub-squares: placement costs every candidate both ways.
 */
export function structureCosts(
  method: MatchMethod,
  cells: Float32Array,
  cell: number,
  tiles: Float32Array,
  tile: number,
  out: Float64Array,
): void {
  const length = descriptorLength(method);
  if (method.metric === 'rgb' || length === 3) {
    out[0] = 0;
    out[1] = 0;
    return;
  }
  const a = cell * length + 3;
  const b = tile * length + 3;
  const { grid } = method;
  let straight = 0;
  let mirrored = 0;
  for (let sub = 0; sub < grid * grid; sub++) {
    const x = a + sub * 3;
    const y = b + sub * 3;
    const z = b + mirroredSub(sub, grid) * 3;
    // (Products and plain declarations: ** and destructuring are slow in code not yet optimised.)
    const l = cells[x]!;
    const u = cells[x + 1]!;
    const v = cells[x + 2]!;
    const dl = l - tiles[y]!;
    const du = u - tiles[y + 1]!;
    const dv = v - tiles[y + 2]!;
    const ml = l - tiles[z]!;
    const mu = u - tiles[z + 1]!;
    const mv = v - tiles[z + 2]!;
    straight += Math.sqrt(dl * dl + du * du + dv * dv);
    mirrored += Math.sqrt(ml * ml + mu * mu + mv * mv);
  }
  out[0] = (method.structureWeight * straight) / (grid * grid);
  out[1] = (method.structureWeight * mirrored) / (grid * grid);
}

/**
 * Each tile's detail below the method's grid: the mean CIELAB distance of its STORED_GRID x
 * STORED_GRID sub-squares from the `grid` x `grid` square each lies in, which descriptors do not
 * see. Worked out for a tile when first asked: a build looks at a fraction of a large index's tiles.
 */
export class TileDetail {
  private readonly values: Float32Array;
  /** The square each sub-square lies in, as the start of its 3 values. */
  private readonly squareOf: Uint8Array;
  // Reused for each tile: its sub-squares and squares in CIELAB, the squares' sRGB sums.
  private readonly lab = new Float32Array(STORED_GRID * STORED_GRID * 3);
  private readonly squares: Float64Array;
  private readonly squaresLab: Float32Array;

  constructor(
    private readonly features: Float32Array,
    count: number,
    private readonly grid: number,
  ) {
    const side = STORED_GRID;
    const block = side / grid;
    this.values = new Float32Array(count).fill(-1);
    this.squareOf = Uint8Array.from(
      { length: side * side },
      (_, sub) => (Math.floor(sub / side / block) * grid + Math.floor((sub % side) / block)) * 3,
    );
    this.squares = new Float64Array(grid * grid * 3);
    this.squaresLab = new Float32Array(grid * grid * 3);
  }

  /** The detail of `tile`. */
  of(tile: number): number {
    const known = this.values[tile]!;
    return known >= 0 ? known : (this.values[tile] = this.measure(tile));
  }

  private measure(tile: number): number {
    const { features, grid, squareOf, lab, squares, squaresLab } = this;
    const subs = STORED_GRID * STORED_GRID;
    const base = tile * subs * 3;
    squares.fill(0);
    for (let sub = 0; sub < subs; sub++) {
      const at = squareOf[sub]!;
      const r = features[base + sub * 3]!;
      const g = features[base + sub * 3 + 1]!;
      const b = features[base + sub * 3 + 2]!;
      squares[at]! += r;
      squares[at + 1]! += g;
      squares[at + 2]! += b;
      srgbToLabAt(r, g, b, lab, sub * 3);
    }
    const perSquare = subs / (grid * grid);
    for (let i = 0; i < grid * grid * 3; i += 3) {
      srgbToLabAt(squares[i]! / perSquare, squares[i + 1]! / perSquare, squares[i + 2]! / perSquare, squaresLab, i);
    }
    let sum = 0;
    for (let sub = 0; sub < subs; sub++) {
      const at = squareOf[sub]!;
      const dl = lab[sub * 3]! - squaresLab[at]!;
      const da = lab[sub * 3 + 1]! - squaresLab[at + 1]!;
      const db = lab[sub * 3 + 2]! - squaresLab[at + 2]!;
      sum += Math.sqrt(dl * dl + da * da + db * db);
    }
    return sum / subs;
  }
}
