/** `value` rounded to `digits` decimals, for summaries. */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Seconds rounded to milliseconds for summaries. */
export function roundSeconds(seconds: number): number {
  return round(seconds, 3);
}

/** Writes a result to stdout: one JSON object with `--json`, else one plain line. */
export function printResult(json: boolean | undefined, summary: object, line: string): void {
  process.stdout.write(`${json ? JSON.stringify(summary) : line}\n`);
}
