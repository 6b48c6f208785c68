import { disableSharpCache } from '../load-sharp.js';
import { buildMosaic, type BuildMosaicOptions } from '../build/build-mosaic.js';
import { abortOnSignals } from './interrupt.js';
import { createReporter } from './progress.js';
import { printResult, round, roundSeconds } from './output.js';

/** The build options commander parses (same names as the API's), plus the CLI's own. */
export type BuildFlags = Pick<
  BuildMosaicOptions,
  | 'out'
  | 'tilesAcross'
  | 'tileSize'
  | 'maxPixels'
  | 'metric'
  | 'mirror'
  | 'crops'
  | 'minDistance'
  | 'maxUses'
  | 'unique'
  | 'seed'
  | 'blend'
  | 'plan'
> & { deepzoom?: string; json?: boolean; measure?: boolean; quiet?: boolean };

/** `tsmosaic build <index> <target>`: prints the output path, or the JSON summary. */
export async function runBuild(index: string, target: string, flags: BuildFlags): Promise<void> {
  const { deepzoom, json, measure, quiet, ...options } = flags;
  // Every tile and band is encoded once: libvips' operation cache would only hold their buffers.
  disableSharpCache();
  const reporter = createReporter(quiet === true);
  // Ctrl-C stops between bands or tiles and removes the temporaries: no partial output is left.
  const { signal, dispose } = abortOnSignals();
  try {
    const result = await buildMosaic(index, target, {
      ...options,
      deepZoom: deepzoom,
      measure: json === true && measure !== false,
      signal,
      onProgress: ({ stage, done, total }) => reporter.update(stage, done, total),
      onNote: (message) => reporter.line(`tsmosaic: ${message}`),
    });
    reporter.stop();
    const { output, width, height, columns, rows, distinctTiles, maxUses, deltaE, seconds, timings } = result;
    const steps = Object.fromEntries(Object.entries(timings).map(([step, value]) => [step, roundSeconds(value)]));
    const fidelity = deltaE && { cell: round(deltaE.cell, 4), structure: round(deltaE.structure, 4) };
    printResult(
      json,
      { output, width, height, columns, rows, distinctTiles, maxUses, deltaE: fidelity, seconds: roundSeconds(seconds), timings: steps },
      output,
    );
  } finally {
    reporter.stop();
    dispose();
  }
}
