import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import sharp from 'sharp';
import { FileLock } from '../src/files/lock.js';
import { seededRandom } from '../src/match/random.js';
import { BIN, tempDir } from './helpers.js';

/*
 * Ctrl-C (SIGINT) and SIGTERM during every long step of every command, on real CLI processes:
 * each must exit 130 / 143 within a second of the signal, and leave nothing but what the README
 * promises (process-collection: its temporary folder with a checkpoint and a free lock file; build
 * and merge: the previous files, byte for byte). The moments are fractions of the work of an
 * uninterrupted timing run of the same command, past its start-up.
 */

type Signal = 'SIGINT' | 'SIGTERM';
const EXIT_CODES: Record<Signal, number> = { SIGINT: 130, SIGTERM: 143 };
/** The promise: from the signal to the process's end. */
const EXIT_WITHIN_MS = 1000;

const root = await tempDir('tsmosaic-interrupt-');
const PICTURES = 300;
const collection = path.join(root, 'collection');
const target = path.join(root, 'target.png');
await makeCollection();
await makeTarget();

/** A run of the CLI, and when it was signalled and ended (ms from its start). */
interface Run {
  code: number | null;
  killedBy: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** When the signal was sent; undefined when the run ended first. */
  signalledAt?: number;
  /** From the signal to the end of the process. */
  exitMs?: number;
}

/**
 * What a signalled run shows: `finished` its work before the signal (the result is on stdout, the
 * moment tested nothing), was `killed` by the signal before node installed tsmosaic's handler (the
 * default action of SIGINT/SIGTERM: nothing may have been written yet), or was `interrupted`.
 */
type Outcome = 'finished' | 'killed' | 'interrupted';

/** Runs bin/tsmosaic.js with `args`; sends `signal` `after` ms, or once `when()` holds, unless the run has ended. */
async function run(args: string[], interrupt?: { signal: Signal; after?: number; when?: () => Promise<boolean> }): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const started = performance.now();
  let endedAt: number | undefined;
  const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, killedBy) => {
      endedAt = performance.now();
      resolve([code, killedBy]);
    }),
  );
  const closed = once(child, 'close');
  let signalledAt: number | undefined;
  const send = (): void => {
    if (endedAt !== undefined || !interrupt) return;
    signalledAt = performance.now();
    child.kill(interrupt.signal);
  };
  if (interrupt?.after !== undefined) {
    const timer = setTimeout(send, interrupt.after);
    void ended.then(() => clearTimeout(timer));
  } else if (interrupt?.when) {
    while (endedAt === undefined && !(await interrupt.when())) await delay(1);
    send();
  }
  const [code, killedBy] = await ended;
  await closed;
  return {
    code,
    killedBy,
    stdout,
    stderr,
    ms: endedAt! - started,
    ...(signalledAt === undefined ? {} : { signalledAt: signalledAt - started, exitMs: endedAt! - signalledAt }),
  };
}

/** Runs `args` to the end and fails unless it succeeds; its duration in ms. */
async function runToEnd(args: string[]): Promise<number> {
  const done = await run(args);
  assert.equal(done.code, 0, done.stderr);
  return done.ms;
}

/**
 * About how long the command takes to load and install its signal handler: a run of it that fails
 * at its first step (a missing folder). Signals before then end the process by their default action.
 */
async function startUpMs(args: string[]): Promise<number> {
  const failed = await run(args);
  assert.equal(failed.code, 1, failed.stderr);
  return failed.ms;
}

/**
 * Checks what every signalled run must show, whatever the step: it ends within `exitWithin` ms of
 * the signal, and, when tsmosaic's handler ran, with 130 / 143 and the message as stderr's last line.
 */
function outcomeOf(t: TestContext, label: string, ran: Run, signal: Signal, exitWithin = EXIT_WITHIN_MS): Outcome {
  const times = `signal at ${Math.round(ran.signalledAt ?? ran.ms)} ms of ${Math.round(ran.ms)}, ended ${Math.round(ran.exitMs ?? 0)} ms after it`;
  if (ran.signalledAt === undefined || ran.stdout !== '') {
    // The run printed its result: the signal came after its last step (or not at all).
    t.diagnostic(`${label}: finished first (${times}): not tested`);
    assert.ok(ran.code === 0 || ran.killedBy === signal, ran.stderr);
    return 'finished';
  }
  t.diagnostic(`${label}: ${times}`);
  assert.ok(ran.exitMs! < exitWithin, `${label}: ended ${Math.round(ran.exitMs!)} ms after ${signal}\n${ran.stderr}`);
  const message = `tsmosaic: interrupted by ${signal}\n`;
  if (ran.killedBy === signal && !ran.stderr.includes(message)) {
    // Before node installed tsmosaic's handler (it loads with the command's modules), the signal's
    // default action ends the process: acceptable, as long as nothing was written yet.
    t.diagnostic(`${label}: killed before its handler was installed`);
    return 'killed';
  }
  assert.ok(ran.stderr.endsWith(message), `${label}: stderr ends with the message\n${ran.stderr}`);
  // Exit 130 / 143; or, where native work could not be stopped (a libvips encode), the handler
  // cleaned up and then let the signal end the process, which a shell reports the same.
  assert.ok(ran.code === EXIT_CODES[signal] || ran.killedBy === signal, `${label}: exit ${ran.code} ${ran.killedBy}`);
  return 'interrupted';
}

/** A signalled run's outcome and how long it ran (ms). */
interface Attempt {
  outcome: Outcome;
  ms: number;
}

/** Tries of a moment: a run is sometimes much faster than the timing run (machines vary run to run). */
const TRIES = 4;

/**
 * `attempt(at(timing))`; when that run finished first, again at the same point of its own duration,
 * a little earlier each time (a loaded machine's runs vary by more than that point's margin), up to TRIES in all.
 */
async function atMoment(timing: number, at: (duration: number) => number, attempt: (after: number) => Promise<Attempt>): Promise<Outcome> {
  let last = await attempt(at(timing));
  for (let tried = 1; tried < TRIES && last.outcome === 'finished'; tried++) last = await attempt(at(last.ms) * 0.85 ** tried);
  return last.outcome;
}

/** Fails unless most moments came while the run was working: a run that finished first tested nothing. */
function assertMostInside(label: string, outcomes: Outcome[]): void {
  const inside = outcomes.filter((outcome) => outcome !== 'finished').length;
  assert.ok(inside > outcomes.length / 2, `${label}: only ${inside} of ${outcomes.length} signals came before the run finished`);
}

/** Every file below `folder` (relative path) with a hash of its bytes; folders as `/`. */
async function snapshot(folder: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(folder, full);
    entries[relative] = entry.isDirectory()
      ? '/'
      : createHash('sha1')
          .update(await readFile(full))
          .digest('hex');
  }
  return entries;
}

/** A copy of `index` as if made from the folder `collectionFolder`: its files count as others, so merge keeps them all. */
async function copyIndexAs(index: string, copy: string, collectionFolder: string): Promise<void> {
  await cp(index, copy, { recursive: true });
  const manifestFile = path.join(copy, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as Record<string, unknown>;
  await writeFile(manifestFile, JSON.stringify({ ...manifest, collection: collectionFolder }));
}

/** The index of the whole collection, made once by whichever test asks first. */
let wholeIndex: Promise<string> | undefined;
function indexOfCollection(): Promise<string> {
  wholeIndex ??= (async () => {
    const index = path.join(root, 'whole', 'index');
    await runToEnd(['process-collection', collection, '-o', index, '-q']);
    return index;
  })();
  return wholeIndex;
}

test('process-collection: a signal during the scan, the decoding or the final HNSW step keeps the work done and the previous index', async (t) => {
  // The previous index: an eighth of the files, the same tile size and fit, so the run reuses it,
  // and its HNSW index is built at the end (not while decoding): a final step of its own.
  const previous = path.join(root, 'previous', 'index');
  await runToEnd(['process-collection', collection, '--shard', '1/8', '-o', previous, '-q']);
  const previousFiles = await snapshot(previous);
  let runs = 0;
  /** A folder holding a copy of the previous index, for one run and the run after it. */
  const fresh = async (): Promise<string> => {
    const out = path.join(root, `pc-${runs++}`, 'index');
    await cp(previous, out, { recursive: true });
    return out;
  };
  const args = (out: string): string[] => ['process-collection', collection, '-o', out];
  /** The run's temporary folder (not its lock file), if it has made one. */
  const temporaryOf = async (out: string): Promise<string | undefined> => {
    const name = (await readdir(path.dirname(out))).find((entry) => /^\.index\.tmp-[0-9a-f]{16}$/.test(entry));
    return name && path.join(path.dirname(out), name);
  };

  // The timing run, watched for the moment its temporary folder appears: the scan has just ended.
  const timingOut = await fresh();
  const started = performance.now();
  let scanned: number | undefined;
  const timingRun = runToEnd([...args(timingOut), '-q']);
  let finished = false;
  void timingRun.finally(() => (finished = true));
  while (!finished && scanned === undefined) {
    if (await temporaryOf(timingOut)) scanned = performance.now() - started;
    else await delay(1);
  }
  const timing = await timingRun;
  assert.ok(scanned !== undefined, 'the timing run made a temporary folder');
  wholeIndex ??= Promise.resolve(timingOut);

  const tryMoment = async (
    label: string,
    signal: Signal,
    when: { after?: number; when?: (out: string) => Promise<boolean> },
  ): Promise<Attempt> => {
    const out = await fresh();
    const folder = path.dirname(out);
    const ran = await run(args(out), { signal, after: when.after, when: when.when && (() => when.when!(out)) });
    const outcome = outcomeOf(t, label, ran, signal);
    if (outcome === 'finished') return { outcome, ms: ran.ms };
    assert.deepEqual(await snapshot(out), previousFiles, `${label}: the previous index is unchanged`);
    const left = (await readdir(folder)).filter((name) => name !== 'index');
    if (left.length === 0) {
      // Stopped before its temporary folder was made (start-up, scan): the folder is as before the
      // timing run, which the next run would repeat.
      assert.doesNotMatch(ran.stderr, /tiles done are kept/, label);
      t.diagnostic(`${label}: nothing kept`);
      return { outcome, ms: ran.ms };
    }
    assert.notEqual(outcome, 'killed', `${label}: killed before its handler, yet it wrote ${left.join(', ')}`);
    // The temporary folder, kept with its checkpoint, and its lock file, which nothing holds.
    const temporary = await temporaryOf(out);
    assert.ok(temporary, `${label}: ${left.join(', ')}`);
    assert.deepEqual(left.sort(), [path.basename(temporary), `${path.basename(temporary)}.lock`].sort(), label);
    const { tileCount: kept } = JSON.parse(await readFile(path.join(temporary, 'checkpoint.json'), 'utf8')) as { tileCount: number };
    const lock = await FileLock.tryAcquire(`${temporary}.lock`);
    assert.ok(lock, `${label}: the lock file is free`);
    await lock.release();
    if (kept > 0) assert.match(ran.stderr, new RegExp(`^tsmosaic: ${kept} tiles done are kept: `, 'm'), label);
    t.diagnostic(`${label}: ${kept} tiles kept`);
    // The next run resumes from the checkpoint and leaves only the new index.
    const next = await run([...args(out), '--json']);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, new RegExp(`^tsmosaic: resuming an interrupted run: ${kept} tiles already done$`, 'm'), label);
    assert.equal((JSON.parse(next.stdout) as { tiles: number }).tiles, PICTURES, label);
    assert.deepEqual(await readdir(folder), ['index'], `${label}: the next run leaves only the index`);
    return { outcome, ms: ran.ms };
  };

  const decoding =
    (fraction: number) =>
    (duration: number): number =>
      scanned! + fraction * (duration - scanned!);
  const moments: [string, Signal, (duration: number) => number][] = [
    ['start-up', 'SIGINT', (duration) => 0.05 * duration],
    // The collection has a thousand folders to walk; their end was seen in the timing run.
    ['scan', 'SIGINT', () => Math.max(0, scanned! - 50)],
    ['decoding', 'SIGINT', decoding(0.4)],
    ['decoding', 'SIGTERM', decoding(0.75)],
  ];
  const outcomes: Outcome[] = [];
  for (const [step, signal, at] of moments) {
    outcomes.push(await atMoment(timing, at, (after) => tryMoment(`${step}, ${signal} at ${Math.round(after)} ms`, signal, { after })));
  }
  // The final step, as it starts: the HNSW shards are built from the features in a scratch file.
  const finalStep = await tryMoment('final HNSW step, SIGINT', 'SIGINT', {
    when: async (out) => {
      const temporary = await temporaryOf(out);
      const inside = temporary ? await readdir(temporary).catch((): string[] => []) : [];
      return inside.includes('ranked.tmp') || inside.includes('hnsw.bin');
    },
  });
  assert.equal(finalStep.outcome, 'interrupted', 'the final step was interrupted');
  outcomes.push(finalStep.outcome);
  assertMostInside('process-collection', outcomes);
});

test('merge: a signal while tiles are copied or the HNSW index is rebuilt leaves the previous merged index', async (t) => {
  const whole = await indexOfCollection();
  const inputs: string[] = [];
  for (let part = 0; part < 6; part++) {
    inputs.push(path.join(root, 'merge-inputs', `part${part}`));
    await copyIndexAs(whole, inputs.at(-1)!, path.join(root, `elsewhere-${part}`));
  }
  const out = path.join(root, 'merged', 'index');
  const args = ['merge', '-o', out, ...inputs, '-q'];
  const startUp = await startUpMs(['merge', '-o', out, path.join(root, 'missing')]);
  const timing = await runToEnd(args);
  let before = await snapshot(path.dirname(out));
  const outcomes: Outcome[] = [];
  for (const [signal, fraction] of [
    ['SIGINT', 0.2],
    ['SIGINT', 0.5],
    ['SIGINT', 0.85],
    ['SIGTERM', 0.5],
  ] as const) {
    const attempt = async (after: number): Promise<Attempt> => {
      const label = `${signal} at ${Math.round(after)} ms`;
      const ran = await run(args, { signal, after });
      const outcome = outcomeOf(t, label, ran, signal);
      // A merge that finished wrote a new index (its manifest has another date).
      if (outcome === 'finished') before = await snapshot(path.dirname(out));
      else assert.deepEqual(await snapshot(path.dirname(out)), before, `${label}: only the previous index is left, byte for byte`);
      return { outcome, ms: ran.ms };
    };
    outcomes.push(await atMoment(timing, (duration) => startUp + fraction * (duration - startUp), attempt));
  }
  assertMostInside('merge', outcomes);
  await runToEnd(args);
});

/** A build workload: its arguments after `build <index> <target>`, its output and the moments to signal it at. */
interface BuildCase {
  name: string;
  args: string[];
  output: string;
  moments: [Signal, number][];
  index?: () => Promise<string>;
}

/** Two copies of the whole index merged: 600 pictures, each twice, so that --max-uses 2 exhausts their budgets. */
async function twiceMerged(): Promise<string> {
  const whole = await indexOfCollection();
  const copies = [0, 1].map((copy) => path.join(root, 'twice-inputs', `copy${copy}`));
  for (const [i, copy] of copies.entries()) await copyIndexAs(whole, copy, path.join(root, `twin-${i}`));
  const merged = path.join(root, 'twice', 'index');
  await runToEnd(['merge', '-o', merged, ...copies, '-q']);
  return merged;
}

const BUILDS: BuildCase[] = [
  {
    // 160 x 107 cells: a cell worker answers them; the PNG is coded band by band as rows are placed.
    name: 'PNG with the cell worker',
    args: ['--tiles-across', '160', '--min-distance', '0'],
    output: 'mosaic.png',
    moments: [
      ['SIGINT', 0.15],
      ['SIGINT', 0.5],
      ['SIGINT', 0.85],
      ['SIGTERM', 0.5],
    ],
  },
  {
    // 5200 x 3460 px, 54 MB raw: past one piece, rendered into a raw .v file, then encoded by libvips.
    name: 'large TIFF',
    args: ['--tiles-across', '260', '--min-distance', '0'],
    output: 'mosaic.tif',
    moments: [
      ['SIGINT', 0.3],
      ['SIGINT', 0.75],
    ],
  },
  {
    // Tiles of 96 px drawn from the 640 x 480 originals (the index's are 20 px), then a JPEG.
    name: 'JPEG drawn from the originals',
    args: ['--tiles-across', '60', '--tile-size', '96', '--min-distance', '0'],
    output: 'mosaic.jpg',
    moments: [
      ['SIGINT', 0.3],
      ['SIGINT', 0.6],
    ],
  },
  {
    name: 'deep zoom',
    args: ['--tiles-across', '100', '--min-distance', '0'],
    output: 'mosaic.dzi',
    moments: [
      ['SIGINT', 0.35],
      ['SIGINT', 0.75],
    ],
  },
  {
    // 40 x 27 cells of 600 pictures at most twice each: placement under a budget, in one order over the grid.
    name: '--max-uses 2',
    args: ['--tiles-across', '40', '--max-uses', '2'],
    output: 'mosaic.png',
    index: twiceMerged,
    moments: [
      ['SIGINT', 0.3],
      ['SIGINT', 0.6],
    ],
  },
  {
    // Its own HNSW index over the mean colours, built as the index loads; no worker: every cell is
    // described, searched and placed on the main thread.
    name: '--metric rgb',
    args: ['--tiles-across', '160', '--metric', 'rgb'],
    output: 'mosaic.png',
    moments: [
      ['SIGINT', 0.2],
      ['SIGINT', 0.6],
    ],
  },
  {
    // The fidelity measure runs last, before the mosaic is put in place.
    name: '--json',
    args: ['--tiles-across', '100', '--min-distance', '0', '--json'],
    output: 'mosaic.png',
    moments: [
      ['SIGINT', 0.5],
      ['SIGINT', 0.9],
    ],
  },
];

for (const build of BUILDS) {
  test(`build, ${build.name}: a signal at any moment leaves the previous output as it was`, async (t) => {
    const index = await (build.index ?? indexOfCollection)();
    const folder = path.join(root, `build-${BUILDS.indexOf(build)}`);
    await mkdir(folder);
    const args = ['build', index, target, '-o', path.join(folder, build.output), '-q', ...build.args];
    const startUp = await startUpMs(['build', path.join(root, 'missing'), target]);
    // The timing run leaves an output: the interrupted runs must not touch it.
    const timing = await runToEnd(args);
    let before = await snapshot(folder);
    const outcomes: Outcome[] = [];
    for (const [signal, fraction] of build.moments) {
      const attempt = async (after: number): Promise<Attempt> => {
        const label = `${signal} at ${Math.round(after)} ms`;
        const ran = await run(args, { signal, after });
        const outcome = outcomeOf(t, label, ran, signal, EXIT_WITHIN_MS);
        if (outcome === 'finished') before = await snapshot(folder);
        else assert.deepEqual(await snapshot(folder), before, `${label}: the folder holds what it held before, byte for byte`);
        return { outcome, ms: ran.ms };
      };
      outcomes.push(await atMoment(timing, (duration) => startUp + fraction * (duration - startUp), attempt));
    }
    assertMostInside(build.name, outcomes);
    // The next run works, and writes what the first did.
    await runToEnd(args);
    assert.deepEqual(Object.keys(await snapshot(folder)).sort(), Object.keys(before).sort());
    const outputFile = path.join(folder, build.output);
    assert.ok((await stat(outputFile)).size > 0);
  });
}

/** The collection: PICTURES noisy 640 x 480 JPEGs of varied tints in 30 folders, among 1,000 empty folders for the scan to walk. */
async function makeCollection(): Promise<void> {
  const width = 640;
  const height = 480;
  const random = seededRandom(7);
  const noise = Buffer.alloc(width * height * 3 + 3 * PICTURES);
  for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(random() * 256);
  for (let folder = 0; folder < 1000; folder++)
    await mkdir(path.join(collection, `f${folder % 30}`, `empty${folder}`), { recursive: true });
  const one = (i: number): Promise<unknown> =>
    sharp(noise.subarray(i * 3, i * 3 + width * height * 3), { raw: { width, height, channels: 3 } })
      .linear([0.5, 0.5, 0.5], [(i * 37) % 128, (i * 91) % 128, (i * 53) % 128])
      .jpeg({ quality: 85 })
      .toFile(path.join(collection, `f${i % 30}`, `p${i}.jpg`));
  for (let first = 0; first < PICTURES; first += 8) {
    await Promise.all(Array.from({ length: Math.min(8, PICTURES - first) }, (_, k) => one(first + k)));
  }
}

/** A 600 x 400 target of smooth gradients. */
async function makeTarget(): Promise<void> {
  const width = 600;
  const height = 400;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      pixels.set([(x * 255) / width, (y * 255) / height, ((x + y) * 255) / (width + height)], (y * width + x) * 3);
    }
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(target);
}
