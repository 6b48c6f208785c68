/**
 * `npm run bench:print`: prints drawn from the original pictures.
 *
 * 1. The bench's collection (2,000 crops of the shared photos, see setup.ts), indexed with 20 px tiles.
 * 2. A 60 x 40 cm, 300 dpi PNG (7087 x 4724 px) with 100 tiles across, drawn from the originals,
 *    against the floor: decoding each picture that print uses once with sharp at its tile size, as
 *    many at once as tsmosaic (floor.ts over a folder of links to them). Runs alternated, medians.
 * 3. A 100 x 70 cm, 300 dpi deep zoom (11811 x 8268 px) and a 2-gigapixel one (4.3 x 3.3 m, 400
 *    tiles across), both from the originals: peak RSS, which must stay under 512 MB and within 25 %
 *    of each other (medians of alternated runs).
 *
 * Options: `--runs 3` (PNG and floor), `--zoom-runs 3` (deep zooms), `--skip-gigapixel`. Needs dist/ (`npm run build`), python3-pil for the collection.
 */
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { defaultConcurrency } from '../../src/collection/load-tile.js';
import { compileFloor } from './floor-compile.js';
import { measure, measureRounds, type Series } from './measure.js';
import { BIN, NODE, sharedFolder } from './paths.js';
import { ensureCollection, ensureTools } from './setup.js';
import { markdownTable, ratioCell, seconds } from './table.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'zoom-runs': { type: 'string', default: '3' },
    'skip-gigapixel': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const zoomRuns = Number(values['zoom-runs']);
const log = (message: string): void => void process.stderr.write(`bench:print: ${message}\n`);

const shared = sharedFolder();
const tools = await ensureTools(log);
const { dir: collection } = await ensureCollection(shared, tools.pil, log);
const work = await mkdtemp(path.join(os.tmpdir(), 'tsmosaic-bench-print-'));
try {
  const index = path.join(work, 'index');
  log('indexing the collection');
  await measure([NODE, BIN, 'process-collection', collection, '-o', index, '-q']);
  const target = path.join(shared, 'photos', 'photo-003.jpg');
  const poster = ['--print', '60x40cm', '--tiles-across', '100'];

  // The pictures the print uses, and its tile size, from one build with its plan.
  const planFile = path.join(work, 'plan.json');
  const first = await measure([
    NODE,
    BIN,
    'build',
    index,
    target,
    ...poster,
    '-o',
    path.join(work, 'first.png'),
    '--plan',
    planFile,
    '--json',
    '-q',
  ]);
  const summary = JSON.parse(first.stdout) as { width: number; columns: number; originals: { used: number; missing: number } };
  const plan = JSON.parse(await readFile(planFile, 'utf8')) as { cells: { source: string }[] };
  const used = [...new Set(plan.cells.map(({ source }) => source))];
  const tileSize = Math.ceil(summary.width / summary.columns);
  const links = path.join(work, 'used');
  await mkdir(links);
  await Promise.all(used.map((source) => symlink(path.join(collection, source), path.join(links, path.basename(source)))));
  const floor = await compileFloor(work);
  log(`the print uses ${used.length} pictures (${summary.originals.missing} not from their originals), tiles of ${tileSize} px`);

  const [print, floorSeries] = await measureRounds(
    [
      {
        label: 'print',
        warmUp: false,
        command: () => [NODE, BIN, 'build', index, target, ...poster, '-o', path.join(work, 'print.png'), '-q'],
        check: async () => {
          const { width, height, density } = await sharp(path.join(work, 'print.png')).metadata();
          if (width !== 7087 || height !== 4724 || Math.round(density ?? 0) !== 300)
            throw new Error(`the print is ${width}x${height} at ${density} dpi`);
        },
      },
      { label: 'floor', warmUp: false, command: () => [NODE, floor, links, String(tileSize), String(defaultConcurrency())] },
    ],
    runs,
    log,
  );
  const rows: string[][] = [];
  const row = (label: string, tool: string, series: Series, ratio?: [string, string, string]): void => {
    rows.push([
      label,
      tool,
      `${seconds(series.wallSeconds)} (${seconds(series.minWallSeconds)}–${seconds(series.maxWallSeconds)})`,
      seconds(series.cpuSeconds),
      String(Math.round(series.peakRssMb)),
      ...(ratio ?? ['', '', '']),
    ]);
  };
  row(`decode the ${used.length} pictures once at ${tileSize} px (floor)`, 'node + sharp only', floorSeries!);
  row(
    '60 x 40 cm at 300 dpi, 100 tiles across, PNG',
    'tsmosaic build --print',
    print!,
    ratioCell(print!.wallSeconds / floorSeries!.wallSeconds, print!.cpuSeconds / floorSeries!.cpuSeconds, 'floor', { max: 2 }),
  );
  const memoryLine = print!.peakRssMb < 512 ? 'PASS' : 'MISS';
  rows.push(['', '', '', '', '', `peak RSS ${Math.round(print!.peakRssMb)} MB`, '< 512 MB', memoryLine]);

  // Deep zoom from the originals, large and gigapixel: memory must not grow with the output.
  const zooms: { label: string; args: string[] }[] = [{ label: '100 x 70 cm at 300 dpi, deep zoom', args: ['--print', '100x70cm'] }];
  if (!values['skip-gigapixel'])
    zooms.push({ label: '430 x 330 cm at 300 dpi (2 Gpx), deep zoom', args: ['--print', '430x330cm', '--tiles-across', '400'] });
  // Alternated runs, a fresh folder each: the peak moves by 10-20 MB from run to run (malloc's arenas).
  const zoomFolder = (position: number): string => path.join(work, `zoom-${position}`);
  const zoomSeries = await measureRounds(
    zooms.map(({ label, args }, position) => ({
      label,
      warmUp: false,
      command: async () => {
        await rm(zoomFolder(position), { recursive: true, force: true });
        return [NODE, BIN, 'build', index, target, ...args, '--deepzoom', zoomFolder(position), '--json', '-q'];
      },
    })),
    zoomRuns,
    log,
  );
  for (const [position, { label }] of zooms.entries()) {
    const series = zoomSeries[position]!;
    const { width, height } = JSON.parse(series.medianRun.stdout) as { width: number; height: number };
    const peaks = series.runs.map((run) => run.peakRssMb);
    rows.push([
      `${label} (${width} x ${height} px)`,
      'tsmosaic build --print --deepzoom',
      `${seconds(series.wallSeconds)} (${seconds(series.minWallSeconds)}–${seconds(series.maxWallSeconds)})`,
      seconds(series.cpuSeconds),
      `${Math.round(series.peakRssMb)} (${Math.round(Math.min(...peaks))}–${Math.round(Math.max(...peaks))})`,
      `peak RSS ${Math.round(series.peakRssMb)} MB`,
      '< 512 MB',
      Math.max(...peaks) < 512 ? 'PASS' : 'MISS',
    ]);
    await rm(zoomFolder(position), { recursive: true, force: true });
  }
  if (zoomSeries.length === 2) {
    const growth = zoomSeries[1]!.peakRssMb / zoomSeries[0]!.peakRssMb;
    rows.push([
      '',
      '',
      '',
      '',
      '',
      `2 Gpx / 100 x 70 cm median peak RSS ${growth.toFixed(2)}x`,
      '≤ 1.25x',
      growth <= 1.25 ? 'PASS' : 'MISS',
    ]);
  }
  console.log(
    [
      '',
      '### Prints from the original pictures',
      '',
      ...markdownTable(['step', 'tool', 'wall s (median; min–max)', 'CPU s', 'peak RSS MB', 'ratio', 'target', 'result'], rows),
    ].join('\n'),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
