/**
 * Every failure that tsmosaic reports to a user is a `TsmosaicError`: a one-line message and the
 * exit code the CLI should use. Pipeline code throws these; only the CLI entry turns them into
 * stderr lines and exit codes.
 */
export class TsmosaicError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TsmosaicError';
    this.exitCode = exitCode;
  }
}

/** Bad options or arguments (exit code 2, like commander's own usage errors). */
export class UsageError extends TsmosaicError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** The job was stopped by a signal; exit code follows the shell convention 128 + signal number. */
export class InterruptedError extends TsmosaicError {
  readonly signal: 'SIGINT' | 'SIGTERM';

  constructor(signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signal}`, signal === 'SIGINT' ? 130 : 143);
    this.name = 'InterruptedError';
    this.signal = signal;
  }
}

/** The reason of any thrown value as one line, for warnings and error messages. */
export function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]?.trim() || 'unknown error';
}
