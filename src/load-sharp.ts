import type Sharp from 'sharp';

/** sharp's default export: the function images are opened with, and its settings. */
export type SharpModule = typeof Sharp;

let loading: Promise<SharpModule> | undefined;
let cacheOff = false;

/**
 * sharp, loaded on first use. Loading it (libvips' native library) blocks the thread for ~80 ms:
 * `build` first starts its cell worker, which boots on the other core meanwhile.
 */
export function loadSharp(): Promise<SharpModule> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    if (cacheOff) sharp.cache(false);
    return sharp;
  });
  return loading;
}

/**
 * Turns libvips' operation cache off, now or as sharp loads (see loadSharp), without loading it.
 * For the CLI: every image is decoded or encoded once, so the cache would only hold their buffers.
 */
export function disableSharpCache(): void {
  cacheOff = true;
  void loading?.then((sharp) => sharp.cache(false));
}
