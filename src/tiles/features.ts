import { areaAverage } from '../raster/area-average.js';

/**
 * The colour features stored per tile: the sRGB means (0-255) of a STORED_GRID x STORED_GRID grid
 * of equal sub-squares, row-major, interleaved RGB. Every feature tsmosaic matches on (mean RGB,
 * CIELAB means of a 1x1, 2x2 or 4x4 grid) is derived exactly from it by averaging.
 */
export type FeatureKind = 'srgb-grid';

export const STORED_GRID = 4;

/** How a picture of another aspect ratio becomes a tile: `crop` keeps its centre, `stretch` squashes it whole. */
export type TileFit = 'crop' | 'stretch';

/** The size of a tile in pixels: square (`20`) or any rectangle (`30x20`). */
export interface TileShape {
  width: number;
  height: number;
}

/** Bytes of one tile of `shape`, 8-bit RGB. */
export function tileBytes(shape: TileShape): number {
  return shape.width * shape.height * 3;
}

/** Tiles an index may cut from each picture: 1 (its centre square) or 5 (and four corner squares; see `cropWindows`). */
export const CROP_COUNTS = [1, 5] as const;
export type CropCount = (typeof CROP_COUNTS)[number];

/** Whether `value` is one of CROP_COUNTS. */
export function isCropCount(value: unknown): value is CropCount {
  return (CROP_COUNTS as readonly unknown[]).includes(value);
}

/** Length of the stored feature vector for each kind. */
export const FEATURE_DIMENSIONS: Record<FeatureKind, number> = { 'srgb-grid': STORED_GRID * STORED_GRID * 3 };

/** The stored features of one tile of `shape` (interleaved 8-bit RGB), in `into` when given. */
export function tileFeatures(pixels: Uint8Array, shape: TileShape, into?: Float32Array): Float32Array {
  return areaAverage(pixels, shape.width, shape.height, 3, STORED_GRID, STORED_GRID, 0, STORED_GRID, undefined, into);
}

/** The stored features of `count` tiles stored one after another (a picture's crops), concatenated (in `into` when given). */
export function tilesFeatures(pixels: Uint8Array, shape: TileShape, count: number, into?: Float32Array): Float32Array {
  const bytes = tileBytes(shape);
  const length = FEATURE_DIMENSIONS['srgb-grid'];
  const features = into ? into.subarray(0, count * length) : new Float32Array(count * length);
  for (let i = 0; i < count; i++)
    tileFeatures(pixels.subarray(i * bytes, (i + 1) * bytes), shape, features.subarray(i * length, (i + 1) * length));
  return features;
}
