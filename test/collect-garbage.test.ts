import assert from 'node:assert/strict';
import { setImmediate as nextTask } from 'node:timers/promises';
import { test } from 'node:test';
import { collectGarbage } from '../src/collect-garbage.js';

/** A weak reference to a 24 MB buffer no longer referenced: small against V8's heap, so nothing collects it soon. */
function droppedBuffer(): WeakRef<Buffer> {
  return new WeakRef(Buffer.alloc(24 * 1024 * 1024, 1));
}

test('collectGarbage frees a dropped buffer at once', async () => {
  const dropped = droppedBuffer();
  // A weak reference holds its target until the task that made it ends.
  await nextTask();
  collectGarbage();
  await nextTask();
  assert.ok(dropped.deref() === undefined, 'the buffer is collected');
});
