/** Seconds rounded to milliseconds for summaries. */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Writes a result to stdout: one JSON object with `--json`, else one plain line. */
export function printResult(json: boolean | undefined, summary: object, line: string): void {
  process.stdout.write(`${json ? JSON.stringify(summary) : line}\n`);
}
