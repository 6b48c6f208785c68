/**
 * Runs `produce` for positions 0, 1, 2, ... with up to `concurrency` at once and hands each result
 * to `consume` in position order, as soon as every position before it is consumed: pictures
 * decode out of order, but tiles are written in scan order so ids are deterministic.
 *
 * A position is started only while it is fewer than `window` ahead of the next to consume, so one
 * slow picture cannot let the others pile up decoded tiles without bound.
 */
export async function runInOrder<T>(options: {
  count: number;
  concurrency: number;
  window: number;
  produce: (position: number, lane: number) => Promise<T>;
  consume: (result: T, position: number) => Promise<void>;
  signal?: AbortSignal;
}): Promise<void> {
  const { count, concurrency, produce, consume, signal } = options;
  const window = Math.max(options.window, concurrency);
  const finished = new Map<number, T>();
  let nextToConsume = 0;
  let nextToProduce = 0;
  let failure: { error: unknown } | undefined;
  let waiting: (() => void)[] = [];
  const wake = (): void => {
    const woken = waiting;
    waiting = [];
    for (const resolve of woken) resolve();
  };
  const onAbort = (): void => wake();
  signal?.addEventListener('abort', onAbort);

  const consumeReady = async (): Promise<void> => {
    while (finished.has(nextToConsume)) {
      const result = finished.get(nextToConsume)!;
      finished.delete(nextToConsume);
      await consume(result, nextToConsume);
      nextToConsume++;
      wake();
    }
  };
  const lane = async (index: number): Promise<void> => {
    try {
      while (nextToProduce < count && !failure) {
        signal?.throwIfAborted();
        if (nextToProduce >= nextToConsume + window) {
          await new Promise<void>((resolve) => waiting.push(resolve));
          continue;
        }
        const position = nextToProduce++;
        finished.set(position, await produce(position, index));
        await consumeReady();
      }
    } catch (error) {
      failure ??= { error };
      wake();
    }
  };
  try {
    // Every lane stops before the caller cleans up, so none works on an aborted run.
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, count)) }, (_, index) => lane(index)));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure.error;
  signal?.throwIfAborted();
}
