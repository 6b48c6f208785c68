/** sRGB (0-255, D65) to CIELAB (D65, 2° observer), by the IEC 61966-2-1 transfer curve. */

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

/** CIELAB L*, a*, b* of an sRGB colour given as 0-255 values (fractional means allowed). */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const lr = srgbToLinear(r);
  const lg = srgbToLinear(g);
  const lb = srgbToLinear(b);
  const x = labCurve((0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / WHITE_X);
  const y = labCurve((0.2126729 * lr + 0.7151522 * lg + 0.072175 * lb) / WHITE_Y);
  const z = labCurve((0.0193339 * lr + 0.119192 * lg + 0.9503041 * lb) / WHITE_Z);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

/** Converts interleaved sRGB means (0-255) to interleaved L*a*b* values. */
export function srgbArrayToLab(rgb: ArrayLike<number>): Float32Array {
  const lab = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) lab.set(srgbToLab(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!), i);
  return lab;
}
