/** The colour features stored per tile. Only the mean sRGB colour exists so far (pycollage's). */
export type FeatureKind = 'mean-rgb';

/** Length of the feature vector for each kind. */
export const FEATURE_DIMENSIONS: Record<FeatureKind, number> = { 'mean-rgb': 3 };

/** Mean of interleaved 8-bit RGB pixels, as three floats in 0..255. */
export function meanRgb(pixels: Uint8Array): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let i = 0; i < pixels.length; i += 3) {
    r += pixels[i]!;
    g += pixels[i + 1]!;
    b += pixels[i + 2]!;
  }
  const count = pixels.length / 3;
  return [r / count, g / count, b / count];
}
