import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { PALETTE, paletteCollection } from './fixtures.js';
import { assertPyramidOf, rawImage, runCli, tempDir } from './helpers.js';

const root = await tempDir();
const collection = await paletteCollection(root);
const index = path.join(root, 'index');
assert.equal((await runCli(['process-collection', collection, '-o', index, '-s', '8', '-q'])).code, 0);
const target = path.join(root, 'target.png');
// 90 x 60 px of palette stripes: a 3:2 target.
await rawImage(
  target,
  Uint8Array.from({ length: 90 * 60 * 3 }, (_, i) => PALETTE[Math.floor(i / 3 / 90 / 10) % PALETTE.length]![i % 3]!),
  90,
  60,
);

test('--print makes a file of exactly round(size x dpi) px that declares its resolution, in PNG, JPEG and TIFF', async () => {
  for (const [format, print, dpi, expected] of [
    ['png', '20x15cm', 150, [1181, 886]],
    ['jpg', '6x4in', 100, [600, 400]],
    ['tif', '150x100mm', 72, [425, 283]],
  ] as const) {
    const out = path.join(root, `print.${format}`);
    const { code, stdout, stderr } = await runCli([
      'build',
      index,
      target,
      '--print',
      print,
      '--dpi',
      String(dpi),
      '-o',
      out,
      '--json',
      '-q',
    ]);
    assert.equal(code, 0, stderr);
    const summary = JSON.parse(stdout) as {
      width: number;
      height: number;
      print: { width: number; height: number; unit: string; dpi: number };
    };
    assert.deepEqual([summary.width, summary.height], expected);
    const match = /^(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)(cm|mm|in)$/.exec(print)!;
    assert.deepEqual(summary.print, { width: Number(match[1]), height: Number(match[2]), unit: match[3], dpi });
    const metadata = await sharp(out).metadata();
    assert.deepEqual([metadata.width, metadata.height], expected, format);
    assert.equal(Math.round(metadata.density!), dpi, `${format} declares ${dpi} dpi`);
  }
});

test('--print crops the target to its aspect ratio around the centre, and says so', async () => {
  const out = path.join(root, 'square.png');
  const { code, stdout, stderr } = await runCli(['build', index, target, '--print', '10x10cm', '--dpi', '50', '-o', out, '--json']);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /is 90x60 px: its middle 60x60 px, the print's aspect ratio, makes the mosaic/);
  const summary = JSON.parse(stdout) as { width: number; height: number; columns: number; rows: number };
  assert.deepEqual([summary.width, summary.height], [197, 197]);
  assert.equal(summary.columns, summary.rows, 'square cells of a square print');
});

test('--dpi alone sets the resolution a file declares; --grout sets tiles apart in its colour, none around the edge', async () => {
  const out = path.join(root, 'grout.png');
  const { code, stdout, stderr } = await runCli([
    'build',
    index,
    target,
    '--tiles-across',
    '9',
    '--grout',
    '3',
    '--grout-colour',
    '#ff00ff',
    '--dpi',
    '96',
    '-o',
    out,
    '--json',
    '-q',
  ]);
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout) as { width: number; height: number; columns: number; rows: number };
  // 9 tiles of 8 px and 8 gaps of 3 px.
  assert.deepEqual([summary.width, summary.columns], [9 * 8 + 8 * 3, 9]);
  assert.equal(summary.height, summary.rows * 8 + (summary.rows - 1) * 3);
  const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  assert.equal(Math.round((await sharp(out).metadata()).density!), 96);
  const pixel = (x: number, y: number): number[] => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  for (let x = 8; x < 11; x++) assert.deepEqual(pixel(x, 4), [255, 0, 255], `grout at x ${x}`);
  for (let y = 8; y < 11; y++) assert.deepEqual(pixel(4, y), [255, 0, 255], `grout at y ${y}`);
  assert.notDeepEqual(pixel(0, 0), [255, 0, 255], 'no grout around the edge');
  assert.notDeepEqual(pixel(info.width - 1, info.height - 1), [255, 0, 255]);
  assert.notDeepEqual(pixel(11, 11), [255, 0, 255], 'the second tile starts after the grout');
});

test('bad print, dpi, grout and colour values exit 2 naming the option', async () => {
  for (const [args, expected] of [
    [['--print', '0x10cm'], /--print.*Expected a width and height with a unit/],
    [['--print', '10x10'], /--print.*Expected a width and height with a unit/],
    [['--dpi', '-1'], /--dpi.*Expected an integer from 1 to 4800/],
    [['--grout', 'x'], /--grout.*Expected a width in px/],
    [['--grout-colour', 'nope'], /--grout-colour.*Expected a CSS colour name or #rrggbb/],
    [['--grout', '1mm'], /--grout 1mm needs --print or --dpi/],
    [['--print', '10x10cm', '--tile-size', '4'], /either --print or --tile-size/],
  ] as const) {
    const { code, stdout, stderr } = await runCli(['build', index, target, ...args, '-o', path.join(root, 'bad.png')]);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.equal(stdout, '');
    assert.match(stderr, expected);
    assert.equal(stderr.split('\n').length, 2, 'one line');
  }
  assert.ok(!(await readdir(root)).includes('bad.png'));
});

test('a print from the originals with grout, as deep zoom, is the PNG of the same build', async () => {
  const args = [
    'build',
    index,
    target,
    '--print',
    '20x15cm',
    '--dpi',
    '150',
    '--grout',
    '1mm',
    '--grout-colour',
    '#ff00ff',
    '-q',
    '--json',
  ];
  const png = path.join(root, 'zoomed.png');
  const folder = path.join(root, 'zoomed');
  const single = await runCli([...args, '-o', png]);
  assert.equal(single.code, 0, single.stderr);
  const zoomed = await runCli([...args, '--deepzoom', folder]);
  assert.equal(zoomed.code, 0, zoomed.stderr);
  const summary = JSON.parse(zoomed.stdout) as { width: number; originals?: { used: number } };
  assert.equal(summary.width, 1181);
  assert.ok((summary.originals?.used ?? 0) > 0, 'tiles drawn from the originals');
  assert.deepEqual((await readdir(folder)).sort(), ['index.html', 'openseadragon', 'target-mosaic.dzi', 'target-mosaic_files']);
  await assertPyramidOf(path.join(folder, 'target-mosaic.dzi'), png);
});
