import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { collectGarbage } from '../src/collect-garbage.js';

const MB = 1024 * 1024;

/** A 24 MB buffer, dropped on return: small against V8's heap, so it triggers no collection. */
function allocateAndDrop(): number {
  return Buffer.alloc(24 * MB, 1).length;
}

test('collectGarbage frees a dropped buffer that V8 alone would keep', async () => {
  const before = process.memoryUsage().arrayBuffers;
  assert.equal(allocateAndDrop(), 24 * MB);
  await sleep(50);
  assert.ok(process.memoryUsage().arrayBuffers - before >= 20 * MB, 'external memory puts no pressure on V8: the buffer stays');
  collectGarbage();
  // Backing stores are freed by a sweeper task shortly after the collection.
  for (let waited = 0; waited < 2000 && process.memoryUsage().arrayBuffers - before >= 4 * MB; waited += 20) await sleep(20);
  assert.ok(process.memoryUsage().arrayBuffers - before < 4 * MB, 'the dropped buffer is freed');
});
