import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { README, withTables } from './docs/option-tables.js';

test("README.md's option tables are the option schema's (regenerate: npx tsx test/docs/option-tables.ts)", async () => {
  const text = await readFile(README, 'utf8');
  assert.equal(text, withTables(text));
});

test('README.md stays a guide a newcomer reads in minutes: at most 15,000 bytes (details go in docs/)', async () => {
  const bytes = (await readFile(README)).length;
  assert.ok(bytes <= 15_000, `README.md is ${bytes} bytes`);
});
