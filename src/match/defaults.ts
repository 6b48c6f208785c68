import type { MatchMethod } from './method.js';

/** The match method `build` uses unless told otherwise; process-collection indexes it. */
export const DEFAULT_METHOD: MatchMethod = { metric: 'lab', grid: 2, structureWeight: 0.5, mirror: true };

/** No tile next to itself unless told otherwise. */
export const DEFAULT_MIN_DISTANCE = 1;
