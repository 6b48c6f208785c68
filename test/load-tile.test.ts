import assert from 'node:assert/strict';
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { writeFile, mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { cropWindows } from '../src/tiles/crop-windows.js';
import { tilesFeatures } from '../src/tiles/features.js';

/** The shape of square tiles of `size` px. */
const square = (size: number): { width: number; height: number } => ({ width: size, height: size });
import { loadTile, ReadBuffer, ReadBudget } from '../src/collection/load-tile.js';
import { decoderPath, openImageFile, UnreadableImageError } from '../src/files/image-file.js';
import { loadSharp } from '../src/load-sharp.js';
import { seededRandom } from '../src/match/random.js';
import { lookalikeFiles, nonRegularLinks, NOT_ACCEPTED } from './fixtures.js';
import { colourDistance, meanOf, pngClaiming, rawImage, solidImage, tempDir, type Rgb } from './helpers.js';

const dir = await tempDir();

/** A picture whose left half is `left` and right half `right`. */
function halves(width: number, height: number, left: number[], right: number[]): Uint8Array {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set(x < width / 2 ? left : right, (y * width + x) * 3);
  }
  return pixels;
}

test('a solid JPEG becomes a tile of its colour', async () => {
  const file = await solidImage(path.join(dir, 'solid.jpg'), [200, 40, 90], 64, 48);
  const { pixels, size } = await loadTile(file, square(20), 'crop');
  assert.equal(pixels.length, 20 * 20 * 3);
  assert.ok(size > 0);
  assert.ok(
    colourDistance(
      meanOf(pixels, Math.sqrt(pixels.length / 3), 0, 0, Math.sqrt(pixels.length / 3), Math.sqrt(pixels.length / 3)),
      [200, 40, 90],
    ) <= 3,
    `mean ${meanOf(pixels, Math.sqrt(pixels.length / 3), 0, 0, Math.sqrt(pixels.length / 3), Math.sqrt(pixels.length / 3))}`,
  );
});

test('grayscale, 16-bit, CMYK and palette images become 8-bit sRGB tiles', async () => {
  const base = sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 30, g: 140, b: 220 } } });
  const files = {
    gray: await base
      .clone()
      .toColourspace('b-w')
      .png()
      .toFile(path.join(dir, 'gray.png'))
      .then(() => path.join(dir, 'gray.png')),
    rgb16: await base
      .clone()
      .toColourspace('rgb16')
      .png()
      .toFile(path.join(dir, 'rgb16.png'))
      .then(() => path.join(dir, 'rgb16.png')),
    cmyk: await base
      .clone()
      .toColourspace('cmyk')
      .jpeg()
      .toFile(path.join(dir, 'cmyk.jpg'))
      .then(() => path.join(dir, 'cmyk.jpg')),
    palette: await base
      .clone()
      .png({ palette: true })
      .toFile(path.join(dir, 'palette.png'))
      .then(() => path.join(dir, 'palette.png')),
  };
  const sixteen = await sharp(files.rgb16).metadata();
  assert.equal(sixteen.depth, 'ushort', 'fixture is really 16-bit');
  const cmyk = await sharp(files.cmyk).metadata();
  assert.equal(cmyk.space, 'cmyk', 'fixture is really CMYK');
  for (const [kind, file] of Object.entries(files)) {
    const { pixels } = await loadTile(file, square(16), 'crop');
    assert.equal(pixels.length, 16 * 16 * 3, kind);
    const mean = meanOf(pixels, Math.sqrt(pixels.length / 3), 0, 0, Math.sqrt(pixels.length / 3), Math.sqrt(pixels.length / 3));
    if (kind === 'gray') {
      assert.ok(Math.abs(mean[0] - mean[1]) < 1 && Math.abs(mean[1] - mean[2]) < 1, `gray stays gray: ${mean}`);
    } else if (kind === 'cmyk') {
      // CMYK has another gamut: the round trip shifts the colour but keeps its hue.
      assert.ok(colourDistance(mean, [30, 140, 220]) <= 50 && mean[2] > mean[1] && mean[1] > mean[0], `cmyk mean ${mean}`);
    } else {
      assert.ok(colourDistance(mean, [30, 140, 220]) <= 12, `${kind} mean ${mean}`);
    }
  }
});

test('transparent pixels are flattened onto white', async () => {
  const file = path.join(dir, 'transparent.png');
  await sharp({ create: { width: 24, height: 24, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } })
    .png()
    .toFile(file);
  const { pixels } = await loadTile(file, square(8), 'crop');
  assert.deepEqual(
    meanOf(pixels, Math.sqrt(pixels.length / 3), 0, 0, Math.sqrt(pixels.length / 3), Math.sqrt(pixels.length / 3)),
    [255, 255, 255],
  );
});

test('crop keeps the centre square, stretch squashes the whole picture', async () => {
  // 60x20: red | green | blue thirds.
  const width = 60;
  const height = 20;
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set(x < 20 ? [255, 0, 0] : x < 40 ? [0, 255, 0] : [0, 0, 255], (y * width + x) * 3);
  }
  const file = await rawImage(path.join(dir, 'thirds.png'), pixels, width, height);
  const cropped = await loadTile(file, square(12), 'crop');
  // The resampling kernel may tint the outermost columns; the body of the tile is green.
  assert.ok(
    colourDistance(meanOf(cropped.pixels, 12, 2, 0, 8, 12), [0, 255, 0]) <= 4,
    `crop is green: ${meanOf(cropped.pixels, 12, 2, 0, 8, 12)}`,
  );
  const stretched = await loadTile(file, square(12), 'stretch');
  assert.ok(colourDistance(meanOf(stretched.pixels, 12, 0, 0, 3, 12), [255, 0, 0]) <= 2, 'stretch keeps red on the left');
  assert.ok(colourDistance(meanOf(stretched.pixels, 12, 9, 0, 3, 12), [0, 0, 255]) <= 2, 'stretch keeps blue on the right');
});

test('rectangular tiles: the centre window of the tile shape, reduced to it, and its features', async () => {
  // 60x20: red | green | blue thirds. 2:1 landscape tiles take its middle 40x20; 1:2 portrait ones its middle 10x20.
  const width = 60;
  const height = 20;
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set(x < 20 ? [255, 0, 0] : x < 40 ? [0, 255, 0] : [0, 0, 255], (y * width + x) * 3);
  }
  const file = await rawImage(path.join(dir, 'thirds-rect.png'), pixels, width, height);
  const landscape = await loadTile(file, { width: 16, height: 8 }, 'crop');
  assert.equal(landscape.pixels.length, 16 * 8 * 3);
  // Left half of the tile: the red third's right half and green's left half.
  assert.ok(
    colourDistance(meanOf(landscape.pixels, 16, 0, 0, 3, 8), [255, 0, 0]) <= 40,
    `left is red: ${meanOf(landscape.pixels, 16, 0, 0, 3, 8)}`,
  );
  assert.ok(colourDistance(meanOf(landscape.pixels, 16, 6, 0, 4, 8), [0, 255, 0]) <= 20, 'the middle is green');
  assert.ok(colourDistance(meanOf(landscape.pixels, 16, 13, 0, 3, 8), [0, 0, 255]) <= 40, 'right is blue');
  const portrait = await loadTile(file, { width: 5, height: 10 }, 'crop');
  assert.equal(portrait.pixels.length, 5 * 10 * 3);
  assert.ok(colourDistance(meanOf(portrait.pixels, 5, 0, 0, 5, 10), [0, 255, 0]) <= 8, 'portrait is all green');
  const features = tilesFeatures(landscape.pixels, { width: 16, height: 8 }, 1);
  assert.equal(features.length, 48);
  assert.ok(features[0]! > 200 && features[1]! < 60, 'the top-left feature square is red');
});

test('five crops: the centre square, then squares of 0.7 of the short side in the four corners', async () => {
  const windows = (width: number, height: number, crops: 1 | 5): number[][] =>
    cropWindows(width, height, crops).map(({ left, top, width: side, height: other }) => (assert.equal(side, other), [left, top, side]));
  assert.deepEqual(windows(60, 40, 1), [[10, 0, 40]]);
  assert.deepEqual(windows(60, 40, 5), [
    [10, 0, 40],
    [0, 0, 28],
    [32, 0, 28],
    [0, 12, 28],
    [32, 12, 28],
  ]);
  // Rectangular tiles: windows of the tile's aspect ratio, corners 0.7 of the centre window.
  assert.deepEqual(cropWindows(60, 40, 5, { width: 3, height: 2 }), [
    { left: 0, top: 0, width: 60, height: 40 },
    { left: 0, top: 0, width: 42, height: 28 },
    { left: 18, top: 0, width: 42, height: 28 },
    { left: 0, top: 12, width: 42, height: 28 },
    { left: 18, top: 12, width: 42, height: 28 },
  ]);
  assert.deepEqual(cropWindows(60, 40, 5, { width: 20, height: 30 }), [
    { left: 16, top: 0, width: 27, height: 40 },
    { left: 0, top: 0, width: 19, height: 28 },
    { left: 41, top: 0, width: 19, height: 28 },
    { left: 0, top: 12, width: 19, height: 28 },
    { left: 41, top: 12, width: 19, height: 28 },
  ]);
  // A picture in four coloured quadrants: each corner crop is mostly its own quadrant's colour,
  // the centre square an even mix.
  const quadrants = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 0],
  ];
  const pixels = new Uint8Array(40 * 40 * 3);
  for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) pixels.set(quadrants[(y < 20 ? 0 : 2) + (x < 20 ? 0 : 1)]!, (y * 40 + x) * 3);
  const file = await rawImage(path.join(dir, 'quadrants.png'), pixels, 40, 40);
  const { pixels: tiles } = await loadTile(file, square(10), 'crop', 5);
  assert.equal(tiles.length, 5 * 10 * 10 * 3);
  const tile = (i: number): Uint8Array => tiles.subarray(i * 300, (i + 1) * 300);
  assert.ok(colourDistance(meanOf(tile(0), 10, 0, 0, 10, 10), [128, 128, 64]) <= 4, `centre: ${meanOf(tile(0), 10, 0, 0, 10, 10)}`);
  quadrants.forEach((colour, quadrant) => {
    const crop = tile(quadrant + 1);
    // The corner of the crop that is the picture's corner has the quadrant's colour.
    const x = quadrant % 2 === 0 ? 0 : 6;
    const y = quadrant < 2 ? 0 : 6;
    assert.ok(
      colourDistance(meanOf(crop, 10, x, y, 4, 4), colour) <= 4,
      `crop ${quadrant + 1}: ${meanOf(crop, 10, x, y, 4, 4)} vs ${colour}`,
    );
  });
});

test('EXIF orientation is applied before cropping', async () => {
  // Stored 40x20 landscape, red left / blue right, tagged "rotate 90° clockwise to display":
  // displayed it is 20x40 portrait with red on top and blue below.
  const file = path.join(dir, 'rotated.jpg');
  await sharp(halves(40, 20, [255, 0, 0], [0, 0, 255]), { raw: { width: 40, height: 20, channels: 3 } })
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: 95 })
    .toFile(file);
  assert.equal((await sharp(file).metadata()).orientation, 6);
  const { pixels } = await loadTile(file, square(10), 'crop');
  assert.ok(colourDistance(meanOf(pixels, 10, 0, 0, 10, 3), [255, 0, 0]) <= 30, `top is red: ${meanOf(pixels, 10, 0, 0, 10, 3)}`);
  assert.ok(colourDistance(meanOf(pixels, 10, 0, 7, 10, 3), [0, 0, 255]) <= 30, `bottom is blue: ${meanOf(pixels, 10, 0, 7, 10, 3)}`);
});

test('unusable files are refused with a reason', async () => {
  const good = await solidImage(path.join(dir, 'good.jpg'), [10, 20, 30], 200, 200);
  const jpeg = await sharp(good).toBuffer();
  await writeFile(path.join(dir, 'empty.jpg'), '');
  await writeFile(path.join(dir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  await writeFile(path.join(dir, 'text.jpg'), 'this is not a picture\n');
  await writeFile(path.join(dir, 'random.png'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  await mkdir(path.join(dir, 'folder.jpg'));
  const expectations: Record<string, RegExp> = {
    'empty.jpg': /empty file/,
    'truncated.jpg': /truncated/,
    'text.jpg': new RegExp(`^${NOT_ACCEPTED} \\(it looks like text\\)$`),
    'random.png': new RegExp(`^${NOT_ACCEPTED}$`),
    'folder.jpg': /not a regular file/,
    'missing.jpg': /disappeared/,
  };
  for (const [name, reason] of Object.entries(expectations)) {
    await assert.rejects(loadTile(path.join(dir, name), square(20), 'crop'), (error: unknown) => {
      assert.ok(error instanceof UnreadableImageError, `${name}: ${String(error)}`);
      assert.match(error.message, reason, name);
      assert.doesNotMatch(error.message, /\n/, 'one line');
      return true;
    });
  }
});

test('files over 1 MB are read whole within the shared budget, else decoded from disk: the same tiles and fingerprint', async () => {
  // Noise compresses poorly: a PNG of 1.9 MB or so.
  const random = seededRandom(5);
  const noise = Buffer.from(new Uint8Array(800 * 800 * 3).map(() => Math.floor(random() * 256)));
  const file = path.join(dir, 'noise.png');
  await sharp(noise, { raw: { width: 800, height: 800, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toFile(file);
  /** A budget that remembers the most bytes held at once. */
  class WatchedBudget extends ReadBudget {
    peak = 0;

    override take(size: number): boolean {
      const taken = super.take(size);
      this.peak = Math.max(this.peak, this.held);
      return taken;
    }
  }
  const loads: Record<string, Awaited<ReturnType<typeof loadTile>>> = {};
  for (const [name, limit] of [
    ['whole', 64 * 1024 * 1024],
    ['from disk', 1],
  ] as const) {
    const budget = new WatchedBudget(limit);
    // Two loads at once share the budget; each gives its bytes back when done.
    const [first, second] = await Promise.all([
      loadTile(file, square(8), 'crop', 5, new ReadBuffer(budget)),
      loadTile(file, square(8), 'crop', 5, new ReadBuffer(budget)),
    ]);
    assert.equal(budget.held, 0, `${name}: nothing held after the loads`);
    assert.equal(budget.peak > 0, name === 'whole', `${name}: ${budget.peak} bytes held at most`);
    assert.ok(first.pixels.equals(second.pixels));
    loads[name] = first;
  }
  assert.ok(loads.whole!.size > 1024 * 1024, `a ${loads.whole!.size}-byte file`);
  assert.ok(loads.whole!.pixels.equals(loads['from disk']!.pixels));
  assert.equal(loads.whole!.fingerprint, loads['from disk']!.fingerprint);
  // A file that cannot be decoded gives its bytes back too.
  const broken = path.join(dir, 'broken.png');
  await writeFile(broken, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), noise.subarray(0, 1_200_000)]));
  const budget = new ReadBudget();
  await assert.rejects(loadTile(broken, square(8), 'crop', 1, new ReadBuffer(budget)), UnreadableImageError);
  assert.equal(budget.held, 0);
});

test('an image over the pixel limit is refused from its header', async () => {
  const file = path.join(dir, 'huge.png');
  // A PNG whose header claims 100,000 x 100,000 pixels and has almost no pixel data.
  await writeFile(file, pngClaiming(100_000, 100_000));
  await assert.rejects(loadTile(file, square(20), 'crop'), /larger than .* pixels, not decoded/);
});

test('a thin strip (4000x2, decoded without enlargement) and a picture under the decode size both become full tiles of their colour', async () => {
  // 4000x2: enlarged to a short side of 2 x 20 px it would be 80,000 px long.
  const strip = path.join(dir, 'strip.png');
  await sharp(Buffer.alloc(4000 * 2 * 3, 200), { raw: { width: 4000, height: 2, channels: 3 } })
    .png()
    .toFile(strip);
  const { pixels } = await loadTile(strip, square(20), 'crop', 5);
  assert.equal(pixels.length, 5 * 20 * 20 * 3);
  assert.ok(
    pixels.every((value) => Math.abs(value - 200) <= 1),
    'every crop is the strip colour',
  );
  // 12x12, under twice the tile size: still a full tile of its colour.
  const small = await solidImage(path.join(dir, 'small.png'), [30, 160, 90], 12, 12);
  const { pixels: tile } = await loadTile(small, square(20), 'crop');
  assert.equal(tile.length, 20 * 20 * 3);
  assert.ok(colourDistance(meanOf(tile, 20, 0, 0, 20, 3), [30, 160, 90]) <= 2);
});

test('a link with an image name to a device or a FIFO is refused without being opened', async () => {
  const folder = path.join(dir, 'not-regular');
  await mkdir(folder);
  const fifo = await nonRegularLinks(folder);
  // A writer's open of a FIFO waits until a reader opens it: had loadTile opened it (even with
  // O_NONBLOCK, even for a moment), this open would be done.
  let writerOpened = false;
  const writer = open(fifo, 'w').then((handle) => {
    writerOpened = true;
    return handle;
  });
  try {
    await sleep(50); // the writer waits in the kernel by now
    for (const name of ['device.jpg', 'fifo.jpg']) {
      await assert.rejects(loadTile(path.join(folder, name), square(8), 'crop'), {
        name: 'UnreadableImageError',
        message: 'not a regular file',
      });
    }
    await sleep(50);
    assert.equal(writerOpened, false, 'the FIFO was opened');
  } finally {
    // Lets the writer's open finish: it holds one of libuv's threads.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    await (await writer).close();
    closeSync(reader);
  }
});

test('SVG, PDF and libvips files with an image name are refused by their first bytes, read whole or decoded from disk', async () => {
  // Over 1 MB and out of budget, a file is decoded from disk: only its first bytes are read before.
  for (const [way, padding, budget] of [
    ['read whole', 0, undefined],
    ['from disk', 1_200_000, new ReadBudget(1)],
  ] as const) {
    const folder = path.join(dir, `lookalikes-${padding}`);
    await mkdir(folder);
    for (const [name, kind] of Object.entries(await lookalikeFiles(folder, padding))) {
      const file = path.join(folder, name);
      assert.equal(statSync(file).size > 1024 * 1024, way === 'from disk', `${way}: ${name} is ${statSync(file).size} bytes`);
      await assert.rejects(
        loadTile(file, square(8), 'crop', 1, new ReadBuffer(budget)),
        { name: 'UnreadableImageError', message: `${NOT_ACCEPTED} (it looks like ${kind})` },
        `${way}: ${name}`,
      );
    }
  }
});

test('sharp as tsmosaic loads it decodes only the formats tsmosaic reads, and its own .v files', async () => {
  const folder = path.join(dir, 'loaders');
  await mkdir(folder);
  await lookalikeFiles(folder);
  const loaded = await loadSharp();
  // First bytes aside, libvips' SVG loader is blocked: for a file named .svg, and from memory.
  const svg = path.join(folder, 'drawing.svg');
  await rename(path.join(folder, 'drawing.jpg'), svg);
  for (const input of [svg, await readFile(svg)]) await assert.rejects(loaded(input).metadata(), /unsupported image format/);
  // The .v loader stays: writeLargeImage encodes from a temporary .v file.
  const native = path.join(folder, 'native.v');
  await rename(path.join(folder, 'native.jpg'), native);
  assert.equal((await loaded(native).metadata()).format, 'vips');
});

test('a picture decoded from disk is read through its descriptor: what its name names after it is opened does not count', async () => {
  const folder = path.join(dir, 'swapped');
  await mkdir(folder);
  const file = await solidImage(path.join(folder, 'picture.png'), [200, 30, 30]);
  const other = await solidImage(path.join(folder, 'other.png'), [30, 30, 200]);
  const stale = statSync(file);
  const image = openImageFile(file);
  try {
    await rename(other, file);
    const { data } = await sharp(decoderPath(image)).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([...data.subarray(0, 3)], [200, 30, 30], 'the file opened, not the one its name names now');
  } finally {
    closeSync(image.descriptor);
  }
  // Replaced between the stat and the open: refused.
  assert.throws(() => openImageFile(file, stale), { name: 'UnreadableImageError', message: 'file replaced while it was opened' });
});

test('pictures decoded through their descriptors one after another each give their own pixels', async () => {
  // libvips caches loads by file name (with sharp's default settings), and a descriptor's number is
  // reused once it is closed: the same name for each would give the first picture every time.
  (await loadSharp()).cache(true);
  const folder = path.join(dir, 'reused-descriptors');
  await mkdir(folder);
  const descriptors = new Set<number>();
  for (const [i, extension] of ['webp', 'webp', 'v', 'v'].entries()) {
    const colour: Rgb = [40 * i, 200 - 40 * i, 90];
    const file = await solidImage(path.join(folder, `${i}.${extension}`), colour, 10 + i, 8);
    const image = openImageFile(file);
    try {
      descriptors.add(image.descriptor);
      const input = decoderPath(image);
      assert.equal((await sharp(input).metadata()).width, 10 + i, file);
      const { data } = await sharp(input).raw().toBuffer({ resolveWithObject: true });
      assert.ok(colourDistance([...data.subarray(0, 3)], colour) <= 3, `${file}: ${data.subarray(0, 3).join(',')}`);
    } finally {
      closeSync(image.descriptor);
    }
  }
  assert.equal(descriptors.size, 1, 'each file had the same descriptor number');
});
