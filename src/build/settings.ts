import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { TsmosaicError, UsageError } from '../errors.js';
import type { PlacementRules } from '../match/placement.js';
import { BUILD_OPTIONS, PRINT_DPI, type TileSize } from '../options/options.js';
import type { GroutWidth, PrintSize, Rgb } from '../options/print.js';
import { mmToPixels } from './print.js';
import { checkOption } from '../options/schema.js';
import { assertWritableFolder, formatFromPath, type OutputFormat } from '../render/encode.js';
import { assertOutputReplaceable } from '../render/write-mosaic.js';
import { quote } from '../text.js';
import { DEFAULT_METHOD, RGB_METHOD, type MatchMethod } from '../tiles/descriptors.js';

const OPTIONS = BUILD_OPTIONS;

export interface BuildProgress {
  stage: 'load' | 'match' | 'render' | 'encode' | 'tiles';
  done: number;
  total: number;
}

/**
 * The options of `buildMosaic`: what each means, its default and its limits are in BUILD_OPTIONS
 * (src/options/options.ts), the same as the CLI's `tsmosaic build` options.
 */
export interface BuildMosaicOptions {
  out?: string;
  deepZoom?: string;
  tilesAcross?: number;
  tileSize?: TileSize;
  maxPixels?: number;
  metric?: 'lab' | 'rgb';
  mirror?: boolean;
  crops?: boolean;
  /** Advanced: the exact match method (overrides `metric` and `mirror`). */
  method?: MatchMethod;
  minDistance?: number;
  maxUses?: number;
  unique?: boolean;
  useAll?: boolean;
  /** A text file of pictures (paths or globs as the index lists them) that must appear. */
  include?: string;
  /** A text file of pictures that must not appear. */
  exclude?: string;
  seed?: number;
  blend?: number;
  plan?: string;
  /** A PNG of each cell's CIEDE2000 to write (see writeHeatmap); it measures fidelity too. */
  heatmap?: string;
  print?: PrintSize;
  dpi?: number;
  originals?: boolean;
  grout?: GroutWidth;
  groutColour?: Rgb;
  /** Measure fidelity (mean CIEDE2000 at cell and structure scale) into `deltaE`. */
  measure?: boolean;
  onProgress?: (progress: BuildProgress) => void;
  /** Stops the build between steps, bands or tiles; temporaries are removed and the reason thrown. */
  signal?: AbortSignal;
  /** Informational messages for the user (e.g. the target was sampled down). */
  onNote?: (message: string) => void;
}

/** A build's options, checked and with their defaults. */
export interface BuildSettings {
  /** The output file, absolute (for deep zoom, the `.dzi`). */
  out: string;
  format: OutputFormat;
  /** The folder a `deepZoom` build writes into (created if missing). */
  deepZoomFolder: string | undefined;
  tilesAcross: number | undefined;
  /** Output tile width, or width and height; undefined: the index's. */
  tileSize: TileSize | undefined;
  maxPixels: number;
  method: MatchMethod;
  /** Whether placement may choose corner crops (else centre squares only). */
  crops: boolean;
  rules: PlacementRules;
  /** Whether every picture must appear (--use-all). */
  useAll: boolean;
  /** The list files of pictures that must and must not appear, absolute. */
  include: string | undefined;
  exclude: string | undefined;
  /** Whether the user chose the min-distance (a tiny index lowers the default, never a chosen one). */
  minDistanceChosen: boolean;
  blend: number;
  /** The placement file to write, absolute. */
  plan: string | undefined;
  /** The heat map to write, absolute. */
  heatmap: string | undefined;
  /** Whether fidelity is measured (for `deltaE`, or the heat map). */
  measure: boolean;
  print: PrintSize | undefined;
  /** Pixels per inch declared in the output (and the print's resolution). */
  dpi: number | undefined;
  /** Grout between cells, in pixels (0: none). */
  grout: number;
  groutColour: Rgb;
  /** Whether tiles larger than the index's are drawn from the original pictures. */
  originals: boolean;
}

/**
 * Checks a build's options and applies their defaults (see BUILD_OPTIONS).
 * @throws {UsageError} naming the option
 */
export function resolveBuildSettings(target: string, options: BuildMosaicOptions): BuildSettings {
  if (options.out !== undefined && options.deepZoom !== undefined) throw new UsageError('use either --out or --deepzoom, not both');
  const given = checkOption(OPTIONS.deepZoom, options.deepZoom);
  const deepZoomFolder = given === undefined ? undefined : path.resolve(given);
  const defaultName = `${path.parse(target).name}-mosaic`;
  const out = deepZoomFolder
    ? path.join(deepZoomFolder, `${defaultName}.dzi`)
    : path.resolve(checkOption(OPTIONS.out, options.out) ?? `${defaultName}.png`);
  const metric = checkOption(OPTIONS.metric, options.metric);
  const mirror = checkOption(OPTIONS.mirror, options.mirror);
  const unique = checkOption(OPTIONS.unique, options.unique);
  const maxUses = unique ? 1 : (checkOption(OPTIONS.maxUses, options.maxUses) ?? Infinity);
  const plan = checkOption(OPTIONS.plan, options.plan);
  const heatmap = checkOption(OPTIONS.heatmap, options.heatmap);
  if (heatmap !== undefined && path.extname(heatmap).toLowerCase() !== '.png') {
    throw new UsageError(`--heatmap ${quote(heatmap)}: the heat map is a PNG; give a file name ending in .png`);
  }
  const print = checkOption(OPTIONS.print, options.print);
  const dpi = checkOption(OPTIONS.dpi, options.dpi) ?? (print ? PRINT_DPI : undefined);
  const grout = checkOption(OPTIONS.grout, options.grout);
  if (print && options.tileSize !== undefined) {
    throw new UsageError('use either --print or --tile-size: the print size and --tiles-across set the size of the tiles');
  }
  if (grout?.unit === 'mm' && dpi === undefined)
    throw new UsageError(`--grout ${grout.width}mm needs --print or --dpi to be turned into pixels`);
  return {
    out,
    format: formatFromPath(out),
    deepZoomFolder,
    tilesAcross: checkOption(OPTIONS.tilesAcross, options.tilesAcross),
    tileSize: checkOption(OPTIONS.tileSize, options.tileSize),
    maxPixels: checkOption(OPTIONS.maxPixels, options.maxPixels),
    method: options.method ?? (metric === 'rgb' ? RGB_METHOD : { ...DEFAULT_METHOD, mirror }),
    crops: checkOption(OPTIONS.crops, options.crops),
    rules: { minDistance: checkOption(OPTIONS.minDistance, options.minDistance), maxUses, seed: checkOption(OPTIONS.seed, options.seed) },
    useAll: checkOption(OPTIONS.useAll, options.useAll) ?? false,
    include: listFile(checkOption(OPTIONS.include, options.include)),
    exclude: listFile(checkOption(OPTIONS.exclude, options.exclude)),
    minDistanceChosen: options.minDistance !== undefined,
    blend: checkOption(OPTIONS.blend, options.blend),
    plan: plan === undefined ? undefined : path.resolve(plan),
    heatmap: heatmap === undefined ? undefined : path.resolve(heatmap),
    measure: options.measure === true || heatmap !== undefined,
    print,
    dpi,
    grout: grout === undefined ? 0 : grout.unit === 'px' ? grout.width : mmToPixels(grout.width, dpi!),
    groutColour: checkOption(OPTIONS.groutColour, options.groutColour),
    originals: checkOption(OPTIONS.originals, options.originals),
  };
}

function listFile(file: string | undefined): string | undefined {
  return file === undefined ? undefined : path.resolve(file);
}

/**
 * Checks, before any work, that the outputs can be written and replace nothing they must not: the
 * target, the index, each other, or a file or folder tsmosaic did not write.
 * @throws {TsmosaicError}
 */
export async function assertOutputsWritable(settings: BuildSettings, index: string, target: string): Promise<void> {
  const { out, format, deepZoomFolder, plan, heatmap } = settings;
  if (deepZoomFolder) {
    const found = await stat(deepZoomFolder).catch(() => undefined);
    if (found && !found.isDirectory()) throw new TsmosaicError(`cannot write deep zoom into ${quote(deepZoomFolder)}: it is not a folder`);
  } else {
    await assertWritableFolder(out);
  }
  await assertOutputReplaceable(out, format);
  if (plan) await assertWritableFolder(plan);
  if (heatmap) await assertWritableFolder(heatmap);
  const protectedPaths = [
    { file: target, what: 'the target' },
    { file: path.join(index, '_'), what: 'the index folder', inside: true },
  ];
  const outputs = [
    { file: out, option: deepZoomFolder ? '--deepzoom' : '--out' },
    ...(plan ? [{ file: plan, option: '--plan' }] : []),
    ...(heatmap ? [{ file: heatmap, option: '--heatmap' }] : []),
  ];
  for (const { file, option } of outputs) {
    for (const { file: other, what, inside } of protectedPaths) {
      if (inside ? await sameFolder(path.dirname(file), path.dirname(other)) : await samePath(file, other)) {
        throw new TsmosaicError(
          `${option} ${quote(file)} would overwrite ${what}${inside ? ` ${quote(index)}` : ''}; choose another ${option}`,
        );
      }
    }
  }
  if (plan && (await samePath(plan, out))) throw new TsmosaicError(`--plan ${quote(plan)} is the output itself; choose another --plan`);
  if (heatmap && (await samePath(heatmap, out)))
    throw new TsmosaicError(`--heatmap ${quote(heatmap)} is the output itself; choose another --heatmap`);
  if (heatmap && plan && (await samePath(heatmap, plan)))
    throw new TsmosaicError(`--heatmap ${quote(heatmap)} is the --plan file too; choose another --heatmap`);
}

/** Whether two paths name the same file: the same path, or (when both exist) the same file through links. */
async function samePath(a: string, b: string): Promise<boolean> {
  if (path.resolve(a) === path.resolve(b)) return true;
  const [first, second] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return first !== undefined && second !== undefined && first.dev === second.dev && first.ino === second.ino;
}

/** Whether two folders are the same folder, through links too. */
async function sameFolder(a: string, b: string): Promise<boolean> {
  const [first, second] = await Promise.all([realpath(a).catch(() => path.resolve(a)), realpath(b).catch(() => path.resolve(b))]);
  return first === second;
}
