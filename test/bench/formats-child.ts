/**
 * One timed write of formats.ts: loads an index's tiles and a saved placement, then writes the
 * mosaic one way (a variant) and prints `{ wallSeconds, cpuSeconds, ... }` of the write alone on
 * stdout. formats.ts compiles this file to plain JS (as floor.ts) so that tsx's start-up and
 * loader are not in the process; it runs tsmosaic's compiled dist/.
 *
 * Usage: node formats-child.mjs REPO VARIANT INDEX PLACEMENT OUT
 *   VARIANT: a | b | c1 | c1af | c6 | c6af | d | e2 (see VARIANTS in formats.ts)
 *   PLACEMENT: columns, rows (u32 LE each), then a u16 tile id a cell and a byte a cell, 1 when mirrored
 *   OUT: the PNG, or the `.dzi` of a pyramid (its tiles in `<name>_files`)
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Sharp } from 'sharp';
import { readPlacement } from './placement-file.js';
import type * as ReadIndexModule from '../../src/index-store/read-index.js';
import type * as LoadSharpModule from '../../src/load-sharp.js';
import type * as WriteMosaicModule from '../../src/render/write-mosaic.js';
import type * as WritePngModule from '../../src/render/write-png.js';
import type * as RenderRegionModule from '../../src/render/render-region.js';
import type * as OutputFilesModule from '../../src/files/publish.js';
import type * as VipsFileModule from '../../src/render/vips-file.js';
import type * as DeepZoomLayoutModule from '../../src/render/deep-zoom-layout.js';
import type * as TileDeflateModule from '../../src/render/tile-deflate.js';

type Modules = {
  readIndex: typeof ReadIndexModule;
  loadSharp: typeof LoadSharpModule;
  writeMosaic: typeof WriteMosaicModule;
  writePng: typeof WritePngModule;
  renderRegion: typeof RenderRegionModule;
  outputFiles: typeof OutputFilesModule;
  vipsFile: typeof VipsFileModule;
  deepZoomLayout: typeof DeepZoomLayoutModule;
  tileDeflate: typeof TileDeflateModule;
};

if (process.argv.length !== 7) {
  process.stderr.write('usage: formats-child REPO VARIANT INDEX PLACEMENT OUT\n');
  process.exit(2);
}
const [repo, variant, index, placementFile, out] = process.argv.slice(2) as [string, string, string, string, string];
const dist = (module: string): Promise<unknown> => import(pathToFileURL(path.join(repo, 'dist', module)).href);
const modules: Modules = {
  readIndex: (await dist('index-store/read-index.js')) as Modules['readIndex'],
  loadSharp: (await dist('load-sharp.js')) as Modules['loadSharp'],
  writeMosaic: (await dist('render/write-mosaic.js')) as Modules['writeMosaic'],
  writePng: (await dist('render/write-png.js')) as Modules['writePng'],
  renderRegion: (await dist('render/render-region.js')) as Modules['renderRegion'],
  outputFiles: (await dist('files/publish.js')) as Modules['outputFiles'],
  vipsFile: (await dist('render/vips-file.js')) as Modules['vipsFile'],
  deepZoomLayout: (await dist('render/deep-zoom-layout.js')) as Modules['deepZoomLayout'],
  tileDeflate: (await dist('render/tile-deflate.js')) as Modules['tileDeflate'],
};

// As `tsmosaic build`: libvips' operation cache off, sharp loaded before the write (build loads it
// to read the target), so that no variant's time holds loading it.
modules.loadSharp.disableSharpCache();
const sharp = await modules.loadSharp.loadSharp();
const { tiles: store } = await modules.readIndex.loadIndex(index);
const plan = await readPlacement(placementFile);
const width = plan.columns * store.tileWidth;
const height = plan.rows * store.tileHeight;

const started = performance.now();
const cpuStarted = process.cpuUsage();
const extra: Record<string, unknown> = {};
switch (variant) {
  case 'a':
    // Today's default: writeMosaic codes the PNG from the tiles (TileRowDeflater).
    if (!modules.tileDeflate.TileRowDeflater.supports(plan, store))
      throw new Error("the placement cannot be coded from its tiles: variant a would not be today's path");
    await modules.writeMosaic.writeMosaic(plan, store, out, 'png');
    break;
  case 'b': {
    // writeMosaic's other PNG path: rendered bands, filtered here, deflated by zlib on the thread pool.
    let band: Buffer | undefined;
    const renderBand = (top: number, rows: number): Buffer =>
      modules.renderRegion.renderRegion(
        plan,
        store,
        { left: 0, top, width, height: rows },
        (band ??= Buffer.allocUnsafe(rows * width * 3)),
      );
    await modules.outputFiles.writeThroughTemporary(out, (temporary) => modules.writePng.writePng(temporary, width, height, renderBand));
    break;
  }
  case 'c1':
  case 'c1af':
  case 'c6':
  case 'c6af': {
    const compressionLevel = variant.startsWith('c1') ? 1 : 6;
    const adaptiveFiltering = variant.endsWith('af');
    await throughVipsFile((image) => image.png({ compressionLevel, adaptiveFiltering }).toFile(out));
    break;
  }
  case 'd':
    // Today's deep zoom: bands into a .v file, libvips' dzsave in stripes, the tiles published, the viewer.
    await modules.writeMosaic.writeMosaic(plan, store, out, 'dzi');
    break;
  case 'e2': {
    // libvips' pyramid alone, tiles as d's: same quality, no Huffman optimisation.
    sharp.concurrency(2);
    extra.concurrency = sharp.concurrency();
    const name = path.join(path.dirname(out), path.basename(out, path.extname(out)));
    await throughVipsFile((image) =>
      image
        .jpeg({ quality: modules.deepZoomLayout.DEEP_ZOOM_JPEG_QUALITY, optimiseCoding: false })
        .tile({ size: 254, overlap: modules.deepZoomLayout.DEEP_ZOOM_OVERLAP, layout: 'dz' })
        .toFile(`${name}.dz`),
    );
    break;
  }
  default:
    throw new Error(`unknown variant ${variant}`);
}
const wallSeconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStarted);
process.stdout.write(`${JSON.stringify({ variant, width, height, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, ...extra })}\n`);

/**
 * The library path: rows rendered band by band into a temporary libvips `.v` file beside `out`
 * (renderVipsFile, as write-large-image.ts), which libvips reads with sequential access and `save`
 * encodes; the `.v` file is removed afterwards (its removal timed too).
 */
async function throughVipsFile(save: (image: Sharp) => Promise<unknown>): Promise<void> {
  const render = (top: number, rows: number, into: Buffer): Buffer =>
    modules.renderRegion.renderRegion(plan, store, { left: 0, top, width, height: rows }, into);
  const raw = `${out}.bench.v`;
  try {
    await modules.vipsFile.renderVipsFile(raw, width, height, render);
    const rawDone = performance.now();
    await save(sharp(raw, { limitInputPixels: false, sequentialRead: true }));
    extra.rawSeconds = (rawDone - started) / 1000;
  } finally {
    await rm(raw, { force: true });
  }
}
