import { quote } from '../text.js';
import type { INFO_OPTIONS } from '../options/options.js';
import type { OptionValues } from '../options/schema.js';
import { describeIndex } from '../index-store/describe-index.js';
import { printResult } from './output.js';

/** The options of `tsmosaic info` as parsed. */
export type InfoFlags = OptionValues<typeof INFO_OPTIONS>;

/** `tsmosaic info <index>`: what an index holds, as aligned lines or one JSON object. */
export async function runInfo(index: string, flags: InfoFlags): Promise<void> {
  const info = await describeIndex(index);
  const { kind, grid, dimensions } = info.features;
  const lines: [string, string][] = [
    ['index', quote(info.index)],
    ['format', `${info.format} version ${info.version}`],
    ['tiles', String(info.tiles)],
    [
      'tile size',
      `${info.tileWidth === info.tileHeight ? info.tileWidth : `${info.tileWidth}x${info.tileHeight}`} px, fit ${info.fit}, ${info.crops === 1 ? 'centre square only' : `${info.crops} crops per picture`}`,
    ],
    ['features', `${kind}: ${grid}x${grid} mean colours, ${dimensions} values per tile`],
    ['hnsw', info.ann.shards === 1 ? '1 file' : `${info.ann.shards} shards of up to ${info.ann.shardTiles} tiles`],
    ...info.sources.map(({ folder, tiles }, i): [string, string] => [i === 0 ? 'sources' : '', `${quote(folder)} (${tiles} tiles)`]),
    ['size on disk', `${formatBytes(info.bytes)} (${info.bytes} bytes)`],
    ['created', quote(info.createdAt)],
  ];
  printResult(
    flags.json,
    info,
    lines.map(([label, value]) => `${label.padEnd(14)}${value}`),
  );
}

function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
