import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abandonedWorkRunning, untilDoneOrAborted } from '../src/yield.js';

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
