import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { TileStore } from '../src/tiles/tile-store.js';
import { renderRegion, type MosaicPlan } from '../src/render/render-region.js';
import { writeMosaic } from '../src/render/write-mosaic.js';
import { tempDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
// CI installs Debian's chromium (.ci/run): there the test must run. Elsewhere it needs one.
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true' ? `${CHROMIUM} is missing (apt-get install chromium)` : false;

const TILE = 16;
const VIEW = { width: 1000, height: 750 };

/** 40 tiles: flat colours with a dark 2 px frame, detail that only the full-size level shows. */
function framedStore(count = 40): TileStore {
  const pixels = Buffer.alloc(count * TILE * TILE * 3);
  for (let id = 0; id < count; id++) {
    const colour = [(id * 53 + 30) % 256, (id * 97 + 70) % 256, (id * 151 + 110) % 256];
    for (let y = 0; y < TILE; y++) {
      for (let x = 0; x < TILE; x++) {
        const frame = x < 2 || y < 2 || x >= TILE - 2 || y >= TILE - 2;
        for (let c = 0; c < 3; c++) pixels[((id * TILE + y) * TILE + x) * 3 + c] = frame ? 20 : colour[c]!;
      }
    }
  }
  return new TileStore(pixels, { width: TILE, height: TILE }, count);
}

/** Mean absolute difference per channel value between two raw RGB images of the same size. */
function meanDifference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/**
 * The part of a view below the navigator and the buttons, averaged down to 4 x 4 px blocks: the
 * browser and sharp resample differently, and only what a person would see should count.
 */
async function blocks(image: Buffer, raw?: { width: number; height: number; channels: 3 }): Promise<Buffer> {
  const cropped = await sharp(image, raw ? { raw } : {})
    .removeAlpha()
    .extract({ left: 0, top: 150, width: VIEW.width, height: VIEW.height - 150 })
    .raw()
    .toBuffer();
  return sharp(cropped, { raw: { width: VIEW.width, height: VIEW.height - 150, channels: 3 } })
    .resize(VIEW.width / 4, (VIEW.height - 150) / 4, { kernel: 'linear' })
    .raw()
    .toBuffer();
}

interface ViewerWindow {
  viewer: {
    world: { getItemAt(index: number): { getFullyLoaded(): boolean; source: { maxLevel: number } } | undefined };
    viewport: {
      zoomTo(zoom: number, point?: unknown, immediately?: boolean): void;
      panTo(point: unknown, immediately?: boolean): void;
      imageToViewportZoom(zoom: number): number;
      imageToViewportCoordinates(x: number, y: number): unknown;
      getBounds(current?: boolean): unknown;
      viewportToImageRectangle(rectangle: unknown): { x: number; y: number; width: number; height: number };
    };
  };
}

test('the viewer opens from file:// in Chromium, shows the mosaic and its tiles up close', { skip, timeout: 120_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const folder = await tempDir();
  const store = framedStore();
  // 150 x 100 tiles of 16 px: 2400 x 1600 px, levels 0 to 12.
  const plan: MosaicPlan = {
    columns: 150,
    rows: 100,
    tiles: Uint32Array.from({ length: 15000 }, (_, i) => (i * 7 + Math.floor(i / 150) * 3) % 40),
  };
  await writeMosaic(plan, store, path.join(folder, 'mosaic.dzi'), 'dzi');

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
    const page = await browser.newPage({ viewport: VIEW });
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));

    await page.goto(pathToFileURL(path.join(folder, 'index.html')).href);
    const loaded = (): boolean => (globalThis as unknown as ViewerWindow).viewer.world.getItemAt(0)?.getFullyLoaded() === true;
    await page.waitForFunction(loaded, undefined, { timeout: 30_000 });
    const overviewPng = await page.screenshot();
    if (process.env.TSMOSAIC_SHOTS) await sharp(overviewPng).toFile(path.join(process.env.TSMOSAIC_SHOTS, 'overview.png'));
    const overview = await blocks(overviewPng);
    // The whole mosaic fits the window (1000 x 667 px of it): compare with it, scaled the same way.
    const whole = renderRegion(plan, store, { left: 0, top: 0, width: 2400, height: 1600 });
    const expectedOverview = await sharp(whole, { raw: { width: 2400, height: 1600, channels: 3 } })
      .resize(VIEW.width, Math.round((1600 * VIEW.width) / 2400))
      .extend({ top: 41, bottom: 42, background: '#1b1b1b' })
      .raw()
      .toBuffer()
      .then((pixels) => blocks(pixels, { ...VIEW, channels: 3 }));
    const overviewDifference = meanDifference(overview, expectedOverview);
    assert.ok(overviewDifference < 15, `zoomed out, the viewer shows the mosaic (mean difference ${overviewDifference.toFixed(1)})`);

    // Zoom to 2 screen px per image px around the middle: only the full-size level has the frames.
    const maxLevel = await page.evaluate(() => {
      const { viewer } = globalThis as unknown as ViewerWindow;
      viewer.viewport.zoomTo(viewer.viewport.imageToViewportZoom(2), undefined, true);
      viewer.viewport.panTo(viewer.viewport.imageToViewportCoordinates(1200, 800), true);
      return viewer.world.getItemAt(0)!.source.maxLevel;
    });
    await page.waitForFunction(loaded, undefined, { timeout: 30_000 });
    await page.waitForTimeout(500);
    await page.waitForFunction(loaded, undefined, { timeout: 30_000 });
    const shown = await page.evaluate(() => {
      const { viewer } = globalThis as unknown as ViewerWindow;
      return viewer.viewport.viewportToImageRectangle(viewer.viewport.getBounds(true));
    });
    const closeUpPng = await page.screenshot();
    if (process.env.TSMOSAIC_SHOTS) await sharp(closeUpPng).toFile(path.join(process.env.TSMOSAIC_SHOTS, 'close-up.png'));
    const closeUp = await blocks(closeUpPng);
    const left = Math.round(shown.x);
    const top = Math.round(shown.y);
    const expectedCloseUp = await sharp(renderRegion(plan, store, { left, top, width: 500, height: 375 }), {
      raw: { width: 500, height: 375, channels: 3 },
    })
      .resize(VIEW.width, VIEW.height, { kernel: 'nearest' })
      .raw()
      .toBuffer()
      .then((pixels) => blocks(pixels, { ...VIEW, channels: 3 }));
    const closeUpDifference = meanDifference(closeUp, expectedCloseUp);
    assert.ok(
      closeUpDifference < 20,
      `zoomed in, the tiles' frames line up with the mosaic (mean difference ${closeUpDifference.toFixed(1)})`,
    );
    assert.ok(
      requested.some((url) => url.includes(`/mosaic_files/${maxLevel}/`)),
      'full-size tiles were loaded',
    );
    assert.deepEqual(problems, [], 'no errors in the console');
  } finally {
    await browser.close();
  }
});
