import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { BIN, decode, rawImage, runCli, tempDir } from './helpers.js';
import { lookalikeFiles, nonRegularLinks, NOT_ACCEPTED, PALETTE, paletteCollection } from './fixtures.js';

const root = await tempDir();
const collection = await paletteCollection(root, { withBadFiles: true });
const target = path.join(root, 'dolphin.png');
await rawImage(
  target,
  Uint8Array.from({ length: 12 * 8 * 3 }, (_, i) => PALETTE[Math.floor(i / 3) % PALETTE.length]![i % 3]!),
  12,
  8,
);

/** stderr must never carry a stack trace. */
function assertNoStack(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at /, `no stack trace in: ${stderr}`);
}

test('process-collection prints the index path on stdout and warnings on stderr', async () => {
  const { code, stdout, stderr } = await runCli(['process-collection', collection, '--tile-size', '8']);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, `${path.join(root, 'index')}\n`);
  const warnings = stderr.trim().split('\n');
  assert.ok(
    warnings.some((line) => /^tsmosaic: warning: skipped ".*empty\.jpg": empty file$/.test(line)),
    stderr,
  );
  assert.ok(
    warnings.some((line) => /^tsmosaic: warning: skipped ".*notes\.jpg": /.test(line)),
    stderr,
  );
  assert.ok(
    warnings.some((line) => /8 tiles indexed, 2 files skipped/.test(line)),
    stderr,
  );
});

test('process-collection --json prints one JSON object; --quiet silences stderr', async () => {
  const out = path.join(root, 'json-index');
  const { code, stdout, stderr } = await runCli(['process-collection', collection, '-o', out, '-s', '6', '--json', '--quiet']);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  const summary = JSON.parse(stdout) as { index: string; tiles: number; skipped: { file: string; reason: string }[]; seconds: number };
  assert.deepEqual(Object.keys(summary), ['index', 'tiles', 'processed', 'reused', 'removed', 'skipped', 'seconds']);
  assert.equal(summary.index, out);
  assert.equal(summary.tiles, PALETTE.length);
  assert.deepEqual(summary.skipped.map(({ file }) => path.basename(file)).sort(), ['empty.jpg', 'notes.jpg']);
  assert.ok(summary.seconds > 0);
});

test('build writes <target>-mosaic.png in the current folder and prints its path', async () => {
  const index = path.join(root, 'build-index');
  assert.equal((await runCli(['process-collection', collection, '-o', index, '-q'])).code, 0);
  const { code, stdout, stderr } = await runCli(['build', index, target], { cwd: root });
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  assert.equal(stdout, `${path.join(root, 'dolphin-mosaic.png')}\n`);
  const mosaic = await decode(path.join(root, 'dolphin-mosaic.png'));
  assert.deepEqual([mosaic.width, mosaic.height], [12 * 20, 8 * 20]);
});

test('build --json reports the grid and the distinct tiles used', async () => {
  const index = path.join(root, 'build-index-json');
  await runCli(['process-collection', collection, '-o', index, '-q']);
  const out = path.join(root, 'out.jpg');
  const { code, stdout, stderr } = await runCli(['build', index, target, '-o', out, '--tiles-across', '6', '--tile-size', '5', '--json']);
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout) as Record<string, unknown>;
  assert.deepEqual(
    { ...summary, seconds: 0, timings: 0, deltaE: 0 },
    {
      output: out,
      width: 30,
      height: 20,
      columns: 6,
      rows: 4,
      distinctTiles: summary.distinctTiles,
      maxUses: summary.maxUses,
      deltaE: 0,
      seconds: 0,
      timings: 0,
    },
  );
  assert.ok(typeof summary.distinctTiles === 'number' && summary.distinctTiles >= 2 && summary.distinctTiles <= PALETTE.length);
  assert.ok(typeof summary.maxUses === 'number' && summary.maxUses >= 1);
  const deltaE = summary.deltaE as { cell: number; structure: number; p50: number; p95: number; max: number };
  assert.deepEqual(Object.keys(deltaE), ['cell', 'structure', 'p50', 'p95', 'max']);
  assert.ok(deltaE.cell >= 0 && deltaE.structure >= deltaE.cell * 0.5 && deltaE.structure < 100);
  assert.ok(deltaE.p50 <= deltaE.p95 && deltaE.p95 <= deltaE.max && deltaE.max >= deltaE.cell);
  assert.equal((await sharp(out).metadata()).format, 'jpeg');
});

test('job failures exit 1 with one line on stderr', async () => {
  const cases: [string[], RegExp][] = [
    [['process-collection', path.join(root, 'missing')], /^tsmosaic: collection folder not found: ".*missing"\n$/],
    [['build', path.join(root, 'no-index'), target], /^tsmosaic: index folder not found: ".*no-index"\n$/],
    [
      ['build', collection, target],
      /^tsmosaic: .*collection" is not a tsmosaic index \(no manifest\.json\); run process-collection first\n$/,
    ],
    [['build', path.join(root, 'index'), path.join(root, 'nope.png')], /^tsmosaic: target image not found: ".*nope\.png"\n$/],
    [
      ['build', path.join(root, 'index'), target, '--max-pixels', '20000'],
      /^tsmosaic: the mosaic would be 240x160 px \(0\.0 megapixels\), more than --max-pixels 20000: use --tiles-across \d+ or fewer, or write deep zoom tiles \(-o <name>\.dzi or --deepzoom <dir>\), up to 10,000,000 px a side\n$/,
    ],
  ];
  // Targets of formats tsmosaic does not read, and names of things that are not files (opened, a FIFO would block).
  const refused = path.join(root, 'refused');
  await mkdir(refused);
  for (const [name, kind] of Object.entries(await lookalikeFiles(refused))) {
    const reason = `${NOT_ACCEPTED} \\(it looks like ${kind}\\)`;
    cases.push([
      ['build', path.join(root, 'index'), path.join(refused, name)],
      new RegExp(`^tsmosaic: target is not an image tsmosaic can read: ".*/${name.replace('.', '\\.')}" \\(${reason}\\)\n$`),
    ]);
  }
  await nonRegularLinks(refused);
  for (const name of ['fifo.jpg', 'device.jpg']) {
    cases.push([
      ['build', path.join(root, 'index'), path.join(refused, name)],
      new RegExp(`^tsmosaic: target is not an image tsmosaic can read: ".*/${name.replace('.', '\\.')}" \\(not a regular file\\)\n$`),
    ]);
  }
  await runCli(['process-collection', collection, '-q']);
  for (const [args, expected] of cases) {
    const { code, stdout, stderr } = await runCli(args, { cwd: root, timeout: 60_000 });
    assert.equal(code, 1, `${args.join(' ')}: ${stderr}`);
    assert.equal(stdout, '');
    assert.match(stderr, expected);
    assertNoStack(stderr);
  }
});

test('usage errors exit 2 and name the option', async () => {
  const cases: [string[], RegExp][] = [
    [['process-collection', collection, '--tile-size', 'abc'], /option '-s, --tile-size <px>' argument 'abc' is invalid/],
    [
      ['process-collection', collection, '--tile-size', '0'],
      /--tile-size.*Expected a size in px: N for squares, or WxH, each side from 1 to 1024/,
    ],
    [['build', 'a', 'b', '--tiles-across', '-3'], /--tiles-across/],
    [['build', 'a', 'b', '--max-pixels', '1.5'], /--max-pixels/],
    [['build', 'a', 'b', '--bogus'], /unknown option '--bogus'/],
    [['process-collection', collection, '--fit', 'squash'], /--fit.*squash.*crop, stretch/],
    [['process-collection', collection, '--crops', '3'], /--crops.*Expected one of 1, 5/],
    [['build', 'a', 'b', '--tiles-across', '1000000000000'], /--tiles-across.*Expected an integer from 1 to 50000/],
    [['process-collection', collection, '--shard', '3/2'], /--shard.*Expected i\/n with 1 <= i <= n <= 65536/],
    [['build', 'a'], /missing required argument 'target'/],
    [['build', 'a', 'b', '--blend', '101'], /--blend.*from 0 to 100/],
    [['build', 'a', 'b', '--metric', 'xyz'], /--metric.*xyz.*lab, rgb/],
    [['build', 'a', 'b', '--min-distance', 'x'], /--min-distance/],
    [['build', 'a', 'b', '--min-distance', '1e3'], /--min-distance.*Expected a number from 0 to 100/],
    [['build', 'a', 'b', '--max-uses', '0'], /--max-uses.*at least 1/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['build', path.join(root, 'index'), target, '-o', path.join(root, 'x.bmp')], /cannot tell the output format/],
  ];
  for (const [args, expected] of cases) {
    const { code, stdout, stderr } = await runCli(args);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.equal(stdout, '');
    assert.match(stderr, expected);
    assertNoStack(stderr);
  }
  assert.ok(!(await readdir(root)).includes('x.bmp'));
});

test('--help and --version exit 0 on stdout', async () => {
  for (const args of [['--help'], ['build', '--help'], ['process-collection', '--help']]) {
    const { code, stdout } = await runCli(args);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: tsmosaic/);
  }
  const help = await runCli(['build', '--help']);
  for (const option of ['--out', '--tiles-across', '--tile-size', '--max-pixels', '--json', '--quiet'])
    assert.match(help.stdout, new RegExp(option));
  const { code, stdout } = await runCli(['--version']);
  assert.equal(code, 0);
  assert.match(stdout, /^\d+\.\d+\.\d+\n$/);
});

test('build works where no worker thread may start: a real mosaic, its cells described on the main thread, and a deep zoom', async () => {
  const folder = path.join(root, 'no-workers');
  await mkdir(folder);
  const index = path.join(folder, 'index');
  assert.equal((await runCli(['process-collection', collection, '-o', index, '-s', '2', '-q'])).code, 0);
  const out = path.join(folder, 'm.png');
  // Node's permission model refuses worker threads (no --allow-worker): starting one throws. The
  // grid of 200 x 133 cells is over the size whose cells a worker would describe.
  const permission = ['--experimental-permission', '--allow-fs-read=*', `--allow-fs-write=${folder}`, '--allow-addons'];
  const { code, stdout, stderr } = await runCli(['build', index, target, '-o', out, '--tiles-across', '200', '--json', '-q'], {
    node: ['--no-warnings', ...permission],
  });
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout) as { output: string; columns: number; rows: number; distinctTiles: number };
  assert.equal(summary.output, out);
  assert.ok(summary.columns * summary.rows > 16_384, `${summary.columns} x ${summary.rows}`);
  const { width, height } = await sharp(out).metadata();
  assert.deepEqual([width, height], [summary.columns * 2, summary.rows * 2]);
  assert.ok(summary.distinctTiles > 1);
  // Deep zoom needs no worker either: libvips makes the pyramid.
  const dzi = await runCli(['build', index, target, '-o', path.join(folder, 'z.dzi'), '--tiles-across', '20', '-q'], {
    node: ['--no-warnings', ...permission],
  });
  assert.equal(dzi.code, 0, dzi.stderr);
  assert.deepEqual((await readdir(folder)).sort(), ['index', 'index.html', 'm.png', 'openseadragon', 'z.dzi', 'z_files']);
});

test('a corrupt collection file does not stop the run; a wholly bad collection exits 1', async () => {
  const bad = path.join(root, 'bad-collection');
  await mkdir(bad);
  await writeFile(path.join(bad, 'a.jpg'), 'garbage');
  const { code, stdout, stderr } = await runCli(['process-collection', bad, '-o', path.join(root, 'bad-index')]);
  assert.equal(code, 1);
  assert.equal(stdout, '');
  assert.match(stderr, /skipped ".*a\.jpg"/);
  assert.match(stderr, /tsmosaic: no usable image in ".*bad-collection": all 1 image files were skipped\n$/);
  assert.ok(!(await readdir(root)).includes('bad-index'));
});

for (const [signal, exitCode] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`${signal} stops process-collection with exit ${exitCode}, keeping the previous index and the work done for the next run`, async () => {
    const big = path.join(root, `big-collection-${signal}`);
    await mkdir(big);
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        sharp({ create: { width: 600, height: 400, channels: 3, background: { r: i % 256, g: (i * 3) % 256, b: 90 } } })
          .jpeg()
          .toFile(path.join(big, `p${i}.jpg`)),
      ),
    );
    const out = path.join(root, `sig-${signal}`, 'index');
    assert.equal((await runCli(['process-collection', collection, '-o', out, '-q'])).code, 0);
    const before = await readFile(path.join(out, 'manifest.json'), 'utf8');
    const child = spawn(process.execPath, [BIN, 'process-collection', big, '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Interrupt once the run has written tiles into its temporary folder, i.e. mid-way through the work.
    const started = async (): Promise<boolean> => {
      const temporary = (await readdir(path.dirname(out))).find((name) => name.startsWith('.index.tmp-'));
      return (
        temporary !== undefined &&
        (await stat(path.join(path.dirname(out), temporary, 'tiles.rgb')).then(
          (info) => info.size > 0,
          () => false,
        ))
      );
    };
    while (!(await started())) await delay(5);
    child.kill(signal);
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, exitCode, stderr);
    const kept = Number(/^tsmosaic: (\d+) tiles done are kept: run the same command again to continue\n/m.exec(stderr)?.[1]);
    assert.ok(kept > 0 && kept < 300, stderr);
    assert.match(stderr, new RegExp(`tsmosaic: interrupted by ${signal}\n$`));
    assert.equal(await readFile(path.join(out, 'manifest.json'), 'utf8'), before, 'the previous index is unchanged');

    const again = await runCli(['process-collection', big, '-o', out, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`^tsmosaic: resuming an interrupted run: ${kept} tiles already done$`, 'm'));
    const summary = JSON.parse(again.stdout) as { tiles: number; processed: number; reused: number };
    assert.deepEqual([summary.tiles, summary.processed, summary.reused], [300, 300 - kept, kept]);
    assert.deepEqual(await readdir(path.dirname(out)), ['index'], 'no temporary folder is left');
  });
}

test('unwritable outputs are one-line errors before any work', async () => {
  const index = path.join(root, 'index');
  await runCli(['process-collection', collection, '-q']);
  const build = await runCli(['build', index, target, '-o', path.join(root, 'no', 'such', 'folder', 'm.png')]);
  assert.equal(build.code, 1);
  assert.match(build.stderr, /^tsmosaic: cannot write ".*m\.png": folder ".*folder" does not exist\n$/);
  const file = path.join(root, 'a-file');
  await writeFile(file, 'x');
  const processed = await runCli(['process-collection', collection, '-o', path.join(file, 'index')]);
  assert.equal(processed.code, 1);
  assert.match(processed.stderr, /^tsmosaic: cannot (use|write) .*a-file.*\n$/);
  assertNoStack(processed.stderr);
});

test('SIGINT during a large build exits 130 and leaves no output and no temporary file', async () => {
  const index = path.join(root, 'sigint-build-index');
  assert.equal((await runCli(['process-collection', collection, '-o', index, '-q'])).code, 0);
  const folder = path.join(root, 'sigint-build');
  await mkdir(folder);
  // 1000 x 667 tiles of 20 px: 800 MB of raw pixels, streamed through a temporary file.
  const child = spawn(process.execPath, [BIN, 'build', index, target, '--tiles-across', '1000', '-o', path.join(folder, 'm.png')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  while (!(await readdir(folder)).some((name) => name.startsWith('.m.png.tmp-'))) await delay(5);
  child.kill('SIGINT');
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 130, stderr);
  assert.match(stderr, /^tsmosaic: interrupted by SIGINT\n$/);
  assert.deepEqual(await readdir(folder), []);
});

test('build -o name.dzi writes a Deep Zoom pyramid and its viewer, with no pixel limit', async () => {
  const index = path.join(root, 'dzi-index');
  assert.equal((await runCli(['process-collection', collection, '-o', index, '-q'])).code, 0);
  const folder = path.join(root, 'dzi');
  await mkdir(folder);
  const out = path.join(folder, 'dolphin.dzi');
  const { code, stdout, stderr } = await runCli(['build', index, target, '-o', out, '--tiles-across', '60', '--max-pixels', '1000']);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, `${out}\n`);
  assert.deepEqual((await readdir(folder)).sort(), ['dolphin.dzi', 'dolphin_files', 'index.html', 'openseadragon']);
  assert.match(await readFile(out, 'utf8'), /<Size Width="1200" Height="800"\/>/);
  // 1200 x 800 px: levels 0 (1x1) to 11.
  assert.equal((await readdir(path.join(folder, 'dolphin_files'))).length, 12);
});

test('build --deepzoom <dir> writes the pyramid and viewer into a new folder, named after the target', async () => {
  const index = path.join(root, 'dzi-index');
  const folder = path.join(root, 'deepzoom', 'dolphin');
  const { code, stdout, stderr } = await runCli(['build', index, target, '--deepzoom', folder, '--tiles-across', '30']);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, `${path.join(folder, 'dolphin-mosaic.dzi')}\n`);
  assert.deepEqual((await readdir(folder)).sort(), ['dolphin-mosaic.dzi', 'dolphin-mosaic_files', 'index.html', 'openseadragon']);
  const both = await runCli(['build', index, target, '--deepzoom', folder, '-o', path.join(root, 'x.png')]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /^tsmosaic: use either --out or --deepzoom, not both\n$/);
  const file = path.join(root, 'not-a-folder.png');
  await writeFile(file, 'x');
  const notFolder = await runCli(['build', index, target, '--deepzoom', file]);
  assert.equal(notFolder.code, 1);
  assert.match(notFolder.stderr, /^tsmosaic: cannot write deep zoom into ".*not-a-folder\.png": it is not a folder\n$/);
});
