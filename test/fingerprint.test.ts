import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fingerprintBytes, fingerprintFile } from '../src/collection/fingerprint.js';
import { tempDir } from './helpers.js';

const dir = await tempDir();

async function fingerprintOf(name: string, bytes: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  const fingerprint = await fingerprintFile(file, bytes.length);
  // Files read whole into memory are fingerprinted from their bytes: the two must agree.
  assert.equal(fingerprintBytes(bytes), fingerprint, `${name}: bytes and file disagree`);
  return fingerprint;
}

test('a fingerprint depends on the bytes, not the name; small files are hashed whole', async () => {
  const small = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31) % 256));
  const reference = await fingerprintOf('a.bin', small);
  assert.match(reference, /^[\w-]{27}$/, 'base64url SHA-1');
  assert.equal(await fingerprintOf('b.bin', Buffer.from(small)), reference);
  const changed = Buffer.from(small);
  changed[50_000]! ^= 1;
  assert.notEqual(await fingerprintOf('c.bin', changed), reference, 'any byte of a small file counts');
});

test('in a large file, the head, the tail and the sampled blocks count, and so does the size', async () => {
  const size = 5_000_000;
  const large = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) % 256));
  const reference = await fingerprintOf('large.bin', large);
  const middle = size - 2 * 65536 - 4096;
  // Offsets inside: the first 64 KiB (EXIF), the last 64 KiB, the first and a later sampled block.
  for (const offset of [100, size - 10, 65536 + 10, 65536 + Math.floor((middle * 5) / 13) + 100]) {
    const changed = Buffer.from(large);
    changed[offset]! ^= 0xff;
    assert.notEqual(await fingerprintOf(`changed-${offset}.bin`, changed), reference, `byte ${offset}`);
  }
  assert.notEqual(await fingerprintOf('longer.bin', Buffer.concat([large, Buffer.alloc(1)])), reference);
  // Documented limit: a byte between the samples is not seen (a re-encoded picture changes bytes everywhere).
  const between = Buffer.from(large);
  between[65536 + 4096 + 1000]! ^= 0xff;
  assert.equal(await fingerprintOf('between.bin', between), reference);
});
