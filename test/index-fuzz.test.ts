import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { COMMANDS, coverageCases, failureLines, FILE_KINDS, makeFuzzFixture, runCases } from './fuzz/index-fuzz.js';
import { tempDir } from './helpers.js';

/**
 * The small version of the index fuzz (see test/fuzz/index-fuzz.ts; `npm run bench:fuzz` runs
 * thousands): each file of an index mutated with each kind of mutation, and build (on the main
 * thread and in the cell worker), info and merge run on it as users run them, two at a time. Seed:
 * TSMOSAIC_FUZZ_SEED (default 1).
 */
test('mutated index files: every run exits 0 or 1 with one tsmosaic: line, within 1 GB, leaving no output on failure', async (t) => {
  const seed = Number(process.env.TSMOSAIC_FUZZ_SEED ?? 1);
  const work = await tempDir();
  const fixture = await makeFuzzFixture(path.join(work, 'fixture'));
  const cases = coverageCases(seed);
  const outcomes = await runCases(fixture, cases, work, { concurrency: 2, timeoutSeconds: 60 });
  const runs = outcomes.flatMap((outcome) => outcome.runs);
  t.diagnostic(`seed ${seed}: ${cases.length} mutations, ${runs.length} runs, ${runs.filter((run) => run.code === 0).length} exit 0`);
  assert.deepEqual(failureLines(outcomes), []);
  assert.deepEqual(new Set(cases.map((fuzzCase) => fuzzCase.file)), new Set(FILE_KINDS), 'every file is mutated');
  for (const command of COMMANDS) {
    const codes = new Set(runs.filter((run) => run.command === command).map((run) => run.code));
    assert.ok(codes.has(1), `some mutation makes ${command} fail`);
  }
  assert.ok(
    runs.some((run) => run.code === 0 && run.command.startsWith('build')),
    'some mutation leaves an index build can use',
  );
});
