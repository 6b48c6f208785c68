import { createRequire } from 'node:module';

/** Units a print size or a grout width may be given in, and millimetres in each. */
export const LENGTH_UNITS = { mm: 1, cm: 10, in: 25.4 } as const;
export type LengthUnit = keyof typeof LENGTH_UNITS;

/** A print size as given: `60x40cm` is { width: 60, height: 40, unit: 'cm' }. */
export interface PrintSize {
  width: number;
  height: number;
  unit: LengthUnit;
}

/** Largest side of a print, in millimetres (10 m: a wall). */
export const MAX_PRINT_MM = 10_000;

/** `<W>x<H><unit>`, decimals allowed: `60x40cm`, `24x36in`, `420 x 297 mm`. */
const PRINT_SIZE = /^\s*(\d+(?:\.\d+)?)\s*[x×]\s*(\d+(?:\.\d+)?)\s*(mm|cm|in)\s*$/;

/** A `--print` value, or undefined when it is not one (no unit, a side of 0, past MAX_PRINT_MM). */
export function parsePrintSize(text: string): PrintSize | undefined {
  const match = PRINT_SIZE.exec(text);
  if (!match) return undefined;
  const size = { width: Number(match[1]), height: Number(match[2]), unit: match[3] as LengthUnit };
  return isPrintSize(size) ? size : undefined;
}

export function isPrintSize(value: unknown): value is PrintSize {
  if (typeof value !== 'object' || value === null) return false;
  const { width, height, unit } = value as Partial<PrintSize>;
  if (typeof unit !== 'string' || !Object.hasOwn(LENGTH_UNITS, unit)) return false;
  const mm = LENGTH_UNITS[unit];
  return [width, height].every((side) => typeof side === 'number' && Number.isFinite(side) && side > 0 && side * mm <= MAX_PRINT_MM);
}

/** A grout width as given: pixels, or millimetres of the print. */
export interface GroutWidth {
  width: number;
  unit: 'px' | 'mm';
}

const GROUT = /^\s*(\d+(?:\.\d+)?)\s*(px|mm)?\s*$/;

/** A `--grout` value (`4`, `4px`, `1.5mm`), or undefined when it is not one. */
export function parseGrout(text: string): GroutWidth | undefined {
  const match = GROUT.exec(text);
  if (!match) return undefined;
  const grout: GroutWidth = { width: Number(match[1]), unit: match[2] === 'mm' ? 'mm' : 'px' };
  return isGrout(grout) ? grout : undefined;
}

export function isGrout(value: unknown): value is GroutWidth {
  if (typeof value !== 'object' || value === null) return false;
  const { width, unit } = value as Partial<GroutWidth>;
  if (unit !== 'px' && unit !== 'mm') return false;
  return (
    typeof width === 'number' &&
    Number.isFinite(width) &&
    width >= 0 &&
    width <= (unit === 'px' ? 1000 : 100) &&
    (unit === 'mm' || Number.isInteger(width))
  );
}

/** An sRGB colour, 0-255 a channel. */
export type Rgb = readonly [number, number, number];

// sharp's own colour parser (its dependency, listed in ours): CSS names, #rrggbb, #rgb, rgb(), hsl().
const require = createRequire(import.meta.url);
type ColourFunction = (text: string) => { rgb(): { array(): number[] }; alpha(): number };

/** A `--grout-colour` value as an opaque sRGB colour, or undefined when it is not a CSS colour. */
export function parseColour(text: string): Rgb | undefined {
  const colour = require('@img/colour') as ColourFunction;
  try {
    const parsed = colour(text.trim().toLowerCase());
    if (parsed.alpha() !== 1) return undefined;
    const [red, green, blue] = parsed.rgb().array().map(Math.round) as [number, number, number];
    return [red, green, blue];
  } catch {
    return undefined;
  }
}

export function isRgb(value: unknown): value is Rgb {
  return (
    Array.isArray(value) && value.length === 3 && value.every((channel) => Number.isInteger(channel) && channel >= 0 && channel <= 255)
  );
}
