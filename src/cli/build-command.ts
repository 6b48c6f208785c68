import { disableSharpCache } from '../load-sharp.js';
import { buildMosaic } from '../build/build-mosaic.js';
import type { BUILD_OPTIONS } from '../options/options.js';
import type { OptionValues } from '../options/schema.js';
import { abortOnSignals } from './interrupt.js';
import { createReporter } from './progress.js';
import { printResult, round, roundSeconds } from './output.js';

/** The options of `tsmosaic build` as parsed. */
export type BuildFlags = OptionValues<typeof BUILD_OPTIONS>;

/** `tsmosaic build <index> <target>`: prints the output path, or the JSON summary. */
export async function runBuild(index: string, target: string, flags: BuildFlags): Promise<void> {
  const { json, measure, quiet, ...options } = flags;
  // Every tile and band is encoded once: libvips' operation cache would only hold their buffers.
  disableSharpCache();
  const reporter = createReporter(quiet === true);
  // Ctrl-C stops between bands or tiles and removes the temporaries: no partial output is left.
  const { signal, dispose } = abortOnSignals();
  try {
    const result = await buildMosaic(index, target, {
      ...options,
      measure: json === true && measure !== false,
      signal,
      onProgress: ({ stage, done, total }) => reporter.update(stage, done, total),
      onNote: (message) => reporter.line(`tsmosaic: ${message}`),
    });
    reporter.stop();
    const { output, width, height, columns, rows, distinctTiles, maxUses, deltaE, heatmap, print, originals, seconds, timings } = result;
    const steps = Object.fromEntries(Object.entries(timings).map(([step, value]) => [step, roundSeconds(value)]));
    const fidelity = deltaE && {
      cell: round(deltaE.cell, 4),
      structure: round(deltaE.structure, 4),
      p50: round(deltaE.p50, 3),
      p95: round(deltaE.p95, 3),
      max: round(deltaE.max, 3),
    };
    printResult(
      json,
      {
        output,
        width,
        height,
        columns,
        rows,
        distinctTiles,
        maxUses,
        deltaE: json === true && measure !== false ? fidelity : undefined,
        ...(heatmap ? { heatmap } : {}),
        ...(print ? { print } : {}),
        ...(originals ? { originals } : {}),
        seconds: roundSeconds(seconds),
        timings: steps,
      },
      output,
    );
  } finally {
    reporter.stop();
    dispose();
  }
}
