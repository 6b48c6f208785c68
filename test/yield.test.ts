import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abandonedWorkRunning, eachConcurrently, untilDoneOrAborted } from '../src/yield.js';

test('untilDoneOrAborted gives the work, or rejects at once with the abort reason and counts the work as abandoned until it ends', async () => {
  assert.equal(await untilDoneOrAborted(Promise.resolve(7), new AbortController().signal), 7);
  assert.equal(abandonedWorkRunning(), false);

  let finish: (value: number) => void = () => undefined;
  const work = new Promise<number>((resolve) => (finish = resolve));
  const controller = new AbortController();
  const reason = new Error('stopped');
  const waiting = untilDoneOrAborted(work, controller.signal);
  controller.abort(reason);
  await assert.rejects(waiting, (error: unknown) => error === reason);
  assert.equal(abandonedWorkRunning(), true, 'the work still runs');
  finish(1);
  await work;
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(abandonedWorkRunning(), false);
});

test('eachConcurrently runs every item, at most so many at once', async () => {
  let running = 0;
  let most = 0;
  const done: number[] = [];
  await eachConcurrently(
    Array.from({ length: 20 }, (_, i) => i),
    3,
    async (i) => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 5));
      done.push(i);
      running--;
    },
  );
  assert.equal(most, 3);
  assert.deepEqual(
    [...done].sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i),
  );
});

test('eachConcurrently throws the first failure once the runs in flight have ended, starting no more', async () => {
  const started: number[] = [];
  let running = 0;
  await assert.rejects(
    eachConcurrently([0, 1, 2, 3, 4, 5, 6, 7], 3, async (i) => {
      started.push(i);
      running++;
      await new Promise((resolve) => setTimeout(resolve, i === 1 ? 1 : 30));
      running--;
      if (i === 1) throw new Error('item 1 failed');
    }),
    /item 1 failed/,
  );
  assert.equal(running, 0, 'no run outlives the call');
  assert.deepEqual(started, [0, 1, 2], 'no item starts after the failure');
});
