/**
 * `npm run bench:gigapixel`: wall time and peak RSS of `tsmosaic build` writing 100 Mpx, 500 Mpx and
 * 2 Gpx mosaics as one PNG and as deep zoom (`-o name.dzi`).
 *
 * 1. Cuts 720 crops out of the example photos into a temporary collection and indexes it with
 *    20 px tiles (`tsmosaic process-collection`).
 * 2. Runs `node bin/tsmosaic.js build` for each size and format under a fresh python3 that reports
 *    the command's wall time and peak RSS (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss).
 * 3. Checks each output (size, pixels of a sample region, tile count), deletes it, and prints a
 *    table with the two targets: peak RSS flat (no size more than +25 % over the smallest) and
 *    under 512 MB, and deep zoom of 2 Gpx in at most twice the time of the PNG.
 *
 * Builds use the default matching (no options but the size), as a user's would.
 *
 * Options: `--sizes 100,500,2000` (megapixels), `--formats png,dzi`, `--out <dir>` (default: a
 * temporary folder; needs about 15 GB free for 2 Gpx). Needs dist/ (`npm run build`) and python3.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { gridFor, makeCollection, TARGET, TILE } from './gigapixel-setup.js';
import { BIN, REPO_ROOT } from './paths.js';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const RUSAGE = `
import json, os, resource, subprocess, sys, time
t = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
os.write(3, json.dumps({'wall': wall, 'cpu': usage.ru_utime + usage.ru_stime, 'maxrssKb': usage.ru_maxrss, 'code': code}).encode())
`;

interface Run {
  megapixels: number;
  format: 'png' | 'dzi';
  width: number;
  height: number;
  wall: number;
  cpu: number;
  rssMb: number;
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

/** Runs argv under the rusage wrapper; stderr passes through (progress is off: not a terminal). */
function measure(argv: string[]): Promise<{ wall: number; cpu: number; rssMb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', RUSAGE, ...argv], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
    let report = '';
    child.stdio[3]!.on('data', (chunk: Buffer) => (report += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => {
      try {
        const { wall, cpu, maxrssKb, code } = JSON.parse(report) as { wall: number; cpu: number; maxrssKb: number; code: number };
        if (code !== 0) reject(new Error(`${argv.join(' ')} exited with ${code}`));
        else resolve({ wall, cpu, rssMb: maxrssKb / 1024 });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

function run(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tsmosaic ${argv[0]} exited with ${code}`))));
  });
}

/** Waits (up to a minute) for the machine to be idle, so that other work does not skew a run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 30 && os.loadavg()[0]! > 0.5; i++) await new Promise((resolve) => setTimeout(resolve, 2000));
}

async function check(out: string, format: 'png' | 'dzi', width: number, height: number): Promise<void> {
  if (format === 'png') {
    const { width: w, height: h } = await sharp(out, { limitInputPixels: false }).metadata();
    if (w !== width || h !== height) throw new Error(`${out} is ${w}x${h}, expected ${width}x${height}`);
    // A region in the middle decodes and is not blank.
    const { channels } = await sharp(out, { limitInputPixels: false })
      .extract({ left: Math.floor(width / 2), top: Math.floor(height / 2), width: 200, height: 200 })
      .stats();
    if (channels.every((channel) => channel.stdev < 5)) throw new Error(`${out}: the middle of the image is blank`);
  } else {
    const folder = path.join(path.dirname(out), `${path.basename(out, '.dzi')}_files`);
    const maxLevel = Math.ceil(Math.log2(Math.max(width, height)));
    const tiles = (await readdir(path.join(folder, String(maxLevel)))).length;
    const expected = Math.ceil(width / 254) * Math.ceil(height / 254);
    if (tiles !== expected) throw new Error(`${folder}/${maxLevel} has ${tiles} tiles, expected ${expected}`);
  }
}

async function main(): Promise<void> {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const sizes = option('sizes', '100,500,2000').split(',').map(Number);
  const formats = option('formats', 'png,dzi').split(',') as ('png' | 'dzi')[];
  const work = process.argv.includes('--out')
    ? path.resolve(option('out', '.'))
    : await mkdtemp(path.join(os.tmpdir(), 'tsmosaic-gigapixel-'));
  await mkdir(work, { recursive: true });
  const { bavail, bsize } = await statfs(work);
  process.stderr.write(`working in ${work} (${((bavail * bsize) / 1e9).toFixed(0)} GB free)\n`);
  const runs: Run[] = [];
  try {
    const collection = path.join(work, 'collection');
    const index = path.join(work, 'index');
    await makeCollection(collection);
    await run(['process-collection', collection, '-o', index, '--tile-size', String(TILE), '-q']);
    for (const megapixels of sizes) {
      const { columns, width, height } = await gridFor(megapixels);
      for (const format of formats) {
        const out = path.join(work, `mosaic-${megapixels}.${format}`);
        await settle();
        process.stderr.write(`${megapixels} Mpx ${format}: ${width} x ${height} px, load ${os.loadavg()[0]!.toFixed(2)}\n`);
        const argv = [
          process.execPath,
          BIN,
          'build',
          index,
          TARGET,
          '-o',
          out,
          '--tiles-across',
          String(columns),
          '--max-pixels',
          String(width * height),
          '-q',
        ];
        const result = await measure(argv);
        await check(out, format, width, height);
        runs.push({ megapixels, format, width, height, ...result });
        process.stderr.write(`  ${result.wall.toFixed(1)} s, ${result.rssMb.toFixed(0)} MB\n`);
        await rm(out, { force: true });
        await rm(path.join(work, `mosaic-${megapixels}_files`), { recursive: true, force: true });
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  const lines = ['| output | size (px) | wall (s) | CPU (s) | peak RSS (MB) |', '|---|---|---:|---:|---:|'];
  for (const r of runs) {
    const name = r.format === 'png' ? 'PNG' : 'deep zoom';
    lines.push(
      `| ${r.megapixels >= 1000 ? `${r.megapixels / 1000} Gpx` : `${r.megapixels} Mpx`} ${name} | ${r.width} x ${r.height} | ${r.wall.toFixed(1)} | ${r.cpu.toFixed(1)} | ${r.rssMb.toFixed(0)} |`,
    );
  }
  lines.push('');
  for (const format of formats) {
    const mine = runs.filter((r) => r.format === format);
    if (mine.length < 2) continue;
    // Flat: no size may need more than 25 % over the smallest, whichever size peaks.
    const peak = Math.max(...mine.map((r) => r.rssMb));
    const growth = peak / mine[0]!.rssMb - 1;
    const verdict = growth <= 0.25 && peak < 512 ? 'meets' : 'misses';
    lines.push(
      `${format === 'png' ? 'PNG' : 'deep zoom'}: peak RSS at most ${peak.toFixed(0)} MB, ${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(0)} % over the ${mine[0]!.megapixels} Mpx one (${verdict} the target: +25 %, 512 MB)`,
    );
  }
  const largest = Math.max(...runs.map((r) => r.megapixels));
  const png = runs.find((r) => r.megapixels === largest && r.format === 'png');
  const dzi = runs.find((r) => r.megapixels === largest && r.format === 'dzi');
  if (png && dzi) {
    const ratio = dzi.wall / png.wall;
    lines.push(
      `deep zoom of ${largest} Mpx takes ${ratio.toFixed(2)}x the time of the PNG (${ratio <= 2 ? 'meets' : 'misses'} the target: at most 2x)`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
