import { STORED_GRID } from '../collection/features.js';
import { ciede2000At } from '../colour/ciede2000.js';
import { srgbArrayToLab } from '../colour/lab.js';
import { mirroredSub } from '../match/method.js';
import type { MosaicPlan } from '../render/render-region.js';

/** Mean CIEDE2000 between target and mosaic at cell scale and at structure scale (4x finer). */
export interface Fidelity {
  cell: number;
  structure: number;
}

/** Structure scale: each cell is measured as STRUCTURE_GRID x STRUCTURE_GRID sub-squares. */
export const STRUCTURE_GRID = STORED_GRID;

/**
 * How faithful a mosaic is to its target: both reduced to the same grid by an exact area average
 * (sRGB means), each mean converted to CIELAB (D65), and the mean CIEDE2000 over the grid, at cell
 * scale (columns x rows) and structure scale (4 columns x 4 rows). Lower is better.
 *
 * @param targetStructure the target's sRGB means on the (4 columns) x (4 rows) grid
 * @param tileStructure   every tile's 4x4 sRGB means as rendered (tile-major, 48 values a tile)
 * Mirrored tiles and `--blend` tints in the plan are taken into account.
 */
export function measureFidelity(plan: MosaicPlan, targetStructure: Float32Array, tileStructure: Float32Array): Fidelity {
  const { columns, rows, tiles, tint, mirrored } = plan;
  const side = STRUCTURE_GRID;
  const subs = side * side;
  const width = columns * side;
  const cells = columns * rows;
  // The mosaic's sub-square and cell means, in the target's layout, then everything to CIELAB at once.
  const mosaicStructure = new Float32Array(targetStructure.length);
  const mosaicCells = new Float32Array(cells * 3);
  const targetCells = new Float32Array(cells * 3);
  for (let cell = 0; cell < cells; cell++) {
    const x0 = (cell % columns) * side;
    const y0 = Math.floor(cell / columns) * side;
    const tileBase = tiles[cell]! * subs * 3;
    for (let sub = 0; sub < subs; sub++) {
      const at = ((y0 + Math.floor(sub / side)) * width + x0 + (sub % side)) * 3;
      const from = tileBase + (mirrored?.[cell] ? mirroredSub(sub, side) : sub) * 3;
      for (let c = 0; c < 3; c++) {
        const value = tileStructure[from + c]! + (tint ? tint[cell * 3 + c]! : 0);
        mosaicStructure[at + c] = Math.min(255, Math.max(0, value));
        mosaicCells[cell * 3 + c]! += mosaicStructure[at + c]! / subs;
        targetCells[cell * 3 + c]! += targetStructure[at + c]! / subs;
      }
    }
  }
  return { cell: meanDifferenceOfGrids(targetCells, mosaicCells), structure: meanDifferenceOfGrids(targetStructure, mosaicStructure) };
}

/** Mean CIEDE2000 between two same-sized grids of interleaved sRGB means. */
export function meanDifferenceOfGrids(a: Float32Array, b: Float32Array): number {
  const labA = srgbArrayToLab(a);
  const labB = srgbArrayToLab(b);
  let sum = 0;
  for (let i = 0; i < labA.length; i += 3) sum += ciede2000At(labA, i, labB, i);
  return sum / (labA.length / 3);
}
