/**
 * `npx tsx test/bench/formats.ts`: tsmosaic's writers of big mosaics against the library paths, on
 * the same placement and tile store, to apply the project's rule (keep a hand-written coder only
 * where it is at least 20 % faster in wall time than the library path at 500 megapixels or more)
 * and to measure the deep zoom, which is libvips' own. Prints a markdown table on stdout (progress
 * goes to stderr).
 *
 * Variants (see formats-child.ts, which runs one of them in its own process):
 * - PNG: `a` today's default (writeCodedPng + TileRowDeflater, coded from the tiles); `b` rendered
 *   bands deflated by node's zlib in parallel bands (writePng); `c1`, `c1af`, `c6`, `c6af` the
 *   libvips path: bands rendered into a raw `.v` file (renderVipsFile, as write-large-image.ts),
 *   then sharp's png() at compressionLevel 1 or 6, adaptiveFiltering off or on (`af`).
 * - Deep zoom: `d` today's default, writeMosaic's (bands into a `.v` file, libvips' dzsave in
 *   column stripes at a thread a core, the tiles published and the viewer written); `e2` the bare
 *   library path: the `.v` file, then one dzsave of it through sharp's tile() (254 px JPEG tiles of
 *   the same quality and overlap, layout dz) at sharp.concurrency(2), nothing else: what `d` adds.
 * The `.v` file's writing (and removal) is timed as part of the libvips paths.
 *
 * Set-up: gigapixel.ts's collection (720 crops of the example photos, 20 px tiles) and, for each
 * size, one `tsmosaic build --plan` of the bee whose placement every variant then writes.
 *
 * Each run is a fresh process under measure.ts's rusage wrapper (peak RSS); wall and CPU time
 * (user + system, all threads) are of the write alone, timed in the child after it loaded the
 * tiles, the placement and sharp. Runs are taken in rounds (a, b, c1, ... then again); as the
 * machine may be shared, rounds go on until each variant has `--runs` runs during which the rest of
 * the machine was quiet (see BUSY_LOAD), and the table is of each variant's `--runs` least
 * disturbed runs, with the load they had. Every output
 * is checked (PNG: size and a region's pixels exactly as rendered; deep zoom: descriptor, level
 * count, tile counts, a full-size tile near the rendered pixels, the 1 x 1 level), measured on
 * disk and removed before the next run.
 *
 * Options: `--sizes 100,500` (megapixels), `--runs 3` (quiet runs of each variant),
 * `--max-rounds 9` (default 3x runs), `--variants a,b,c1,c1af,c6,c6af,d,e2`,
 * `--out <dir>` (default: a temporary folder; 500 Mpx needs ~3 GB free; an index and placements
 * left there by `--keep` are used again), `--keep` (keep it).
 * Needs python3 (measure.ts).
 */
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import ts from 'typescript';
import sharp from 'sharp';
import { loadIndex } from '../../src/index-store/read-index.js';
import type { TileStore } from '../../src/tiles/tile-store.js';
import { DEEP_ZOOM_JPEG_QUALITY, DEEP_ZOOM_OVERLAP, deepZoomLayout, tileRegion } from '../../src/render/deep-zoom-layout.js';
import { renderRegion, type MosaicPlan, type Region } from '../../src/render/render-region.js';
import { gridFor, makeCollection, TARGET, TILE } from './gigapixel-setup.js';
import { measure, median, runVisible, type Measurement } from './measure.js';
import { BENCH_DIR, BIN, NODE, REPO_ROOT } from './paths.js';
import { readPlacement } from './placement-file.js';
import { markdownTable, ratioCell, seconds, type Target } from './table.js';

type Kind = 'png' | 'dzi';

interface Variant {
  id: string;
  kind: Kind;
  name: string;
  /** A libvips path: the fastest of its kind is "the library path" the others are compared with. */
  library: boolean;
}

const VARIANTS: Variant[] = [
  { id: 'a', kind: 'png', name: 'a: PNG coded from the tiles (writeCodedPng + TileRowDeflater, default)', library: false },
  { id: 'b', kind: 'png', name: 'b: PNG, rendered bands + zlib in parallel bands (writePng)', library: false },
  { id: 'c1', kind: 'png', name: 'c: .v + libvips PNG, compressionLevel 1', library: true },
  { id: 'c1af', kind: 'png', name: 'c: .v + libvips PNG, compressionLevel 1, adaptiveFiltering', library: true },
  { id: 'c6', kind: 'png', name: 'c: .v + libvips PNG, compressionLevel 6', library: true },
  { id: 'c6af', kind: 'png', name: 'c: .v + libvips PNG, compressionLevel 6, adaptiveFiltering', library: true },
  { id: 'd', kind: 'dzi', name: 'd: deep zoom, writeMosaic (default: .v + dzsave, published, viewer)', library: false },
  { id: 'e2', kind: 'dzi', name: 'e2: .v + libvips dzsave, sharp.concurrency(2), nothing else', library: true },
];

/** The rule: a hand-written path stays where it takes at most 0.8x the library path's wall time. */
const RULE: Target = { max: 0.8 };
/** Edge of the PNG region whose pixels are compared with renderRegion's. */
const CHECK_EDGE = 200;
/** Largest mean absolute difference (per channel, 0-255) of a full-size tile from the rendered pixels JPEG-encoded as tiles are. */
const TILE_ERROR = 1;
/** Pause after each run (outputs removed, the disk synced), so that one run's writeback does not land on the next. */
const PAUSE_MS = 3000;
/**
 * The machine may be shared: a run waits (at most QUIET_MAX_WAIT_MS) for a QUIET_WINDOW_MS window
 * in which the machine used less than QUIET_LOAD cores, and counts as quiet when the rest of the
 * machine used at most BUSY_LOAD cores on average during it. (Written on a 2-core machine that
 * other sessions kept busy most of the time, in bursts: a 100 Mpx PNG took 0.9 s with the rest
 * idle, 2.5 s beside 1.7 cores of other work.)
 */
const QUIET_LOAD = 0.3;
const QUIET_WINDOW_MS = 3000;
const QUIET_MAX_WAIT_MS = 30 * 1000;
const BUSY_LOAD = 0.25;

const log = (message: string): void => {
  process.stderr.write(`bench:formats: ${message}\n`);
};

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

/** What the child printed about its run. */
interface ChildReport {
  wallSeconds: number;
  cpuSeconds: number;
  rawSeconds?: number;
  concurrency?: number;
  /** Deep zoom: the checked tile's mean absolute difference from the reference (see checkPyramid). */
  tileError?: number;
}

/** What the check of a run found: the child's report and the output's size. */
interface Found {
  report: ChildReport;
  bytes: number;
  files: number;
}

/** A variant's runs at one size: the wrapper's measurements, the children's reports, the rest of the machine's load and the outputs' sizes. */
interface Result {
  variant: Variant;
  megapixels: number;
  width: number;
  height: number;
  measurements: Measurement[];
  /** Cores the rest of the machine used on average during each run (see quietRounds). */
  otherLoad: number[];
  reports: ChildReport[];
  outputBytes: number[];
  files: number[];
  /** The write's wall time in every run taken, quiet or not. */
  allWalls: number[];
}

async function main(): Promise<void> {
  const sizes = option('sizes', '100,500').split(',').map(Number);
  const runs = Number(option('runs', '3'));
  const maxRounds = Number(option('max-rounds', String(3 * runs)));
  const wanted = option('variants', VARIANTS.map((v) => v.id).join(',')).split(',');
  const variants = VARIANTS.filter((v) => wanted.includes(v.id));
  if (variants.length !== wanted.length)
    throw new Error(`unknown variant in ${wanted.join(',')}: choose from ${VARIANTS.map((v) => v.id).join(',')}`);
  if (sizes.some((size) => !(size > 0)) || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(maxRounds) || maxRounds < runs) {
    throw new Error('--sizes takes positive megapixels, --runs a positive integer, --max-rounds one at least --runs');
  }

  log('npm run build');
  const build = await runVisible('npm', ['run', 'build'], { cwd: REPO_ROOT });
  if (build !== 0) throw new Error(`npm run build failed (exit ${build}); not timing a stale dist/`);

  const work = process.argv.includes('--out')
    ? path.resolve(option('out', '.'))
    : await mkdtemp(path.join(os.tmpdir(), 'tsmosaic-formats-'));
  await mkdir(work, { recursive: true });
  const results: Result[] = [];
  try {
    const { bavail, bsize } = await statfs(work);
    log(`working in ${work} (${((bavail * bsize) / 1e9).toFixed(0)} GB free)`);
    const collection = path.join(work, 'collection');
    const index = path.join(work, 'index');
    if (existsSync(path.join(index, 'manifest.json'))) log(`using the index in ${index}`);
    else {
      await makeCollection(collection);
      const indexed = await runVisible(NODE, [BIN, 'process-collection', collection, '-o', index, '--tile-size', String(TILE), '-q']);
      if (indexed !== 0) throw new Error(`process-collection exited with ${indexed}`);
    }
    const child = await compileChild(work);
    const { tiles: store, manifest } = await loadIndex(index);

    for (const megapixels of sizes) {
      const { columns, width, height } = await gridFor(megapixels);
      const free = await statfs(work);
      // The .v file, and the output beside it (at most as large), with room to spare.
      if (free.bavail * free.bsize < width * height * 3 * 2.5)
        throw new Error(`${work} lacks room for ${megapixels} Mpx (${((width * height * 3 * 2.5) / 1e9).toFixed(1)} GB)`);
      log(`${megapixels} Mpx: ${width} x ${height} px`);
      const placement = path.join(work, `placement-${megapixels}.bin`);
      const plan = existsSync(placement)
        ? await readPlacement(placement)
        : await makePlacement(index, manifest.crops, columns, width, height, placement, work);
      const reference = await referenceChecks(plan, store, width, height);

      const outputs = path.join(work, 'out');
      const outFile = (variant: Variant): string => path.join(outputs, `mosaic.${variant.kind}`);
      const specs: RunSpec<Found>[] = variants.map((variant) => ({
        label: `${megapixels} Mpx ${variant.id}`,
        command: async () => {
          await rm(outputs, { recursive: true, force: true });
          await mkdir(outputs);
          return [NODE, child, REPO_ROOT, variant.id, index, placement, outFile(variant)];
        },
        check: async ({ stdout }) => {
          const report = JSON.parse(stdout) as ChildReport;
          if (variant.kind === 'png') await checkPng(outFile(variant), width, height, reference.png);
          else report.tileError = await checkPyramid(outFile(variant), width, height, reference.tile);
          const onDisk = await outputSize(outputs, variant.kind);
          log(
            `  ${variant.id}: write ${report.wallSeconds.toFixed(2)} s wall, ${report.cpuSeconds.toFixed(2)} s CPU${report.rawSeconds === undefined ? '' : ` (.v file ${report.rawSeconds.toFixed(2)} s)`}${report.tileError === undefined ? '' : `, tile off by ${report.tileError.toFixed(2)}`}`,
          );
          await rm(outputs, { recursive: true, force: true });
          await runVisible('sync', []);
          await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
          return { report, ...onDisk };
        },
      }));
      const rounds = await quietRounds(specs, runs, maxRounds);
      for (const [i, variant] of variants.entries()) {
        // The `runs` least disturbed runs (all quiet ones, unless max-rounds came first), in order.
        const taken = rounds[i]!;
        const kept = [...taken].sort((x, y) => x.otherLoad - y.otherLoad).slice(0, runs);
        kept.sort((x, y) => taken.indexOf(x) - taken.indexOf(y));
        results.push({
          variant,
          megapixels,
          width,
          height,
          measurements: kept.map((r) => r.measurement),
          otherLoad: kept.map((r) => r.otherLoad),
          reports: kept.map((r) => r.found.report),
          outputBytes: kept.map((r) => r.found.bytes),
          files: kept.map((r) => r.found.files),
          allWalls: taken.map((r) => r.found.report.wallSeconds),
        });
      }
    }
  } finally {
    if (process.argv.includes('--keep')) log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(`${report(results, runs).join('\n')}\n`);
}

/** The table and the verdicts. */
function report(results: Result[], runs: number): string[] {
  const out: string[] = [];
  out.push(`## Big mosaic writers against libvips (${new Date().toISOString()})`, '');
  out.push(
    `- machine: ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`,
  );
  out.push(
    `- deep zoom tiles: 254 px, ${DEEP_ZOOM_OVERLAP} px overlap, JPEG quality ${DEEP_ZOOM_JPEG_QUALITY} without Huffman optimisation, both ways`,
  );
  out.push(
    `- wall and CPU: the write alone, timed in the child (CPU: user + system of all its threads); peak RSS: the whole child (node, the ${TILE} px tile store, the placement)`,
  );
  out.push(
    `- runs: taken in rounds (a, b, c1, ... again), each after waiting up to ${QUIET_MAX_WAIT_MS / 1000} s for the machine to be idle, until each variant had ${runs} quiet runs (the rest of the machine using at most ${BUSY_LOAD} cores during it) or the rounds ran out; every column but "all runs" is of each variant's ${runs} least disturbed runs (medians)`,
    `- rest of machine: cores used by other processes during those runs, median (max): /proc/stat's busy time less the child's CPU, over its wall time`,
  );
  out.push(
    '- output MB: the PNG, or the `.dzi` and its tile folder (not the viewer `d` writes beside them); ratio: wall time against the library path of its kind (the fastest libvips variant at that size)',
  );
  out.push('');
  const rows: string[][] = [];
  const libraryOf = new Map<string, Result>();
  for (const result of results) {
    const key = `${result.megapixels} ${result.variant.kind}`;
    const best = libraryOf.get(key);
    if (result.variant.library && (!best || wall(result) < wall(best))) libraryOf.set(key, result);
  }
  for (const result of results) {
    const library = libraryOf.get(`${result.megapixels} ${result.variant.kind}`);
    const walls = result.reports.map((r) => r.wallSeconds);
    const raw = result.reports.filter((r) => r.rawSeconds !== undefined).map((r) => r.rawSeconds!);
    const ratio =
      library === undefined ? 'n/a' : result === library ? '1.00 (the library path)' : `${(wall(result) / wall(library)).toFixed(2)}`;
    rows.push([
      result.variant.name,
      `${result.megapixels} Mpx (${result.width} x ${result.height})`,
      `${seconds(median(walls))} (${seconds(Math.min(...walls))}-${seconds(Math.max(...walls))})`,
      seconds(median(result.reports.map((r) => r.cpuSeconds))),
      median(result.measurements.map((m) => m.peakRssMb)).toFixed(0),
      `${(median(result.outputBytes) / 1e6).toFixed(1)}${result.variant.kind === 'dzi' ? ` (${median(result.files)} tiles)` : ''}`,
      raw.length > 0 ? seconds(median(raw)) : '',
      seconds(median(result.measurements.map((m) => m.wallSeconds))),
      `${median(result.otherLoad).toFixed(2)} (max ${Math.max(...result.otherLoad).toFixed(2)})`,
      `${result.allWalls.length}: ${seconds(median(result.allWalls))} (${seconds(Math.min(...result.allWalls))}-${seconds(Math.max(...result.allWalls))})`,
      ratio,
    ]);
  }
  out.push(
    ...markdownTable(
      [
        'variant',
        'size',
        'wall s median (min-max)',
        'CPU s',
        'peak RSS MB',
        'output MB',
        'of which .v file s',
        'whole child s',
        'rest of machine, cores',
        'all runs: count, wall s median (min-max)',
        'wall vs library path',
      ],
      rows,
    ),
  );
  out.push('');
  for (const megapixels of [...new Set(results.map((r) => r.megapixels))]) {
    const at = results.filter((r) => r.megapixels === megapixels);
    const find = (id: string): Result | undefined => at.find((r) => r.variant.id === id);
    const pngLibrary = libraryOf.get(`${megapixels} png`);
    const coded = find('a');
    const pngOthers = at.filter((r) => r.variant.kind === 'png' && r.variant.id !== 'a');
    if (coded && pngOthers.length > 0) {
      const best = pngOthers.reduce((a, b) => (wall(b) < wall(a) ? b : a));
      const [cell, goal, verdict] = ratioCell(
        wall(coded) / wall(best),
        median(coded.reports.map((r) => r.cpuSeconds)) / median(best.reports.map((r) => r.cpuSeconds)),
        `of ${best.variant.id}`,
        RULE,
      );
      out.push(
        `- ${megapixels} Mpx PNG: library path ${pngLibrary?.variant.id ?? 'n/a'}; best other than a: ${best.variant.id}; a takes ${cell} (rule ${goal}): ${verdict}`,
      );
    }
    const pyramid = find('d');
    const dzLibrary = libraryOf.get(`${megapixels} dzi`);
    if (pyramid && dzLibrary) {
      // No rule: d is the library path, with what a build adds (the size estimate, fsyncs, the viewer).
      const [cell] = ratioCell(
        wall(pyramid) / wall(dzLibrary),
        median(pyramid.reports.map((r) => r.cpuSeconds)) / median(dzLibrary.reports.map((r) => r.cpuSeconds)),
        `of ${dzLibrary.variant.id}`,
        RULE,
      );
      out.push(`- ${megapixels} Mpx deep zoom: d takes ${cell}`);
    }
  }
  return out;
}

/** A command to time, as measure.ts's SeriesSpec, whose check gives what it found of a run. */
interface RunSpec<Found> {
  label: string;
  command: () => Promise<string[]>;
  check: (measurement: Measurement) => Promise<Found>;
}

/** One kept run: the wrapper's measurement, what the check found, and the rest of the machine's load during it. */
interface Run<Found> {
  measurement: Measurement;
  found: Found;
  otherLoad: number;
}

/**
 * measure.ts's rounds (each spec once in turn), on a shared machine: each run first waits for the
 * machine to be idle (see QUIET_LOAD), and rounds go on, without the specs that have had `runs`
 * quiet runs, until every spec has or `maxRounds` rounds are done. The rest of the machine's load
 * is its busy CPU time (/proc/stat) during the run, less the command's own. Gives each spec's
 * runs, in order.
 */
async function quietRounds<Found>(specs: readonly RunSpec<Found>[], runs: number, maxRounds: number): Promise<Run<Found>[][]> {
  const results: Run<Found>[][] = specs.map(() => []);
  const quiet = (position: number): number => results[position]!.filter((run) => run.otherLoad <= BUSY_LOAD).length;
  for (let round = 1; round <= maxRounds && specs.some((_, position) => quiet(position) < runs); round++) {
    for (const [position, { label, command, check }] of specs.entries()) {
      if (quiet(position) >= runs) continue;
      await waitForQuiet(label);
      const argv = await command();
      const before = await busySeconds();
      const measurement = await measure(argv);
      const otherLoad = Math.max(0, (await busySeconds()) - before - measurement.cpuSeconds) / measurement.wallSeconds;
      const found = await check(measurement);
      results[position]!.push({ measurement, found, otherLoad });
      log(
        `${label}: round ${round} ${measurement.wallSeconds.toFixed(2)} s wall, ${measurement.cpuSeconds.toFixed(2)} s CPU, ${measurement.peakRssMb.toFixed(0)} MB; the rest of the machine ${otherLoad.toFixed(2)} cores (${quiet(position)}/${runs} quiet)`,
      );
    }
  }
  return results;
}

/** Busy CPU seconds of the whole machine so far (/proc/stat: all but idle and iowait). */
async function busySeconds(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

/** Waits (up to QUIET_MAX_WAIT_MS) for a QUIET_WINDOW_MS window in which the machine used less than QUIET_LOAD cores. */
async function waitForQuiet(label: string): Promise<void> {
  const started = performance.now();
  for (;;) {
    const before = await busySeconds();
    await new Promise((resolve) => setTimeout(resolve, QUIET_WINDOW_MS));
    const load = ((await busySeconds()) - before) / (QUIET_WINDOW_MS / 1000);
    if (load < QUIET_LOAD) return;
    if (performance.now() - started > QUIET_MAX_WAIT_MS) {
      log(`${label}: the machine stayed busy (${load.toFixed(2)} cores) for ${QUIET_MAX_WAIT_MS / 60000} min; running anyway`);
      return;
    }
  }
}

function wall(result: Result): number {
  return median(result.reports.map((r) => r.wallSeconds));
}

/** Compiles formats-child.ts and placement-file.ts to plain JS in `work` (as floor-compile.ts does floor.ts). */
async function compileChild(work: string): Promise<string> {
  for (const name of ['placement-file', 'formats-child']) {
    const source = await readFile(path.join(BENCH_DIR, `${name}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: `${name}.ts`,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    await writeFile(path.join(work, `${name}.mjs`), outputText.replace("from './placement-file.js'", "from './placement-file.mjs'"));
  }
  return path.join(work, 'formats-child.mjs');
}

/**
 * Places the bee on a `columns`-wide grid with `tsmosaic build --plan` (defaults, as a user's
 * build) and saves the placement as formats-child.ts reads it; the build's own PNG is removed.
 */
async function makePlacement(
  index: string,
  crops: number,
  columns: number,
  width: number,
  height: number,
  file: string,
  work: string,
): Promise<MosaicPlan> {
  const json = path.join(work, 'plan.json');
  const png = path.join(work, 'plan.png');
  const code = await runVisible(NODE, [
    BIN,
    'build',
    index,
    TARGET,
    '-o',
    png,
    '--tiles-across',
    String(columns),
    '--max-pixels',
    String(width * height),
    '--plan',
    json,
    '--no-measure',
    '-q',
  ]);
  await rm(png, { force: true });
  if (code !== 0) throw new Error(`tsmosaic build --plan exited with ${code}`);
  let planColumns = 0;
  let planRows = 0;
  let tiles = new Uint16Array(0);
  let mirrored = new Uint8Array(0);
  let cell = 0;
  // One cell a line after the first (see writePlan in build-mosaic.ts).
  for await (const line of createInterface({ input: createReadStream(json), crlfDelay: Infinity })) {
    if (line.startsWith('{"columns"')) {
      const head = /^\{"columns":(\d+),"rows":(\d+)/.exec(line)!;
      planColumns = Number(head[1]);
      planRows = Number(head[2]);
      tiles = new Uint16Array(planColumns * planRows);
      mirrored = new Uint8Array(planColumns * planRows);
      continue;
    }
    const entry = JSON.parse(line.replace(/\]\}$/, '').replace(/,$/, '')) as { tile: number; crop?: number; mirrored?: boolean };
    const id = entry.tile * crops + (entry.crop ?? 0);
    if (id > 0xffff) throw new Error(`tile ${id}: the placement file holds 16-bit ids`);
    tiles[cell] = id;
    mirrored[cell] = entry.mirrored ? 1 : 0;
    cell++;
  }
  await rm(json, { force: true });
  if (planColumns * TILE !== width || planRows * TILE !== height || cell !== planColumns * planRows) {
    throw new Error(`the plan is ${planColumns} x ${planRows} cells (${cell} read), expected ${width / TILE} x ${height / TILE}`);
  }
  const header = Buffer.alloc(8);
  header.writeUInt32LE(planColumns, 0);
  header.writeUInt32LE(planRows, 4);
  await writeFile(file, Buffer.concat([header, Buffer.from(tiles.buffer), mirrored]));
  return { columns: planColumns, rows: planRows, tiles, mirrored };
}

/** The pixels the outputs are checked against: a region of the PNG, and one full-size deep zoom tile with its region. */
async function referenceChecks(
  plan: MosaicPlan,
  store: TileStore,
  width: number,
  height: number,
): Promise<{ png: { region: Region; pixels: Buffer }; tile: TileReference }> {
  const edge = Math.min(CHECK_EDGE, width, height);
  const region = {
    left: Math.floor((width - edge) / 2 / TILE) * TILE + 7,
    top: Math.floor((height - edge) / 2 / TILE) * TILE + 3,
    width: edge - 7,
    height: edge - 3,
  };
  const layout = deepZoomLayout(width, height);
  const top = layout.levels[layout.levels.length - 1]!;
  const column = Math.floor(top.columns / 2);
  const row = Math.floor(top.rows / 2);
  const tile = tileRegion(layout, top, column, row);
  // The tile's pixels JPEG-coded as tiles are, decoded.
  const encoded = await sharp(renderRegion(plan, store, tile), { raw: { width: tile.width, height: tile.height, channels: 3 } })
    .jpeg({ quality: DEEP_ZOOM_JPEG_QUALITY, optimiseCoding: false })
    .toBuffer();
  return {
    png: { region, pixels: renderRegion(plan, store, region) },
    tile: { level: top.level, column, row, region: tile, pixels: await sharp(encoded).raw().toBuffer() },
  };
}

async function checkPng(file: string, width: number, height: number, reference: { region: Region; pixels: Buffer }): Promise<void> {
  const meta = await sharp(file, { limitInputPixels: false }).metadata();
  if (meta.width !== width || meta.height !== height || meta.channels !== 3)
    throw new Error(`${file} is ${meta.width}x${meta.height}x${meta.channels}, expected ${width}x${height}x3`);
  const { left, top, width: w, height: h } = reference.region;
  const pixels = await sharp(file, { limitInputPixels: false, sequentialRead: true })
    .extract({ left, top, width: w, height: h })
    .raw()
    .toBuffer();
  if (!pixels.equals(reference.pixels))
    throw new Error(`${file}: the pixels of ${w}x${h} at ${left},${top} differ from the rendered mosaic`);
}

/**
 * A pyramid as Deep Zoom viewers read it: the descriptor's size, tile size, overlap and format;
 * one folder a level (1 x 1 px up to full size); every level's tile count; a full-size tile's
 * size and pixels (JPEG: near the rendered ones), and the 1 x 1 tile of level 0.
 */
async function checkPyramid(dzi: string, width: number, height: number, reference: TileReference): Promise<number> {
  const descriptor = await readFile(dzi, 'utf8');
  const attribute = (name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(descriptor)?.[1];
  const format = attribute('Format');
  if (
    attribute('TileSize') !== '254' ||
    attribute('Overlap') !== String(DEEP_ZOOM_OVERLAP) ||
    attribute('Width') !== String(width) ||
    attribute('Height') !== String(height) ||
    (format !== 'jpg' && format !== 'jpeg')
  ) {
    throw new Error(`${dzi}: unexpected descriptor ${descriptor.replace(/\s+/g, ' ')}`);
  }
  const folder = path.join(path.dirname(dzi), `${path.basename(dzi, '.dzi')}_files`);
  const layout = deepZoomLayout(width, height);
  const levels = (await readdir(folder))
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  if (levels.length !== layout.levels.length || levels[levels.length - 1] !== layout.levels.length - 1)
    throw new Error(`${folder} has levels ${levels.join(',')}, expected 0-${layout.levels.length - 1}`);
  for (const level of layout.levels) {
    const tiles = (await readdir(path.join(folder, String(level.level)))).filter((name) => name.endsWith(`.${format}`)).length;
    if (tiles !== level.columns * level.rows)
      throw new Error(`${folder}/${level.level} has ${tiles} tiles, expected ${level.columns * level.rows}`);
  }
  const { level, column, row, region } = reference;
  const { data, info } = await sharp(path.join(folder, String(level), `${column}_${row}.${format}`))
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== region.width || info.height !== region.height || info.channels !== 3)
    throw new Error(`tile ${level}/${column}_${row} is ${info.width}x${info.height}, expected ${region.width}x${region.height}`);
  let difference = 0;
  for (let i = 0; i < data.length; i++) difference += Math.abs(data[i]! - reference.pixels[i]!);
  if (difference / data.length > TILE_ERROR)
    throw new Error(
      `tile ${level}/${column}_${row} differs from the rendered pixels, JPEG-encoded, by ${(difference / data.length).toFixed(2)} on average`,
    );
  const smallest = await sharp(path.join(folder, '0', `0_0.${format}`)).metadata();
  if (smallest.width !== 1 || smallest.height !== 1) throw new Error(`level 0 is ${smallest.width}x${smallest.height}, expected 1x1`);
  return difference / data.length;
}

/** A full-size deep zoom tile: where, its region of the mosaic, and its pixels JPEG-coded as tiles are, decoded. */
interface TileReference {
  level: number;
  column: number;
  row: number;
  region: Region;
  pixels: Buffer;
}

/** Bytes and files of the output: the PNG, or the descriptor and its tile folder. */
async function outputSize(folder: string, kind: Kind): Promise<{ bytes: number; files: number }> {
  if (kind === 'png') return { bytes: (await stat(path.join(folder, 'mosaic.png'))).size, files: 1 };
  let bytes = (await stat(path.join(folder, 'mosaic.dzi'))).size;
  let files = 0;
  const tiles = path.join(folder, 'mosaic_files');
  for (const entry of await readdir(tiles, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    bytes += (await stat(path.join(entry.parentPath, entry.name))).size;
    if (/\.jpe?g$/.test(entry.name)) files++;
  }
  return { bytes, files };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
