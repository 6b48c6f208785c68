import type Sharp from 'sharp';

/** sharp's default export: the function images are opened with, and its settings. */
export type SharpModule = typeof Sharp;

/**
 * Set in the environment by disableSharpCache, so that worker threads started after it (they copy
 * the environment) keep libvips' cache off too: loading sharp, in any thread, resets that
 * process-wide cache to its defaults (50 MB, 100 operations).
 */
const CACHE_OFF_VARIABLE = 'TSMOSAIC_SHARP_CACHE_OFF';

let loading: Promise<SharpModule> | undefined;

/**
 * sharp, loaded on first use; every module of tsmosaic gets it here, so that disableSharpCache
 * holds for all. Loading it (libvips' native library) blocks the thread for ~80 ms: `build` first
 * starts its cell worker, which boots on the other core meanwhile.
 */
export function loadSharp(): Promise<SharpModule> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    if (process.env[CACHE_OFF_VARIABLE] === '1') sharp.cache(false);
    return sharp;
  });
  return loading;
}

/**
 * Turns libvips' operation cache off, now or as sharp loads (see loadSharp), without loading it;
 * in the worker threads started afterwards too. For the CLI: every image is decoded or encoded
 * once, so the cache would only hold their buffers.
 */
export function disableSharpCache(): void {
  process.env[CACHE_OFF_VARIABLE] = '1';
  loading?.then(
    (sharp) => sharp.cache(false),
    () => undefined,
  );
}
