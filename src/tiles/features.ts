import { areaAverage } from '../raster/area-average.js';

/**
 * The colour features stored per tile: the sRGB means (0-255) of a STORED_GRID x STORED_GRID grid
 * of equal sub-squares, row-major, interleaved RGB. Every feature tsmosaic matches on (mean RGB,
 * CIELAB means of a 1x1, 2x2 or 4x4 grid) is derived exactly from it by averaging.
 */
export type FeatureKind = 'srgb-grid';

export const STORED_GRID = 4;

/** How a non-square picture becomes a square tile: `crop` keeps its centre, `stretch` squashes it whole. */
export type TileFit = 'crop' | 'stretch';

/** Tiles an index may cut from each picture: 1 (its centre square) or 5 (and four corner squares; see `cropWindows`). */
export const CROP_COUNTS = [1, 5] as const;
export type CropCount = (typeof CROP_COUNTS)[number];

/** Whether `value` is one of CROP_COUNTS. */
export function isCropCount(value: unknown): value is CropCount {
  return (CROP_COUNTS as readonly unknown[]).includes(value);
}

/** Length of the stored feature vector for each kind. */
export const FEATURE_DIMENSIONS: Record<FeatureKind, number> = { 'srgb-grid': STORED_GRID * STORED_GRID * 3 };

/** The stored features of one tile (interleaved 8-bit RGB, `tileSize` px square), in `into` when given. */
export function tileFeatures(pixels: Uint8Array, tileSize: number, into?: Float32Array): Float32Array {
  return areaAverage(pixels, tileSize, tileSize, 3, STORED_GRID, STORED_GRID, 0, STORED_GRID, undefined, into);
}

/** The stored features of `count` tiles stored one after another (a picture's crops), concatenated (in `into` when given). */
export function tilesFeatures(pixels: Uint8Array, tileSize: number, count: number, into?: Float32Array): Float32Array {
  const tileBytes = tileSize * tileSize * 3;
  const length = FEATURE_DIMENSIONS['srgb-grid'];
  const features = into ? into.subarray(0, count * length) : new Float32Array(count * length);
  for (let i = 0; i < count; i++)
    tileFeatures(pixels.subarray(i * tileBytes, (i + 1) * tileBytes), tileSize, features.subarray(i * length, (i + 1) * length));
  return features;
}
