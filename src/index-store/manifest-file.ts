import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { INDEX_FILES, SOURCES_FILE, type IndexManifest, type TileSource } from './format.js';

/** A tile's line in SOURCES_FILE: as it is copied into the manifest's `tiles` list. */
export function sourceRecord(source: TileSource): string {
  return `  ${JSON.stringify(source)},\n`;
}

/** The first `count` tiles' sources recorded in a temporary folder's SOURCES_FILE, one by one. */
export async function* readSources(folder: string, count: number): AsyncGenerator<TileSource> {
  if (count === 0) return;
  const lines = createInterface({ input: createReadStream(path.join(folder, SOURCES_FILE)), crlfDelay: Infinity });
  let read = 0;
  try {
    for await (const line of lines) {
      yield JSON.parse(line.slice(0, line.lastIndexOf(','))) as TileSource;
      if (++read === count) return;
    }
  } finally {
    lines.close();
  }
  throw new Error(`${SOURCES_FILE} has ${read} records, expected ${count}`);
}

/** Bytes copied at a time from SOURCES_FILE into the manifest. */
const COPY_BYTES = 256 * 1024;

/**
 * Writes manifest.json: `header`, then its `tiles` copied byte for byte from the folder's
 * SOURCES_FILE (one tile per line) through one small buffer, so no list of every tile is built in
 * memory.
 */
export async function writeManifest(folder: string, header: Omit<IndexManifest, 'tiles'>): Promise<void> {
  const sources = await open(path.join(folder, SOURCES_FILE), 'r');
  const manifest = await open(path.join(folder, INDEX_FILES.manifest), 'w');
  try {
    // Every record ends with ",\n": the last one's comma is left out.
    const length = Math.max(0, (await sources.stat()).size - 2);
    await manifest.write(JSON.stringify(header, null, 1).replace(/\n\}$/, ',\n "tiles": [\n'));
    const buffer = Buffer.alloc(COPY_BYTES);
    for (let position = 0; position < length;) {
      const { bytesRead } = await sources.read(buffer, 0, Math.min(buffer.length, length - position), position);
      if (bytesRead === 0) throw new Error(`${SOURCES_FILE} is shorter than expected`);
      await manifest.write(buffer, 0, bytesRead);
      position += bytesRead;
    }
    await manifest.write('\n ]\n}\n');
  } finally {
    await sources.close();
    await manifest.close();
  }
}
