import { UsageError } from '../errors.js';
import { quote } from '../text.js';

/**
 * Every user-facing option, defined once: its flags, what it takes, its limits, its default and its
 * help. The CLI builds its commander options from these, the API validates with them (`checkOption`)
 * and README.md's option tables are generated from them (a test fails when they disagree).
 */
export type OptionSpec = IntegerSpec | NumberSpec | ChoiceSpec | SwitchSpec | TextSpec | ParsedSpec;

/** The type of an option's value. */
export type OptionValue<Spec> = Spec extends { kind: 'integer' | 'number' }
  ? number
  : Spec extends { kind: 'choice'; choices: readonly (infer Choice)[] }
    ? Choice
    : Spec extends { kind: 'switch' }
      ? boolean
      : Spec extends { kind: 'text' }
        ? string
        : Spec extends ParsedSpec<infer Value>
          ? Value
          : never;

/** The options of a command as parsed, under the API's names. */
export type OptionValues<Specs> = { [Key in keyof Specs]?: OptionValue<Specs[Key]> };

interface BaseSpec {
  /** The API's name for it (`tilesAcross`), used in API errors. */
  key: string;
  /** commander's flags: `-s, --tile-size <px>`, `--no-mirror`. */
  flags: string;
  /** One or two sentences, for `--help` and the README. */
  help: string;
  /** How the default reads in the README and `--help` when it is not a plain value (e.g. "the indexed size"). */
  defaultText?: string;
  /** commander's requiredOption. */
  required?: boolean;
}

export interface IntegerSpec extends BaseSpec {
  kind: 'integer';
  min: number;
  max: number;
  default?: number;
}

export interface NumberSpec extends BaseSpec {
  kind: 'number';
  min: number;
  max: number;
  default?: number;
}

export interface ChoiceSpec extends BaseSpec {
  kind: 'choice';
  choices: readonly (string | number)[];
  default?: string | number;
}

/** A flag without a value (`--json`), or a `--no-x` flag whose default is true. */
export interface SwitchSpec extends BaseSpec {
  kind: 'switch';
  default?: boolean;
}

/** A path or other free text. */
export interface TextSpec extends BaseSpec {
  kind: 'text';
  default?: string;
}

/** A value with a syntax of its own (`2/4`), parsed from the command line by `parse`. */
export interface ParsedSpec<Value = unknown> extends BaseSpec {
  kind: 'parsed';
  /** What is expected, after "Expected": `i/n with 1 <= i <= n <= 65536, e.g. 2/4`. */
  expected: string;
  /** The value of a command-line string, or undefined when it is not valid. */
  parse(text: string): Value | undefined;
  /** Whether an API value is valid. */
  valid(value: unknown): value is Value;
  default?: Value;
}

/** What an option takes, as it reads after "Expected" in errors: `an integer from 1 to 1024`. */
export function expectation(spec: OptionSpec): string {
  switch (spec.kind) {
    case 'integer':
      return spec.max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${spec.min}` : `an integer from ${spec.min} to ${spec.max}`;
    case 'number':
      return `a number from ${spec.min} to ${spec.max}`;
    case 'choice':
      return `one of ${spec.choices.join(', ')}`;
    case 'switch':
      return 'true or false';
    case 'text':
      return 'a string';
    case 'parsed':
      return spec.expected;
  }
}

/** Whether an API value fits the option (undefined never does: the caller applies defaults). */
function fits(spec: OptionSpec, value: unknown): boolean {
  switch (spec.kind) {
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= spec.min && value <= spec.max;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && value >= spec.min && value <= spec.max;
    case 'choice':
      return spec.choices.includes(value as string | number);
    case 'switch':
      return typeof value === 'boolean';
    case 'text':
      return typeof value === 'string' && value.length > 0;
    case 'parsed':
      return spec.valid(value);
  }
}

/**
 * An API option's value, or its default when undefined.
 * @throws {UsageError} `Expected an integer from 1 to 1024 for tileSize but received 1.5`
 */
export function checkOption<Spec extends OptionSpec>(
  spec: Spec,
  value: unknown,
): Spec extends { default: unknown } ? OptionValue<Spec> : OptionValue<Spec> | undefined;
export function checkOption(spec: OptionSpec, value: unknown): unknown {
  if (value === undefined) return spec.default;
  if (!fits(spec, value)) throw new UsageError(`Expected ${expectation(spec)} for ${spec.key} but received ${describeValue(value)}`);
  return value;
}

/**
 * The value of a command-line string for the option, or undefined when it is not valid (the CLI
 * then reports `expectation(spec)`).
 */
export function parseOptionText(spec: OptionSpec, text: string): unknown {
  const trimmed = text.trim();
  switch (spec.kind) {
    case 'integer':
    case 'number': {
      const pattern = spec.kind === 'integer' ? /^\d+$/ : /^\d+(\.\d+)?$/;
      if (!pattern.test(trimmed)) return undefined;
      const value = Number(trimmed);
      return fits(spec, value) ? value : undefined;
    }
    case 'choice': {
      const value = spec.choices.find((choice) => String(choice) === trimmed);
      return value;
    }
    case 'switch':
      return true;
    case 'text':
      return text.length > 0 ? text : undefined;
    case 'parsed':
      return spec.parse(text);
  }
}

/** A value as an error shows it: strings quoted with control characters escaped, numbers as they are. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return `a value of type ${Array.isArray(value) ? 'array' : typeof value}`;
}
