import { safeJson, terminalSafe } from '../text.js';

/** `value` rounded to `digits` decimals, for summaries. */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Seconds rounded to milliseconds for summaries. */
export function roundSeconds(seconds: number): number {
  return round(seconds, 3);
}

/**
 * Writes a result to stdout: one JSON object with `--json`, else plain lines, each with any control
 * character escaped (a path holding one is printed escaped; `--json` gives it exactly).
 */
export function printResult(json: boolean | undefined, summary: object, lines: string | string[]): void {
  const text = json ? safeJson(summary) : (typeof lines === 'string' ? [lines] : lines).map(terminalSafe).join('\n');
  process.stdout.write(`${text}\n`);
}
