import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PALETTE, paletteCollection } from './fixtures.js';
import { rawImage, runCli, tempDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
// CI installs Debian's chromium (.ci/run): there the test must run. Elsewhere it needs one.
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true' ? `${CHROMIUM} is missing (apt-get install chromium)` : false;

/** Names a file may have that try to run script in the viewer page or to drive a terminal. */
const HOSTILE = [
  'cat\u2028globalThis.pwned=1\u2028-->',
  'dog\u2029globalThis.pwned=2\u2029',
  '<!--<script>globalThis.pwned=3<',
  'q"uo\'te`${globalThis.pwned=4}',
  'new\nline\r\nglobalThis.pwned=5',
  'esc\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil',
];

/** Characters a terminal may act on: what no line tsmosaic prints may hold raw. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const root = await tempDir();
const collection = await paletteCollection(root);
const index = path.join(root, 'index');
const built = await runCli(['process-collection', collection, '-o', index, '-s', '4', '-q']);
assert.equal(built.code, 0, built.stderr);
const base = path.join(root, 'base.png');
await rawImage(
  base,
  Uint8Array.from({ length: 24 * 16 * 3 }, (_, i) => PALETTE[Math.floor(i / 3) % PALETTE.length]![i % 3]!),
  24,
  16,
);

test(
  'hostile target names: no raw control character reaches the terminal, and the viewer page runs none of them',
  { skip, timeout: 180_000 },
  async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      for (const [i, name] of HOSTILE.entries()) {
        const target = path.join(root, `${name}.png`);
        await copyFile(base, target);
        const folder = path.join(root, `viewer-${i}`);
        // The output is named after the target: `<name>-mosaic.dzi` and its tiles folder.
        const { code, stdout, stderr } = await runCli(['build', index, target, '--deepzoom', folder, '--tiles-across', '24'], {
          cwd: root,
        });
        assert.equal(code, 0, stderr);
        assert.doesNotMatch(stdout.slice(0, -1), RAW_CONTROL, `stdout of ${JSON.stringify(name)}`);
        assert.doesNotMatch(stderr, RAW_CONTROL, `stderr of ${JSON.stringify(name)}`);
        assert.ok((await readdir(folder)).includes(`${name}-mosaic.dzi`));

        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(pathToFileURL(path.join(folder, 'index.html')).href);
        await page.waitForFunction(
          () =>
            (
              globalThis as unknown as { viewer: { world: { getItemAt(i: number): { getFullyLoaded(): boolean } | undefined } } }
            ).viewer.world
              .getItemAt(0)
              ?.getFullyLoaded() === true,
          undefined,
          { timeout: 30_000 },
        );
        assert.equal(
          await page.evaluate(() => (globalThis as { pwned?: unknown }).pwned),
          undefined,
          `${JSON.stringify(name)} ran code in the page`,
        );
        assert.deepEqual(errors, [], `page errors for ${JSON.stringify(name)}`);
        assert.match(await page.title(), /-mosaic \(96 x 64 px\)$/);
        await page.close();
      }
    } finally {
      await browser.close();
    }
  },
);

test('hostile names in a collection and an index: warnings, errors and info escape them', async () => {
  const hostile = path.join(root, 'hostile\u001b]0;x\u0007');
  await mkdir(hostile);
  for (const [i, name] of HOSTILE.entries()) await copyFile(base, path.join(hostile, `${i}-${name}.png`));
  await writeFile(path.join(hostile, 'broken\u001b[2J\u2028.jpg'), 'not a picture');
  const out = path.join(root, 'hostile-index');
  const indexed = await runCli(['process-collection', hostile, '-o', out]);
  assert.equal(indexed.code, 0, indexed.stderr);
  assert.match(indexed.stderr, /skipped ".*broken\\u001b\[2J\\u2028\.jpg": /);
  assert.doesNotMatch(indexed.stderr, RAW_CONTROL);
  assert.doesNotMatch(indexed.stdout.slice(0, -1), RAW_CONTROL);

  const info = await runCli(['info', out]);
  assert.equal(info.code, 0, info.stderr);
  assert.doesNotMatch(info.stdout, RAW_CONTROL);
  assert.match(info.stdout, /sources {7}".*hostile\\u001b]0;x\\u0007" \(6 tiles\)/);
  const json = await runCli(['info', out, '--json']);
  assert.doesNotMatch(json.stdout, RAW_CONTROL);
  assert.equal((JSON.parse(json.stdout) as { sources: { folder: string }[] }).sources[0]!.folder, hostile, '--json gives the exact path');

  // A missing target named to clear the screen: one line, escaped.
  const missing = await runCli(['build', out, path.join(root, 'gone\u001b[2J.png')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tsmosaic: target image not found: .*gone\\u001b\[2J\.png"?\n$/);
  assert.doesNotMatch(missing.stderr, RAW_CONTROL);
});
