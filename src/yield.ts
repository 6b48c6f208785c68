import { performance } from 'node:perf_hooks';

/**
 * Lets the event loop run (signal handlers among it: node runs them only between tasks), then
 * stops with the signal's reason if it was aborted meanwhile.
 */
export async function yieldToEventLoop(signal?: AbortSignal): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  signal?.throwIfAborted();
}

/** Milliseconds of synchronous work between two yields: Ctrl-C is handled well within a second. */
const SLICE_MS = 25;

/**
 * For long synchronous loops: `await slicer.pause()` between steps yields to the event loop once
 * SLICE_MS have passed since the last yield, and stops there when `signal` is aborted.
 */
export class TimeSlicer {
  private last = performance.now();

  constructor(readonly signal?: AbortSignal) {}

  /** Whether a slice is used up (for loops that yield only then, to stay synchronous otherwise). */
  get due(): boolean {
    return performance.now() - this.last >= SLICE_MS;
  }

  async pause(): Promise<void> {
    if (!this.due) return;
    await yieldToEventLoop(this.signal);
    this.last = performance.now();
  }
}

/** Native work that `untilDoneOrAborted` stopped waiting for and that is still running. */
const abandoned = new Set<Promise<unknown>>();

/**
 * Waits for `work`, or rejects at once with the abort reason: libvips cannot be stopped mid-encode,
 * so the caller removes its temporaries and the process may exit without waiting for it (see
 * `abandonedWorkRunning`).
 */
export async function untilDoneOrAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      abandoned.add(work);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    work.then(
      () => abandoned.delete(work),
      () => abandoned.delete(work),
    );
  }
}

/** Whether native work given up on abort is still running: `process.exit` would wait for it (node joins libuv's threads on exit). */
export function abandonedWorkRunning(): boolean {
  return abandoned.size > 0;
}

/**
 * Runs `work` on every item, at most `concurrency` at once. After the first failure (or an abort
 * of `signal`) no more are started, and it is thrown once every run in flight has ended: none
 * outlives the call, so the caller may clean up.
 */
export async function eachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const item = items[next++]!;
      try {
        signal?.throwIfAborted();
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  if (failure) throw failure.error;
}
