/**
 * Fuzzing of untrusted index folders: a small real index is copied, one of its files is mutated
 * (bit flips, field overwrites, truncations, extensions, a JSON field replaced or deleted, a file
 * swapped for a link to /dev/zero, a FIFO or a folder), and `build`, `info` and `merge` are run on
 * the copy as users run them. Every run must end with exit 0 (the mutation left a valid index) or
 * exit 1 and one line starting `tsmosaic:`: never a signal, another exit code, a hang, a stack
 * trace, an internal error, a raw control character or more than 1 GB of memory; a failed run
 * leaves nothing in its output folder. Used by test/index-fuzz.test.ts (a few dozen runs covering
 * each file and mutation kind) and test/bench/fuzz.ts (thousands).
 */
import { execFileSync } from 'node:child_process';
import { appendFile, cp, mkdir, readdir, readFile, rename, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { processCollection } from '../../src/index.js';
import { annShardFile } from '../../src/index-store/ann.js';
import { INDEX_FILES, MAX_ROOTS, rootsOf } from '../../src/index-store/format.js';
import { MAX_MANIFEST_BYTES, readManifest } from '../../src/index-store/read-index.js';
import { EarlierTiles } from '../../src/index-store/reuse.js';
import { IndexWriter } from '../../src/index-store/write-index.js';
import { seededRandom } from '../../src/match/random.js';
import { safeJson } from '../../src/text.js';
import { FEATURE_DIMENSIONS } from '../../src/tiles/features.js';
import { runMeasured, type MeasuredRun } from '../bench/measure.js';
import { BIN, NODE } from '../bench/paths.js';

/** Peak RSS allowed to any run. */
export const MAX_RSS_MB = 1024;
/** Tile size of the fuzzed indexes: small, so that a build of 20,000 cells stays quick. */
const TILE_SIZE = 4;
/** Pictures of the fuzzed collection, and of the good index merged with it. */
const PICTURES = 36;
const OTHER_PICTURES = 12;
/** Tiles per HNSW shard of the sharded copy: 36 pictures of five crops make three shards. */
const SHARD_TILES = 64;
/** The target picture: 160 x 120 px, so `--tiles-across 160` makes 19,200 cells. */
const TARGET_WIDTH = 160;
const TARGET_HEIGHT = 120;

/** The good indexes and target the mutations start from. */
export interface FuzzFixture {
  /** Indexes a mutation starts from: one HNSW file, and the same tiles in three lightness shards. */
  bases: { name: string; folder: string }[];
  /** A good index of other pictures, merged with each mutated one. */
  other: string;
  target: string;
}

export const FILE_KINDS = ['manifest', 'hnsw', 'features', 'tiles'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

/** Mutations of any file: of its bytes, or the file replaced by something else. */
export const FILE_MUTATIONS = [
  'bit-flip',
  'overwrite-4',
  'overwrite-8',
  'truncate',
  'extend',
  'extend-sparse',
  'dev-zero',
  'fifo',
  'folder',
  'link-loop',
  'missing',
] as const;
/** Mutations of manifest.json's JSON. */
export const JSON_MUTATIONS = [
  'json-value',
  'json-delete',
  'json-duplicate-tiles',
  'json-fewer-pictures',
  'json-padding',
  'json-many-roots',
] as const;
/** JSON mutations that write large manifests (up to 150 MB), tried less often. */
const LARGE_JSON_MUTATIONS: readonly MutationKind[] = ['json-padding', 'json-many-roots'];
/**
 * An HNSW file replaced by a copy of another shard of the index (or of the other index's
 * hnsw.bin); the index written again in shards of a few tiles (a valid index of up to 180 shards).
 */
export const HNSW_MUTATIONS = ['copy-sibling', 'reshard'] as const;
export type MutationKind = (typeof FILE_MUTATIONS)[number] | (typeof JSON_MUTATIONS)[number] | (typeof HNSW_MUTATIONS)[number];

/** The commands each mutated index is given. */
export const COMMANDS = ['build', 'build-worker', 'info', 'merge'] as const;
export type FuzzCommand = (typeof COMMANDS)[number];

/** One mutation to make and the commands to run on it; `case` and `seed` make it reproducible. */
export interface FuzzCase {
  seed: number;
  case: number;
  base: number;
  file: FileKind;
  kind: MutationKind;
  commands: FuzzCommand[];
}

/** How one command on one mutated index ended. */
export interface FuzzRun {
  command: FuzzCommand;
  /** The CLI's arguments. */
  args: string[];
  code: number | null;
  peakRssMb: number;
  wallSeconds: number;
  /** What breaks the contract, if anything. */
  problems: string[];
  stderr: string;
}

export interface FuzzOutcome {
  fuzzCase: FuzzCase;
  /** The case's scratch folder: the mutated index is `index` in it. */
  folder: string;
  /** What was done, e.g. `hnsw.1.bin: u32 4294967295 at byte 52`. */
  mutation: string;
  runs: FuzzRun[];
}

/** Values fields are overwritten with: 0 / 1 / 2^31-1 / 2^32-1 / -1 (bytes), and more in JSON. */
const NUMBERS = [0, 1, 2 ** 31 - 1, 2 ** 32 - 1, -1];
const ESCAPES = '\u001b]0;pwned\u0007\u2028\u202e';
const JSON_VALUES: unknown[] = [
  null,
  ...NUMBERS,
  1e308,
  -0.5,
  2 ** 53,
  true,
  '',
  'x'.repeat(4096),
  'x'.repeat(100_000),
  ESCAPES,
  `a${ESCAPES}b.jpg`,
  '../../../../dev/zero',
  {},
  { [ESCAPES]: ESCAPES },
  [],
  [1, 2, 3],
];

/**
 * Makes the fixture in `work`: a collection of PICTURES small pictures indexed at TILE_SIZE px
 * (the first base), the same tiles rewritten in shards of SHARD_TILES (the second), a good index
 * of other pictures and a target picture.
 */
export async function makeFuzzFixture(work: string): Promise<FuzzFixture> {
  const random = seededRandom(7);
  const collection = path.join(work, 'collection');
  const others = path.join(work, 'others');
  await Promise.all([mkdir(collection, { recursive: true }), mkdir(others, { recursive: true })]);
  const pictures: Promise<unknown>[] = [];
  for (let i = 0; i < PICTURES + OTHER_PICTURES; i++) {
    const width = 16 + Math.floor(random() * 24);
    const height = 16 + Math.floor(random() * 24);
    const folder = i < PICTURES ? collection : others;
    pictures.push(sharp(gradient(width, height, random), { raw: { width, height, channels: 3 } }).toFile(path.join(folder, `p${i}.png`)));
  }
  const target = path.join(work, 'target.png');
  pictures.push(
    sharp(gradient(TARGET_WIDTH, TARGET_HEIGHT, random), { raw: { width: TARGET_WIDTH, height: TARGET_HEIGHT, channels: 3 } }).toFile(
      target,
    ),
  );
  await Promise.all(pictures);

  const single = path.join(work, 'base-single');
  const other = path.join(work, 'other');
  await processCollection(collection, { out: single, tileSize: TILE_SIZE });
  await processCollection(others, { out: other, tileSize: TILE_SIZE });
  const sharded = path.join(work, 'base-sharded');
  await reshard(single, sharded, SHARD_TILES);
  return {
    bases: [
      { name: 'single', folder: single },
      { name: 'sharded', folder: sharded },
    ],
    other,
    target,
  };
}

/** Pixels of a picture: a gradient between two random colours, at a random angle, with a little noise. */
function gradient(width: number, height: number, random: () => number): Buffer {
  const from = [random(), random(), random()].map((value) => value * 255);
  const to = [random(), random(), random()].map((value) => value * 255);
  const angle = random() * Math.PI * 2;
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = Math.min(1, Math.max(0, 0.5 + ((x / width - 0.5) * dx + (y / height - 0.5) * dy)));
      for (let c = 0; c < 3; c++) pixels[(y * width + x) * 3 + c] = from[c]! + (to[c]! - from[c]!) * t + (random() - 0.5) * 16;
    }
  }
  return pixels;
}

/** Writes the tiles of the index `from` again as a new index `to` whose HNSW index is in shards of `shardTiles`. */
async function reshard(from: string, to: string, shardTiles: number): Promise<void> {
  const manifest = await readManifest(from);
  const { crops, fit, features } = manifest;
  const tileShape = { width: manifest.tileWidth, height: manifest.tileHeight };
  const store = await EarlierTiles.open(from, manifest.tileCount, tileShape, features.dimensions, crops);
  const writer = await IndexWriter.create(to, {
    roots: rootsOf(manifest),
    tileShape,
    fit,
    featureKind: features.kind,
    featureDimensions: features.dimensions,
    crops,
    annShardTiles: shardTiles,
  });
  try {
    for (const [id, source] of manifest.tiles.entries()) await writer.addTile(await store.pixels(id), store.features(id), source);
    await writer.commit();
  } finally {
    await store.close();
  }
}

/**
 * A seeded random stream of one case: `choices` picks its base, file and kind (randomCases), the
 * other stream the mutation's details, so the same seed and case always make the same mutation.
 */
function caseRandom(seed: number, fuzzCase: number, stream: 'choices' | 'details'): () => number {
  const mixed = Math.imul(seed, 0x9e3779b1) ^ Math.imul(fuzzCase + 1, 0x85ebca6b) ^ (stream === 'details' ? 0x27d4eb2f : 0);
  return seededRandom(mixed >>> 0);
}

/** The commands a case runs: build (on the main thread, or in the cell worker every other case), info and merge. */
function commandsFor(fuzzCase: number): FuzzCommand[] {
  return [fuzzCase % 2 === 0 ? 'build' : 'build-worker', 'info', 'merge'];
}

/**
 * The mutations tried on a file, each equally likely: manifest.json's JSON mutations (but the large
 * ones, which write up to 150 MB) twice as often as its byte mutations.
 */
function mutationsOf(file: FileKind): readonly MutationKind[] {
  if (file === 'hnsw') return [...FILE_MUTATIONS, ...HNSW_MUTATIONS];
  if (file !== 'manifest') return FILE_MUTATIONS;
  const json = JSON_MUTATIONS.filter((kind) => !LARGE_JSON_MUTATIONS.includes(kind));
  return [...FILE_MUTATIONS, ...json, ...json, ...LARGE_JSON_MUTATIONS];
}

/**
 * Random cases: a random base, file and mutation kind each, every command run on each.
 * `first` numbers the first case (to replay one, run it alone).
 */
export function randomCases(seed: number, count: number, first = 0): FuzzCase[] {
  return Array.from({ length: count }, (_, i) => {
    const fuzzCase = first + i;
    const random = caseRandom(seed, fuzzCase, 'choices');
    const file = pick(random, FILE_KINDS);
    const kinds = mutationsOf(file);
    return { seed, case: fuzzCase, base: Math.floor(random() * 2), file, kind: pick(random, kinds), commands: commandsFor(fuzzCase) };
  });
}

/**
 * A few cases that together mutate each file with each kind of mutation at least once, running
 * only the commands that read that file (info reads only the manifest; merge does not read the
 * HNSW files): the small version for `npm test`.
 */
export function coverageCases(seed: number): FuzzCase[] {
  const plan: [FileKind, MutationKind[], FuzzCommand[][]][] = [
    [
      'manifest',
      ['json-value', 'json-value', 'json-delete', 'json-duplicate-tiles', 'json-fewer-pictures', 'bit-flip', 'fifo'],
      [
        ['build', 'info'],
        ['info', 'merge'],
        ['build-worker', 'merge'],
      ],
    ],
    [
      'hnsw',
      ['bit-flip', 'overwrite-4', 'overwrite-8', 'truncate', 'extend-sparse', 'copy-sibling', 'reshard', 'link-loop'],
      [['build'], ['build-worker']],
    ],
    ['features', ['overwrite-4', 'truncate', 'folder', 'missing'], [['build', 'merge'], ['build-worker']]],
    [
      'tiles',
      ['bit-flip', 'extend', 'extend-sparse', 'dev-zero'],
      [
        ['build', 'merge'],
        ['build-worker', 'merge'],
      ],
    ],
  ];
  const cases: FuzzCase[] = [];
  for (const [file, kinds, commandSets] of plan) {
    kinds.forEach((kind, i) => {
      const fuzzCase = cases.length;
      cases.push({ seed, case: fuzzCase, base: fuzzCase % 2, file, kind, commands: commandSets[i % commandSets.length]! });
    });
  }
  return cases;
}

/**
 * Runs `cases`, `concurrency` at a time, each in its own folder under `work` (removed afterwards
 * unless `keepFailures` and a run failed), and calls `onOutcome` as each case ends.
 */
export async function runCases(
  fixture: FuzzFixture,
  cases: FuzzCase[],
  work: string,
  options: { concurrency?: number; timeoutSeconds?: number; keepFailures?: boolean; onOutcome?: (outcome: FuzzOutcome) => void } = {},
): Promise<FuzzOutcome[]> {
  const outcomes: FuzzOutcome[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cases.length) {
      const fuzzCase = cases[next++]!;
      const folder = path.join(work, `case-${fuzzCase.case}`);
      const outcome = await runCase(fixture, fuzzCase, folder, options.timeoutSeconds ?? 120);
      outcomes.push(outcome);
      options.onOutcome?.(outcome);
      if (!(options.keepFailures && outcome.runs.some((run) => run.problems.length > 0)))
        await rm(folder, { recursive: true, force: true });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 2 }, lane));
  return outcomes.sort((a, b) => a.fuzzCase.case - b.fuzzCase.case);
}

/** Copies the case's base index into `folder`, mutates it and runs the case's commands on it, one after another. */
export async function runCase(fixture: FuzzFixture, fuzzCase: FuzzCase, folder: string, timeoutSeconds: number): Promise<FuzzOutcome> {
  const index = path.join(folder, 'index');
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  await cp(fixture.bases[fuzzCase.base]!.folder, index, { recursive: true });
  const random = caseRandom(fuzzCase.seed, fuzzCase.case, 'details');
  const mutation = await mutate(index, fuzzCase.file, fuzzCase.kind, random, fixture.other);
  const runs: FuzzRun[] = [];
  for (const command of fuzzCase.commands) {
    const out = path.join(folder, `out-${command}`);
    await mkdir(out);
    const { args, outputs } = commandArgs(command, index, fixture, out, random);
    const run = await runMeasured([NODE, BIN, ...args], { cwd: folder, timeoutSeconds });
    runs.push({
      command,
      args,
      code: run.code,
      peakRssMb: run.peakRssMb,
      wallSeconds: run.wallSeconds,
      problems: [...judge(run, timeoutSeconds), ...(await leftovers(out, run.code === 0 ? outputs : []))],
      stderr: run.stderr,
    });
  }
  return { fuzzCase, folder, mutation: `${fixture.bases[fuzzCase.base]!.name} ${mutation}`, runs };
}

/**
 * The CLI arguments of `command` on the mutated `index`, writing into the empty folder `out`, and
 * the names it writes there when it succeeds.
 */
function commandArgs(
  command: FuzzCommand,
  index: string,
  fixture: FuzzFixture,
  out: string,
  random: () => number,
): { args: string[]; outputs: string[] } {
  switch (command) {
    case 'build': {
      const options = random() < 0.5 ? [] : pick(random, BUILD_OPTIONS);
      const plan = options[0] === '--plan';
      return {
        args: [
          ...['build', index, fixture.target, '--tiles-across', '20', '-o', path.join(out, 'mosaic.png'), '-q'],
          ...(plan ? ['--plan', path.join(out, 'plan.json')] : options),
        ],
        outputs: plan ? ['mosaic.png', 'plan.json'] : ['mosaic.png'],
      };
    }
    case 'build-worker':
      // 160 x 120 = 19,200 cells: described and searched by the cell worker (WORKER_CELLS 16,384).
      return {
        args: [
          ...['build', index, fixture.target, '--tiles-across', String(TARGET_WIDTH), '-o', path.join(out, 'mosaic.jpg'), '-q'],
          ...(random() < 0.5 ? [] : pick(random, WORKER_BUILD_OPTIONS)),
        ],
        outputs: ['mosaic.jpg'],
      };
    case 'info':
      return { args: random() < 0.5 ? ['info', index] : ['info', index, '--json'], outputs: [] };
    case 'merge': {
      const inputs = random() < 0.75 ? [index, fixture.other] : [fixture.other, index];
      return { args: ['merge', ...inputs, '-o', path.join(out, 'merged'), '-q'], outputs: ['merged'] };
    }
  }
}

/**
 * Options a small build is given half the time: other methods and rules (`--metric rgb` and
 * `--no-crops` build their own HNSW index from features.f32, reading no HNSW file).
 */
const BUILD_OPTIONS = [
  ['--metric', 'rgb'],
  ['--no-crops'],
  ['--unique'],
  ['--max-uses', '2'],
  ['--min-distance', '0'],
  ['--blend', '40'],
  ['--no-mirror'],
  ['--tile-size', '2'],
  ['--plan'],
];
/** Options of a build in the cell worker: the index's own method, other rules. */
const WORKER_BUILD_OPTIONS = [
  ['--blend', '40'],
  ['--max-uses', '200'],
  ['--min-distance', '3'],
  ['--seed', '7'],
];

/** Raw characters a terminal may act on or that reorder text (what `terminalSafe` escapes), but newlines. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u061c\u200e\u200f]/;

/** What in a run breaks the contract (see the file's comment). */
export function judge(run: MeasuredRun, timeoutSeconds: number): string[] {
  const problems: string[] = [];
  if (run.timedOut) problems.push(`no exit within ${timeoutSeconds} s (a hang)`);
  else if (run.signal) problems.push(`killed by ${run.signal}`);
  else if (run.code !== 0 && run.code !== 1) problems.push(`exit code ${run.code}`);
  if (run.peakRssMb > MAX_RSS_MB) problems.push(`peak RSS ${run.peakRssMb.toFixed(0)} MB, over ${MAX_RSS_MB} MB`);
  if (/internal error/i.test(run.stderr)) problems.push('an internal error');
  if (run.stderr.includes('    at ')) problems.push('a stack trace');
  if (RAW_CONTROL.test(run.stderr)) problems.push('a raw control character on stderr');
  if (RAW_CONTROL.test(run.stdout)) problems.push('a raw control character on stdout');
  if (run.code === 1) {
    if (!/^tsmosaic: [^\n]*\n$/.test(run.stderr)) problems.push('stderr is not one line starting "tsmosaic:"');
    if (run.stdout !== '') problems.push('output on stdout');
  }
  // Every command is run quiet (info has nothing to say on stderr).
  if (run.code === 0 && run.stderr !== '') problems.push('stderr after exit 0');
  return problems;
}

/** What is wrong with what a run left in its output folder: exactly `outputs` (none after a failure), no temporary. */
async function leftovers(out: string, outputs: string[]): Promise<string[]> {
  const left = (await readdir(out)).sort();
  return left.join('/') === [...outputs].sort().join('/')
    ? []
    : [`the output folder holds ${JSON.stringify(left)}, expected ${JSON.stringify(outputs)}`];
}

/** Sizes a file is extended to, sparse (no disk used): around MAX_MANIFEST_BYTES, 2 GiB and 4 GiB. */
const SPARSE_SIZES = [MAX_MANIFEST_BYTES - 1, MAX_MANIFEST_BYTES + 1, 2 ** 31 - 1, 2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32 + 3];

/**
 * Applies one mutation of `kind` to the index folder's `file` (`other`: a good index, whose HNSW
 * file a `copy-sibling` may copy), returning what was done.
 */
export async function mutate(index: string, file: FileKind, kind: MutationKind, random: () => number, other: string): Promise<string> {
  const name = await fileName(index, file, random);
  const where = path.join(index, name);
  const done = (what: string): string => `${name}: ${what}`;
  switch (kind) {
    case 'json-value':
    case 'json-delete':
    case 'json-duplicate-tiles': {
      const manifest = JSON.parse(await readFile(where, 'utf8')) as Record<string, unknown>;
      const what = mutateJson(manifest, kind, random);
      await writeFile(where, JSON.stringify(manifest, null, random() < 0.5 ? 2 : undefined));
      return done(what);
    }
    case 'json-fewer-pictures': {
      // A consistent index of fewer pictures, but for its HNSW files (read only by builds of the index's own method).
      const manifest = JSON.parse(await readFile(where, 'utf8')) as {
        tileCount: number;
        tiles: unknown[];
        crops: number;
        tileWidth: number;
        tileHeight: number;
      };
      const pictures = 1 + Math.floor(random() * Math.min(4, manifest.tileCount));
      manifest.tileCount = pictures;
      manifest.tiles = manifest.tiles.slice(0, pictures);
      await writeFile(where, JSON.stringify(manifest));
      const tiles = pictures * manifest.crops;
      await truncate(path.join(index, INDEX_FILES.tiles), tiles * manifest.tileWidth * manifest.tileHeight * 3);
      await truncate(path.join(index, INDEX_FILES.features), tiles * FEATURE_DIMENSIONS['srgb-grid'] * 4);
      return done(`${pictures} pictures, tiles.rgb and features.f32 cut to match`);
    }
    case 'json-padding': {
      // Valid JSON padded with spaces, with a character that makes its string UTF-16 (2 bytes a character).
      const manifest = JSON.parse(await readFile(where, 'utf8')) as { createdAt: string };
      manifest.createdAt = `\u5199${manifest.createdAt}`;
      const text = Buffer.from(JSON.stringify(manifest));
      const size = pick(random, [1_000_000, 50_000_000, MAX_MANIFEST_BYTES - 1_000, MAX_MANIFEST_BYTES]);
      await writeFile(where, text);
      await appendFile(where, Buffer.alloc(size - text.length, 0x20));
      return done(`padded with spaces to ${size} bytes, a CJK character in createdAt`);
    }
    case 'json-many-roots': {
      // Up to the most collection folders a manifest may list, long names alike but for their ends
      // (or of control characters, 6 bytes each in JSON and in messages); each picture in one.
      const manifest = JSON.parse(await readFile(where, 'utf8')) as { roots?: string[]; tiles: { root?: number }[] };
      const count = pick(random, [2, 1000, MAX_ROOTS, MAX_ROOTS + 1]);
      const length = pick(random, [16, 256, 4096]);
      const character = pick(random, ['r', '\u001b']);
      manifest.roots = Array.from({ length: count }, (_, i) => `/${character.repeat(length - 9)}${String(i).padStart(8, '0')}`);
      for (const tile of manifest.tiles) tile.root = Math.floor(random() * Math.min(count, MAX_ROOTS));
      await writeFile(where, JSON.stringify(manifest));
      return done(`${count} roots of ${length} characters${character === 'r' ? '' : ', most of them ESC'}`);
    }
    case 'dev-zero':
    case 'fifo':
    case 'folder':
    case 'link-loop':
    case 'missing':
      await rm(where);
      if (kind === 'dev-zero') await symlink('/dev/zero', where);
      else if (kind === 'fifo') execFileSync('mkfifo', [where]);
      else if (kind === 'folder') await mkdir(where);
      else if (kind === 'link-loop') await symlink(name, where);
      return done(
        {
          'dev-zero': 'a symbolic link to /dev/zero',
          fifo: 'replaced by a FIFO',
          folder: 'replaced by a folder',
          'link-loop': 'a symbolic link to itself',
          missing: 'removed',
        }[kind],
      );
    case 'extend-sparse': {
      const size = pick(random, SPARSE_SIZES);
      await truncate(where, size);
      return done(`extended with zeros to ${size} bytes (sparse)`);
    }
    case 'reshard': {
      const shardTiles = pick(random, [1, 8, 12, 64, 100]);
      await reshard(index, `${index}.resharded`, shardTiles);
      await rm(index, { recursive: true });
      await rename(`${index}.resharded`, index);
      return `the index written again in shards of ${shardTiles} tiles`;
    }
    case 'copy-sibling': {
      const shards = (await readdir(index)).filter((entry) => /^hnsw(\.\d+)?\.bin$/.test(entry) && entry !== name);
      const from = shards.length > 0 ? path.join(index, pick(random, shards)) : path.join(other, INDEX_FILES.ann);
      await cp(from, where);
      return done(`replaced by a copy of ${shards.length > 0 ? path.basename(from) : "the other index's hnsw.bin"}`);
    }
  }
  let bytes = await readFile(where);
  let what: string;
  if (kind === 'bit-flip') {
    const flips = 1 + Math.floor(random() * (random() < 0.7 ? 1 : 8));
    const offsets: number[] = [];
    for (let i = 0; i < flips; i++) {
      const offset = interestingOffset(bytes.length, file, random);
      const bit = Math.floor(random() * 8);
      bytes[offset] = bytes[offset]! ^ (1 << bit);
      offsets.push(offset * 8 + bit);
    }
    what = `bit${flips > 1 ? 's' : ''} ${offsets.join(', ')} flipped`;
  } else if (kind === 'overwrite-4' || kind === 'overwrite-8') {
    const size = kind === 'overwrite-4' ? 4 : 8;
    const offset = Math.min(interestingOffset(bytes.length, file, random, size), Math.max(0, bytes.length - size));
    const value = pick(random, NUMBERS);
    const float = random() < 0.25;
    const field = Buffer.alloc(size);
    if (size === 4 && float) field.writeFloatLE(value);
    else if (size === 4) field.writeUInt32LE(value >>> 0);
    else if (float) field.writeDoubleLE(value);
    else field.writeBigInt64LE(BigInt(value));
    field.copy(bytes, offset, 0, Math.min(size, bytes.length - offset));
    what = `${float ? 'float' : 'int'}${size * 8} ${value} at byte ${offset}`;
  } else if (kind === 'truncate') {
    const length = random() < 0.2 ? Math.max(0, bytes.length - 1 - Math.floor(random() * 8)) : Math.floor(random() * bytes.length);
    bytes = bytes.subarray(0, length);
    what = `cut to ${length} of its bytes`;
  } else {
    const extra =
      random() < 0.3
        ? pick(random, [1, 4, 8, FEATURE_DIMENSIONS['srgb-grid'] * 4, TILE_SIZE * TILE_SIZE * 3])
        : 1 + Math.floor(random() * 4096);
    const tail = random() < 0.5 ? Buffer.alloc(extra) : Buffer.from(Array.from({ length: extra }, () => Math.floor(random() * 256)));
    bytes = Buffer.concat([bytes, tail]);
    what = `${extra} ${tail.every((byte) => byte === 0) ? 'zero' : 'random'} bytes appended`;
  }
  await writeFile(where, bytes);
  return done(what);
}

/** The file of `kind` in the index: for the HNSW index, any of its shards. */
async function fileName(index: string, kind: FileKind, random: () => number): Promise<string> {
  if (kind === 'manifest') return INDEX_FILES.manifest;
  if (kind === 'features') return INDEX_FILES.features;
  if (kind === 'tiles') return INDEX_FILES.tiles;
  const shards = (await readdir(index)).filter((name) => /^hnsw(\.\d+)?\.bin$/.test(name)).length;
  return annShardFile(Math.floor(random() * shards));
}

/** An offset to mutate: in an HNSW file, a header field half the time; in the others, anywhere (whole values in features.f32). */
function interestingOffset(length: number, file: FileKind, random: () => number, size = 1): number {
  if (length === 0) return 0;
  if (file === 'hnsw' && random() < 0.5) return Math.min(length - 1, 4 * Math.floor(random() * 24));
  const offset = Math.floor(random() * length);
  return file === 'features' || file === 'hnsw' || size > 1 ? offset - (offset % Math.min(size, 4)) : offset;
}

/** Every path to a value in `value`, e.g. `['ann', 'method', 'grid']`, `['tiles', 3, 'source']`. */
function jsonPaths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value);
  return entries.flatMap(([key, item]) => [[...at, key], ...jsonPaths(item, [...at, key])]);
}

/** A path of the manifest to mutate: each shape of path (`tiles[*].size`) equally likely, then one of its instances. */
function pickPath(manifest: object, random: () => number): (string | number)[] {
  const byShape = new Map<string, (string | number)[][]>();
  for (const at of jsonPaths(manifest)) {
    const shape = at.map((key) => (typeof key === 'number' ? '*' : key)).join('.');
    byShape.set(shape, [...(byShape.get(shape) ?? []), at]);
  }
  return pick(random, pick(random, [...byShape.values()]));
}

function pathText(at: (string | number)[]): string {
  return at.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`)).join('');
}

function mutateJson(manifest: Record<string, unknown>, kind: MutationKind, random: () => number): string {
  const tiles = manifest.tiles as unknown[];
  if (kind === 'json-duplicate-tiles') {
    const how = Math.floor(random() * 3);
    if (how === 0) {
      manifest.tiles = [...tiles, ...tiles];
      return 'every tiles entry twice';
    }
    if (how === 1) {
      manifest.tiles = [...tiles, ...tiles];
      manifest.tileCount = tiles.length * 2;
      return 'every tiles entry twice, tileCount doubled';
    }
    const [from, to] = [Math.floor(random() * tiles.length), Math.floor(random() * tiles.length)];
    tiles[to] = structuredClone(tiles[from]);
    return `tiles[${to}] replaced by a copy of tiles[${from}]`;
  }
  const at = pickPath(manifest, random);
  const parent = at.slice(0, -1).reduce<unknown>((value, key) => (value as Record<string | number, unknown>)[key], manifest) as Record<
    string | number,
    unknown
  >;
  const key = at[at.length - 1]!;
  if (kind === 'json-delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else Reflect.deleteProperty(parent, key);
    return `${pathText(at)} deleted`;
  }
  const value = pick(random, JSON_VALUES);
  parent[key] = structuredClone(value);
  return `${pathText(at)} = ${describeValue(value)}`;
}

/** A JSON value as a mutation's description shows it: long strings shortened, control characters escaped. */
function describeValue(value: unknown): string {
  return typeof value === 'string' && value.length > 40 ? `"x" x ${value.length}` : safeJson(value);
}

function pick<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)]!;
}

/**
 * Each failed run as one reproducible line: the seed, the case and its mutation, the command line
 * (the mutated index shown as <index>, the scratch folder as <case>) and what went wrong.
 */
export function failureLines(outcomes: FuzzOutcome[]): string[] {
  return outcomes.flatMap(({ fuzzCase, folder, mutation, runs }) =>
    runs
      .filter((run) => run.problems.length > 0)
      .map((run) => {
        const shown = run.args.map((arg) => arg.replace(path.join(folder, 'index'), '<index>').replace(folder, '<case>')).join(' ');
        return `seed ${fuzzCase.seed} case ${fuzzCase.case} (${mutation}), tsmosaic ${shown}: ${run.problems.join('; ')}; stderr ${safeJson(run.stderr.slice(0, 600))}`;
      }),
  );
}
