import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { test } from 'node:test';
import { UsageError } from '../src/errors.js';
import { processCollection, readManifest } from '../src/index.js';
import { parseShard, resolveShard, RUNNER_VARIABLES, type ShardOption } from '../src/options/shard.js';
import { quote } from '../src/text.js';
import { runCli, tempDir } from './helpers.js';
import { paletteCollection } from './fixtures.js';

/** No job runner's variable, whatever the tests run under. */
const NO_RUNNER = Object.fromEntries(Object.values(RUNNER_VARIABLES).map((name) => [name, undefined]));

/** Slurm's variables for task `id` of an array of `min` to `max` (one step). */
function slurm(id: number, min: number, max: number, count = max - min + 1): Record<string, string> {
  return {
    SLURM_ARRAY_JOB_ID: '4242',
    SLURM_ARRAY_TASK_ID: String(id),
    SLURM_ARRAY_TASK_MIN: String(min),
    SLURM_ARRAY_TASK_MAX: String(max),
    SLURM_ARRAY_TASK_COUNT: String(count),
    SLURM_ARRAY_TASK_STEP: '1',
  };
}

/** The message resolveShard refuses with. */
function refusal(option: ShardOption, env: Record<string, string>): string {
  try {
    resolveShard(option, env);
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    assert.equal(error.exitCode, 2);
    return error.message;
  }
  assert.fail(`${JSON.stringify(option)} with ${JSON.stringify(env)} was accepted`);
}

test('--shard takes i/n, auto/n and auto', () => {
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  assert.deepEqual(parseShard(' auto / 8 '), { index: 'auto', count: 8 });
  assert.deepEqual(parseShard('auto'), { index: 'auto' });
  for (const bad of ['0/2', '3/2', '1/0', 'auto/0', 'auto/65537', 'AUTO/2', 'auto/', '2', 'a/b', '1/2/3']) {
    assert.equal(parseShard(bad), undefined, bad);
  }
});

test('the part comes from Kubernetes (0-based), Slurm (from the array minimum) or GNU parallel (1-based)', () => {
  const auto4: ShardOption = { index: 'auto', count: 4 };
  assert.deepEqual(resolveShard({ index: 3, count: 4 }, { JOB_COMPLETION_INDEX: '0' }), { shard: { index: 3, count: 4 } });
  assert.deepEqual(resolveShard(auto4, { JOB_COMPLETION_INDEX: '0' }), { shard: { index: 1, count: 4 }, from: 'JOB_COMPLETION_INDEX=0' });
  assert.deepEqual(resolveShard(auto4, { JOB_COMPLETION_INDEX: '3' }).shard, { index: 4, count: 4 });
  assert.deepEqual(resolveShard(auto4, { PARALLEL_SEQ: '1' }).shard, { index: 1, count: 4 });
  assert.deepEqual(resolveShard(auto4, { PARALLEL_SEQ: '4' }).shard, { index: 4, count: 4 });
  // --array=0-3 and --array=1-4 both number the parts 1 to 4; Slurm gives the count to `auto`.
  assert.deepEqual(resolveShard(auto4, slurm(0, 0, 3)), { shard: { index: 1, count: 4 }, from: 'SLURM_ARRAY_TASK_ID=0' });
  assert.deepEqual(resolveShard({ index: 'auto' }, slurm(4, 1, 4)).shard, { index: 4, count: 4 });
  assert.deepEqual(resolveShard({ index: 'auto' }, slurm(7, 5, 7)).shard, { index: 3, count: 3 });
  // Another runner's unrelated variables do not count.
  assert.deepEqual(resolveShard(auto4, { PARALLEL_SEQ: '2', SLURM_JOB_ID: '9', JOB_NAME: 'x' }).shard, { index: 2, count: 4 });
});

test('a missing, ambiguous or out-of-range variable is a usage error naming it', () => {
  const auto4: ShardOption = { index: 'auto', count: 4 };
  assert.equal(
    refusal(auto4, {}),
    '--shard auto/4: none of JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), SLURM_ARRAY_TASK_ID (a Slurm job array), PARALLEL_SEQ (GNU parallel) is set; give the part as --shard i/n',
  );
  assert.equal(
    refusal(auto4, { ...slurm(1, 0, 3), PARALLEL_SEQ: '2' }),
    '--shard auto/4: SLURM_ARRAY_TASK_ID and PARALLEL_SEQ are both set, so the part is ambiguous; give it as --shard i/n',
  );
  assert.equal(
    refusal(auto4, { JOB_COMPLETION_INDEX: '4' }),
    "--shard auto/4: JOB_COMPLETION_INDEX is 4, expected 0 to 3 (the Job's completions must be 4)",
  );
  assert.equal(
    refusal(auto4, { PARALLEL_SEQ: '0' }),
    '--shard auto/4: PARALLEL_SEQ is 0, expected 1 to 4 (more jobs than parts are running)',
  );
  assert.equal(
    refusal(auto4, { PARALLEL_SEQ: '5' }),
    '--shard auto/4: PARALLEL_SEQ is 5, expected 1 to 4 (more jobs than parts are running)',
  );
  assert.equal(refusal(auto4, { JOB_COMPLETION_INDEX: '-1' }), '--shard auto/4: JOB_COMPLETION_INDEX is "-1", not a whole number');
  assert.equal(refusal(auto4, { PARALLEL_SEQ: '' }), '--shard auto/4: PARALLEL_SEQ is "", not a whole number');
  assert.equal(refusal(auto4, { PARALLEL_SEQ: '2\u001b[2J' }), '--shard auto/4: PARALLEL_SEQ is "2\\u001b[2J", not a whole number');
  // Only Slurm tells a task how many there are.
  assert.equal(
    refusal({ index: 'auto' }, { JOB_COMPLETION_INDEX: '1' }),
    "--shard auto: JOB_COMPLETION_INDEX gives the part but not the number of parts; use --shard auto/<n> (n: the Job's completions)",
  );
  assert.equal(
    refusal({ index: 'auto' }, { PARALLEL_SEQ: '1' }),
    '--shard auto: PARALLEL_SEQ gives the part but not the number of parts; use --shard auto/<n> (in a parallel command: auto/{##})',
  );
  // Slurm: an array with a step or gaps, a rerun of some tasks, or a variable missing.
  assert.equal(
    refusal({ index: 'auto' }, slurm(4, 0, 12, 4)),
    '--shard auto: SLURM_ARRAY_TASK_COUNT is 4 but SLURM_ARRAY_TASK_MIN to _MAX span 13 numbers (0 to 12), so which task is which part is ambiguous; submit --array=0-3, or give the part as --shard i/n',
  );
  assert.equal(
    refusal({ index: 'auto', count: 8 }, slurm(5, 4, 7)),
    '--shard auto/8: SLURM_ARRAY_TASK_COUNT is 4, not 8: submit one task per part (--array=0-7), or give the part as --shard i/n',
  );
  const withoutMin = Object.fromEntries(Object.entries(slurm(1, 0, 3)).filter(([name]) => name !== 'SLURM_ARRAY_TASK_MIN'));
  assert.equal(refusal(auto4, withoutMin), '--shard auto/4: SLURM_ARRAY_TASK_MIN is not set');
  assert.equal(refusal(auto4, slurm(9, 0, 3)), '--shard auto/4: SLURM_ARRAY_TASK_ID is 9, expected 0 to 3 (SLURM_ARRAY_TASK_MIN to _MAX)');
  assert.equal(refusal({ index: 'auto' }, slurm(0, 0, 65536)), '--shard auto: SLURM_ARRAY_TASK_COUNT is 65537, expected 1 to 65536');
});

test('process-collection --shard auto/n takes the part from the environment, notes it, and exits 2 naming a bad variable', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const parts: string[] = [];
  for (const index of [0, 1]) {
    const out = path.join(root, `part-${index}`);
    const env = { ...NO_RUNNER, JOB_COMPLETION_INDEX: String(index) };
    const { code, stderr } = await runCli(['process-collection', collection, '-s', '6', '--shard', 'auto/2', '-o', out], { env });
    assert.equal(code, 0, stderr);
    assert.equal(stderr, `tsmosaic: part ${index + 1} of 2 (JOB_COMPLETION_INDEX=${index})\n`);
    parts.push(out);
  }
  // The two parts are those of --shard 1/2 and 2/2.
  for (const [i, part] of parts.entries()) {
    const explicit = path.join(root, `explicit-${i}`);
    const { code, stderr } = await runCli(['process-collection', collection, '-s', '6', '--shard', `${i + 1}/2`, '-o', explicit, '-q']);
    assert.equal(code, 0, stderr);
    const sources = async (index: string): Promise<string[]> => (await readManifest(index)).tiles.map(({ source }) => source);
    assert.deepEqual(await sources(part), await sources(explicit));
  }

  const out = path.join(root, 'refused');
  const bad = await runCli(['process-collection', collection, '--shard', 'auto/2', '-o', out], {
    env: { ...NO_RUNNER, JOB_COMPLETION_INDEX: '2' },
  });
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "tsmosaic: --shard auto/2: JOB_COMPLETION_INDEX is 2, expected 0 to 1 (the Job's completions must be 2)\n");
  assert.equal(bad.stdout, '');
  const none = await runCli(['process-collection', collection, '--shard', 'auto', '-o', out], { env: NO_RUNNER });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^tsmosaic: --shard auto: none of JOB_COMPLETION_INDEX .* is set; give the part as --shard i\/n\n$/);
  await assert.rejects(readManifest(out), /not found/);
});

test('processCollection reads an auto shard from the environment it is given, not its own', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const sources = async (index: string): Promise<string[]> => (await readManifest(index)).tiles.map(({ source }) => source);
  const given = path.join(root, 'given');
  const result = await processCollection(collection, {
    tileSize: 6,
    out: given,
    shard: { index: 'auto', count: 2 },
    environment: { PARALLEL_SEQ: '2' },
  });
  const explicit = path.join(root, 'explicit');
  await processCollection(collection, { tileSize: 6, out: explicit, shard: { index: 2, count: 2 } });
  assert.deepEqual(await sources(given), await sources(explicit));
  assert.ok(result.tiles > 0 && result.tiles < 8, `part 2 of 2 holds ${result.tiles} of the 8 pictures`);
  await assert.rejects(
    processCollection(collection, { tileSize: 6, out: path.join(root, 'none'), shard: { index: 'auto', count: 2 }, environment: {} }),
    (error: unknown) => error instanceof UsageError && /none of JOB_COMPLETION_INDEX/.test(error.message),
  );
});

test('an empty part is refused naming it, with the number of files the collection has', async () => {
  const root = await tempDir();
  const collection = await paletteCollection(root);
  const names = (await readdir(collection, { recursive: true })).filter((name) => /\.(jpe?g|png|webp|tif|gif)$/i.test(name));
  // A part no file's hash falls in.
  const taken = new Set(names.map((name) => crc32(name) % 1000));
  const empty = Array.from({ length: 1000 }, (_, i) => i).find((i) => !taken.has(i))! + 1;
  const { code, stderr } = await runCli(['process-collection', collection, '--shard', `${empty}/1000`, '-o', path.join(root, 'part')]);
  assert.equal(code, 1);
  assert.equal(
    stderr,
    `tsmosaic: no usable image in ${quote(collection)}: none of the ${names.length} image files is in part ${empty} of 1000 (use fewer parts)\n`,
  );
});
