import sharp from 'sharp';
import { processCollection, type ProcessCollectionOptions } from '../collection/process-collection.js';
import type { TileFit } from '../collection/load-tile.js';
import { abortOnSignals } from './interrupt.js';
import { printResult, roundSeconds } from './output.js';
import { createReporter } from './progress.js';

export interface ProcessCollectionFlags {
  out?: string;
  tileSize?: number;
  fit?: TileFit;
  json?: boolean;
  quiet?: boolean;
}

const STAGES = { scan: 'scanning', tiles: 'tiles', index: 'indexing' } as const;

/** `tsmosaic process-collection <collection>`: prints the index path, or the JSON summary. */
export async function runProcessCollection(collection: string, flags: ProcessCollectionFlags): Promise<void> {
  // Every file is decoded once: libvips' operation cache would only hold memory and cost time.
  sharp.cache(false);
  const reporter = createReporter(flags.quiet === true);
  const { signal, dispose } = abortOnSignals();
  const options: ProcessCollectionOptions = {
    out: flags.out,
    tileSize: flags.tileSize,
    fit: flags.fit,
    signal,
    onProgress: ({ stage, done, total }) => reporter.update(STAGES[stage], done, total),
    onSkip: ({ file, reason }) => reporter.line(`tsmosaic: warning: skipped ${JSON.stringify(file)}: ${reason}`),
  };
  try {
    const result = await processCollection(collection, options);
    reporter.stop();
    if (result.skipped.length > 0) reporter.line(`tsmosaic: ${result.tiles} tiles indexed, ${result.skipped.length} files skipped`);
    const { index, tiles, skipped, seconds } = result;
    printResult(flags.json, { index, tiles, skipped, seconds: roundSeconds(seconds) }, index);
  } finally {
    reporter.stop();
    dispose();
  }
}
