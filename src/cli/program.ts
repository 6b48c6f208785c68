import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BUILD_OPTIONS, INFO_OPTIONS, MERGE_OPTIONS, PROCESS_COLLECTION_OPTIONS } from '../options/options.js';
import type { MergeFlags } from './merge-command.js';
import { expectation, parseOptionText, type OptionSpec, type OptionValues } from '../options/schema.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** A commander option made from its spec: the same parsing, limits, default and help as the API's. */
export function commanderOption(spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.help.replaceAll('`', ''));
  if (spec.kind !== 'switch') {
    option.argParser((text: string) => {
      const value = parseOptionText(spec, text);
      if (value === undefined) throw new InvalidArgumentError(`Expected ${expectation(spec)}.`);
      return value;
    });
  }
  const shown = spec.defaultText ?? (spec.kind !== 'switch' && spec.default !== undefined ? String(spec.default) : undefined);
  if (shown !== undefined) option.description = `${option.description} (default: ${shown.replaceAll('`', '')})`;
  if (spec.required) option.makeOptionMandatory();
  return option;
}

function addOptions(command: Command, specs: Record<string, OptionSpec>): Command {
  for (const spec of Object.values(specs)) command.addOption(commanderOption(spec));
  return command;
}

/** The parsed options of `command`, under the API's names (`--deepzoom` is `deepZoom`). */
function valuesOf<Specs extends Record<string, OptionSpec>>(command: Command, specs: Specs): OptionValues<Specs> {
  const parsed = command.opts();
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const value = parsed[new Option(spec.flags).attributeName()];
    if (value !== undefined) values[key] = value;
  }
  // Parsed by commanderOption with these very specs.
  return values as OptionValues<Specs>;
}

/**
 * The commander program. Command handlers are imported only when their command runs, so `--help`
 * and `--version` load neither sharp nor hnswlib. Options come from src/options/options.ts.
 */
export function createProgram(): Command {
  const program = new Command('tsmosaic')
    .description('Photomosaics: index a folder of pictures, then rebuild any image out of them.')
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({ outputError: (message, write) => write(`tsmosaic: ${message.replace(/^error: /, '')}`) })
    .showSuggestionAfterError();

  addOptions(
    program
      .command('process-collection')
      .description('scan a folder of pictures and write an index folder of tiles, colour features and a nearest-neighbour index')
      .argument('<collection...>', 'one or more folders of reference images (searched recursively)'),
    PROCESS_COLLECTION_OPTIONS,
  ).action(async (collections: string[], _flags: unknown, command: Command) => {
    const { runProcessCollection } = await import('./process-collection-command.js');
    await runProcessCollection(collections, valuesOf(command, PROCESS_COLLECTION_OPTIONS));
  });

  addOptions(
    program
      .command('build')
      .description('rebuild a target image out of the tiles of an index')
      .argument('<index>', 'index folder written by process-collection')
      .argument('<target>', 'the picture to rebuild'),
    BUILD_OPTIONS,
  ).action(async (index: string, target: string, _flags: unknown, command: Command) => {
    const { runBuild } = await import('./build-command.js');
    await runBuild(index, target, valuesOf(command, BUILD_OPTIONS));
  });

  addOptions(
    program
      .command('merge')
      .description(
        'merge indexes built separately (e.g. with --shard) into one; they must have the same tile size, fit, crops and features',
      )
      .argument('<index...>', 'index folders to merge, in this order'),
    MERGE_OPTIONS,
  ).action(async (indexes: string[], _flags: unknown, command: Command) => {
    const { runMerge } = await import('./merge-command.js');
    // commander has required --out.
    await runMerge(indexes, valuesOf(command, MERGE_OPTIONS) as MergeFlags);
  });

  addOptions(
    program
      .command('info')
      .description('tell what an index holds: tiles, tile size, features, sources, size on disk, format version')
      .argument('<index>', 'index folder written by process-collection or merge'),
    INFO_OPTIONS,
  ).action(async (index: string, _flags: unknown, command: Command) => {
    const { runInfo } = await import('./info-command.js');
    await runInfo(index, valuesOf(command, INFO_OPTIONS));
  });

  return program;
}
