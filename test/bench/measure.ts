import { spawn, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { Readable } from 'node:stream';

/** Debian's interpreter when there is one: only the standard library is used, any python3 will do. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * Runs argv[2:] as a child and writes its exit code (negative: the signal that ended it; null:
 * killed after argv[1] seconds, when that is above 0), wall time and peak RSS as JSON on fd 3. A
 * fresh python per command, so RUSAGE_CHILDREN's ru_maxrss (KiB on Linux; the largest single
 * descendant waited for, not the sum of a process tree) belongs to that command alone.
 */
const RUSAGE_WRAPPER = `
import json, os, resource, subprocess, sys, time
timeout = float(sys.argv[1]) or None
t = time.perf_counter()
try:
    code = subprocess.run(sys.argv[2:], timeout=timeout).returncode
except subprocess.TimeoutExpired:
    code = None
except OSError as error:
    sys.stderr.write('%s: %s\\n' % (sys.argv[2], error))
    code = 127
wall = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = usage.ru_utime + usage.ru_stime
os.write(3, json.dumps({'wall': wall, 'cpu': cpu, 'maxrssKb': usage.ru_maxrss, 'code': code}).encode())
`;

/** One timed run of a command. */
export interface Measurement {
  wallSeconds: number;
  /** User + system CPU time of the command and its descendants. */
  cpuSeconds: number;
  peakRssMb: number;
  stdout: string;
}

/** The runs of one command and their medians. */
export interface Series {
  runs: Measurement[];
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  minWallSeconds: number;
  maxWallSeconds: number;
  /** The run whose wall time is the median (the lower middle one for an even count). */
  medianRun: Measurement;
}

/** One command to time. */
export interface SeriesSpec {
  label: string;
  /** One untimed run first, to warm the page cache and the binaries; skipped for slow commands. */
  warmUp: boolean;
  /** Gives the argv of a run (and makes its output folders); `run` is 0 for the warm-up. */
  command: (run: number) => Promise<string[]> | string[];
  /** Checks a run's result (output sizes, counts) and throws when it is wrong. */
  check?: (measurement: Measurement, run: number) => Promise<void> | void;
}

/** How a command run under the rusage wrapper ended, whatever its exit. */
export interface MeasuredRun {
  /** The exit code; null when a signal ended it or it was killed for its time. */
  code: number | null;
  /** The signal that ended it (e.g. 'SIGSEGV'), if one did. */
  signal: string | null;
  /** Killed (SIGKILL) after `timeoutSeconds`. */
  timedOut: boolean;
  wallSeconds: number;
  /** User + system CPU time of the command and its descendants. */
  cpuSeconds: number;
  peakRssMb: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` under the rusage wrapper and tells how it ended, with its wall time, peak RSS and
 * output; killed after `timeoutSeconds` when given.
 */
export async function runMeasured(argv: string[], options: { cwd?: string; timeoutSeconds?: number } = {}): Promise<MeasuredRun> {
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', 'pipe'];
  const child = spawn(PYTHON, ['-c', RUSAGE_WRAPPER, String(options.timeoutSeconds ?? 0), ...argv], { stdio, cwd: options.cwd });
  const [stdout, stderr, report, exit] = await Promise.all([
    readAll(child.stdout),
    readAll(child.stderr),
    readAll(child.stdio[3] as Readable),
    new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code));
    }),
  ]);
  if (exit !== 0 || report === '') {
    throw new Error(`the rusage wrapper (${PYTHON}) failed with exit ${exit}: ${tail(stderr)}`);
  }
  const { wall, cpu, maxrssKb, code } = JSON.parse(report) as { wall: number; cpu: number; maxrssKb: number; code: number | null };
  const signal =
    code !== null && code < 0 ? (Object.entries(os.constants.signals).find(([, n]) => n === -code)?.[0] ?? `signal ${-code}`) : null;
  return {
    code: code !== null && code >= 0 ? code : null,
    signal,
    timedOut: code === null,
    wallSeconds: wall,
    cpuSeconds: cpu,
    peakRssMb: maxrssKb / 1024,
    stdout,
    stderr,
  };
}

/** Runs `command` under the rusage wrapper and returns its wall time, peak RSS and stdout. */
export async function measure(argv: string[], cwd?: string): Promise<Measurement> {
  const run = await runMeasured(argv, { cwd });
  if (run.code !== 0) throw new Error(`${argv.join(' ')} exited with ${run.code ?? run.signal}: ${tail(run.stderr)}`);
  return { wallSeconds: run.wallSeconds, cpuSeconds: run.cpuSeconds, peakRssMb: run.peakRssMb, stdout: run.stdout };
}

/**
 * Times commands that are compared with each other: the warm-ups first, then `runs` rounds that
 * run each command once in turn, so load from other work on the machine drifts over all of them
 * alike instead of landing on one. Returns one series per spec, in order.
 */
export async function measureRounds(specs: readonly SeriesSpec[], runs: number, log: (message: string) => void): Promise<Series[]> {
  for (const { label, warmUp, command, check } of specs) {
    if (!warmUp) continue;
    const warm = await measure(await command(0));
    await check?.(warm, 0);
    log(`${label}: warm-up ${warm.wallSeconds.toFixed(2)} s`);
  }
  const results: Measurement[][] = specs.map(() => []);
  for (let run = 1; run <= runs; run++) {
    for (const [position, { label, command, check }] of specs.entries()) {
      const measurement = await measure(await command(run));
      await check?.(measurement, run);
      log(
        `${label}: run ${run}/${runs} ${measurement.wallSeconds.toFixed(2)} s wall, ${measurement.cpuSeconds.toFixed(2)} s CPU, ${measurement.peakRssMb.toFixed(0)} MB`,
      );
      results[position]!.push(measurement);
    }
  }
  return results.map(summarize);
}

function summarize(runs: Measurement[]): Series {
  const byWall = [...runs].sort((a, b) => a.wallSeconds - b.wallSeconds);
  return {
    runs,
    wallSeconds: median(runs.map((run) => run.wallSeconds)),
    cpuSeconds: median(runs.map((run) => run.cpuSeconds)),
    peakRssMb: median(runs.map((run) => run.peakRssMb)),
    minWallSeconds: byWall[0]!.wallSeconds,
    maxWallSeconds: byWall[byWall.length - 1]!.wallSeconds,
    medianRun: byWall[Math.floor((byWall.length - 1) / 2)]!,
  };
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Runs a setup command to completion with its output on our stderr (stdout stays for the tables).
 * @returns the exit code, or null when the program could not be started.
 */
export function runVisible(
  program: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { ...options, stdio: ['ignore', process.stderr, process.stderr] });
    child.once('error', () => resolve(null));
    child.once('close', (code) => resolve(code));
  });
}

/** Runs a probe quietly and tells whether it exited 0. */
export function succeeds(program: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('close', (code) => resolve(code === 0));
  });
}

async function readAll(stream: Readable | null): Promise<string> {
  if (stream === null) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > 2000 ? `...${trimmed.slice(-2000)}` : trimmed || '(no stderr)';
}
