import { TsmosaicError, UsageError } from '../errors.js';
import { FileProblem, readRegularFile } from '../files/read.js';
import type { PictureRules } from '../match/budgeted-placement.js';
import { quote } from '../text.js';

/** Names an unknown-names note shows at most. */
const EXAMPLES = 5;
/** Largest list file read: a million paths of 60 bytes. */
const MAX_LIST_BYTES = 64 * 1024 * 1024;

/** The pictures a build must and must not use, from --use-all, --include and --exclude. */
export interface PictureChoice extends PictureRules {
  /** Pictures that may be used at all. */
  usable: number;
  /** Pictures that must be used. */
  requiredCount: number;
}

/**
 * The pictures `--use-all`, `--include <file>` and `--exclude <file>` ask for, by their index
 * `sources` (paths relative to their collection folder, in picture order). Each list file holds a
 * path or glob a line (`*` and `?` within a folder, `**` across folders, `[...]`); blank lines and
 * lines starting with `#` are skipped. Names that match no picture are told to `onNote`.
 * @throws {TsmosaicError} for a list file that cannot be read
 * @throws {UsageError} for a list with no names, or pictures both included and excluded
 */
export async function choosePictures(
  choice: { useAll: boolean; include: string | undefined; exclude: string | undefined },
  sources: readonly string[],
  onNote?: (message: string) => void,
): Promise<PictureChoice> {
  const [included, excluded] = await Promise.all(
    (['include', 'exclude'] as const).map(async (option) => {
      const file = choice[option];
      return file === undefined ? undefined : matchPictures(`--${option}`, await readList(`--${option}`, file), sources, onNote);
    }),
  );
  const excludedSet = new Set(excluded);
  const both = (included ?? []).filter((picture) => excludedSet.has(picture));
  if (both.length > 0) {
    throw new UsageError(
      `${both.length} picture${both.length === 1 ? ' is' : 's are'} both in --include and --exclude, e.g. ${both
        .slice(0, EXAMPLES)
        .map((picture) => quote(sources[picture]!))
        .join(', ')}`,
    );
  }
  const usable = sources.length - excludedSet.size;
  const rules: PictureChoice = { usable, requiredCount: choice.useAll ? usable : (included?.length ?? 0) };
  if (choice.useAll) rules.required = 'all';
  else if (included) rules.required = Uint32Array.from(included);
  if (excluded) rules.excluded = Uint32Array.from(excluded);
  return rules;
}

/** The names of a list file: its lines, less blank ones and comments. */
async function readList(option: string, file: string): Promise<string[]> {
  let text: string;
  try {
    text = (await readRegularFile(file, { maxBytes: MAX_LIST_BYTES })).toString('utf8');
  } catch (error) {
    if (!(error instanceof FileProblem)) throw error;
    throw new TsmosaicError(`the ${option} list ${quote(file)} ${error.message}`, 1, { cause: error });
  }
  const names = text
    .split('\n')
    .map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line))
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  if (names.length === 0) throw new UsageError(`the ${option} list ${quote(file)} names no picture`);
  return names;
}

/** The pictures (ids, ascending) any of `names` matches; names matching none are told to `onNote`. */
function matchPictures(option: string, names: readonly string[], sources: readonly string[], onNote?: (message: string) => void): number[] {
  const byPath = new Map<string, number[]>();
  sources.forEach((source, picture) => {
    const same = byPath.get(source);
    if (same) same.push(picture);
    else byPath.set(source, [picture]);
  });
  const matched = new Set<number>();
  const unknown: string[] = [];
  for (const name of names) {
    const pattern = globPattern(name);
    const found = pattern ? sources.flatMap((source, picture) => (pattern.test(source) ? [picture] : [])) : (byPath.get(name) ?? []);
    if (found.length === 0) unknown.push(name);
    for (const picture of found) matched.add(picture);
  }
  if (unknown.length > 0) {
    const examples = unknown.slice(0, EXAMPLES).map(quote).join(', ');
    onNote?.(
      `${unknown.length} of the ${names.length} names in the ${option} list match no picture of the index: ${examples}${unknown.length > EXAMPLES ? ', ...' : ''}`,
    );
  }
  return [...matched].sort((a, b) => a - b);
}

/**
 * The regular expression of a glob, or undefined for a plain path: `*` and `?` match within a
 * folder, `**` across folders (`a/**\/b` also matches `a/b`), `[...]` one of its characters (`[!...]`
 * none of them); a backslash takes the next character as it is.
 */
export function globPattern(glob: string): RegExp | undefined {
  if (!/[*?[]/.test(glob)) return undefined;
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '\\' && i + 1 < glob.length) {
      source += escapeRegExp(glob[++i]!);
    } else if (char === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      const body = glob.slice(i + 1, close);
      const negated = body.startsWith('!') || body.startsWith('^');
      const chars = (negated ? body.slice(1) : body).replace(/[\\\]^]/g, '\\$&');
      source += negated ? `[^/${chars}]` : `[${chars}]`;
      i = close;
    } else {
      source += escapeRegExp(char);
    }
  }
  return new RegExp(`^${source}$`, 'u');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
