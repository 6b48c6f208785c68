/** sRGB (0-255, D65) to CIELAB (D65, 2° observer), by the IEC 61966-2-1 transfer curve. */

/** Linear light at 1/16 steps of the 0-255 sRGB scale, interpolated between (error below 1e-5). */
const LINEAR_STEPS = 16;
const LINEAR_TABLE = Float64Array.from({ length: 255 * LINEAR_STEPS + 2 }, (_, i) => srgbToLinear(Math.min(255, i / LINEAR_STEPS)));

function linearFast(value: number): number {
  const position = Math.min(255, Math.max(0, value)) * LINEAR_STEPS;
  const index = Math.floor(position);
  const low = LINEAR_TABLE[index]!;
  return low + (LINEAR_TABLE[index + 1]! - low) * (position - index);
}

const WHITE_X = 0.95047;
const WHITE_Y = 1;
const WHITE_Z = 1.08883;
const EPSILON = (6 / 29) ** 3;
const KAPPA_INVERSE = 1 / (3 * (6 / 29) ** 2);

/** Linear light (0-1) of an sRGB channel value (0-255, may be fractional). */
export function srgbToLinear(value: number): number {
  const c = value / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function labCurve(t: number): number {
  return t > EPSILON ? Math.cbrt(t) : t * KAPPA_INVERSE + 4 / 29;
}

/** CIELAB of linear-light RGB (0-1), written to `out` at `at`. */
function linearToLab(lr: number, lg: number, lb: number, out: { [index: number]: number }, at: number): void {
  const x = labCurve((0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / WHITE_X);
  const y = labCurve((0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb) / WHITE_Y);
  const z = labCurve((0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb) / WHITE_Z);
  out[at] = 116 * y - 16;
  out[at + 1] = 500 * (x - y);
  out[at + 2] = 200 * (y - z);
}

/** CIELAB L*, a*, b* of an sRGB colour given as 0-255 values (fractional means allowed). */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const lab: [number, number, number] = [0, 0, 0];
  linearToLab(srgbToLinear(r), srgbToLinear(g), srgbToLinear(b), lab, 0);
  return lab;
}

/** CIELAB of an sRGB colour (0-255, clamped; fractional means allowed) written to `out` at `at`, with a table for the transfer curve. */
export function srgbToLabAt(r: number, g: number, b: number, out: { [index: number]: number }, at: number): void {
  linearToLab(linearFast(r), linearFast(g), linearFast(b), out, at);
}

/** Converts interleaved sRGB means (0-255, clamped) to interleaved L*a*b* values, with a table for the transfer curve. */
export function srgbArrayToLab(rgb: ArrayLike<number>): Float32Array {
  const lab = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) srgbToLabAt(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!, lab, i);
  return lab;
}
