import { UsageError } from '../errors.js';

/**
 * Checks a numeric option of the public API.
 * @throws {UsageError} e.g. `Expected integer between 1 and 1024 for tileSize but received 1.5`
 */
export function expectInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
    throw new UsageError(`Expected integer ${range} for ${name} but received ${String(value)}`);
  }
  return value;
}

/** Checks a numeric option of the public API that may have a fraction. */
export function expectNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`Expected a number between ${min} and ${max} for ${name} but received ${String(value)}`);
  }
  return value;
}

/** Checks a string option of the public API against its allowed values. */
export function expectOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`Expected one of ${allowed.join(', ')} for ${name} but received ${String(value)}`);
  }
  return value as T;
}

/** Largest tile edge accepted, in pixels. */
export const MAX_TILE_SIZE = 1024;
