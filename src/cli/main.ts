import { CommanderError } from 'commander';
import { InterruptedError, TsmosaicError } from '../errors.js';
import { startCellWorkerAhead, stopCellWorkerAhead } from '../match/cell-worker-ahead.js';
import { terminalSafe } from '../text.js';
import { abandonedWorkRunning } from '../yield.js';

/** Commander outcomes that are not errors. */
const SUCCESS_CODES = new Set(['commander.helpDisplayed', 'commander.version']);

/**
 * Runs the CLI and sets the exit code: 0 success, 1 the job failed, 2 usage error, 130/143
 * interrupted. The only place that turns errors into messages and exit codes.
 */
export async function runMain(argv: string[] = process.argv): Promise<void> {
  // `build` starts its cell worker before the rest of tsmosaic loads, so that the thread boots on
  // the other core meanwhile (one that cannot start is no error: the build starts its own, or works without).
  if (argv[2] === 'build') {
    try {
      startCellWorkerAhead();
    } catch {
      // see above
    }
  }
  try {
    const { createProgram } = await import('./program.js');
    await createProgram().parseAsync(argv);
    process.exitCode = 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed its message (e.g. "error: unknown option '--x'").
      process.exitCode = SUCCESS_CODES.has(error.code) ? 0 : 2;
    } else if (error instanceof InterruptedError) {
      // The pipeline has removed its temporaries; native work still running (a libvips encode
      // cannot be cancelled) must not keep the process alive.
      process.stderr.write(`tsmosaic: ${terminalSafe(error.message)}\n`);
      await stopCellWorkerAhead();
      // process.exit would wait for that work (node joins libuv's threads): the signal itself, now
      // without a handler, ends the process at once, and a shell still sees 128 + its number.
      if (abandonedWorkRunning()) process.kill(process.pid, error.signal);
      process.exit(error.exitCode);
    } else if (error instanceof TsmosaicError) {
      process.stderr.write(`tsmosaic: ${terminalSafe(error.message)}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(
        `tsmosaic: internal error: ${terminalSafe(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`,
      );
      process.exitCode = 1;
    }
  } finally {
    // A cell worker started ahead that no build took (an error first, a small grid's build, --help).
    await stopCellWorkerAhead();
  }
}
