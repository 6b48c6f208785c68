import type { TileShape } from '../tiles/features.js';
import {
  isGrout,
  isPrintSize,
  isRgb,
  parseColour,
  parseGrout,
  parsePrintSize,
  type GroutWidth,
  type PrintSize,
  type Rgb,
} from './print.js';
import { isShardOption, MAX_SHARDS, parseShard, type ShardOption } from './shard.js';
export type { AutoShard, Shard, ShardOption } from './shard.js';
import type { ChoiceSpec, IntegerSpec, NumberSpec, OptionSpec, ParsedSpec, SwitchSpec, TextSpec } from './schema.js';

/** Largest tile edge, in pixels. */
export const MAX_TILE_SIZE = 1024;
/** Widest grid, in tiles: far past any print (a 2-gigapixel mosaic of 20 px tiles is 2,500 across). */
export const MAX_TILES_ACROSS = 50_000;
/** Most cells of a grid: its plan takes 3 bytes a cell in memory. */
export const MAX_CELLS = 2 ** 27;
/** Edge of the stored tiles unless told otherwise. */
export const DEFAULT_TILE_SIZE = 20;
/** Widest grid when the target is not given a width: one tile per target pixel up to this. */
export const DEFAULT_MAX_COLUMNS = 200;
/** Default guard on a single output file's size: one gigapixel. */
export const DEFAULT_MAX_PIXELS = 1_000_000_000;
/** Pixels per inch of a print unless told otherwise: what print shops ask for photographs. */
export const PRINT_DPI = 300;

/** Options every command that writes a result has. */
const json = {
  key: 'json',
  kind: 'switch',
  flags: '--json',
  help: 'print one JSON object on stdout instead of the path written',
} as const satisfies SwitchSpec;

const quiet = {
  key: 'quiet',
  kind: 'switch',
  flags: '-q, --quiet',
  help: 'no progress bar, warnings or notes on stderr',
} as const satisfies SwitchSpec;

/** A tile size as given: `20` (square) or `30x20`. */
export type TileSize = number | TileShape;

const TILE_SIZE = /^\s*(\d+)\s*(?:[x×]\s*(\d+))?\s*$/;

/** A `--tile-size` value: `20` or `30x20`, each side 1 to MAX_TILE_SIZE; undefined when it is not one. */
function parseTileSize(text: string): TileSize | undefined {
  const match = TILE_SIZE.exec(text);
  if (!match) return undefined;
  const size: TileSize = match[2] === undefined ? Number(match[1]) : { width: Number(match[1]), height: Number(match[2]) };
  return isTileSize(size) ? size : undefined;
}

function isTileSize(value: unknown): value is TileSize {
  const side = (length: unknown): boolean => Number.isSafeInteger(length) && (length as number) >= 1 && (length as number) <= MAX_TILE_SIZE;
  if (typeof value === 'number') return side(value);
  return typeof value === 'object' && value !== null && side((value as TileShape).width) && side((value as TileShape).height);
}

/** A tile size as a shape: a number is a square. */
export function tileShapeOf(size: TileSize): TileShape {
  return typeof size === 'number' ? { width: size, height: size } : { width: size.width, height: size.height };
}

/** `tsmosaic process-collection` and processCollection(). */
export const PROCESS_COLLECTION_OPTIONS = {
  out: {
    key: 'out',
    kind: 'text',
    flags: '-o, --out <dir>',
    help: 'index folder to write',
    defaultText: '`index` beside the first collection folder',
  },
  tileSize: {
    key: 'tileSize',
    kind: 'parsed',
    flags: '-s, --tile-size <px>',
    help: 'size of the stored tiles in pixels: `20` for squares, `30x20` for 3:2 landscape tiles, `20x30` for portrait ones',
    expected: `a size in px: N for squares, or WxH, each side from 1 to ${MAX_TILE_SIZE}`,
    parse: parseTileSize,
    valid: isTileSize,
    default: DEFAULT_TILE_SIZE as TileSize,
    defaultText: `\`${DEFAULT_TILE_SIZE}\``,
  } satisfies ParsedSpec<TileSize>,
  fit: {
    key: 'fit',
    kind: 'choice',
    flags: '--fit <mode>',
    help: '`crop`: keep the aspect ratio, use the centre; `stretch`: squash the whole picture (as pycollage and metapixel do)',
    choices: ['crop', 'stretch'],
    default: 'crop',
  },
  crops: {
    key: 'crops',
    kind: 'choice',
    flags: '--crops <n>',
    help: 'tiles cut from each picture: 5 = the centre and the four corners, for build to choose from; 1 = the centre only',
    choices: [1, 5],
    default: 5,
  },
  rebuild: {
    key: 'rebuild',
    kind: 'switch',
    flags: '--rebuild',
    help: 'decode every file, even where the existing index already has its tile',
  },
  shard: {
    key: 'shard',
    kind: 'parsed',
    flags: '--shard <i/n>',
    help: 'process only part i of n of the files (by a hash of each path), for `tsmosaic merge`; `auto/n`: i from the job runner, `auto`: n too',
    defaultText: 'all files',
    expected: `i/n with 1 <= i <= n <= ${MAX_SHARDS}, e.g. 2/4; auto/n; auto`,
    parse: parseShard,
    valid: isShardOption,
  } satisfies ParsedSpec<ShardOption>,
  json,
  quiet,
} as const satisfies Record<string, OptionSpec>;

/** `tsmosaic build` and buildMosaic(). */
export const BUILD_OPTIONS = {
  out: {
    key: 'out',
    kind: 'text',
    flags: '-o, --out <file>',
    help: 'output; its extension picks the format: png, jpg, webp, tif, avif, or dzi (a deep zoom pyramid and viewer)',
    defaultText: '`<target name>-mosaic.png` in the current folder',
  },
  deepZoom: {
    key: 'deepZoom',
    kind: 'text',
    flags: '--deepzoom <dir>',
    help: 'write a deep zoom pyramid and viewer into this folder (created if missing) instead of `-o`',
  },
  tilesAcross: {
    key: 'tilesAcross',
    kind: 'integer',
    flags: '--tiles-across <n>',
    help: "grid width in tiles; rows follow the target's aspect ratio",
    min: 1,
    max: MAX_TILES_ACROSS,
    defaultText: `one tile per target pixel, at most ${DEFAULT_MAX_COLUMNS}`,
  },
  tileSize: {
    key: 'tileSize',
    kind: 'parsed',
    flags: '--tile-size <px>',
    help: "output tile width in pixels, or WxH of the index's tile ratio; larger than the indexed size, tiles are drawn from the original pictures",
    expected: `a size in px: N, or WxH, each side from 1 to ${MAX_TILE_SIZE}`,
    parse: parseTileSize,
    valid: isTileSize,
    defaultText: 'the indexed size',
  } satisfies ParsedSpec<TileSize>,
  print: {
    key: 'print',
    kind: 'parsed',
    flags: '--print <size>',
    help: 'a print of this size (`60x40cm`, `24x36in`): exactly that at `--dpi`, the target cut to its aspect ratio, tiles of about 1 cm unless `--tiles-across` is given',
    expected: 'a width and height with a unit: <W>x<H>cm, mm or in, e.g. 60x40cm',
    parse: (text: string): PrintSize | undefined => parsePrintSize(text),
    valid: isPrintSize,
  } satisfies ParsedSpec<PrintSize>,
  dpi: {
    key: 'dpi',
    kind: 'integer',
    flags: '--dpi <n>',
    help: 'pixels per inch of the print, declared in the file (PNG, JPEG, TIFF)',
    min: 1,
    max: 4800,
    defaultText: `${PRINT_DPI} with \`--print\``,
  },
  grout: {
    key: 'grout',
    kind: 'parsed',
    flags: '--grout <width>',
    help: 'gaps between tiles (not around the edge), in px or mm of the print',
    expected: 'a width in px (whole) or mm, e.g. 4px or 1.5mm',
    parse: (text: string): GroutWidth | undefined => parseGrout(text),
    valid: isGrout,
    defaultText: 'none',
  } satisfies ParsedSpec<GroutWidth>,
  groutColour: {
    key: 'groutColour',
    kind: 'parsed',
    flags: '--grout-colour <colour>',
    help: 'colour of the grout',
    expected: 'a CSS colour name or #rrggbb, e.g. white or #1e1e1e',
    parse: (text: string): Rgb | undefined => parseColour(text),
    valid: isRgb,
    default: [255, 255, 255] as Rgb,
    defaultText: '`white`',
  } satisfies ParsedSpec<Rgb>,
  originals: {
    key: 'originals',
    kind: 'switch',
    flags: '--no-originals',
    help: "draw tiles larger than the index's from its stored tiles, enlarged, not from the original pictures",
    default: true,
  },
  maxPixels: {
    key: 'maxPixels',
    kind: 'integer',
    flags: '--max-pixels <n>',
    help: 'refuse a single image file of more pixels (deep zoom has no limit)',
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    default: DEFAULT_MAX_PIXELS,
  },
  metric: {
    key: 'metric',
    kind: 'choice',
    flags: '--metric <metric>',
    help: "`lab`: CIELAB colour and 2x2 structure (CIEDE2000); `rgb`: pycollage's mean RGB",
    choices: ['lab', 'rgb'],
    default: 'lab',
  },
  mirror: {
    key: 'mirror',
    kind: 'switch',
    flags: '--no-mirror',
    help: 'never mirror tiles left-right',
    default: true,
  },
  crops: {
    key: 'crops',
    kind: 'switch',
    flags: '--no-crops',
    help: "use only each picture's centre, not its corner crops (as `--metric rgb` does)",
    default: true,
  },
  minDistance: {
    key: 'minDistance',
    kind: 'number',
    flags: '--min-distance <cells>',
    help: 'no picture within this distance of itself, in cells: 1 = not side by side, 1.5 = nor diagonally, 0 = no rule',
    min: 0,
    max: 100,
    default: 1.5,
    defaultText: '`1.5`, diagonal repeats weighed (see below)',
  },
  maxUses: {
    key: 'maxUses',
    kind: 'integer',
    flags: '--max-uses <k>',
    help: 'use each picture at most k times',
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    defaultText: 'no limit',
  },
  unique: {
    key: 'unique',
    kind: 'switch',
    flags: '--unique',
    help: 'use each picture at most once (`--max-uses 1`)',
  },
  useAll: {
    key: 'useAll',
    kind: 'switch',
    flags: '--use-all',
    help: 'use every picture at least once',
  },
  include: {
    key: 'include',
    kind: 'text',
    flags: '--include <file>',
    help: 'pictures to use at least once: a file of paths or globs as the index lists them, one a line',
  },
  exclude: {
    key: 'exclude',
    kind: 'text',
    flags: '--exclude <file>',
    help: 'pictures never to use (a file as for `--include`)',
  },
  seed: {
    key: 'seed',
    kind: 'integer',
    flags: '--seed <n>',
    help: 'seed of the fill order (with a budget or --min-distance 2 or more): the same seed gives the same mosaic',
    min: 0,
    max: 0xffffffff,
    default: 1,
  },
  blend: {
    key: 'blend',
    kind: 'integer',
    flags: '--blend <percent>',
    help: "tint each tile toward its cell's target colour, in percent (metapixel's `--cheat`)",
    min: 0,
    max: 100,
    default: 0,
  },
  plan: {
    key: 'plan',
    kind: 'text',
    flags: '--plan <file>',
    help: 'also write the placement as JSON (see below)',
  },
  heatmap: {
    key: 'heatmap',
    kind: 'text',
    flags: '--heatmap <file.png>',
    help: "also write a PNG of each cell's colour error (CIEDE2000 to its tile), with its scale",
  },
  json: { ...json, help: 'print one JSON object on stdout instead of the output path (see below)' },
  measure: {
    key: 'measure',
    kind: 'switch',
    flags: '--no-measure',
    help: 'leave `deltaE` out of `--json` (faster for huge mosaics)',
    default: true,
  },
  quiet: { ...quiet, help: 'no progress bar or notes on stderr' },
} as const satisfies Record<string, OptionSpec>;

/** `tsmosaic merge` and mergeIndexes(). */
export const MERGE_OPTIONS = {
  out: { key: 'out', kind: 'text', flags: '-o, --out <dir>', help: 'index folder to write', required: true },
  json,
  quiet: { ...quiet, help: 'no progress bar or notes on stderr' },
} as const satisfies Record<string, OptionSpec>;

/** `tsmosaic info`. */
export const INFO_OPTIONS = {
  json: { ...json, help: 'print one JSON object instead of aligned lines' },
} as const satisfies Record<string, OptionSpec>;

export type { ChoiceSpec, IntegerSpec, NumberSpec, ParsedSpec, TextSpec };
