import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ANN_PARAMETERS, AnnShardWriter, buildAnn } from '../src/index-store/ann.js';
import {
  checkHnswFile,
  checkHnswHeader,
  HNSW_HEADER_BYTES,
  HNSW_MAX_LEVEL,
  maxUpperLists,
  type HnswExpected,
} from '../src/index-store/hnsw-file.js';
import { seededRandom } from '../src/match/random.js';
import { ROOT, tempDir } from './helpers.js';

const M = ANN_PARAMETERS.m;
/** A child that takes longer is stopped (every run so far took under 20 s). */
const CHILD_TIMEOUT_MS = 180_000;
const CHILD = path.join(ROOT, 'test', 'hnsw-load-child.ts');
/** glibc's checking malloc (glibc 2.34 and later), preloaded into the child where present. */
const MALLOC_DEBUG = [`/usr/lib/${os.arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libc_malloc_debug.so.0`].find(
  (file) => process.platform === 'linux' && existsSync(file),
);

interface RealFile {
  bytes: Buffer;
  expected: HnswExpected;
}

/** An index of `count` random vectors (0..100) built and written by hnswlib-node with the project's parameters, labels i * labelStep. */
async function realFile(dir: string, count: number, dimensions: number, labelStep = 1): Promise<RealFile> {
  const random = seededRandom(count * 31 + dimensions);
  const file = path.join(dir, `real-${count}-${dimensions}-${labelStep}.bin`);
  (
    await buildAnn(
      new Float32Array(count * dimensions).map(() => random() * 100),
      dimensions,
      count,
      labelStep,
    )
  ).writeIndexSync(file);
  return { bytes: await readFile(file), expected: { dimensions, count, m: M, labels: Math.max(1, (count - 1) * labelStep + 1) } };
}

/** Where things are in a file, read independently of the module under test (little-endian, as on every machine the tests run on). */
function layoutOf({ bytes, expected: { count, dimensions, m } }: RealFile) {
  const perElement = 4 + 8 * m + 4 * dimensions + 8;
  const upperList = 4 + 4 * m;
  const levels: number[] = [];
  const sizeAt: number[] = [];
  let at = HNSW_HEADER_BYTES + count * perElement;
  for (let i = 0; i < count; i++) {
    sizeAt.push(at);
    const size = bytes.readUInt32LE(at);
    levels.push(size / upperList);
    at += 4 + size;
  }
  assert.equal(at, bytes.length);
  return {
    perElement,
    upperList,
    levels,
    maxLevel: bytes.readInt32LE(48),
    entryPoint: bytes.readUInt32LE(52),
    /** Byte of element i's level-0 list header. */
    level0: (i: number) => HNSW_HEADER_BYTES + i * perElement,
    vector: (i: number) => HNSW_HEADER_BYTES + i * perElement + 4 + 8 * m,
    label: (i: number) => HNSW_HEADER_BYTES + i * perElement + 4 + 8 * m + 4 * dimensions,
    /** Byte of element i's link-list size. */
    sizeAt: (i: number) => sizeAt[i]!,
    /** Byte of element i's list header at `level` >= 1. */
    upper: (i: number, level: number) => sizeAt[i]! + 4 + (level - 1) * upperList,
  };
}

/** A copy of `real` changed in place by `change`, or the buffer `change` returns. */
function mutated(real: RealFile, change: (bytes: Buffer) => unknown): Buffer {
  const copy = Buffer.from(real.bytes);
  const made = change(copy);
  return Buffer.isBuffer(made) ? made : copy;
}

/** Asserts that `bytes` is refused with a reason matching `reason`. */
function refused(bytes: Uint8Array, expected: HnswExpected, reason: RegExp, what: string): void {
  const got = checkHnswFile(bytes, expected);
  assert.ok(got !== undefined, `${what}: accepted`);
  assert.match(got, reason, what);
  assert.ok(!got.includes('\n'), `${what}: one line`);
}

/** A result line of a child process that ended otherwise than by finishing. */
function childFailure(result: ReturnType<typeof spawnSync>): string | undefined {
  if (result.signal === null && result.status === 0 && String(result.stdout).endsWith('done\n')) return undefined;
  const lines = String(result.stdout).trim().split('\n');
  return `child ended by ${result.signal ?? `exit code ${result.status}`} after "${lines.at(-1)}"; stderr: ${String(result.stderr).slice(-500)}`;
}

/**
 * Loads each file of `files` in one child process and searches it; returns undefined when all
 * loaded and searched, else which file failed and how. glibc's heap checks are switched on where
 * available, so that a heap overrun aborts the child instead of passing unnoticed.
 */
async function loadInChild(
  dir: string,
  files: { bytes: Uint8Array; dimensions: number }[],
): Promise<{ failed: number; how: string } | undefined> {
  const blob = path.join(dir, 'pack.bin');
  const entries: { offset: number; length: number; dimensions: number }[] = [];
  let offset = 0;
  for (const { bytes, dimensions } of files) {
    entries.push({ offset, length: bytes.length, dimensions });
    offset += bytes.length;
  }
  await writeFile(blob, Buffer.concat(files.map((file) => file.bytes)));
  const packFile = path.join(dir, 'pack.json');
  await writeFile(packFile, JSON.stringify({ blob, scratch: path.join(dir, 'scratch.bin'), entries }));
  const env: NodeJS.ProcessEnv = { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.perturb=165:glibc.malloc.check=3', MALLOC_CHECK_: '3' };
  if (MALLOC_DEBUG) env.LD_PRELOAD = MALLOC_DEBUG;
  const run = (): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, ['--import', 'tsx', CHILD, packFile], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      timeout: CHILD_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
  // Once, every thread of a child sat in a futex wait with glibc's checking malloc preloaded (a
  // deadlock, not a loop: no CPU): one that times out is run again before it counts.
  let result = run();
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') result = run();
  await rm(blob, { force: true });
  const failure = childFailure(result);
  if (failure === undefined) return undefined;
  const last = /(?:load|error) (\d+)[^\n]*\n?$/.exec(result.stdout.trimEnd());
  return { failed: last ? Number(last[1]) : -1, how: failure };
}

test('files hnswlib-node writes with the project parameters are accepted, 0 to 16,384 elements, 3 and 15 dimensions', async (t) => {
  const dir = await tempDir();
  for (const [count, dimensions] of [
    [1, 3],
    [2, 3],
    [17, 15],
    [300, 3],
    [700, 15],
    [3000, 3],
    [4000, 15],
  ] as const) {
    const real = await realFile(dir, count, dimensions);
    assert.equal(checkHnswFile(real.bytes, real.expected), undefined, `${count} x ${dimensions}`);
    const bounds = checkHnswHeader(real.bytes.subarray(0, HNSW_HEADER_BYTES), real.expected);
    assert.ok(
      typeof bounds === 'object' && bounds.minBytes <= real.bytes.length && real.bytes.length <= bounds.maxBytes,
      `${count} x ${dimensions}: length within the header's bounds`,
    );
  }
  // Bytes not 4-byte aligned in their buffer (a Buffer from the pool, a subarray) are read the same.
  const real = await realFile(dir, 300, 3);
  const shifted = Buffer.alloc(real.bytes.length + 1);
  real.bytes.copy(shifted, 1);
  assert.equal(checkHnswFile(shifted.subarray(1), real.expected), undefined);
  shifted.writeUInt32LE(300, 1 + layoutOf(real).level0(7) + 4);
  assert.match(checkHnswFile(shifted.subarray(1), real.expected)!, /element 7's level-0 neighbour 300 is not one of the 300 elements/);

  // Labels with gaps (every 5th tile), as a collection's centre crops are labelled.
  const gaps = await realFile(dir, 500, 3, 5);
  assert.equal(checkHnswFile(gaps.bytes, gaps.expected), undefined);
  assert.match(checkHnswFile(gaps.bytes, { ...gaps.expected, labels: 2000 })!, /label \d+ is not below 2000/);

  // A shard as process-collection writes it: labels scattered, and an empty shard (no elements, max_elements 1).
  const writer = new AnnShardWriter(3);
  const random = seededRandom(3);
  writer.start(200);
  for (let i = 0; i < 200; i++) writer.add([random() * 100, random() * 100, random() * 100], i * 7 + 3);
  writer.write(path.join(dir, 'shard.bin'));
  const shard = await readFile(path.join(dir, 'shard.bin'));
  assert.equal(checkHnswFile(shard, { dimensions: 3, count: 200, m: M, labels: 7 * 200 }), undefined);
  writer.start(0);
  writer.write(path.join(dir, 'empty.bin'));
  const empty = await readFile(path.join(dir, 'empty.bin'));
  assert.equal(empty.length, HNSW_HEADER_BYTES);
  assert.equal(checkHnswFile(empty, { dimensions: 3, count: 0, m: M, labels: 0 }), undefined);
  refused(
    Buffer.concat([empty, Buffer.alloc(4)]),
    { dimensions: 3, count: 0, m: M, labels: 0 },
    /more than the 96/,
    'empty with 4 bytes more',
  );
  refused(empty, { dimensions: 3, count: 1, m: M, labels: 1 }, /element count is 0, expected 1/, 'empty for one element');

  // The largest shard (ONE_SHARD_TILES = 16,384 tiles of 15 values) is checked in a few ms.
  const large = await realFile(dir, 16_384, 15);
  const times: number[] = [];
  for (let run = 0; run < 7; run++) {
    const start = performance.now();
    assert.equal(checkHnswFile(large.bytes, large.expected), undefined);
    times.push(performance.now() - start);
  }
  const median = times.sort((a, b) => a - b)[3]!;
  t.diagnostic(`16,384 x 15 (${large.bytes.length} bytes): checked in ${median.toFixed(2)} ms (median of 7)`);
  assert.ok(median < 100, `checked in ${median} ms`);
});

test('each targeted corruption is refused with its reason', async () => {
  const dir = await tempDir();
  const real = await realFile(dir, 3000, 3);
  const { expected } = real;
  const at = layoutOf(real);
  assert.ok(at.maxLevel >= 2, 'the test file has levels 0 to 2 at least');
  const lower = at.levels.findIndex((level) => level < at.maxLevel);
  const withLevel1 = at.levels.findIndex((level, i) => level >= 1 && i !== at.entryPoint);
  const levelZero = at.levels.findIndex((level) => level === 0);
  const check = (what: string, reason: RegExp, change: (bytes: Buffer) => unknown, wanted: HnswExpected = expected): void =>
    refused(mutated(real, change), wanted, reason, what);

  // Header.
  check('entry point 0x7fffffff', /^entry point 2147483647 is not one of the 3000 elements$/, (b) => void b.writeUInt32LE(0x7fffffff, 52));
  check('entry point -1', /entry point 4294967295 is not one of the 3000 elements/, (b) => void b.writeInt32LE(-1, 52));
  check(
    'entry point of a lower level',
    new RegExp(`entry point ${lower} has level ${at.levels[lower]}, not the index's maxlevel ${at.maxLevel}`),
    (b) => void b.writeUInt32LE(lower, 52),
  );
  check('max_elements 1', /max_elements is 1, expected 3000/, (b) => void b.writeBigUInt64LE(1n, 8));
  check('max_elements 2^40', /max_elements is 1099511627776/, (b) => void b.writeBigUInt64LE(1n << 40n, 8));
  check('element count + 1', /element count is 3001, expected 3000/, (b) => void b.writeBigUInt64LE(3001n, 16));
  check('element count - 1', /element count is 2999, expected 3000/, (b) => void b.writeBigUInt64LE(2999n, 16));
  check('element count 2^32 - 1', /element count is 4294967295/, (b) => void b.writeBigUInt64LE(0xffffffffn, 16));
  check('element count 2^64 - 1', /element count is 18446744073709551615/, (b) => void b.writeBigInt64LE(-1n, 16));
  check('offsetLevel0 4', /offsetLevel0 is 4/, (b) => void b.writeBigUInt64LE(4n, 0));
  check('size_data_per_element', /size_data_per_element is 1/, (b) => void b.writeBigUInt64LE(1n, 24));
  check('label_offset', /label_offset is 0/, (b) => void b.writeBigUInt64LE(0n, 32));
  check('offsetData', /offsetData is 0/, (b) => void b.writeBigUInt64LE(0n, 40));
  check('maxlevel 2^31 - 1', /maxlevel is 2147483647, expected 0 to 64/, (b) => void b.writeInt32LE(0x7fffffff, 48));
  check('maxlevel -1', /maxlevel is -1/, (b) => void b.writeInt32LE(-1, 48));
  check(
    'maxlevel + 1',
    /fewer than the \d+ its header implies|has level \d+, not the index's maxlevel/,
    (b) => void b.writeInt32LE(at.maxLevel + 1, 48),
  );
  check('maxlevel - 1', /above the index's maxlevel/, (b) => void b.writeInt32LE(at.maxLevel - 1, 48));
  check('maxM', /maxM is 17, expected 16/, (b) => void b.writeBigUInt64LE(17n, 56));
  check('maxM0', /maxM0 is 16, expected 32/, (b) => void b.writeBigUInt64LE(16n, 64));
  check('M', /M is 0, expected 16/, (b) => void b.writeBigUInt64LE(0n, 72));
  check('mult NaN', /mult is NaN/, (b) => void b.writeDoubleLE(NaN, 80));
  check('mult 0', /mult is 0/, (b) => void b.writeDoubleLE(0, 80));
  check('mult -1 / ln 16', /mult is -0\.36/, (b) => void b.writeDoubleLE(-1 / Math.log(16), 80));
  check('ef_construction 0', /ef_construction is 0/, (b) => void b.writeBigUInt64LE(0n, 88));
  check('ef_construction 2^63', /ef_construction is 9223372036854775808/, (b) => void b.writeBigUInt64LE(1n << 63n, 88));

  // Level 0.
  check(
    'a level-0 neighbour out of range',
    /element 5's level-0 neighbour 3000 is not one of the 3000 elements/,
    (b) => void b.writeUInt32LE(3000, at.level0(5) + 4),
  );
  check(
    'a level-0 neighbour 2^31 - 1',
    /element 5's level-0 neighbour 2147483647/,
    (b) => void b.writeUInt32LE(0x7fffffff, at.level0(5) + 4),
  );
  check(
    'a level-0 link count over maxM0',
    /element 9 has 33 level-0 neighbours, more than maxM0 32/,
    (b) => void b.writeUInt16LE(33, at.level0(9)),
  );
  check('a level-0 link count 65535', /element 9 has 65535 level-0 neighbours/, (b) => void b.writeUInt16LE(0xffff, at.level0(9)));
  check('deleted mark', /element 12 is marked deleted/, (b) => void (b[at.level0(12) + 2]! |= 1));
  check(
    'other header bits',
    /element 12's level-0 list header 0x8\w+ has bits set above its count/,
    (b) => void (b[at.level0(12) + 3]! |= 0x80),
  );
  check('NaN vector value', /element 20's vector value 1 is NaN/, (b) => void b.writeFloatLE(NaN, at.vector(20) + 4));
  check('infinite vector value', /element 20's vector value 2 is -Infinity/, (b) => void b.writeFloatLE(-Infinity, at.vector(20) + 8));
  check('duplicate label', /label 3 is held by two elements/, (b) => void b.writeBigUInt64LE(3n, at.label(7)));
  check('label = labels', /element 7's label 3000 is not below 3000/, (b) => void b.writeBigUInt64LE(3000n, at.label(7)));
  check('label 2^64 - 1', /element 7's label 18446744073709551615 is not below 3000/, (b) => void b.writeBigInt64LE(-1n, at.label(7)));
  check('label 2^53 + 7', /element 7's label 9007199254740999 is not below/, (b) => void b.writeBigUInt64LE((1n << 53n) + 7n, at.label(7)));

  // Upper levels.
  const level1 = at.upper(withLevel1, 1);
  check('an upper-level neighbour out of range', new RegExp(`element ${withLevel1}'s level-1 neighbour 3000 is not one of`), (b) => {
    b.writeUInt16LE(1, level1);
    b.writeUInt32LE(3000, level1 + 4);
  });
  check(
    'an upper-level neighbour of too low a level',
    new RegExp(`element ${withLevel1}'s level-1 neighbour ${levelZero} has level 0`),
    (b) => {
      b.writeUInt16LE(Math.max(1, b.readUInt16LE(level1)), level1);
      b.writeUInt32LE(levelZero, level1 + 4);
    },
  );
  const top = at.upper(at.entryPoint, at.maxLevel);
  const belowTop = at.levels.findIndex((level) => level === at.maxLevel - 1);
  check(
    'a top-level neighbour one level short',
    new RegExp(`element ${at.entryPoint}'s level-${at.maxLevel} neighbour ${belowTop} has level ${at.maxLevel - 1}`),
    (b) => {
      b.writeUInt16LE(1, top);
      b.writeUInt32LE(belowTop, top + 4);
    },
  );
  check(
    'an upper-level link count over maxM',
    new RegExp(`element ${withLevel1} has 17 level-1 neighbours, more than maxM 16`),
    (b) => void b.writeUInt16LE(17, level1),
  );
  check(
    'an upper-level deleted bit',
    new RegExp(`element ${withLevel1}'s level-1 list header 0x0001\\w+ has bits set`),
    (b) => void (b[level1 + 2]! |= 1),
  );
  check(
    'a linkListSize not a multiple',
    new RegExp(`element ${withLevel1}'s upper-level lists take 67 bytes, not a multiple of 68`),
    (b) => void b.writeUInt32LE(67, at.sizeAt(withLevel1)),
  );
  check(
    'a linkListSize one list more',
    /the file ends in element|bytes, fewer than|above the index's maxlevel|after its last element/,
    (b) => void b.writeUInt32LE((at.levels[withLevel1]! + 1) * 68, at.sizeAt(withLevel1)),
  );
  check('a linkListSize 2^32 - 1', /not a multiple of 68/, (b) => void b.writeUInt32LE(0xffffffff, at.sizeAt(withLevel1)));
  check('a level above maxlevel', /element \d+ has level \d+, above the index's maxlevel/, (b) => {
    // Element `levelZero` given maxlevel + 1 lists, the file lengthened to hold them.
    const extra = (at.maxLevel + 1) * 68;
    b.writeUInt32LE(extra, at.sizeAt(levelZero));
    return Buffer.concat([b.subarray(0, at.sizeAt(levelZero) + 4), Buffer.alloc(extra), b.subarray(at.sizeAt(levelZero) + 4)]);
  });

  // Length.
  for (const length of [
    0,
    50,
    95,
    96,
    97,
    at.level0(1500) + 3,
    at.sizeAt(0),
    at.sizeAt(0) + 2,
    at.sizeAt(withLevel1) + 4 + 30,
    real.bytes.length - 68,
    real.bytes.length - 1,
  ]) {
    refused(real.bytes.subarray(0, length), expected, /bytes|the file ends in/, `truncated to ${length} bytes`);
  }
  for (const extra of [1, 4, 68, 1 << 20]) {
    refused(Buffer.concat([real.bytes, Buffer.alloc(extra)]), expected, /more than the|after its last element/, `${extra} bytes more`);
  }

  // Against another description.
  refused(real.bytes, { ...expected, dimensions: 15 }, /size_data_per_element is 152, expected 200/, 'read as 15 dimensions');
  refused(real.bytes, { ...expected, m: 8 }, /size_data_per_element is 152, expected 88/, 'read as M 8');
  refused(real.bytes, { ...expected, labels: 2999 }, /label 2999 is not below 2999/, 'one label fewer');
  assert.throws(() => checkHnswFile(real.bytes, { ...expected, m: 1 }), RangeError);
  assert.throws(() => checkHnswFile(real.bytes, { ...expected, count: -1 }), RangeError);
  assert.throws(() => checkHnswFile(real.bytes, { ...expected, dimensions: 0.5 }), RangeError);

  // The header alone: its bounds, and refusals.
  const bounds = checkHnswHeader(real.bytes.subarray(0, HNSW_HEADER_BYTES), expected);
  assert.deepEqual(bounds, {
    minBytes: HNSW_HEADER_BYTES + 3000 * (152 + 4) + at.maxLevel * 68,
    maxBytes: HNSW_HEADER_BYTES + 3000 * (152 + 4) + maxUpperLists(3000, M) * 68,
  });
  assert.match(checkHnswHeader(real.bytes.subarray(0, 95), expected) as string, /95 bytes, fewer than the 96 of its header/);
  assert.match(
    checkHnswHeader(mutated(real, (b) => void b.writeUInt32LE(0x7fffffff, 52)).subarray(0, 96), expected) as string,
    /entry point 2147483647/,
  );
});

/** A valid file of `levels.length` elements of the given levels (vectors 0, no neighbours; element 0 the entry point), as hnswlib lays it out. */
function synthetic(levels: number[], dimensions: number, labels = levels.map((_, i) => i)): Buffer {
  const count = levels.length;
  const perElement = 4 + 8 * M + 4 * dimensions + 8;
  const maxLevel = count === 0 ? -1 : Math.max(...levels);
  const upper = levels.reduce((sum, level) => sum + 4 + level * (4 + 4 * M), 0);
  const b = Buffer.alloc(HNSW_HEADER_BYTES + count * perElement + upper);
  b.writeBigUInt64LE(BigInt(Math.max(1, count)), 8);
  b.writeBigUInt64LE(BigInt(count), 16);
  b.writeBigUInt64LE(BigInt(perElement), 24);
  b.writeBigUInt64LE(BigInt(perElement - 8), 32);
  b.writeBigUInt64LE(BigInt(4 + 8 * M), 40);
  b.writeInt32LE(maxLevel, 48);
  b.writeUInt32LE(count === 0 ? 0xffffffff : levels.indexOf(maxLevel), 52);
  b.writeBigUInt64LE(BigInt(M), 56);
  b.writeBigUInt64LE(BigInt(2 * M), 64);
  b.writeBigUInt64LE(BigInt(M), 72);
  b.writeDoubleLE(1 / Math.log(M), 80);
  b.writeBigUInt64LE(40n, 88);
  for (let i = 0; i < count; i++) b.writeBigUInt64LE(BigInt(labels[i]!), HNSW_HEADER_BYTES + i * perElement + perElement - 8);
  let at = HNSW_HEADER_BYTES + count * perElement;
  for (const level of levels) {
    b.writeUInt32LE(level * (4 + 4 * M), at);
    at += 4 + level * (4 + 4 * M);
  }
  return b;
}

test('upper-level lists are bounded: a file of more than hnswlib could draw is refused by its length alone', async () => {
  const dir = await tempDir();
  // One element of level 64 (the most accepted): hnswlib loads and searches it.
  const tall = synthetic([HNSW_MAX_LEVEL], 3);
  assert.equal(checkHnswFile(tall, { dimensions: 3, count: 1, m: M, labels: 1 }), undefined);
  refused(synthetic([HNSW_MAX_LEVEL + 1], 3), { dimensions: 3, count: 1, m: M, labels: 1 }, /maxlevel is 65, expected 0 to 64/, 'level 65');
  // 30 elements: at most ceil(60 / 15) + 64 = 68 upper-level lists.
  assert.equal(maxUpperLists(30, M), 68);
  const levels: number[] = Array.from({ length: 30 }, (_, i) => (i < 17 ? 4 : 0));
  assert.equal(checkHnswFile(synthetic(levels, 3), { dimensions: 3, count: 30, m: M, labels: 30 }), undefined);
  levels[17] = 1;
  const over = synthetic(levels, 3);
  refused(over, { dimensions: 3, count: 30, m: M, labels: 30 }, /more than the \d+ its header allows/, '69 lists');
  const bounds = checkHnswHeader(over, { dimensions: 3, count: 30, m: M, labels: 30 });
  assert.ok(typeof bounds === 'object' && over.length === bounds.maxBytes + 68);
  // Labels far beyond the elements are told apart without a bitmap of them all.
  const far = { dimensions: 3, count: 3, m: M, labels: 2 ** 40 };
  assert.equal(checkHnswFile(synthetic([1, 0, 0], 3, [5, 2 ** 39, 2 ** 40 - 1]), far), undefined);
  refused(
    synthetic([1, 0, 0], 3, [2 ** 39, 5, 2 ** 39]),
    far,
    /label 549755813888 is held by two elements/,
    'a duplicate among far labels',
  );
  assert.equal(
    await loadInChild(dir, [
      { bytes: tall, dimensions: 3 },
      { bytes: synthetic([1, 0, 0], 3, [5, 2 ** 39, 2 ** 40 - 1]), dimensions: 3 },
    ]),
    undefined,
  );
});

test('the corruptions hnswlib crashes on do crash it in a child process (the harness sees a crash)', async () => {
  const dir = await tempDir();
  const real = await realFile(dir, 100, 15);
  assert.equal(await loadInChild(dir, [{ bytes: real.bytes, dimensions: 15 }]), undefined, 'the real file loads');
  const crash = await loadInChild(dir, [
    { bytes: real.bytes, dimensions: 15 },
    { bytes: mutated(real, (b) => void b.writeUInt32LE(0x7fffffff, 52)), dimensions: 15 },
  ]);
  assert.equal(crash?.failed, 1, 'entry point 0x7fffffff: the second file');
  assert.match(crash.how, /SIGSEGV|SIGBUS|SIGABRT/);
  // A heap overrun is sure to abort the child only with glibc's checking malloc.
  if (MALLOC_DEBUG) {
    const heap = await loadInChild(dir, [{ bytes: mutated(real, (b) => void b.writeBigUInt64LE(1n, 8)), dimensions: 15 }]);
    assert.match(heap?.how ?? 'loaded', /SIG/, 'max_elements 1');
  }
});

/** Mutations of a real file: bit flips, 4- and 8-byte fields overwritten, truncations, extensions. */
function mutate(real: RealFile, random: () => number): { bytes: Buffer; what: string } {
  const { bytes } = real;
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const int = (below: number): number => Math.floor(random() * below);
  const at = layoutOf(real);
  let copy = Buffer.from(bytes);
  /** A byte to change: in the header, a level-0 list header, the upper levels, or anywhere. */
  const offset = (width: number): number => {
    const length = copy.length;
    const zone = random();
    let from: number;
    if (zone < 0.2) from = int(HNSW_HEADER_BYTES);
    else if (zone < 0.4) from = at.level0(int(real.expected.count)) + int(8);
    else if (zone < 0.6) from = at.sizeAt(0) + int(bytes.length - at.sizeAt(0));
    else from = int(length);
    if (random() < 0.75) from -= from % 4;
    return Math.max(0, Math.min(length - width, from));
  };
  const count = real.expected.count;
  const values32 = [0, 1, 0x7fffffff, 0xffffffff, count - 1, count, count + 1, at.maxLevel, at.maxLevel + 1, 68, 0x10000, 0x10001];
  const values64 = [
    0n,
    1n,
    0x7fffffffn,
    0xffffffffn,
    0xffffffffffffffffn,
    BigInt(count),
    BigInt(count + 1),
    BigInt(count - 1),
    1n << 32n,
    1n << 63n,
  ];
  const done: string[] = [];
  const changes = 1 + (random() < 0.3 ? int(3) : 0);
  for (let c = 0; c < changes; c++) {
    const kind = random();
    if (kind < 0.75 && copy.length < 8) continue;
    if (kind < 0.3) {
      const flips = 1 + int(3);
      for (let f = 0; f < flips; f++) {
        const byte = offset(1);
        const bit = int(8);
        copy[byte]! ^= 1 << bit;
        done.push(`flip bit ${bit} of byte ${byte}`);
      }
    } else if (kind < 0.55) {
      const where = offset(4);
      const value = random() < 0.85 ? pick(values32) : int(2 ** 32);
      copy.writeUInt32LE(value >>> 0, where);
      done.push(`u32 ${value} at ${where}`);
    } else if (kind < 0.75) {
      const where = offset(8);
      const value = pick(values64);
      copy.writeBigUInt64LE(value, where);
      done.push(`u64 ${value} at ${where}`);
    } else if (kind < 0.88) {
      const length = random() < 0.5 ? int(copy.length) : Math.max(0, copy.length - 1 - int(200));
      copy = copy.subarray(0, length);
      done.push(`truncate to ${length}`);
    } else {
      const extra = random() < 0.5 ? pick([1, 4, 8, 68, 72]) : 1 + int(1000);
      const tail = random() < 0.5 ? Buffer.alloc(extra) : Buffer.from(Array.from({ length: extra }, () => int(256)));
      copy = Buffer.concat([copy, tail]);
      done.push(`append ${extra} bytes`);
    }
  }
  return { bytes: copy, what: done.join(', ') };
}

/**
 * Fuzz: HNSW_FUZZ_MUTATIONS (default 2,000) mutated files, each checked; every file accepted is
 * loaded and searched by hnswlib-node in a child process (in batches), which must not crash.
 * A longer run: HNSW_FUZZ_MUTATIONS=20000 node --import tsx --test test/hnsw-file.test.ts
 */
test('fuzz: every mutated file the check accepts loads and searches in hnswlib without a crash', async (t) => {
  const mutations = Number(process.env.HNSW_FUZZ_MUTATIONS ?? 2000);
  const seed = Number(process.env.HNSW_FUZZ_SEED ?? 1);
  const dir = await tempDir();
  const bases = [await realFile(dir, 1, 3), await realFile(dir, 40, 3), await realFile(dir, 400, 3), await realFile(dir, 150, 15)];
  const random = seededRandom(seed);
  const reasons = new Map<string, number>();
  let accepted = 0;
  let unchanged = 0;
  let batch: { bytes: Buffer; dimensions: number; what: string; base: number }[] = [];
  let batchBytes = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const failure = await loadInChild(dir, batch);
    if (failure) {
      const culprit = batch[failure.failed];
      const kept = path.join(os.tmpdir(), `hnsw-fuzz-failure-${seed}-${Date.now()}.bin`);
      if (culprit) await writeFile(kept, culprit.bytes);
      assert.fail(
        `accepted file crashed or was refused by hnswlib: base ${culprit?.base} mutated by ${culprit?.what} (kept at ${kept}): ${failure.how}`,
      );
    }
    batch = [];
    batchBytes = 0;
  };
  for (let i = 0; i < mutations; i++) {
    const base = int(bases.length);
    const real = bases[base]!;
    const { bytes, what } = mutate(real, random);
    let reason: string | undefined;
    assert.doesNotThrow(() => (reason = checkHnswFile(bytes, real.expected)), what);
    if (reason === undefined) {
      accepted++;
      if (bytes.equals(real.bytes)) unchanged++;
      batch.push({ bytes, dimensions: real.expected.dimensions, what, base });
      batchBytes += bytes.length;
      if (batch.length >= 2000 || batchBytes > 64 * 1024 * 1024) await flush();
    } else {
      const kind = reason.replace(/-?\d[\d.e+-]*/g, 'N');
      reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
    }
  }
  await flush();
  t.diagnostic(
    `seed ${seed}: ${mutations} mutations, ${accepted} accepted (${unchanged} left the file as it was) and loaded and searched without a crash, ${mutations - accepted} refused`,
  );
  for (const [kind, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 12)) t.diagnostic(`  ${n} x ${kind}`);
  assert.ok(accepted > mutations / 10 && accepted < mutations, `accepted ${accepted} of ${mutations}`);

  function int(below: number): number {
    return Math.floor(random() * below);
  }
});
