import { InvalidArgumentError } from 'commander';

/** A commander argument parser for integers in [min, max]; commander names the option in its error. */
export function integerOption(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const number = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(number) || number < min || number > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
      throw new InvalidArgumentError(`Expected an integer ${range}.`);
    }
    return number;
  };
}

/** A commander argument parser for decimal numbers in [min, max]. */
export function numberOption(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const number = Number(value);
    if (!/^\s*\d+(\.\d+)?\s*$/.test(value) || number < min || number > max)
      throw new InvalidArgumentError(`Expected a number between ${min} and ${max}.`);
    return number;
  };
}

/** A commander argument parser for one of a few integers. */
export function integerChoice(allowed: readonly number[]): (value: string) => number {
  return (value: string) => {
    const number = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !allowed.includes(number))
      throw new InvalidArgumentError(`Allowed choices are ${allowed.join(', ')}.`);
    return number;
  };
}

/** A commander argument parser for `--shard i/n`: part i (1-based) of n. */
export function shardOption(value: string): { index: number; count: number } {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || count > 65536 || index < 1 || index > count) {
    throw new InvalidArgumentError('Expected i/n with 1 <= i <= n <= 65536, e.g. 2/4.');
  }
  return { index, count };
}
