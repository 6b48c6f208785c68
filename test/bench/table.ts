import type { Series } from './measure.js';

/** A goal for a ratio: at most `max`, or at least `min`. */
export type Target = { max: number } | { min: number };

/** A markdown table, one string per line. */
export function markdownTable(header: string[], rows: string[][]): string[] {
  const line = (cells: string[]): string => `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)];
}

/**
 * The ratio, target and PASS/MISS cells of a row. The verdict is on wall time; the CPU-time ratio
 * is shown beside it because it moves less when other work shares the machine.
 */
export function ratioCell(wallRatio: number, cpuRatio: number | undefined, of: string, target: Target): [string, string, string] {
  const pass = 'max' in target ? wallRatio <= target.max : wallRatio >= target.min;
  const goal = 'max' in target ? `≤ ${target.max}x` : `≥ ${target.min}x`;
  const cpu = cpuRatio === undefined ? '' : ` (CPU ${cpuRatio.toFixed(2)}x)`;
  return [`${wallRatio.toFixed(2)}x ${of}${cpu}`, goal, pass ? 'PASS' : 'MISS'];
}

/** The median wall time of a series with its range: `12.34 (11.90–13.02)`. */
export function wallCell(series: Pick<Series, 'wallSeconds' | 'minWallSeconds' | 'maxWallSeconds'>): string {
  return `${seconds(series.wallSeconds)} (${seconds(series.minWallSeconds)}–${seconds(series.maxWallSeconds)})`;
}

/** Seconds, with two decimals unless told. */
export function seconds(value: number, digits = 2): string {
  return value.toFixed(digits);
}

/** `part` as a percentage of `whole`. */
export function share(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(0)}%`;
}
