import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';
import { terminalSafe } from '../text.js';

// Loaded with the first bar: scripts (-q, no terminal) never pay for loading it.
const require = createRequire(import.meta.url);

/** Where a command reports what it is doing: a bar on a terminal, nothing otherwise. */
export interface Reporter {
  update(stage: string, done: number, total: number): void;
  /** One line on stderr (a warning or a note), printed above the bar if there is one. */
  line(text: string): void;
  stop(): void;
}

/**
 * A progress bar on stderr when stderr is a terminal and not quiet; messages always go to stderr
 * unless quiet. stdout is never touched: it carries only results.
 */
export function createReporter(quiet: boolean): Reporter {
  const showBar = !quiet && process.stderr.isTTY === true;
  let bars: CliProgress.MultiBar | undefined;
  let bar: CliProgress.SingleBar | undefined;
  let currentStage = '';
  return {
    update(stage, done, total) {
      if (!showBar) return;
      const cliProgress = require('cli-progress') as typeof CliProgress;
      bars ??= new cliProgress.MultiBar(
        { stream: process.stderr, format: '{stage} [{bar}] {value}/{total} | {eta_formatted}', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      if (!bar || stage !== currentStage) {
        if (bar) bars.remove(bar);
        bar = bars.create(Math.max(total, 1), done, { stage: stage.padEnd(7) });
        currentStage = stage;
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(done, { stage: stage.padEnd(7) });
    },
    line(text) {
      if (quiet) return;
      const safe = terminalSafe(text);
      if (bars) bars.log(`${safe}\n`);
      else process.stderr.write(`${safe}\n`);
    },
    stop() {
      bars?.stop();
      bars = undefined;
      bar = undefined;
    },
  };
}
