import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lchown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { rootsOf } from '../src/index-store/format.js';
import { loadIndex } from '../src/index-store/read-index.js';
import type { Region } from '../src/render/render-region.js';
import { DEEP_ZOOM_JPEG_QUALITY, deepZoomLayout, tileRegion } from '../src/render/deep-zoom-layout.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'tsmosaic.js');

export type Rgb = readonly [number, number, number];

/** A fresh temporary folder, removed when the test file ends. */
export async function tempDir(prefix = 'tsmosaic-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a solid-colour image; the format follows the extension. */
export async function solidImage(file: string, colour: Rgb, width = 32, height = 32): Promise<string> {
  const [r, g, b] = colour;
  await sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).toFile(file);
  return file;
}

/** Writes raw RGB pixels (row-major) as an image; the format follows the extension. */
export async function rawImage(file: string, pixels: Uint8Array, width: number, height: number): Promise<string> {
  await sharp(pixels, { raw: { width, height, channels: 3 } }).toFile(file);
  return file;
}

/** Decodes any image to raw 8-bit RGB. */
export async function decode(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean colour of a rectangle of raw RGB pixels. */
export function meanOf(data: Uint8Array, width: number, left: number, top: number, w: number, h: number): [number, number, number] {
  const sum = [0, 0, 0];
  for (let y = top; y < top + h; y++) {
    for (let x = left; x < left + w; x++) {
      for (let c = 0; c < 3; c++) sum[c]! += data[(y * width + x) * 3 + c]!;
    }
  }
  return [sum[0]! / (w * h), sum[1]! / (w * h), sum[2]! / (w * h)];
}

/** Largest per-channel difference between two colours. */
export function colourDistance(a: readonly number[], b: readonly number[]): number {
  return Math.max(...a.map((value, i) => Math.abs(value - b[i]!)));
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real bin/tsmosaic.js with `args` (and node's own options `node`), in this environment
 * with `env` added (a value of undefined removes a variable); killed after `timeout` ms, if given.
 */
export function runCli(
  args: string[],
  options: { cwd?: string; node?: string[]; timeout?: number; env?: Record<string, string | undefined> } = {},
): Promise<CliResult> {
  return runProgram(process.execPath, [...(options.node ?? []), BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    timeout: options.timeout,
    env: withEnvironment(options.env),
  });
}

/** Runs `file` with `args`; resolves with its exit code (1 when a signal or the timeout ended it) and output. */
export function runProgram(
  file: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeout?: number },
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env, maxBuffer: 16 * 1024 * 1024, timeout: options.timeout ?? 0 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** This process's environment with `changes` made: a value of undefined removes the variable. */
export function withEnvironment(changes: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const removed = new Set(Object.keys(changes).filter((name) => changes[name] === undefined));
  const kept = Object.entries(process.env).filter(([name]) => !removed.has(name));
  const added = Object.entries(changes).filter(([, value]) => value !== undefined);
  return Object.fromEntries([...kept, ...added]);
}

/**
 * The user a child process goes on as to meet file permissions (see runUnprivileged): `nobody`
 * (65534) when the tests run as root, which reads and lists anything; else none (the child stays
 * this process's user).
 */
const UNPRIVILEGED = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;

/** Gives `folder` and everything in it to the user runUnprivileged's children go on as. */
export async function handToUnprivileged(folder: string): Promise<void> {
  if (!UNPRIVILEGED) return;
  const { uid, gid } = UNPRIVILEGED;
  await lchown(folder, uid, gid);
  for (const entry of await readdir(folder, { recursive: true })) await lchown(path.join(folder, entry), uid, gid);
}

/**
 * Runs `source`, an ES module (JavaScript) that imports tsmosaic's TypeScript modules (through tsx)
 * by their absolute paths, in a child node with `args` as its process.argv.slice(1); resolves with
 * what it printed, parsed as JSON. The source calls `dropPrivileges()` once it has imported what it
 * needs (and loaded sharp): when the tests run as root, the child then goes on as `nobody`, without
 * supplementary groups, so that file permissions hold for it, while the modules it loaded came
 * from a checkout that user may not be allowed to read.
 */
export function runUnprivileged(source: string, args: string[] = []): Promise<unknown> {
  const prelude = `const dropPrivileges = () => {
    const user = ${JSON.stringify(UNPRIVILEGED ?? null)};
    if (!user) return;
    process.setgroups([]);
    process.setgid(user.gid);
    process.setuid(user.uid);
  };`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', `${prelude}\n${source}`, ...args],
      { cwd: ROOT, timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
    );
  });
}

/** A PNG whose IHDR claims `width` x `height` pixels, with almost no pixel data. */
export function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A rectangle of interleaved RGB pixels, copied out of an image `width` px wide. */
export function cropRaw(pixels: Buffer, width: number, region: Region): Buffer {
  const out = Buffer.alloc(region.width * region.height * 3);
  for (let y = 0; y < region.height; y++) {
    const from = ((region.top + y) * width + region.left) * 3;
    pixels.copy(out, y * region.width * 3, from, from + region.width * 3);
  }
  return out;
}

/**
 * Asserts that the Deep Zoom pyramid `dzi` shows the image `png`: the descriptor's size is the
 * image's, every level has its folder and each tile (by the layout's count and size), and each
 * full-size tile is the image's pixels there (its square and overlap), JPEG-coded as tiles are.
 */
export async function assertPyramidOf(dzi: string, png: string): Promise<void> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const descriptor = await readFile(dzi, 'utf8');
  assert.match(descriptor, new RegExp(`<Size Width="${info.width}" Height="${info.height}"/>`));
  const layout = deepZoomLayout(info.width, info.height);
  const tiles = path.join(path.dirname(dzi), `${path.basename(dzi, '.dzi')}_files`);
  assert.deepEqual(
    (await readdir(tiles)).sort((a, b) => Number(a) - Number(b)),
    layout.levels.map((level) => String(level.level)),
    'one folder a level, nothing else',
  );
  for (const level of layout.levels) {
    const names = (await readdir(path.join(tiles, String(level.level)))).sort();
    const expected = Array.from(
      { length: level.columns * level.rows },
      (_, i) => `${i % level.columns}_${Math.floor(i / level.columns)}.jpeg`,
    );
    assert.deepEqual(names, expected.sort(), `tiles of level ${level.level}`);
    const last = await sharp(path.join(tiles, String(level.level), `${level.columns - 1}_${level.rows - 1}.jpeg`)).metadata();
    const region = tileRegion(layout, level, level.columns - 1, level.rows - 1);
    assert.deepEqual([last.width, last.height], [region.width, region.height], `size of level ${level.level}'s last tile`);
  }
  const top = layout.levels.at(-1)!;
  for (let row = 0; row < top.rows; row++) {
    for (let column = 0; column < top.columns; column++) {
      const region = tileRegion(layout, top, column, row);
      const coded = await sharp(cropRaw(data, info.width, region), { raw: { width: region.width, height: region.height, channels: 3 } })
        .jpeg({ quality: DEEP_ZOOM_JPEG_QUALITY, optimiseCoding: false })
        .toBuffer();
      const expected = await sharp(coded).raw().toBuffer();
      const found = await sharp(path.join(tiles, String(top.level), `${column}_${row}.jpeg`))
        .raw()
        .toBuffer();
      assert.equal(found.length, expected.length, `size of tile ${column}_${row}`);
      let difference = 0;
      for (let i = 0; i < found.length; i++) difference += Math.abs(found[i]! - expected[i]!);
      assert.ok(difference / found.length < 0.5, `tile ${column}_${row} is off by ${(difference / found.length).toFixed(2)}`);
    }
  }
}

/** A picture of an index as the tests compare it: its manifest entry but the folder number, and its tiles and features in hex. */
export interface IndexedPicture {
  size: number;
  mtimeMs: number;
  fingerprint: string | undefined;
  pixels: string;
  features: string;
}

/**
 * Each picture of an index by its absolute path (its collection folder joined with its source):
 * indexes of the same pictures in another order, with other folder numbers, compare equal.
 */
export async function picturesBySource(index: string): Promise<Map<string, IndexedPicture>> {
  const { manifest, tiles, features } = await loadIndex(index);
  const roots = rootsOf(manifest);
  const { crops } = manifest;
  const values = crops * manifest.features.dimensions;
  const pictures = new Map<string, IndexedPicture>();
  for (const [id, { root, source, size, mtimeMs, fingerprint }] of manifest.tiles.entries()) {
    pictures.set(path.join(roots[root ?? 0]!, source), {
      size,
      mtimeMs,
      fingerprint,
      pixels: tiles.pixels.subarray(id * crops * tiles.tileBytes, (id + 1) * crops * tiles.tileBytes).toString('hex'),
      features: Buffer.from(features.buffer, features.byteOffset + id * values * 4, values * 4).toString('hex'),
    });
  }
  return pictures;
}
