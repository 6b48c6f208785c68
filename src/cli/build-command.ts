import sharp from 'sharp';
import { buildMosaic } from '../mosaic/build-mosaic.js';
import { abortOnSignals } from './interrupt.js';
import { createReporter } from './progress.js';
import { printResult, roundSeconds } from './output.js';

export interface BuildFlags {
  out?: string;
  tilesAcross?: number;
  tileSize?: number;
  maxPixels?: number;
  json?: boolean;
  quiet?: boolean;
}

/** `tsmosaic build <index> <target>`: prints the output path, or the JSON summary. */
export async function runBuild(index: string, target: string, flags: BuildFlags): Promise<void> {
  // Every tile and band is encoded once: libvips' operation cache would only hold their buffers.
  sharp.cache(false);
  const reporter = createReporter(flags.quiet === true);
  // Ctrl-C stops between bands or tiles and removes the temporaries: no partial output is left.
  const { signal, dispose } = abortOnSignals();
  try {
    const result = await buildMosaic(index, target, {
      out: flags.out,
      tilesAcross: flags.tilesAcross,
      tileSize: flags.tileSize,
      maxPixels: flags.maxPixels,
      signal,
      onProgress: ({ stage, done, total }) => reporter.update(stage, done, total),
      onNote: (message) => reporter.line(`tsmosaic: ${message}`),
    });
    reporter.stop();
    const { output, width, height, columns, rows, distinctTiles, seconds, timings } = result;
    const steps = Object.fromEntries(Object.entries(timings).map(([step, value]) => [step, roundSeconds(value)]));
    printResult(flags.json, { output, width, height, columns, rows, distinctTiles, seconds: roundSeconds(seconds), timings: steps }, output);
  } finally {
    reporter.stop();
    dispose();
  }
}
