/**
 * The icon-set part of the fidelity bench: an emoji set (PNGs with transparency, flattened onto
 * white by process-collection) against the bench's photos and two made foggy, the collections on
 * which the defaults' rule used to leave only far colours. The set comes from the npm registry
 * (`npm pack`), once, into the temp folder; without the registry this part is left out.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { FIDELITY_TARGETS, scoredBuild } from './fidelity.js';
import { measure, runVisible } from './measure.js';
import { markdownTable } from './table.js';

/** Twitter's emoji (Twemoji) at 64 px: 3,786 PNGs with transparency, 62 MB to download. */
const ICON_PACKAGE = 'emoji-datasource-twitter@16.0.0';
const ICON_FOLDER = 'package/img/twitter/64';
const ICON_COUNT = 3786;

/** Foggy versions of two of the targets: a quarter of the saturation, a third of the contrast, lifted towards a light grey. */
const FOGGY = ['photo-003.jpg', 'photo-009.jpg'];

const BASELINE = ['--metric', 'rgb', '--min-distance', '0'];

export interface IconContext {
  node: string;
  bin: string;
  photos: string;
  work: string;
  tilesAcross: number;
  tileSize: number;
  log: (message: string) => void;
}

/**
 * The emoji set's folder in the temp folder, fetched with `npm pack` and unpacked when missing;
 * undefined (and a log line) when that fails.
 */
async function ensureIcons(log: (message: string) => void): Promise<string | undefined> {
  const dir = path.join(os.tmpdir(), 'tsmosaic-bench-icons-twitter');
  if (existsSync(dir) && (await readdir(dir)).length === ICON_COUNT) return dir;
  const partial = await mkdtemp(`${dir}.partial-`);
  try {
    log(`fetching the icon set: npm pack ${ICON_PACKAGE}`);
    if ((await runVisible('npm', ['pack', ICON_PACKAGE, '--pack-destination', partial, '--silent'])) !== 0) {
      log('npm pack failed: the icon-set bench is left out');
      return undefined;
    }
    const tarball = (await readdir(partial)).find((name) => name.endsWith('.tgz'));
    const icons = path.join(partial, 'icons');
    await mkdir(icons);
    if (
      !tarball ||
      (await runVisible('tar', ['-xzf', path.join(partial, tarball), '-C', icons, '--strip-components=4', ICON_FOLDER])) !== 0
    ) {
      log('unpacking the icon set failed: the icon-set bench is left out');
      return undefined;
    }
    const count = (await readdir(icons)).length;
    if (count !== ICON_COUNT) {
      log(`the icon set has ${count} files, not ${ICON_COUNT}: the icon-set bench is left out`);
      return undefined;
    }
    await rm(dir, { recursive: true, force: true });
    await rename(icons, dir);
    return dir;
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/** Fidelity of the defaults against pycollage's method on the icon set; markdown lines, none without the set. */
export async function iconSetBench(context: IconContext): Promise<string[]> {
  const { node, bin, photos, work, tilesAcross, log } = context;
  const icons = await ensureIcons(log);
  if (!icons) return ['### Fidelity on an icon set', '', `n/a: \`npm pack ${ICON_PACKAGE}\` failed (no npm registry?)`];
  const index = path.join(work, 'icon-index');
  log('indexing the icon set');
  await measure([node, bin, 'process-collection', icons, '-o', index, '--tile-size', String(context.tileSize), '--json', '-q']);

  const targets: [string, string][] = FIDELITY_TARGETS.map((photo) => [photo, path.join(photos, photo)]);
  for (const photo of FOGGY) {
    const foggy = path.join(work, `foggy-${photo}`);
    await sharp(path.join(photos, photo))
      .modulate({ saturation: 0.25 })
      .linear(0.35, 0.65 * 175)
      .jpeg({ quality: 92 })
      .toFile(foggy);
    targets.push([`${photo}, foggy`, foggy]);
  }

  const rows: string[][] = [];
  let passes = 0;
  for (const [name, target] of targets) {
    const score = async (args: string[]): Promise<{ cell: number; structure: number }> => {
      log(`icon set: ${name} ${args.join(' ') || 'defaults'}`);
      const out = path.join(work, 'icon-mosaic.png');
      return (await scoredBuild({ node, bin, index, tilesAcross }, target, out, args)).deltaE;
    };
    const baseline = await score(BASELINE);
    const defaults = await score([]);
    const [cell, structure] = [defaults.cell / baseline.cell, defaults.structure / baseline.structure];
    const pass = cell <= 1.05 && structure < 1;
    if (pass) passes++;
    rows.push([
      name,
      `${baseline.cell.toFixed(2)} / ${baseline.structure.toFixed(2)}`,
      `${defaults.cell.toFixed(2)} / ${defaults.structure.toFixed(2)}`,
      `${cell.toFixed(2)}x / ${structure.toFixed(2)}x`,
      pass ? 'PASS' : 'MISS',
    ]);
  }
  return [
    `### Fidelity on an icon set (${ICON_COUNT} emoji of \`${ICON_PACKAGE}\`, ${tilesAcross} columns; cell / structure ΔE00)`,
    '',
    ...markdownTable(['target', "pycollage's method", 'defaults', 'defaults vs baseline', 'cell ≤ 1.05x, structure < 1x'], rows),
    '',
    `- defaults within 5 % of pycollage's method in cell colour and better in structure: ${passes} of ${targets.length} targets`,
  ];
}
