import type { MERGE_OPTIONS } from '../options/options.js';
import type { OptionValues } from '../options/schema.js';
import { mergeIndexes } from '../index-store/merge-indexes.js';
import { printResult, roundSeconds } from './output.js';
import { abortOnSignals } from './interrupt.js';
import { createReporter } from './progress.js';

/** The options of `tsmosaic merge` as parsed (commander requires `--out`). */
export type MergeFlags = OptionValues<typeof MERGE_OPTIONS> & { out: string };

/** `tsmosaic merge -o <index> <index...>`: prints the merged index path, or the JSON summary. */
export async function runMerge(inputs: string[], flags: MergeFlags): Promise<void> {
  const reporter = createReporter(flags.quiet === true);
  // Ctrl-C stops between tiles and removes the temporary folder.
  const { signal, dispose } = abortOnSignals();
  try {
    const result = await mergeIndexes(inputs, flags.out, {
      signal,
      onProgress: ({ stage, done, total }) => reporter.update(stage === 'tiles' ? 'merging' : 'indexing', done, total),
    });
    reporter.stop();
    if (result.duplicates > 0) reporter.line(`tsmosaic: ${result.duplicates} tiles were in more than one index and are kept once`);
    const { index, tiles, duplicates, seconds } = result;
    printResult(flags.json, { index, tiles, duplicates, seconds: roundSeconds(seconds) }, index);
  } finally {
    reporter.stop();
    dispose();
  }
}
