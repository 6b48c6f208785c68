import { areaAverage } from '../raster/area-average.js';

/**
 * The colour features stored per tile: the sRGB means (0-255) of a STORED_GRID x STORED_GRID grid
 * of equal sub-squares, row-major, interleaved RGB. Every feature tsmosaic matches on (mean RGB,
 * CIELAB means of a 1x1, 2x2 or 4x4 grid) is derived exactly from it by averaging.
 */
export type FeatureKind = 'srgb-grid';

export const STORED_GRID = 4;

/** Tiles an index may cut from each picture: 1 (its centre square) or 5 (and four corner squares; see `cropWindows`). */
export const CROP_COUNTS = [1, 5] as const;
export type CropCount = (typeof CROP_COUNTS)[number];

/** Whether `value` is one of CROP_COUNTS. */
export function isCropCount(value: unknown): value is CropCount {
  return (CROP_COUNTS as readonly unknown[]).includes(value);
}

/** Length of the stored feature vector for each kind. */
export const FEATURE_DIMENSIONS: Record<FeatureKind, number> = { 'srgb-grid': STORED_GRID * STORED_GRID * 3 };

/** The stored features of one tile (interleaved 8-bit RGB, `tileSize` px square). */
export function tileFeatures(pixels: Uint8Array, tileSize: number): Float32Array {
  return areaAverage(pixels, tileSize, tileSize, 3, STORED_GRID, STORED_GRID);
}

/** The stored features of `count` tiles stored one after another (a picture's crops), concatenated. */
export function tilesFeatures(pixels: Uint8Array, tileSize: number, count: number): Float32Array {
  const tileBytes = tileSize * tileSize * 3;
  const features = new Float32Array(count * FEATURE_DIMENSIONS['srgb-grid']);
  for (let i = 0; i < count; i++) features.set(tileFeatures(pixels.subarray(i * tileBytes, (i + 1) * tileBytes), tileSize), i * FEATURE_DIMENSIONS['srgb-grid']);
  return features;
}
