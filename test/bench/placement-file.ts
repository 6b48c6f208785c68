/**
 * The placement file formats.ts saves and formats-child.ts reads: columns and rows (u32 LE each),
 * then a u16 tile id a cell and a byte a cell, 1 where the tile is mirrored. It imports nothing of
 * tsmosaic's but types: formats.ts compiles it beside the child (see compileChild).
 */
import { readFile } from 'node:fs/promises';
import type { MosaicPlan } from '../../src/render/render-region.js';

export async function readPlacement(file: string): Promise<MosaicPlan> {
  const bytes = await readFile(file);
  const columns = bytes.readUInt32LE(0);
  const rows = bytes.readUInt32LE(4);
  const cells = columns * rows;
  if (bytes.length !== 8 + cells * 3) throw new Error(`${file}: ${bytes.length} bytes for ${columns} x ${rows} cells`);
  const tiles = new Uint16Array(cells);
  for (let cell = 0; cell < cells; cell++) tiles[cell] = bytes.readUInt16LE(8 + cell * 2);
  return { columns, rows, tiles, mirrored: bytes.subarray(8 + cells * 2).slice() };
}
