import { STORED_GRID } from '../tiles/features.js';
import { ciede2000At } from '../colour/ciede2000.js';
import { yieldToEventLoop } from '../yield.js';
import { srgbArrayToLab } from '../colour/lab.js';
import { mirroredSub } from '../tiles/descriptors.js';
import type { MosaicPlan } from '../tiles/mosaic-plan.js';

/** Mean CIEDE2000 between target and mosaic at cell scale and at structure scale (4x finer). */
export interface Fidelity {
  cell: number;
  structure: number;
}

/** Fidelity with the spread of the cells' own CIEDE2000 (cell scale). */
export interface CellFidelity extends Fidelity {
  /** Median, 95th percentile and largest CIEDE2000 of a cell. */
  p50: number;
  p95: number;
  max: number;
}

/** Percentiles come from a histogram of this resolution: exact to it, in memory that does not grow with the grid. */
const PERCENTILE_STEP = 0.001;
/** CIEDE2000 between sRGB colours stays below ~120; larger values (none expected) share the last bin. */
const PERCENTILE_BINS = Math.ceil(150 / PERCENTILE_STEP);

/** Structure scale: each cell is measured as STRUCTURE_GRID x STRUCTURE_GRID sub-squares. */
export const STRUCTURE_GRID = STORED_GRID;

/**
 * Cells measured at a time: the structure grid of a band (16 sub-squares a cell, sRGB and CIELAB,
 * target and mosaic) takes ~400 bytes a cell, so a whole 2-gigapixel mosaic's (5 M cells) peaked at
 * 3.9 GB; bands of this many cells keep it to a few MB.
 */
const FIDELITY_BAND_CELLS = 16_384;

/**
 * How faithful a mosaic is to its target: both reduced to the same grid by an exact area average
 * (sRGB means), each mean converted to CIELAB (D65), and the mean CIEDE2000 over the grid, at cell
 * scale (columns x rows) and structure scale (4 columns x 4 rows). Lower is better. Measured a band
 * of rows at a time: the bands' sums add up to the whole grid's (up to rounding in the last digits).
 *
 * @param targetStructure the target's sRGB means on the (4 columns) x (4 rows) grid, for the
 *   `rows` rows of cells from `firstRow` (4 x `rows` rows of sub-squares)
 * @param tileStructure   every tile's 4x4 sRGB means as rendered (tile-major, 48 values a tile)
 * @param bandCells       cells measured at a time (tests set it small)
 * @param signal          stops between bands with its reason
 * @param onCells         given each band's cells' own CIEDE2000 (row-major from `firstRow`), e.g. for a heat map
 * Mirrored tiles and `--blend` tints in the plan are taken into account.
 */
export async function measureFidelity(
  plan: MosaicPlan,
  targetStructure: (firstRow: number, rows: number) => Promise<Float32Array> | Float32Array,
  tileStructure: Float32Array,
  bandCells = FIDELITY_BAND_CELLS,
  signal?: AbortSignal,
  onCells?: (firstRow: number, errors: Float32Array) => void,
): Promise<CellFidelity> {
  const { columns, rows } = plan;
  const bandRows = Math.max(1, Math.floor(bandCells / columns));
  const sums = { cell: 0, structure: 0 };
  const histogram = new Uint32Array(PERCENTILE_BINS);
  let max = 0;
  for (let firstRow = 0; firstRow < rows; firstRow += bandRows) {
    const count = Math.min(bandRows, rows - firstRow);
    const errors = measureBand(plan, firstRow, count, await targetStructure(firstRow, count), tileStructure, sums);
    for (const error of errors) {
      histogram[Math.min(PERCENTILE_BINS - 1, Math.round(error / PERCENTILE_STEP))]!++;
      if (error > max) max = error;
    }
    onCells?.(firstRow, errors);
    // A band takes a few milliseconds: Ctrl-C is handled between bands.
    await yieldToEventLoop(signal);
  }
  const cells = columns * rows;
  return {
    cell: sums.cell / cells,
    structure: sums.structure / (cells * STRUCTURE_GRID * STRUCTURE_GRID),
    p50: percentile(histogram, cells, 0.5),
    p95: percentile(histogram, cells, 0.95),
    max,
  };
}

/** The nearest-rank `fraction` percentile of `count` values counted in `histogram`'s bins. */
function percentile(histogram: Uint32Array, count: number, fraction: number): number {
  const rank = Math.max(1, Math.ceil(fraction * count));
  let seen = 0;
  for (let bin = 0; bin < histogram.length; bin++) {
    seen += histogram[bin]!;
    if (seen >= rank) return bin * PERCENTILE_STEP;
  }
  return (histogram.length - 1) * PERCENTILE_STEP;
}

/** Adds the CIEDE2000 of rows [firstRow, firstRow + rows) of the grid to `sums` (see measureFidelity); returns each cell's. */
function measureBand(
  plan: MosaicPlan,
  firstRow: number,
  rows: number,
  targetStructure: Float32Array,
  tileStructure: Float32Array,
  sums: Fidelity,
): Float32Array {
  const { columns, tiles, tint, mirrored } = plan;
  const side = STRUCTURE_GRID;
  const subs = side * side;
  const width = columns * side;
  const cells = columns * rows;
  if (targetStructure.length !== cells * subs * 3)
    throw new RangeError(`expected ${cells * subs * 3} target means for ${rows} rows, received ${targetStructure.length}`);
  // The mosaic's sub-square and cell means, in the target's layout, then everything to CIELAB at once.
  const mosaicStructure = new Float32Array(targetStructure.length);
  const mosaicCells = new Float32Array(cells * 3);
  const targetCells = new Float32Array(cells * 3);
  for (let local = 0; local < cells; local++) {
    const cell = firstRow * columns + local;
    const x0 = (local % columns) * side;
    const y0 = Math.floor(local / columns) * side;
    const tileBase = tiles[cell]! * subs * 3;
    for (let sub = 0; sub < subs; sub++) {
      const at = ((y0 + Math.floor(sub / side)) * width + x0 + (sub % side)) * 3;
      const from = tileBase + (mirrored?.[cell] ? mirroredSub(sub, side) : sub) * 3;
      for (let c = 0; c < 3; c++) {
        const value = tileStructure[from + c]! + (tint ? tint[cell * 3 + c]! : 0);
        mosaicStructure[at + c] = Math.min(255, Math.max(0, value));
        mosaicCells[local * 3 + c]! += mosaicStructure[at + c]! / subs;
        targetCells[local * 3 + c]! += targetStructure[at + c]! / subs;
      }
    }
  }
  const labTarget = srgbArrayToLab(targetCells);
  const labMosaic = srgbArrayToLab(mosaicCells);
  const errors = new Float32Array(cells);
  for (let i = 0; i < cells; i++) {
    const error = ciede2000At(labTarget, i * 3, labMosaic, i * 3);
    sums.cell += error;
    errors[i] = error;
  }
  sums.structure += sumDifferenceOfGrids(targetStructure, mosaicStructure);
  return errors;
}

/** Mean CIEDE2000 between two same-sized grids of interleaved sRGB means. */
export function meanDifferenceOfGrids(a: Float32Array, b: Float32Array): number {
  return sumDifferenceOfGrids(a, b) / (a.length / 3);
}

/** Sum of the CIEDE2000 between two same-sized grids of interleaved sRGB means, cell by cell. */
function sumDifferenceOfGrids(a: Float32Array, b: Float32Array): number {
  const labA = srgbArrayToLab(a);
  const labB = srgbArrayToLab(b);
  let sum = 0;
  for (let i = 0; i < labA.length; i += 3) sum += ciede2000At(labA, i, labB, i);
  return sum;
}
