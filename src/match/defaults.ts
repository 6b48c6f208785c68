import type { MatchMethod } from './method.js';

/** The match method `build` uses unless told otherwise; process-collection indexes it. */
/*
 * Chosen by measurement (npm run bench, 6 shared photos, 2000-tile collection, min-distance 1):
 * structure weight 0.3 gave cell/structure ΔE00 2.97/6.65, 0.5 gave 3.23/6.32 and 0.8 3.58/6.16,
 * against 2.89/8.25 for pycollage's mean RGB; a 4x4 grid (4.16/5.85) gave up too much colour.
 */
export const DEFAULT_METHOD: MatchMethod = { metric: 'lab', grid: 2, structureWeight: 0.3, mirror: true };

/**
 * No picture beside itself, nor diagonally, unless told otherwise: with 1 (side by side only) the
 * same tile formed visible diagonal runs in flat areas. Measured with five crops per picture (npm
 * run bench, 6 shared photos): cell/structure ΔE00 1.97/5.33 at 1, 2.27/5.59 at 1.5, 2.46/5.73 at 2.
 */
export const DEFAULT_MIN_DISTANCE = 1.5;
