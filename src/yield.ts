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

  constructor(private readonly signal?: AbortSignal) {}

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
