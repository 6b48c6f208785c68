/**
 * `npm run bench:fuzz`: thousands of mutated index folders (see test/fuzz/index-fuzz.ts), each
 * given to `build` (a small grid on the main thread and a grid of 19,200 cells in the cell worker,
 * alternately), `info` and `merge`. Prints markdown tables on stdout (progress on stderr): runs per
 * command with their exit 0 / exit 1 counts, failures and peak RSS; runs per mutated file and kind;
 * then every failure with its seed and mutation. Exits 1 when a run broke the contract.
 *
 * Environment: TSMOSAIC_FUZZ_MUTATIONS (default 3000), TSMOSAIC_FUZZ_SEED (default random; printed),
 * TSMOSAIC_FUZZ_FIRST (the first case's number, default 0: with MUTATIONS=1 it replays one case),
 * TSMOSAIC_FUZZ_CONCURRENCY (default 2), TSMOSAIC_BENCH_KEEP=1 keeps the folders of failed cases.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { COMMANDS, failureLines, makeFuzzFixture, MAX_RSS_MB, randomCases, runCases, type FuzzOutcome } from '../fuzz/index-fuzz.js';
import { runVisible } from './measure.js';
import { REPO_ROOT } from './paths.js';
import { markdownTable, seconds } from './table.js';

const log = (message: string): void => {
  process.stderr.write(`bench:fuzz: ${message}\n`);
};

function whole(name: string, fallback: number): number {
  const text = process.env[name];
  const value = text === undefined || text === '' ? fallback : Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} takes a whole number, received ${text}`);
  return value;
}

async function main(): Promise<void> {
  const mutations = whole('TSMOSAIC_FUZZ_MUTATIONS', 3000);
  const seed = whole('TSMOSAIC_FUZZ_SEED', Math.floor(Math.random() * 2 ** 31));
  const first = whole('TSMOSAIC_FUZZ_FIRST', 0);
  const concurrency = Math.max(1, whole('TSMOSAIC_FUZZ_CONCURRENCY', 2));
  const keep = process.env.TSMOSAIC_BENCH_KEEP === '1';

  log('npm run build');
  if ((await runVisible('npm', ['run', 'build'], { cwd: REPO_ROOT })) !== 0)
    throw new Error('npm run build failed; not fuzzing a stale dist/');
  const work = await mkdtemp(path.join(os.tmpdir(), 'tsmosaic-fuzz-'));
  const started = performance.now();
  let failed = false;
  try {
    const fixture = await makeFuzzFixture(path.join(work, 'fixture'));
    log(`seed ${seed}: ${mutations} mutations from case ${first}, ${concurrency} at a time`);
    log(
      `replay case N: TSMOSAIC_FUZZ_SEED=${seed} TSMOSAIC_FUZZ_FIRST=N TSMOSAIC_FUZZ_MUTATIONS=1 TSMOSAIC_BENCH_KEEP=1 npm run bench:fuzz`,
    );
    let done = 0;
    const outcomes = await runCases(fixture, randomCases(seed, mutations, first), work, {
      concurrency,
      keepFailures: keep,
      onOutcome: (outcome) => {
        done++;
        for (const line of failureLines([outcome])) log(`FAILURE ${line}`);
        if (done % 100 === 0 || done === mutations)
          log(`${done}/${mutations} mutations, ${((performance.now() - started) / 1000).toFixed(0)} s`);
      },
    });
    const failures = failureLines(outcomes);
    failed = failures.length > 0;
    printTables(seed, outcomes, (performance.now() - started) / 1000);
    console.log(failures.length === 0 ? '\nNo failures.' : ['', '### Failures', '', ...failures.map((line) => `- ${line}`)].join('\n'));
    if (keep && failed) log(`kept the failed cases' folders in ${work}`);
  } finally {
    if (!(keep && failed)) await rm(work, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

function printTables(seed: number, outcomes: FuzzOutcome[], wall: number): void {
  const runs = outcomes.flatMap((outcome) => outcome.runs.map((run) => ({ ...run, outcome })));
  const labels: Record<(typeof COMMANDS)[number], string> = {
    build: 'build (--tiles-across 20, main thread)',
    'build-worker': 'build (19,200 cells, cell worker)',
    info: 'info',
    merge: 'merge (with a good index)',
  };
  const row = (label: string, of: typeof runs): string[] => [
    label,
    String(of.length),
    String(of.filter((run) => run.code === 0).length),
    String(of.filter((run) => run.code === 1).length),
    String(of.filter((run) => run.problems.length > 0).length),
    of.length === 0 ? '-' : Math.max(...of.map((run) => run.peakRssMb)).toFixed(0),
    of.length === 0 ? '-' : seconds(Math.max(...of.map((run) => run.wallSeconds))),
  ];
  console.log(`### Fuzzed indexes: seed ${seed}, ${outcomes.length} mutations, ${runs.length} runs in ${wall.toFixed(0)} s\n`);
  const header = ['', 'runs', 'exit 0', 'exit 1', 'failures', `max RSS (MB, limit ${MAX_RSS_MB})`, 'max wall (s)'];
  console.log(
    markdownTable(header, [
      ...COMMANDS.map((command) =>
        row(
          labels[command],
          runs.filter((run) => run.command === command),
        ),
      ),
      row('all', runs),
    ]).join('\n'),
  );
  const kinds = new Map<string, typeof runs>();
  for (const run of runs) {
    const key = `${run.outcome.fuzzCase.file} ${run.outcome.fuzzCase.kind}`;
    kinds.set(key, [...(kinds.get(key) ?? []), run]);
  }
  console.log('\n### Runs per mutated file and mutation\n');
  console.log(
    markdownTable(
      header,
      [...kinds].sort(([a], [b]) => a.localeCompare(b)).map(([key, of]) => row(key, of)),
    ).join('\n'),
  );
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
