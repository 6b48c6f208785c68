import assert from 'node:assert/strict';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { IMAGE_EXTENSIONS, scanCollection } from '../src/collection/scan.js';
import { handToUnprivileged, ROOT, runUnprivileged, tempDir } from './helpers.js';
const ALREADY_SCANNED = 'symbolic link to a folder already scanned (a loop or a second path), not followed';

/** Creates empty files (and their folders) at the given '/'-separated paths below `folder`. */
async function touch(folder: string, names: string[]): Promise<void> {
  for (const name of names) {
    await mkdir(path.dirname(path.join(folder, name)), { recursive: true });
    await writeFile(path.join(folder, name), '');
  }
}

test('finds every image extension in any letter case, recursively, in code-point order, without hidden entries', async () => {
  const collection = path.join(await tempDir(), 'collection');
  const images = IMAGE_EXTENSIONS.flatMap((extension, i) => [`e${i}.${extension}`, `deep/er/E${i}.${extension.toUpperCase()}`]);
  await touch(collection, [
    ...images,
    'mixed.JpEg',
    'notes.txt',
    'jpg',
    'photo.jpg.txt',
    '.hidden.jpg',
    '.hidden/in.png',
    'deep/.cache/thumb.jpg',
    'deep/.x/y/z.gif',
  ]);
  const { files, problems } = await scanCollection(collection);
  assert.deepEqual(files, [...images, 'mixed.JpEg'].sort());
  assert.deepEqual(problems, []);
});

test('names holding glob characters or line breaks are found, in a folder whose own name holds them too', async () => {
  const collection = path.join(await tempDir(), 'my [photos] (2024) {a,b} *?!');
  const names = [
    '[1].jpg',
    '(2).png',
    '*.gif',
    '?.webp',
    '{3,4}.tif',
    '!5.jpeg',
    'a\\(6).png',
    '@(7).avif',
    '+(8).heic',
    'x|y.heif',
    '[sub]/**/in.jpg',
    'new\nline.png',
    '\nleading.jpg',
    'line\nbreak/in.png',
    'line\nbreak/deeper/also\r.png',
  ];
  await touch(collection, names);
  const { files, problems } = await scanCollection(collection);
  assert.deepEqual(files, [...names].sort());
  assert.deepEqual(problems, []);
});

test('symbolic links are followed, each folder entered once, and entries that are not regular files are listed', async () => {
  const root = await tempDir();
  const collection = path.join(root, 'collection');
  await touch(collection, ['real/a.jpg', 'sub/s.png', 'folder.jpg/inside.png']);
  await touch(root, ['outside/o.gif', 'outside/nested/n.webp', 'second/t.jpg']);
  await symlink('..', path.join(collection, 'sub', 'up'));
  await symlink('real', path.join(collection, 'again'));
  await symlink(path.join(root, 'outside'), path.join(collection, 'linked'));
  // A link inside the linked folder, to a folder that link already scanned.
  await symlink('nested', path.join(root, 'outside', 'nested-again'));
  // Two links to one folder: the first in path order is walked.
  await symlink(path.join(root, 'second'), path.join(collection, 'b-second'));
  await symlink(path.join(root, 'second'), path.join(collection, 'c-second'));
  await symlink('loop.jpg', path.join(collection, 'loop.jpg'));
  await symlink('missing.png', path.join(collection, 'broken.png'));
  await symlink('real/a.jpg', path.join(collection, 'alias.jpg'));
  await symlink('real', path.join(collection, 'folder-link.jpg'));

  const result = await scanCollection(collection);
  assert.deepEqual(result.files, [
    'alias.jpg',
    'b-second/t.jpg',
    'broken.png',
    'folder-link.jpg',
    'folder.jpg',
    'folder.jpg/inside.png',
    'linked/nested/n.webp',
    'linked/o.gif',
    'loop.jpg',
    'real/a.jpg',
    'sub/s.png',
  ]);
  assert.deepEqual(result.problems, [
    { relative: 'again', reason: ALREADY_SCANNED },
    { relative: 'c-second', reason: ALREADY_SCANNED },
    { relative: 'folder-link.jpg', reason: ALREADY_SCANNED },
    { relative: 'linked/nested-again', reason: ALREADY_SCANNED },
    { relative: 'sub/up', reason: ALREADY_SCANNED },
  ]);
  assert.deepEqual(await scanCollection(collection), result, 'the same answer every time');
});

test('excluded folders are not scanned, nor listed when they have an image name', async () => {
  const root = await tempDir();
  const collection = path.join(root, 'collection');
  await touch(collection, ['keep.jpg', 'index/tile.jpg', 'out [1]/tile.png', 'nested/index.jpg/tile.png', 'nested/kept.png']);
  await touch(root, ['elsewhere/e.jpg']);
  // A link to a folder, at an excluded path.
  await symlink(path.join(root, 'elsewhere'), path.join(collection, 'link-out'));
  const exclude = ['index', 'out [1]', 'nested/index.jpg', 'link-out'].map((name) => path.join(collection, name));
  assert.deepEqual(await scanCollection(collection, exclude), { files: ['keep.jpg', 'nested/kept.png'], problems: [] });
});

test('an aborted scan stops with the signal reason', async () => {
  const collection = path.join(await tempDir(), 'collection');
  await touch(collection, ['a/1.jpg', 'b/2.jpg']);
  const controller = new AbortController();
  const reason = new Error('stopped');
  controller.abort(reason);
  await assert.rejects(scanCollection(collection, [], controller.signal), (error: unknown) => error === reason);
});

test("a folder that cannot be listed is a problem with the system's reason, not an error", async () => {
  const root = await tempDir();
  await touch(root, ['file.jpg']);
  const notFolder = await scanCollection(path.join(root, 'file.jpg'));
  assert.deepEqual(notFolder.files, []);
  assert.equal(notFolder.problems.length, 1);
  assert.equal(notFolder.problems[0]!.relative, '');
  assert.match(notFolder.problems[0]!.reason, /^ENOTDIR: not a directory/);
});

test('an unreadable folder (chmod 000) is a problem, a hidden one is not even opened (listed as nobody when the tests run as root, which reads anything)', async () => {
  const root = await tempDir();
  const collection = path.join(root, 'collection');
  await touch(collection, ['ok/a.jpg', 'locked/b.jpg', '.locked/c.jpg']);
  await handToUnprivileged(root);
  await chmod(path.join(collection, 'locked'), 0o000);
  await chmod(path.join(collection, '.locked'), 0o000);
  let result: unknown;
  try {
    result = await runUnprivileged(
      `const { scanCollection } = await import(process.argv[1]);
      dropPrivileges();
      console.log(JSON.stringify(await scanCollection(process.argv[2])));`,
      [path.join(ROOT, 'src', 'collection', 'scan.ts'), collection],
    );
  } finally {
    // So that the temporary folder can be removed without root.
    await chmod(path.join(collection, 'locked'), 0o755);
    await chmod(path.join(collection, '.locked'), 0o755);
  }
  assert.deepEqual(result, {
    files: ['ok/a.jpg'],
    problems: [{ relative: 'locked', reason: 'folder not readable: permission denied' }],
  });
});
