import { buildMosaic } from '../mosaic/build-mosaic.js';
import { createReporter } from './progress.js';
import { printResult, round, roundSeconds } from './output.js';

export interface BuildFlags {
  out?: string;
  tilesAcross?: number;
  tileSize?: number;
  maxPixels?: number;
  metric?: 'lab' | 'rgb';
  mirror?: boolean;
  minDistance?: number;
  maxUses?: number;
  unique?: boolean;
  seed?: number;
  blend?: number;
  plan?: string;
  json?: boolean;
  measure?: boolean;
  quiet?: boolean;
}

/** `tsmosaic build <index> <target>`: prints the output path, or the JSON summary. */
export async function runBuild(index: string, target: string, flags: BuildFlags): Promise<void> {
  const reporter = createReporter(flags.quiet === true);
  try {
    const result = await buildMosaic(index, target, {
      out: flags.out,
      tilesAcross: flags.tilesAcross,
      tileSize: flags.tileSize,
      maxPixels: flags.maxPixels,
      metric: flags.metric,
      mirror: flags.mirror,
      minDistance: flags.minDistance,
      maxUses: flags.maxUses,
      unique: flags.unique,
      seed: flags.seed,
      blend: flags.blend,
      plan: flags.plan,
      measure: flags.json === true && flags.measure !== false,
      onProgress: ({ stage, done, total }) => reporter.update(stage, done, total),
      onNote: (message) => reporter.line(`tsmosaic: ${message}`),
    });
    reporter.stop();
    const { output, width, height, columns, rows, distinctTiles, maxUses, deltaE, seconds, timings } = result;
    const steps = Object.fromEntries(Object.entries(timings).map(([step, value]) => [step, roundSeconds(value)]));
    const fidelity = deltaE && { cell: round(deltaE.cell, 4), structure: round(deltaE.structure, 4) };
    printResult(flags.json, { output, width, height, columns, rows, distinctTiles, maxUses, deltaE: fidelity, seconds: roundSeconds(seconds), timings: steps }, output);
  } finally {
    reporter.stop();
  }
}
