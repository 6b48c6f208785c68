import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUILD_OPTIONS, INFO_OPTIONS, MERGE_OPTIONS, PROCESS_COLLECTION_OPTIONS } from '../../src/options/options.js';
import type { OptionSpec } from '../../src/options/schema.js';
import { ROOT } from '../helpers.js';

/**
 * README.md's option tables, generated from the option schema (src/options/options.ts) between
 * `<!-- options:<command> -->` and `<!-- /options:<command> -->`. `npx tsx test/docs/option-tables.ts`
 * rewrites them; test/readme.test.ts fails when they differ from the schema.
 */
export const COMMANDS: Record<string, Record<string, OptionSpec>> = {
  'process-collection': PROCESS_COLLECTION_OPTIONS,
  build: BUILD_OPTIONS,
  merge: MERGE_OPTIONS,
  info: INFO_OPTIONS,
};

export const README = path.join(ROOT, 'README.md');

/** The markdown table of a command's options. */
export function optionTable(specs: Record<string, OptionSpec>): string {
  const rows = Object.values(specs).map((spec) => {
    const flags = spec.flags
      .split(', ')
      .map((flag) => `\`${flag}\``)
      .join(', ');
    const values =
      spec.kind === 'integer' || spec.kind === 'number'
        ? `${spec.kind === 'integer' ? 'integer' : 'number'} ${spec.max === Number.MAX_SAFE_INTEGER ? `≥ ${spec.min}` : `${spec.min} to ${spec.max}`}`
        : spec.kind === 'choice'
          ? spec.choices.map((choice) => `\`${choice}\``).join(', ')
          : spec.kind === 'parsed'
            ? spec.expected
            : '';
    const fallback = spec.required
      ? 'required'
      : (spec.defaultText ?? (spec.kind === 'switch' || spec.default === undefined ? '' : `\`${spec.default}\``));
    return `| ${flags} | ${spec.help} | ${values} | ${fallback} |`;
  });
  return ['| option | meaning | values | default |', '|---|---|---|---|', ...rows].join('\n');
}

/** `text` with every command's table replaced by the one the schema gives. */
export function withTables(text: string): string {
  let result = text;
  for (const [command, specs] of Object.entries(COMMANDS)) {
    const start = `<!-- options:${command} -->`;
    const end = `<!-- /options:${command} -->`;
    const from = result.indexOf(start);
    const to = result.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md lacks the markers ${start} ... ${end}`);
    result = `${result.slice(0, from + start.length)}\n${optionTable(specs)}\n${result.slice(to)}`;
  }
  return result;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  await writeFile(README, withTables(await readFile(README, 'utf8')));
}
