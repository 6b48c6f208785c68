import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { CROP_COUNTS } from '../tiles/features.js';
import { integerChoice, integerOption, numberOption, shardOption } from './parse.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * The commander program. Command handlers are imported only when their command runs, so `--help`
 * and `--version` load neither sharp nor hnswlib.
 */
export function createProgram(): Command {
  const program = new Command('tsmosaic')
    .description('Photomosaics: index a folder of pictures, then rebuild any image out of them.')
    .version(version, '-V, --version')
    .exitOverride()
    .showSuggestionAfterError();

  program
    .command('process-collection')
    .description('scan a folder of pictures and write an index folder of tiles, colour features and a nearest-neighbour index')
    .argument('<collection...>', 'one or more folders of reference images (searched recursively)')
    .option('-o, --out <dir>', 'index folder to write (default: "index" beside the first collection folder)')
    .option('-s, --tile-size <px>', 'edge of the stored square tiles in pixels', integerOption(1, 1024), 20)
    .addOption(new Option('--fit <mode>', 'how non-square pictures become square tiles').choices(['crop', 'stretch']).default('crop'))
    .option(
      '--crops <n>',
      'tiles cut from each picture: 5 = the centre square and four corner squares, for build to choose from; 1 = the centre square only (choices: 1, 5)',
      integerChoice(CROP_COUNTS),
      5,
    )
    .option('--rebuild', 'decode every file, even where the existing index has its tile')
    .option('--shard <i/n>', 'process only part i of n of the files (a fixed split by file path), to merge later', shardOption)
    .option('--json', 'print a JSON summary on stdout instead of the index path')
    .option('-q, --quiet', 'no progress bar, warnings or notes on stderr')
    .action(async (collections: string[], flags) => {
      const { runProcessCollection } = await import('./process-collection-command.js');
      await runProcessCollection(collections, flags);
    });

  program
    .command('build')
    .description('rebuild a target image out of the tiles of an index')
    .argument('<index>', 'index folder written by process-collection')
    .argument('<target>', 'the picture to rebuild')
    .option(
      '-o, --out <file>',
      'output image; the extension picks the format: png, jpg, jpeg, webp, tif, tiff, avif, or dzi for a Deep Zoom pyramid with an index.html viewer beside it (default: <target name>-mosaic.png)',
    )
    .option(
      '--deepzoom <dir>',
      'write a Deep Zoom pyramid and its index.html viewer into this folder (created if missing) instead: <dir>/<target name>-mosaic.dzi',
    )
    .option(
      '--tiles-across <n>',
      'grid width in tiles; rows follow the target aspect (default: one tile per target pixel, at most 200)',
      integerOption(1),
    )
    .option('--tile-size <px>', 'output tile edge in pixels, at most the indexed size (default: the indexed size)', integerOption(1, 1024))
    .option(
      '--max-pixels <n>',
      'refuse to write a single image with more pixels than this (deep zoom has no limit)',
      integerOption(1),
      1_000_000_000,
    )
    .addOption(
      new Option('--metric <metric>', 'lab: perceptual colour and structure; rgb: mean RGB only, as pycollage')
        .choices(['lab', 'rgb'])
        .default('lab'),
    )
    .option('--no-mirror', 'never mirror tiles left-right (by default a mirrored tile is used where it fits better)')
    .option('--no-crops', 'use only the centre square of each picture, not the corner crops the index holds (lab metric; rgb always does)')
    .option(
      '--min-distance <cells>',
      'no picture repeated within this distance between cell centres: 1 = not side by side, 1.5 = not side by side or diagonally, 0 = repeats allowed (default: 1.5)',
      numberOption(0, 1000),
    )
    .option('--max-uses <k>', 'use each tile at most k times', integerOption(1))
    .option('--unique', 'use each tile at most once (= --max-uses 1)')
    .option('--seed <n>', 'seed of the fill order: the same seed gives the same mosaic', integerOption(0, 0xffffffff), 1)
    .option('--blend <percent>', "tint each tile toward its cell's target colour, 0-100", integerOption(0, 100), 0)
    .option('--plan <file>', 'also write the placement as JSON: { columns, rows, cells: [{ tile, source }] }')
    .option('--json', 'print a JSON summary on stdout instead of the output path, with the fidelity measure deltaE')
    .option('--no-measure', 'leave deltaE out of --json (saves the measuring time on huge mosaics)')
    .option('-q, --quiet', 'no progress bar or notes on stderr')
    .action(async (index: string, target: string, flags) => {
      const { runBuild } = await import('./build-command.js');
      await runBuild(index, target, flags);
    });

  program
    .command('merge')
    .description('merge indexes built separately (e.g. with --shard) into one; they must have the same tile size, fit, crops and features')
    .argument('<index...>', 'index folders to merge, in this order')
    .requiredOption('-o, --out <dir>', 'index folder to write')
    .option('--json', 'print a JSON summary on stdout instead of the index path')
    .option('-q, --quiet', 'no progress bar or notes on stderr')
    .action(async (indexes: string[], flags) => {
      const { runMerge } = await import('./merge-command.js');
      await runMerge(indexes, flags);
    });

  program
    .command('info')
    .description('tell what an index holds: tiles, tile size, features, sources, size on disk, format version')
    .argument('<index>', 'index folder written by process-collection or merge')
    .option('--json', 'print one JSON object instead of aligned lines')
    .action(async (index: string, flags) => {
      const { runInfo } = await import('./info-command.js');
      await runInfo(index, flags);
    });

  return program;
}
