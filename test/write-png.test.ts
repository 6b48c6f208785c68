import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { seededRandom } from '../src/match/random.js';
import { subFilter, writePng } from '../src/render/write-png.js';
import { decode, tempDir } from './helpers.js';

const root = await tempDir();

function randomBytes(length: number, seed: number): Buffer {
  const next = seededRandom(seed);
  return Buffer.from(Array.from({ length }, () => Math.floor(next() * 256)));
}

/** The Adler-32 zlib computes: the end of a zlib stream of `bytes`, stored. */
function zlibAdler32(bytes: Uint8Array): number {
  const stored = zlib.deflateSync(bytes, { level: 0 });
  return stored.readUInt32BE(stored.length - 4);
}

test('subFilter filters rows by Sub and sums zlib’s Adler-32 of them, four bytes at a time or one', () => {
  // 16 px rows (48 bytes, whole words), rows of 1 to 3 bytes past whole words (7, 2 and 1 px, and
  // 1365 px as a print's 7087 px rows); aligned pixels, and pixels one byte off.
  for (const [width, offset] of [
    [16, 0],
    [16, 1],
    [7, 0],
    [7, 3],
    [2, 0],
    [1, 0],
    [1365, 0],
  ] as const) {
    const rows = 9;
    const rowBytes = width * 3;
    const memory = randomBytes(rows * rowBytes + offset, width + offset);
    const pixels = Buffer.from(memory.buffer, memory.byteOffset + offset, rows * rowBytes);
    // All 255s then all 0s in a row: the largest differences both ways.
    pixels.fill(255, 0, Math.floor(rowBytes / 2));
    pixels.fill(0, Math.floor(rowBytes / 2), rowBytes);
    const expected = Buffer.alloc(rows * (rowBytes + 1));
    for (let y = 0; y < rows; y++) {
      expected[y * (rowBytes + 1)] = 1;
      for (let i = 0; i < rowBytes; i++)
        expected[y * (rowBytes + 1) + 1 + i] = (pixels[y * rowBytes + i]! - (i >= 3 ? pixels[y * rowBytes + i - 3]! : 0) + 256) % 256;
    }
    const filtered = Buffer.alloc(expected.length);
    const half = Math.floor(rows / 2) * (rowBytes + 1);
    // Continued from the first rows' Adler-32, as band after band.
    const adler = subFilter(
      pixels.subarray((half / (rowBytes + 1)) * rowBytes),
      filtered.subarray(half),
      rows - half / (rowBytes + 1),
      rowBytes,
      subFilter(pixels, filtered, half / (rowBytes + 1), rowBytes, 1),
    );
    assert.ok(filtered.equals(expected), `${width} px, offset ${offset}`);
    assert.equal(adler, zlibAdler32(expected), `Adler-32, ${width} px, offset ${offset}`);
  }
});

/** Writes `pixels` through writePng, handing them out band by band as the renderer would. */
async function roundTrip(name: string, pixels: Buffer, width: number, height: number): Promise<{ file: string; bands: number[] }> {
  const file = path.join(root, name);
  const bands: number[] = [];
  await writePng(file, width, height, (top, rows) => {
    bands.push(top);
    return pixels.subarray(top * width * 3, (top + rows) * width * 3);
  });
  return { file, bands };
}

for (const [width, height] of [
  [1, 1],
  [7, 3],
  // 537 rows (2 MiB) a band: five bands, more than are deflated at once.
  [1300, 2500],
  // Rows of over 2^18 words, within which the Adler-32 sums are reduced.
  [400_000, 2],
] as const) {
  test(`a ${width}x${height} PNG decodes to the exact pixels it was given`, async () => {
    const pixels = randomBytes(width * height * 3, width + height);
    // Smooth runs too, so that deflate finds matches across rows of a band.
    pixels.fill(90, 0, Math.floor(pixels.length / 3));
    const { file, bands } = await roundTrip(`exact-${width}x${height}.png`, pixels, width, height);
    if (width === 1300) assert.ok(bands.length > 4, `${bands.length} bands`);
    assert.deepEqual(
      bands,
      [...bands].sort((a, b) => a - b),
      'bands are rendered top to bottom',
    );
    const decoded = await decode(file);
    assert.deepEqual([decoded.width, decoded.height], [width, height]);
    assert.ok(decoded.data.equals(pixels));
    const metadata = await sharp(file).metadata();
    assert.deepEqual([metadata.format, metadata.channels, metadata.depth], ['png', 3, 'uchar']);
  });
}

test('every chunk’s CRC and the zlib stream’s Adler-32 are right (the Adler-32 checked by zlib itself)', async () => {
  const width = 900;
  const height = 1700;
  const pixels = randomBytes(width * height * 3, 9);
  const { file } = await roundTrip('checked.png', pixels, width, height);
  const png = await readFile(file);
  const types: string[] = [];
  const data: Buffer[] = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + length);
    assert.equal(png.readUInt32BE(at + 8 + length), zlib.crc32(png.subarray(at + 4, at + 8 + length)) >>> 0, `CRC of a ${type} chunk`);
    // Every PNG's IEND chunk carries the same CRC, known without computing one.
    if (type === 'IEND') assert.equal(png.readUInt32BE(at + 8), 0xae426082);
    types.push(type);
    if (type === 'IDAT') data.push(body);
    at += 12 + length;
  }
  assert.equal(types[0], 'IHDR');
  assert.equal(types.at(-1), 'IEND');
  // inflateSync checks the Adler-32 at the end of the stream.
  const filtered = zlib.inflateSync(Buffer.concat(data));
  assert.equal(filtered.length, height * (width * 3 + 1));
});

test('an aborted write stops between bands with the signal’s reason', async () => {
  const width = 2000;
  const height = 2000;
  const controller = new AbortController();
  const reason = new Error('stopped');
  let bands = 0;
  const band = Buffer.alloc(width * 3 * height);
  await assert.rejects(
    writePng(
      path.join(root, 'aborted.png'),
      width,
      height,
      (_top, rows) => {
        if (++bands === 2) controller.abort(reason);
        return band.subarray(0, rows * width * 3);
      },
      { signal: controller.signal },
    ),
    (error) => error === reason,
  );
  assert.equal(bands, 2);
});

test('a band that fails to render stops the write with its error, and a short band is refused', async () => {
  const width = 2000;
  const height = 2000;
  const band = Buffer.alloc(width * 3 * height);
  const failure = new Error('render failed');
  let bands = 0;
  await assert.rejects(
    writePng(path.join(root, 'failing.png'), width, height, (_top, rows) => {
      if (++bands === 3) throw failure;
      return band.subarray(0, rows * width * 3);
    }),
    (error) => error === failure,
  );
  await assert.rejects(
    writePng(path.join(root, 'short.png'), 10, 10, () => Buffer.alloc(10)),
    /band at row 0: 10 bytes for 10 rows of 10 px/,
  );
});
