import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runInOrder } from '../src/collection/in-order-queue.js';

test('results are consumed in order, and no position starts a window or more ahead of the next to consume', async () => {
  const consumed: number[] = [];
  let furthestAhead = 0;
  await runInOrder({
    count: 200,
    concurrency: 4,
    window: 10,
    produce: async (position) => {
      furthestAhead = Math.max(furthestAhead, position - consumed.length);
      // Position 3 is slow: the others must wait for it once they are 10 ahead.
      await sleep(position === 3 ? 50 : position % 3);
      return position * 2;
    },
    consume: async (result, position) => {
      assert.equal(result, position * 2);
      consumed.push(position);
    },
  });
  assert.deepEqual(
    consumed,
    Array.from({ length: 200 }, (_, i) => i),
  );
  assert.ok(furthestAhead <= 9, `a position started ${furthestAhead} ahead of the next to consume`);
  assert.ok(furthestAhead >= 4, 'lanes did run ahead of the slow one');
});

test('a failing position stops every lane, also those waiting for the window, and the error is thrown', async () => {
  let started = 0;
  await assert.rejects(
    runInOrder({
      count: 100,
      concurrency: 4,
      window: 4,
      produce: async (position) => {
        started++;
        if (position === 0) {
          await sleep(20);
          throw new Error('broken');
        }
        return position;
      },
      consume: async () => undefined,
    }),
    /broken/,
  );
  assert.ok(started <= 4, `${started} positions started`);
});

test('aborting wakes lanes waiting for the window and rejects with the reason', async () => {
  const controller = new AbortController();
  const run = runInOrder({
    count: 100,
    concurrency: 2,
    window: 2,
    signal: controller.signal,
    produce: async (position) => {
      if (position === 0) await sleep(1000);
      return position;
    },
    consume: async () => undefined,
  });
  setTimeout(() => controller.abort(new Error('stop')), 20);
  await assert.rejects(run, /stop/);
});
