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
/** Most parts a collection is split into with --shard. */
export const MAX_SHARDS = 65_536;

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

/** A part of a collection: part `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

function isShard(value: unknown): value is Shard {
  if (typeof value !== 'object' || value === null) return false;
  const { index, count } = value as Partial<Shard>;
  return (
    Number.isSafeInteger(count) && Number.isSafeInteger(index) && count! >= 1 && count! <= MAX_SHARDS && index! >= 1 && index! <= count!
  );
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
    kind: 'integer',
    flags: '-s, --tile-size <px>',
    help: 'edge of the stored square tiles, in pixels',
    min: 1,
    max: MAX_TILE_SIZE,
    default: DEFAULT_TILE_SIZE,
  },
  fit: {
    key: 'fit',
    kind: 'choice',
    flags: '--fit <mode>',
    help: '`crop`: keep the aspect ratio, use the centre square; `stretch`: squash the whole picture into the square (what pycollage and metapixel do)',
    choices: ['crop', 'stretch'],
    default: 'crop',
  },
  crops: {
    key: 'crops',
    kind: 'choice',
    flags: '--crops <n>',
    help: 'tiles cut from each picture: 5 = the centre square and four corner squares, for build to choose from; 1 = the centre square only (a fifth of the index size)',
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
    help: 'process only part i of n of the files (a fixed split by a hash of each path), to be merged with `tsmosaic merge`',
    defaultText: 'all files',
    expected: `i/n with 1 <= i <= n <= ${MAX_SHARDS}, e.g. 2/4`,
    parse(text: string): Shard | undefined {
      const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
      const shard = match && { index: Number(match[1]), count: Number(match[2]) };
      return isShard(shard) ? shard : undefined;
    },
    valid: isShard,
  } satisfies ParsedSpec<Shard>,
  json,
  quiet,
} as const satisfies Record<string, OptionSpec>;

/** `tsmosaic build` and buildMosaic(). */
export const BUILD_OPTIONS = {
  out: {
    key: 'out',
    kind: 'text',
    flags: '-o, --out <file>',
    help: 'output; the extension picks the format: `.png`, `.jpg`/`.jpeg`, `.webp`, `.tif`/`.tiff`, `.avif`, or `.dzi` for a deep zoom pyramid and viewer',
    defaultText: '`<target name>-mosaic.png` in the current folder',
  },
  deepZoom: {
    key: 'deepZoom',
    kind: 'text',
    flags: '--deepzoom <dir>',
    help: 'write a deep zoom pyramid and its viewer into this folder instead, created if missing: the same as `-o <dir>/<target name>-mosaic.dzi` (not with `-o`)',
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
    kind: 'integer',
    flags: '--tile-size <px>',
    help: 'output tile edge in pixels, at most the indexed tile size (tiles are reduced by area averaging)',
    min: 1,
    max: MAX_TILE_SIZE,
    defaultText: 'the indexed size',
  },
  maxPixels: {
    key: 'maxPixels',
    kind: 'integer',
    flags: '--max-pixels <n>',
    help: 'refuse to write a single image file with more pixels than this (deep zoom has no limit)',
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    default: DEFAULT_MAX_PIXELS,
  },
  metric: {
    key: 'metric',
    kind: 'choice',
    flags: '--metric <metric>',
    help: "`lab`: perceptual (CIELAB colour and 2x2 structure, CIEDE2000); `rgb`: pycollage's mean RGB, euclidean",
    choices: ['lab', 'rgb'],
    default: 'lab',
  },
  mirror: {
    key: 'mirror',
    kind: 'switch',
    flags: '--no-mirror',
    help: 'never mirror tiles left-right (by default a tile may be mirrored where that fits the target better)',
    default: true,
  },
  crops: {
    key: 'crops',
    kind: 'switch',
    flags: '--no-crops',
    help: "use only each picture's centre square, not the corner crops the index holds (`--metric rgb` always does)",
    default: true,
  },
  minDistance: {
    key: 'minDistance',
    kind: 'number',
    flags: '--min-distance <cells>',
    help: 'no picture repeated within this distance between cell centres, in cells: 1 = not side by side, 1.5 = nor diagonally, 0 = no rule; crops of one picture count as the same picture',
    min: 0,
    max: 100,
    default: 1.5,
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
    help: 'use each picture at most once (= `--max-uses 1`); fails at once, with the numbers, when the index has fewer pictures than the grid has cells',
  },
  seed: {
    key: 'seed',
    kind: 'integer',
    flags: '--seed <n>',
    help: 'seed of the fill order: the same seed always gives the same mosaic',
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
  json: { ...json, help: 'print one JSON object on stdout instead of the output path (see below)' },
  measure: {
    key: 'measure',
    kind: 'switch',
    flags: '--no-measure',
    help: 'leave `deltaE` out of `--json` (measuring takes a third of a 2-gigapixel build)',
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
