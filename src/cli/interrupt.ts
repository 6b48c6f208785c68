import { InterruptedError } from '../errors.js';

/**
 * An AbortSignal that fires on the first SIGINT/SIGTERM, so the pipeline can stop between steps and
 * clean up; a second signal exits at once. Call the returned `dispose` when the command is done.
 */
export function abortOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((name) => {
    const handler = (): void => {
      if (controller.signal.aborted) process.exit(name === 'SIGINT' ? 130 : 143);
      controller.abort(new InterruptedError(name));
    };
    process.on(name, handler);
    return () => process.off(name, handler);
  });
  return { signal: controller.signal, dispose: () => handlers.forEach((remove) => remove()) };
}
