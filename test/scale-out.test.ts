/**
 * The recipes of examples/scale-out/ run as their job runners run them, on a generated collection:
 * GNU parallel for real (on this machine's cores, and over --sshlogin with an ssh that runs each
 * host's command here); the Kubernetes Jobs' containers and the Slurm scripts executed once per
 * index with the variables those runners set, read from the YAML and the scripts themselves. In
 * every case the merged index holds the same pictures, tiles and features as one process-collection
 * run over the whole collection.
 */
import assert from 'node:assert/strict';
import { chmod, cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { RUNNER_VARIABLES } from '../src/options/shard.js';
import { picturesBySource, ROOT, BIN, runCli, runProgram, tempDir, withEnvironment, type CliResult } from './helpers.js';
import { variedCollection } from './fixtures.js';

const RECIPES = path.join(ROOT, 'examples', 'scale-out');
/** Enough pictures that each of the Kubernetes recipe's 8 parts gets some (by a hash of the names). */
const PICTURES = 40;

const work = await tempDir('tsmosaic-scale-out-');
const collection = await variedCollection(path.join(work, 'collection'), PICTURES);
/** The single-machine index of `collection`. */
const single = path.join(work, 'single');
const made = await runCli(['process-collection', collection, '--out', single, '-q']);
assert.equal(made.code, 0, made.stderr);
/** PATH with `tsmosaic` (this checkout's bin/tsmosaic.js) first, and the node running the tests. */
const searchPath = [path.join(work, 'bin'), path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter);
await mkdir(path.join(work, 'bin'));
await symlink(BIN, path.join(work, 'bin', 'tsmosaic'));

/**
 * The environment a recipe runs in: this one, with `tsmosaic` on PATH, no job runner's variables
 * (the tests may run under one), no GNU parallel options from the environment, and `extra`.
 */
function recipeEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const cleared = Object.fromEntries([...Object.values(RUNNER_VARIABLES), 'PARALLEL', 'TSMOSAIC'].map((name) => [name, undefined]));
  return withEnvironment({ ...cleared, PATH: searchPath, ...extra });
}

/** Runs `file` with `args` in `work` and the recipes' environment unless told; resolves whatever the exit code. */
function run(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return runProgram(file, args, { cwd: options.cwd ?? work, env: options.env ?? recipeEnvironment(), timeout: 50_000 });
}

/** Asserts that `index` holds exactly the single-machine index's pictures, tiles and features. */
async function assertSameAsSingle(index: string): Promise<void> {
  const merged = await picturesBySource(index);
  assert.equal(merged.size, PICTURES);
  assert.deepEqual(merged, await picturesBySource(single));
}

test('GNU parallel: the recipe indexes parts on this machine and merges them; run again, only new files are decoded', async () => {
  const version = await run('parallel', ['--version']);
  assert.ok(version.code === 0 && version.stdout.startsWith('GNU parallel'), 'GNU parallel is needed (Debian: apt-get install parallel)');
  const index = path.join(work, 'cores', 'index');
  const first = await run(path.join(RECIPES, 'parallel-index.sh'), [collection, index, '4']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, `${index}\n`, 'the merged index is the only result on stdout');
  for (let part = 1; part <= 4; part++) assert.match(first.stderr, new RegExp(`tsmosaic: part ${part} of 4 \\(PARALLEL_SEQ=${part}\\)\n`));
  await assertSameAsSingle(index);
  assert.deepEqual(await readdir(`${index}.parts`), ['part-1', 'part-2', 'part-3', 'part-4']);

  // One more picture: one part decodes it, the others reuse every tile, and the merge has it.
  const added = path.join(collection, 'added.jpg');
  await cp(path.join(await variedCollection(path.join(work, 'one-more'), 1, 99), 'sub', 'picture-000.jpg'), added);
  try {
    const again = await run(path.join(RECIPES, 'parallel-index.sh'), [collection, index, '4']);
    assert.equal(again.code, 0, again.stderr);
    const processed = [...again.stderr.matchAll(/tsmosaic: (\d+) processed, \d+ reused, 0 removed\n/g)].map((match) => Number(match[1]));
    assert.deepEqual(
      processed.sort((a, b) => a - b),
      [0, 0, 0, 1],
    );
    assert.equal((await picturesBySource(index)).size, PICTURES + 1);
  } finally {
    await rm(added);
  }
});

test('GNU parallel --sshlogin: parts run on two hosts sharing the folders (ssh runs each command here)', async () => {
  // What sshd does with `ssh HOST -- COMMAND...`: the words joined, run by the user's shell, with
  // SHELL set to it (parallel's remote wrapper execs $SHELL; CI may start tests without one).
  const ssh = path.join(work, 'fake-ssh');
  const hosts = path.join(work, 'ssh-hosts.log');
  const login = 'SHELL=$(getent passwd "$(id -u)" | cut -d: -f7)\nexport SHELL="${SHELL:-/bin/sh}"\n';
  await writeFile(ssh, `#!/bin/sh\nhost=$1\nshift\n[ "$1" = "--" ] && shift\necho "$host" >> '${hosts}'\n${login}exec "$SHELL" -c "$*"\n`);
  await chmod(ssh, 0o755);
  const index = path.join(work, 'hosts', 'index');
  const { code, stdout, stderr } = await run(path.join(RECIPES, 'parallel-index.sh'), ['-S', '1/host-a,1/host-b', collection, index, '4'], {
    env: recipeEnvironment({ PARALLEL_SSH: ssh }),
  });
  assert.equal(code, 0, stderr);
  assert.equal(stdout, `${index}\n`);
  await assertSameAsSingle(index);
  const used = (await readFile(hosts, 'utf8')).trim().split('\n');
  assert.deepEqual([...new Set(used)].sort(), ['host-a', 'host-b'], 'both hosts ran parts');
});

/** A Kubernetes Job manifest's pod template, as far as these tests read it. */
interface JobManifest {
  kind: string;
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    template: { spec: { containers: Container[]; volumes: { name: string; persistentVolumeClaim: { claimName: string } }[] } };
  };
}

interface Container {
  command: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts: { name: string; mountPath: string }[];
}

const COMPLETION_INDEX_ANNOTATION = "metadata.annotations['batch.kubernetes.io/job-completion-index']";

/**
 * The command a pod's container runs, as the kubelet makes it: the container's variables (a
 * downward-API reference to the completion index gives `completionIndex`; the Job controller also
 * sets JOB_COMPLETION_INDEX) expand `$(NAME)` in command and args (`$$` is a `$`), and each path on
 * a volume is mapped to the local folder given for its claim. Returns the argv and the variables.
 */
function podCommand(
  job: JobManifest,
  claims: Record<string, string>,
  completionIndex?: number,
): { argv: string[]; env: Record<string, string> } {
  const { containers, volumes } = job.spec.template.spec;
  assert.equal(containers.length, 1);
  const container = containers[0]!;
  const env: Record<string, string> = completionIndex === undefined ? {} : { JOB_COMPLETION_INDEX: String(completionIndex) };
  const expand = (text: string): string =>
    text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) =>
      name === undefined ? '$' : (env[name] ?? whole),
    );
  for (const variable of container.env ?? []) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    if (variable.value !== undefined) env[variable.name] = expand(variable.value);
    else if (fieldPath === COMPLETION_INDEX_ANNOTATION && completionIndex !== undefined) env[variable.name] = String(completionIndex);
    else assert.fail(`variable ${variable.name} comes from something this test does not emulate`);
  }
  const mounts = container.volumeMounts.map(({ name, mountPath }) => {
    const claim = volumes.find((volume) => volume.name === name)?.persistentVolumeClaim.claimName;
    assert.ok(claim !== undefined && claims[claim] !== undefined, `volume ${name} is a claim given to the test`);
    return { mountPath, local: claims[claim] };
  });
  const onVolume = (arg: string): string => {
    const mount = mounts.find(({ mountPath }) => arg === mountPath || arg.startsWith(`${mountPath}/`));
    return mount ? mount.local + arg.slice(mount.mountPath.length) : arg;
  };
  return { argv: [...container.command, ...(container.args ?? [])].map(expand).map(onVolume), env };
}

test("Kubernetes: the Indexed Job's pods, then the merge Job, run with the variables Kubernetes sets", async () => {
  const indexJob = parse(await readFile(path.join(RECIPES, 'kubernetes', 'index-job.yaml'), 'utf8')) as JobManifest;
  const mergeJob = parse(await readFile(path.join(RECIPES, 'kubernetes', 'merge-job.yaml'), 'utf8')) as JobManifest;
  assert.equal(indexJob.kind, 'Job');
  assert.equal(indexJob.spec.completionMode, 'Indexed');
  const completions = indexJob.spec.completions!;
  assert.ok(completions >= 2);
  const parts = path.join(work, 'kubernetes-parts');
  await mkdir(parts);
  const claims = { photos: collection, 'tsmosaic-parts': parts };
  const listing = await readdir(collection, { recursive: true });
  // Pods two at a time (the Job would run `parallelism` of them at once on a cluster).
  for (let first = 0; first < completions; first += 2) {
    await Promise.all(
      [first, first + 1]
        .filter((index) => index < completions)
        .map(async (index) => {
          const { argv, env } = podCommand(indexJob, claims, index);
          const { code, stderr } = await run(argv[0]!, argv.slice(1), { env: recipeEnvironment(env) });
          assert.equal(code, 0, `pod ${index}: ${stderr}`);
          assert.equal(stderr, `tsmosaic: part ${index + 1} of ${completions} (JOB_COMPLETION_INDEX=${index})\n`);
        }),
    );
  }
  assert.deepEqual(await readdir(collection, { recursive: true }), listing, 'the pods write nothing into the read-only collection');
  assert.equal(mergeJob.kind, 'Job');
  const { argv, env } = podCommand(mergeJob, claims);
  const merged = await run(argv[0]!, argv.slice(1), { env: recipeEnvironment(env) });
  assert.equal(merged.code, 0, merged.stderr);
  await assertSameAsSingle(path.join(parts, 'index'));
});

/** One call of the fake sbatch: its job id, arguments and folder. */
interface Submission {
  id: number;
  args: string[];
  cwd: string;
}

/** sbatch options that take a value (given as `--name=value` or `--name value`). */
const SBATCH_VALUES = new Set(['--array', '--dependency', '--cpus-per-task', '--mem', '--time', '--output', '--job-name']);

/** A submission's options (the script's #SBATCH lines, then the command line's, which win), script and its arguments. */
async function sbatchJob(submission: Submission): Promise<{ options: Map<string, string>; script: string; scriptArgs: string[] }> {
  const options = new Map<string, string>();
  const take = (words: string[]): string[] => {
    let i = 0;
    for (; i < words.length && words[i]!.startsWith('-'); i++) {
      const [name, value] = words[i]!.split(/=(.*)/s) as [string, string | undefined];
      options.set(name, value ?? (SBATCH_VALUES.has(name) ? words[++i]! : ''));
    }
    return words.slice(i);
  };
  const [script, ...scriptArgs] = take(submission.args);
  assert.ok(script !== undefined, `sbatch ${submission.args.join(' ')} names no script`);
  const fromCommandLine = new Map(options);
  options.clear();
  // sbatch reads #SBATCH lines up to the first line that is not a comment.
  for (const line of (await readFile(path.resolve(submission.cwd, script), 'utf8')).split('\n').slice(1)) {
    if (line.trim() !== '' && !line.startsWith('#')) break;
    const directive = /^#SBATCH\s+(.*)$/.exec(line);
    if (directive) take(directive[1]!.trim().split(/\s+/));
  }
  for (const [name, value] of fromCommandLine) options.set(name, value);
  return { options, script: path.resolve(submission.cwd, script), scriptArgs };
}

/** The task ids of an --array value: `0-7`, `1-9:2`, `1,3,5`, `0-15%4`. */
function arrayTasks(spec: string): number[] {
  const tasks: number[] = [];
  for (const range of spec.replace(/%\d+$/, '').split(',')) {
    const match = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(range);
    assert.ok(match, `--array=${spec}`);
    const first = Number(match[1]);
    for (let task = first; task <= Number(match[2] ?? first); task += Number(match[3] ?? 1)) tasks.push(task);
  }
  return tasks;
}

test("Slurm: submit.sh's array tasks and its dependent merge, run with the variables Slurm sets", async () => {
  // An sbatch that records what it is given and answers with a job id, as --parsable does.
  const bin = path.join(work, 'slurm-bin');
  const submissions = path.join(work, 'sbatch.ndjson');
  await mkdir(bin);
  await writeFile(
    path.join(bin, 'sbatch'),
    [
      '#!/usr/bin/env node',
      "const fs = require('node:fs');",
      `const log = ${JSON.stringify(submissions)};`,
      "const id = 7000 + (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\\n').filter(Boolean).length : 0);",
      "fs.appendFileSync(log, JSON.stringify({ id, args: process.argv.slice(2), cwd: process.cwd() }) + '\\n');",
      "process.stdout.write(id + '\\n');",
      '',
    ].join('\n'),
  );
  await chmod(path.join(bin, 'sbatch'), 0o755);
  const submitDir = path.join(work, 'slurm-submit');
  await mkdir(submitDir);
  const index = path.join(work, 'slurm', 'index');
  const env = recipeEnvironment({ PATH: `${bin}${path.delimiter}${searchPath}` });
  const submitted = await run(path.join(RECIPES, 'slurm', 'submit.sh'), [collection, index, '4'], { cwd: submitDir, env });
  assert.equal(submitted.code, 0, submitted.stderr);
  assert.equal(submitted.stdout, 'submitted: index array 7000, merge 7001 (squeue -u "$USER")\n');

  const [array, merge, ...more] = (await readFile(submissions, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Submission);
  assert.ok(array && merge && more.length === 0, 'two jobs: the array and the merge');
  // The array: each task as Slurm starts it, its output in the file --output names.
  const arrayJob = await sbatchJob(array);
  const tasks = arrayTasks(arrayJob.options.get('--array')!);
  assert.deepEqual(tasks, [0, 1, 2, 3]);
  const logName = (pattern: string, values: Record<string, number>): string =>
    pattern.replace(/%([Aaj])/g, (_, key: string) => String(values[key]));
  for (const task of tasks) {
    const taskEnv = {
      SLURM_JOB_ID: String(array.id + 100 + task),
      SLURM_JOB_NAME: arrayJob.options.get('--job-name')!,
      SLURM_ARRAY_JOB_ID: String(array.id),
      SLURM_ARRAY_TASK_ID: String(task),
      SLURM_ARRAY_TASK_MIN: String(Math.min(...tasks)),
      SLURM_ARRAY_TASK_MAX: String(Math.max(...tasks)),
      SLURM_ARRAY_TASK_COUNT: String(tasks.length),
      SLURM_ARRAY_TASK_STEP: '1',
      SLURM_CPUS_PER_TASK: arrayJob.options.get('--cpus-per-task')!,
      SLURM_SUBMIT_DIR: array.cwd,
    };
    const result = await run(arrayJob.script, arrayJob.scriptArgs, { cwd: array.cwd, env: withEnvironment({ ...env, ...taskEnv }) });
    assert.equal(result.code, 0, `task ${task}: ${result.stderr}`);
    const log = path.join(array.cwd, logName(arrayJob.options.get('--output')!, { A: array.id, a: task, j: array.id + 100 + task }));
    await writeFile(log, result.stdout + result.stderr);
    assert.equal(result.stderr, `tsmosaic: part ${task + 1} of 4 (SLURM_ARRAY_TASK_ID=${task})\n`);
  }
  // The merge waits for every task of the array to succeed.
  const mergeJob = await sbatchJob(merge);
  assert.equal(mergeJob.options.get('--dependency'), `afterok:${array.id}`);
  const merged = await run(mergeJob.script, mergeJob.scriptArgs, {
    cwd: merge.cwd,
    env: withEnvironment({ ...env, SLURM_JOB_ID: String(merge.id), SLURM_SUBMIT_DIR: merge.cwd }),
  });
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal(merged.stdout, `${index}\n`);
  await assertSameAsSingle(index);
  assert.deepEqual(
    (await readdir(submitDir)).sort(),
    [0, 1, 2, 3].map((task) => `tsmosaic-index-7000_${task}.log`),
  );
});
