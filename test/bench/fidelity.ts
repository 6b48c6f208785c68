/**
 * Fidelity part of `npm run bench`: mean CIEDE2000 at cell and structure scale (see
 * src/quality/fidelity.ts) over several shared photos as targets, for pycollage's method (the
 * in-run baseline), tsmosaic's defaults, --min-distance 5 and metapixel with the same grid.
 */
import path from 'node:path';
import sharp from 'sharp';
import { compareImages } from '../../src/quality/compare-images.js';
import { measure } from './measure.js';
import { markdownTable } from './table.js';

/** The first six colour photographs of the shared folder (by file name), not chosen by result. */
export const FIDELITY_TARGETS = ['photo-001.jpg', 'photo-002.jpg', 'photo-003.jpg', 'photo-004.jpg', 'photo-009.jpg', 'photo-010.jpg'];

interface Variant {
  name: string;
  args: string[];
}

const VARIANTS: Variant[] = [
  { name: 'baseline: `--metric rgb --min-distance 0` (pycollage)', args: ['--metric', 'rgb', '--min-distance', '0'] },
  { name: 'defaults', args: [] },
  { name: '`--min-distance 0` (defaults without the rule)', args: ['--min-distance', '0'] },
  { name: '`--min-distance 5`', args: ['--min-distance', '5'] },
  // What the matcher alone gives, without the corner crops pycollage's method has no use for.
  { name: '`--no-crops` (defaults on centre squares only)', args: ['--no-crops'] },
  { name: '`--no-crops --min-distance 5`', args: ['--no-crops', '--min-distance', '5'] },
];

interface Score {
  cell: number;
  structure: number;
  /** Seconds of build's own steps (excluding start-up and measuring). */
  buildSeconds: number;
}

export interface FidelityContext {
  node: string;
  bin: string;
  index: string;
  library?: string;
  photos: string;
  work: string;
  tilesAcross: number;
  tileSize: number;
  log: (message: string) => void;
}

/** What `build --json` says of a mosaic's fidelity and time. */
export interface BuildScore {
  deltaE: { cell: number; structure: number };
  timings: Record<string, number>;
}

/** Builds `target` into `out` with `args` at `tilesAcross` and returns its `--json` fidelity and timings. */
export async function scoredBuild(
  context: Pick<FidelityContext, 'node' | 'bin' | 'index' | 'tilesAcross'>,
  target: string,
  out: string,
  args: string[],
): Promise<BuildScore> {
  const { node, bin, index, tilesAcross } = context;
  const run = await measure([node, bin, 'build', index, target, '--tiles-across', String(tilesAcross), '-o', out, '--json', '-q', ...args]);
  return JSON.parse(run.stdout) as BuildScore;
}

/** Runs every variant on every target and returns the markdown lines of the fidelity tables. */
export async function fidelityBench(context: FidelityContext): Promise<string[]> {
  const { node, bin, index, library, photos, work, tilesAcross, tileSize, log } = context;
  const scores = new Map<string, Score[]>();
  const add = (name: string, score: Score): void => {
    scores.set(name, [...(scores.get(name) ?? []), score]);
  };
  for (const photo of FIDELITY_TARGETS) {
    const target = path.join(photos, photo);
    for (const variant of VARIANTS) {
      log(`fidelity: ${photo} ${variant.name}`);
      const out = path.join(work, `fidelity-${variant.args.join('') || 'defaults'}.png`);
      const summary = await scoredBuild({ node, bin, index, tilesAcross }, target, out, variant.args);
      const steps = Object.entries(summary.timings).filter(([step]) => step !== 'measure');
      add(variant.name, { ...summary.deltaE, buildSeconds: steps.reduce((sum, [, value]) => sum + value, 0) });
    }
    if (library) {
      log(`fidelity: ${photo} metapixel --distance=5`);
      const { width = 1, height = 1 } = await sharp(target).metadata();
      const out = path.join(work, 'fidelity-metapixel.png');
      const scale = (tilesAcross * tileSize) / width;
      const run = await measure([
        'metapixel',
        '--metapixel',
        target,
        out,
        '--library',
        library,
        `--width=${tileSize}`,
        `--height=${tileSize}`,
        `--scale=${scale}`,
        '--distance=5',
      ]);
      const rows = Math.max(1, Math.round((height * tilesAcross) / width));
      add('metapixel `--distance=5` (5x5 YIQ)', {
        ...(await compareImages(target, out, tilesAcross, rows)),
        buildSeconds: run.wallSeconds,
      });
    }
  }

  const mean = (list: Score[], key: keyof Score): number => list.reduce((sum, score) => sum + score[key], 0) / list.length;
  const baseline = scores.get(VARIANTS[0]!.name)!;
  const [baseCell, baseStructure] = [mean(baseline, 'cell'), mean(baseline, 'structure')];
  const verdict = (value: number, limit: number): string => `${value.toFixed(2)}x (≤ ${limit}x: ${value <= limit ? 'PASS' : 'MISS'})`;
  const limits: Record<string, [number, number]> = { defaults: [0.82, 0.76], '`--min-distance 5`': [1.4, 0.9] };
  const rows = [...scores.entries()].map(([name, list]) => {
    const cell = mean(list, 'cell');
    const structure = mean(list, 'structure');
    const limit = limits[name];
    return [
      name,
      cell.toFixed(2),
      structure.toFixed(2),
      limit ? verdict(cell / baseCell, limit[0]) : `${(cell / baseCell).toFixed(2)}x`,
      limit ? verdict(structure / baseStructure, limit[1]) : `${(structure / baseStructure).toFixed(2)}x`,
      mean(list, 'buildSeconds').toFixed(2),
    ];
  });
  const perTarget = FIDELITY_TARGETS.map((photo, i) => [
    photo,
    ...[...scores.values()].map((list) => `${list[i]!.cell.toFixed(2)} / ${list[i]!.structure.toFixed(2)}`),
  ]);
  const md5 = scores.get('`--min-distance 5`')!;
  const free = scores.get('`--min-distance 0` (defaults without the rule)')!;
  const metapixel = [...scores.entries()].find(([name]) => name.startsWith('metapixel'))?.[1];
  const beatsMetapixel = metapixel
    ? FIDELITY_TARGETS.every((_, i) => md5[i]!.cell < metapixel[i]!.cell && md5[i]!.structure < metapixel[i]!.structure)
    : undefined;
  const timeRatio = mean(md5, 'buildSeconds') / mean(free, 'buildSeconds');
  return [
    `### Fidelity: mean CIEDE2000 over ${FIDELITY_TARGETS.length} targets (${tilesAcross} columns, ${tileSize} px tiles; lower is better)`,
    '',
    ...markdownTable(['method', 'cell ΔE00', 'structure ΔE00', 'cell vs baseline', 'structure vs baseline', 'build s (steps)'], rows),
    '',
    `- \`--min-distance 5\` below metapixel on cell and structure for every target: ${beatsMetapixel === undefined ? 'n/a (metapixel not installed)' : beatsMetapixel ? 'PASS' : 'MISS'}`,
    `- build time with \`--min-distance 5\` vs without limits (\`--min-distance 0\`): ${timeRatio.toFixed(2)}x (≤ 2x: ${timeRatio <= 2 ? 'PASS' : 'MISS'})`,
    '',
    'Per target, cell / structure ΔE00:',
    '',
    ...markdownTable(['target', ...scores.keys()], perTarget),
  ];
}
