import { STORED_GRID } from '../collection/features.js';
import { ciede2000 } from '../colour/ciede2000.js';
import { srgbToLab } from '../colour/lab.js';
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
  const width = columns * side;
  const perTile = side * side * 3;
  let cellSum = 0;
  let structureSum = 0;
  for (let cell = 0; cell < columns * rows; cell++) {
    const cx = (cell % columns) * side;
    const cy = Math.floor(cell / columns) * side;
    const tileBase = tiles[cell]! * perTile;
    const targetMean = [0, 0, 0];
    const mosaicMean = [0, 0, 0];
    for (let sub = 0; sub < side * side; sub++) {
      const targetIndex = ((cy + Math.floor(sub / side)) * width + cx + (sub % side)) * 3;
      const target = [targetStructure[targetIndex]!, targetStructure[targetIndex + 1]!, targetStructure[targetIndex + 2]!];
      const tileSub = mirrored?.[cell] ? mirroredSub(sub, side) : sub;
      const mosaic = [0, 1, 2].map((c) => clamp(tileStructure[tileBase + tileSub * 3 + c]! + (tint ? tint[cell * 3 + c]! : 0)));
      for (let c = 0; c < 3; c++) {
        targetMean[c]! += target[c]! / (side * side);
        mosaicMean[c]! += mosaic[c]! / (side * side);
      }
      structureSum += difference(target, mosaic);
    }
    cellSum += difference(targetMean, mosaicMean);
  }
  const cells = columns * rows;
  return { cell: cellSum / cells, structure: structureSum / (cells * side * side) };
}

function clamp(value: number): number {
  return Math.min(255, Math.max(0, value));
}

function difference(a: number[], b: number[]): number {
  const [l1, a1, b1] = srgbToLab(a[0]!, a[1]!, a[2]!);
  const [l2, a2, b2] = srgbToLab(b[0]!, b[1]!, b[2]!);
  return ciede2000(l1, a1, b1, l2, a2, b2);
}
