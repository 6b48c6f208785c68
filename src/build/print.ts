import { LENGTH_UNITS, type PrintSize } from '../options/print.js';
import type { TargetCrop } from '../target/target.js';

/** Millimetres in an inch: print sizes and grout in millimetres become pixels through the dpi. */
const MM_PER_INCH = 25.4;

/**
 * Edge of a tile on a print when the grid is not given: about a centimetre, so that each picture
 * is recognisable when the print is looked at from arm's length (see README, "Make a poster").
 */
const PRINT_TILE_MM = 10;
/** Columns a print gets at least and at most when the grid is not given. */
const PRINT_COLUMNS = { min: 20, max: 300 } as const;

/** The output size in pixels of a print: round(side in inches x dpi). */
export function printPixels(size: PrintSize, dpi: number): { width: number; height: number } {
  const inches = (side: number): number => (side * LENGTH_UNITS[size.unit]) / MM_PER_INCH;
  return { width: Math.max(1, Math.round(inches(size.width) * dpi)), height: Math.max(1, Math.round(inches(size.height) * dpi)) };
}

/** Millimetres as pixels at `dpi`, rounded. */
export function mmToPixels(mm: number, dpi: number): number {
  return Math.round((mm / MM_PER_INCH) * dpi);
}

/** Columns of a print's grid when not given: tiles of about PRINT_TILE_MM across. */
export function printColumns(size: PrintSize): number {
  const widthMm = size.width * LENGTH_UNITS[size.unit];
  return Math.min(PRINT_COLUMNS.max, Math.max(PRINT_COLUMNS.min, Math.round(widthMm / PRINT_TILE_MM)));
}

/**
 * The largest part of a `width` x `height` target around its centre with the aspect ratio
 * `aspect` (width / height), or undefined when the target already has it (within a pixel).
 */
export function centreCrop(width: number, height: number, aspect: number): TargetCrop | undefined {
  const cropWidth = Math.min(width, Math.round(height * aspect));
  const cropHeight = Math.min(height, Math.round(width / aspect));
  if (cropWidth >= width - 1 && cropHeight >= height - 1) return undefined;
  return { left: Math.floor((width - cropWidth) / 2), top: Math.floor((height - cropHeight) / 2), width: cropWidth, height: cropHeight };
}
