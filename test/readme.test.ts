import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { test } from 'node:test';
import { README, withTables } from './docs/option-tables.js';

test("README.md's option tables are the option schema's (regenerate: npx tsx test/docs/option-tables.ts)", async () => {
  const text = await readFile(README, 'utf8');
  assert.equal(text, withTables(text));
});

test('README.md stays under 15 KiB: details go to docs/', async () => {
  const { size } = await stat(README);
  assert.ok(size < 15 * 1024, `README.md is ${size} bytes`);
});
