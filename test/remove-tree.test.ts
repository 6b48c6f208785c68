import assert from 'node:assert/strict';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { removeTree } from '../src/files/remove-tree.js';
import { pathExists } from '../src/files/paths.js';
import { tempDir } from './helpers.js';

const root = await tempDir();

test('removeTree removes a folder of more files than one listing holds, its subfolders and theirs', async () => {
  const target = path.join(root, 'pyramid');
  // 700 tiles in one level (three listings of 256), and levels nested three deep.
  for (const level of ['12', '11', path.join('11', 'deeper'), path.join('11', 'deeper', 'deepest')]) {
    await mkdir(path.join(target, level), { recursive: true });
  }
  await Promise.all(Array.from({ length: 700 }, (_, i) => writeFile(path.join(target, '12', `${i % 30}_${Math.floor(i / 30)}.jpeg`), 'x')));
  await writeFile(path.join(target, '11', 'deeper', 'deepest', '0_0.jpeg'), 'x');
  await writeFile(path.join(target, 'mosaic.dzi'), 'x');
  await removeTree(target);
  assert.equal(await pathExists(target), false);
});

test('removeTree removes a link to a folder, never what it points to', async () => {
  const kept = path.join(root, 'kept');
  await mkdir(kept);
  await writeFile(path.join(kept, 'photo.jpg'), 'x');
  const target = path.join(root, 'with-link');
  await mkdir(target);
  await symlink(kept, path.join(target, 'link'));
  await symlink(kept, path.join(root, 'bare-link'));
  await removeTree(target);
  await removeTree(path.join(root, 'bare-link'));
  assert.equal(await pathExists(target), false);
  assert.equal(await pathExists(path.join(root, 'bare-link')), false);
  assert.deepEqual(await readdir(kept), ['photo.jpg']);
});

test('removeTree removes a file, and a missing path is no error', async () => {
  const file = path.join(root, 'mosaic.v');
  await writeFile(file, 'x');
  await removeTree(file);
  assert.equal(await pathExists(file), false);
  await removeTree(path.join(root, 'never-there'));
});

test('removeTree removes names that are not UTF-8, where they are allowed', async (t) => {
  if (process.platform !== 'linux') {
    t.diagnostic('only Linux file systems take any bytes in a name');
    return;
  }
  const target = path.join(root, 'bytes');
  await mkdir(target);
  await writeFile(Buffer.concat([Buffer.from(`${target}/tile-`), Buffer.from([0xff, 0xfe]), Buffer.from('.jpeg')]), 'x');
  await removeTree(target);
  assert.equal(await pathExists(target), false);
});
