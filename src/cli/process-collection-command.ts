import { setFlagsFromString } from 'node:v8';
import { processCollection, type ProcessCollectionOptions } from '../collection/process-collection.js';
import type { PROCESS_COLLECTION_OPTIONS } from '../options/options.js';
import type { OptionValues } from '../options/schema.js';
import { disableSharpCache } from '../load-sharp.js';
import { abortOnSignals } from './interrupt.js';
import { printResult, roundSeconds } from './output.js';
import { createReporter } from './progress.js';
import { quote } from '../text.js';

/** The options of `tsmosaic process-collection` as parsed. */
export type ProcessCollectionFlags = OptionValues<typeof PROCESS_COLLECTION_OPTIONS>;

const STAGES = { scan: 'scanning', tiles: 'tiles', index: 'indexing' } as const;

/** `tsmosaic process-collection <collection...>`: prints the index path, or the JSON summary. */
export async function runProcessCollection(collections: string[], flags: ProcessCollectionFlags): Promise<void> {
  // Every file is decoded once: libvips' operation cache would only hold memory and cost time.
  disableSharpCache();
  // V8 doubles the young generation each time the bytes surviving its collections add up to its
  // size, so long runs would grow it for nothing (newer V8 ignores a factor below 2).
  setFlagsFromString('--semi-space-growth-factor=1');
  const reporter = createReporter(flags.quiet === true);
  const { signal, dispose } = abortOnSignals();
  const options: ProcessCollectionOptions = {
    out: flags.out,
    tileSize: flags.tileSize,
    fit: flags.fit,
    crops: flags.crops,
    rebuild: flags.rebuild,
    shard: flags.shard,
    signal,
    onProgress: ({ stage, done, total }) => reporter.update(STAGES[stage], done, total),
    onSkip: ({ file, reason }) => reporter.line(`tsmosaic: warning: skipped ${quote(file)}: ${reason}`),
    onNote: (message) => reporter.line(`tsmosaic: ${message}`),
  };
  try {
    const result = await processCollection(collections, options);
    reporter.stop();
    if (result.reused > 0 || result.removed > 0)
      reporter.line(`tsmosaic: ${result.processed} processed, ${result.reused} reused, ${result.removed} removed`);
    if (result.skipped.length > 0) reporter.line(`tsmosaic: ${result.tiles} tiles indexed, ${result.skipped.length} files skipped`);
    const { index, tiles, processed, reused, removed, skipped, seconds } = result;
    printResult(flags.json, { index, tiles, processed, reused, removed, skipped, seconds: roundSeconds(seconds) }, index);
  } finally {
    reporter.stop();
    dispose();
  }
}
