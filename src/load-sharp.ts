import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import type Sharp from 'sharp';

/** sharp's default export: the function images are opened with, and its settings. */
export type SharpModule = typeof Sharp;

/**
 * Set in the environment by disableSharpCache, so that worker threads started after it (they copy
 * the environment) keep libvips' cache off too: loading sharp, in any thread, resets that
 * process-wide cache to its defaults (50 MB, 100 operations).
 */
const CACHE_OFF_VARIABLE = 'TSMOSAIC_SHARP_CACHE_OFF';

/**
 * The libvips loaders left unblocked (with their file, buffer and source subclasses): those of the
 * formats tsmosaic reads (JPEG, PNG, WebP, GIF with libnsgif, TIFF, HEIF and AVIF), and libvips'
 * native `.v` format of its own temporary files (see writeLargeImage).
 */
const LOADERS = [
  'VipsForeignLoadJpeg',
  'VipsForeignLoadPng',
  'VipsForeignLoadWebp',
  'VipsForeignLoadNsgif',
  'VipsForeignLoadTiff',
  'VipsForeignLoadHeif',
  'VipsForeignLoadVips',
];

let loading: Promise<SharpModule> | undefined;

/**
 * sharp, loaded on first use; every module of tsmosaic gets it here, so that disableSharpCache
 * and the limits on loaders (see limitLoaders) hold for all. Loading it (libvips' native library)
 * blocks the thread for ~80 ms: `build` first starts its cell worker, which boots on the other core
 * meanwhile.
 */
export function loadSharp(): Promise<SharpModule> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    if (process.env[CACHE_OFF_VARIABLE] === '1') sharp.cache(false);
    limitLoaders(sharp);
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

/** The environment data key of loadersGate. */
const LOADERS_GATE = 'tsmosaic:sharp-loaders';
const LOADERS_OPEN = 0;
const LOADERS_LIMITING = 1;
const LOADERS_LIMITED = 2;

/**
 * Whether libvips' loaders are limited yet (see limitLoaders), shared by this thread and the
 * workers started after this call: each gets a copy of the environment data, which shares this
 * memory. startWorker calls it, so that its workers share the gate of the thread that starts them.
 */
export function loadersGate(): Int32Array {
  const shared = getEnvironmentData(LOADERS_GATE);
  if (shared instanceof Int32Array) return shared;
  const gate = new Int32Array(new SharedArrayBuffer(4));
  setEnvironmentData(LOADERS_GATE, gate);
  return gate;
}

/**
 * Blocks every libvips loader but LOADERS: sharp tells formats by content, so an SVG, PDF or FITS
 * file with an image's name would otherwise be decoded, by code tsmosaic never meant to run (the
 * files' first bytes are checked before too: see assertAcceptedFormat). Blocks are process-wide,
 * and are set once per process: a thread setting them again would block every loader for a moment,
 * failing a decode that another thread starts then.
 */
function limitLoaders(sharp: SharpModule): void {
  const gate = loadersGate();
  if (Atomics.compareExchange(gate, 0, LOADERS_OPEN, LOADERS_LIMITING) !== LOADERS_OPEN) {
    // Limited already, or being limited by another thread: then wait the microseconds until it is done.
    Atomics.wait(gate, 0, LOADERS_LIMITING);
    return;
  }
  try {
    sharp.block({ operation: ['VipsForeignLoad'] });
    sharp.unblock({ operation: LOADERS });
  } finally {
    Atomics.store(gate, 0, LOADERS_LIMITED);
    Atomics.notify(gate, 0);
  }
}
