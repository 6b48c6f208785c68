import { UsageError } from '../errors.js';
import { quote } from '../text.js';

/** Most parts a collection is split into with --shard. */
export const MAX_SHARDS = 65_536;

/** A part of a collection: part `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/**
 * A part whose number comes from the job runner's environment (`--shard auto/4`), and the number
 * of parts too when `count` is absent (`--shard auto`; only Slurm says how many tasks it runs).
 */
export interface AutoShard {
  index: 'auto';
  count?: number;
}

/** What `--shard` and processCollection's `shard` take. */
export type ShardOption = Shard | AutoShard;

/** A part, the variable it was read from and that variable's value, for a note. */
export interface ResolvedShard {
  shard: Shard;
  /** `SLURM_ARRAY_TASK_ID=2`, or undefined when the part was given as i/n. */
  from?: string;
}

const isCount = (count: unknown): count is number =>
  Number.isSafeInteger(count) && (count as number) >= 1 && (count as number) <= MAX_SHARDS;

function isShard(value: unknown): value is Shard {
  if (typeof value !== 'object' || value === null) return false;
  const { index, count } = value as Partial<Shard>;
  return isCount(count) && Number.isSafeInteger(index) && index! >= 1 && index! <= count;
}

export function isShardOption(value: unknown): value is ShardOption {
  if (isShard(value)) return true;
  if (typeof value !== 'object' || value === null) return false;
  const { index, count } = value as Partial<AutoShard>;
  return index === 'auto' && (count === undefined || isCount(count));
}

/** A `--shard` value: `2/4`, `auto/4` or `auto`; undefined when it is none of these. */
export function parseShard(text: string): ShardOption | undefined {
  const match = /^\s*(\d+|auto)\s*(?:\/\s*(\d+)\s*)?$/.exec(text);
  if (!match) return undefined;
  const count = match[2] === undefined ? undefined : Number(match[2]);
  const shard: ShardOption =
    match[1] === 'auto' ? { index: 'auto', ...(count === undefined ? {} : { count }) } : { index: Number(match[1]), count: count! };
  return isShardOption(shard) ? shard : undefined;
}

/** The variable each job runner sets to tell its tasks apart, by runner. */
export const RUNNER_VARIABLES = {
  kubernetes: 'JOB_COMPLETION_INDEX',
  slurm: 'SLURM_ARRAY_TASK_ID',
  parallel: 'PARALLEL_SEQ',
} as const;

/** How each runner is named in messages. */
const RUNNER_NAMES = { kubernetes: 'a Kubernetes Indexed Job', slurm: 'a Slurm job array', parallel: 'GNU parallel' } as const;

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The part a run processes: `option` itself when it is i/n, else the part the job runner gives it
 * in `env` (Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX, 0-based; Slurm job arrays:
 * SLURM_ARRAY_TASK_ID within SLURM_ARRAY_TASK_MIN to _MAX, and _COUNT parts; GNU parallel:
 * PARALLEL_SEQ, 1-based). The number of parts is the option's, or Slurm's when it has none.
 * @throws {UsageError} naming the variable when none or several runners' variables are set, one
 * is not a number, is out of range, or the number of parts is unknown or disagrees.
 */
export function resolveShard(option: ShardOption, env: Environment): ResolvedShard {
  if (option.index !== 'auto') return { shard: option };
  const flag = option.count === undefined ? '--shard auto' : `--shard auto/${option.count}`;
  const set = (Object.keys(RUNNER_VARIABLES) as (keyof typeof RUNNER_VARIABLES)[]).filter(
    (runner) => env[RUNNER_VARIABLES[runner]] !== undefined,
  );
  if (set.length === 0) {
    const each = Object.entries(RUNNER_VARIABLES).map(([runner, name]) => `${name} (${RUNNER_NAMES[runner as keyof typeof RUNNER_NAMES]})`);
    throw new UsageError(`${flag}: none of ${each.join(', ')} is set; give the part as --shard i/n`);
  }
  if (set.length > 1) {
    const names = set.map((runner) => RUNNER_VARIABLES[runner]).join(' and ');
    throw new UsageError(`${flag}: ${names} are both set, so the part is ambiguous; give it as --shard i/n`);
  }
  const runner = set[0]!;
  const name = RUNNER_VARIABLES[runner];
  const value = integerVariable(flag, env, name);
  const from = `${name}=${value}`;
  if (runner === 'slurm') return { shard: slurmShard(flag, option.count, value, env), from };
  if (option.count === undefined) {
    const hint = runner === 'parallel' ? ' (in a parallel command: auto/{##})' : " (n: the Job's completions)";
    throw new UsageError(`${flag}: ${name} gives the part but not the number of parts; use --shard auto/<n>${hint}`);
  }
  const first = runner === 'kubernetes' ? 0 : 1;
  if (value < first || value > option.count - 1 + first) {
    const runs = runner === 'kubernetes' ? `the Job's completions must be ${option.count}` : 'more jobs than parts are running';
    throw new UsageError(`${flag}: ${name} is ${value}, expected ${first} to ${option.count - 1 + first} (${runs})`);
  }
  return { shard: { index: value - first + 1, count: option.count }, from };
}

/**
 * A Slurm array task's part: its place in the array SLURM_ARRAY_TASK_MIN to _MAX, which must be
 * one run of SLURM_ARRAY_TASK_COUNT numbers (with a step or gaps, which task is which part is
 * ambiguous), and as many tasks as `count` when it is given.
 */
function slurmShard(flag: string, count: number | undefined, id: number, env: Environment): Shard {
  const min = integerVariable(flag, env, 'SLURM_ARRAY_TASK_MIN');
  const max = integerVariable(flag, env, 'SLURM_ARRAY_TASK_MAX');
  const tasks = integerVariable(flag, env, 'SLURM_ARRAY_TASK_COUNT');
  if (max - min + 1 !== tasks) {
    throw new UsageError(
      `${flag}: SLURM_ARRAY_TASK_COUNT is ${tasks} but SLURM_ARRAY_TASK_MIN to _MAX span ${max - min + 1} numbers (${min} to ${max}), so which task is which part is ambiguous; submit --array=${min}-${min + tasks - 1}, or give the part as --shard i/n`,
    );
  }
  if (!isCount(tasks)) throw new UsageError(`${flag}: SLURM_ARRAY_TASK_COUNT is ${tasks}, expected 1 to ${MAX_SHARDS}`);
  if (count !== undefined && tasks !== count) {
    throw new UsageError(
      `${flag}: SLURM_ARRAY_TASK_COUNT is ${tasks}, not ${count}: submit one task per part (--array=0-${count - 1}), or give the part as --shard i/n`,
    );
  }
  if (id < min || id > max)
    throw new UsageError(`${flag}: SLURM_ARRAY_TASK_ID is ${id}, expected ${min} to ${max} (SLURM_ARRAY_TASK_MIN to _MAX)`);
  return { index: id - min + 1, count: tasks };
}

/** A variable holding a whole number. @throws {UsageError} naming it when it is missing or is not one. */
function integerVariable(flag: string, env: Environment, name: string): number {
  const text = env[name];
  if (text === undefined) throw new UsageError(`${flag}: ${name} is not set`);
  const value = /^\d{1,15}$/.test(text) ? Number(text) : undefined;
  if (value === undefined) throw new UsageError(`${flag}: ${name} is ${quote(text)}, not a whole number`);
  return value;
}
