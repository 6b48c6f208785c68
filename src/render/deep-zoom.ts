import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Sharp } from 'sharp';
import { TsmosaicError, reasonOf } from '../errors.js';
import { loadSharp } from '../load-sharp.js';
import { assertFreeSpace } from '../files/free-space.js';
import { pathExists } from '../files/paths.js';
import { removeTree } from '../files/remove-tree.js';
import { discardStale, Temporary, writeThroughTemporary } from '../files/publish.js';
import { assertViewerReplaceable, writeViewer } from './deep-zoom-viewer.js';
import { DEEP_ZOOM_JPEG_QUALITY, deepZoomLayout, dziDescriptor, tilesFolderOf, type DeepZoomLayout } from './deep-zoom-layout.js';
import { estimateEncodedBytes } from './encode.js';
import { collectGarbage } from '../collect-garbage.js';
import { DEEP_ZOOM_STRIPE_LEVELS, stripesOf, writeStripedPyramid, type PyramidSource } from './deep-zoom-stripes.js';
import { renderVipsFiles, type BandRenderer, type VipsFilePart } from './vips-file.js';
import { quote } from '../text.js';
import { untilDoneOrAborted, yieldToEventLoop } from '../yield.js';

/** What a tile file may take on disk beyond its bytes: most of a 4 KB block. */
const TILE_FILE_SLACK = 4096;
/** How often the tiles written so far are counted for the progress bar. */
const POLL_MS = 250;

/** Progress of a deep zoom: `render` in rows of the raw image, `tiles` in tiles of the full-size level. */
export type DeepZoomProgress = (stage: 'render' | 'tiles', done: number, total: number) => void;

export interface DeepZoomOptions {
  onProgress?: DeepZoomProgress;
  signal?: AbortSignal;
  /** Runs once every tile is written, before the pyramid is put in place. */
  beforePublish?: () => Promise<void>;
  /** Runs once every row is rendered: what only rendering needed can go before the pyramid is made. */
  onRendered?: () => void;
  /** Halvings a column stripe of the pyramid spans (see writeStripedPyramid); smaller in tests. */
  stripeLevels?: number;
}

/**
 * Checks, before any work, that writing the pyramid `file` replaces nothing but an earlier
 * pyramid and viewer.
 * @throws {TsmosaicError}
 */
export async function assertDeepZoomReplaceable(file: string): Promise<void> {
  const tiles = tilesFolderOf(file);
  if ((await pathExists(tiles)) && !(await pathExists(file))) {
    throw new TsmosaicError(
      `${quote(tiles)} exists and is not the tile folder of ${quote(path.basename(file))}; refusing to replace it (choose another --out)`,
    );
  }
  await assertViewerReplaceable(path.dirname(file));
}

/**
 * Writes the Deep Zoom pyramid of a `width` x `height` image: `file` (`<name>.dzi`), its tiles in
 * `<name>_files/<level>/<column>_<row>.jpeg`, and an `index.html` viewer beside them.
 *
 * The rows are rendered band by band (`renderBand(top, rows, into)` gives rows [top, top + rows))
 * into temporary libvips native (`.v`) files beside the output, one a column stripe, from which
 * libvips' dzsave makes the levels a stripe at a time (see writeStripedPyramid), each in one pass:
 * memory grows with neither the height nor the width. The tiles are written into a hidden
 * temporary folder, moved into place when complete, then the descriptor and the viewer.
 * @throws {TsmosaicError} when the disk lacks room for the raw file and the tiles, or on a write
 *   error; the signal's reason when aborted.
 */
export async function writeDeepZoom(
  file: string,
  width: number,
  height: number,
  renderBand: BandRenderer,
  options: DeepZoomOptions = {},
): Promise<DeepZoomLayout> {
  const { onProgress, signal, stripeLevels = DEEP_ZOOM_STRIPE_LEVELS } = options;
  const layout = deepZoomLayout(width, height);
  const name = path.basename(file, path.extname(file));
  const tilesFolder = tilesFolderOf(file);
  await assertDeepZoomReplaceable(file);
  const pyramidBytes = await untilDoneOrAborted(estimatePyramidBytes(layout, renderBand), signal);
  await assertFreeSpace(file, width * height * 3 + pyramidBytes, 'a temporary raw copy of the image and the tiles');
  await Promise.all([file, tilesFolder].map(discardStale));
  const temporary = await Temporary.create(tilesFolder);
  const full = layout.levels.at(-1)!;
  const fullTiles = full.columns * full.rows;
  try {
    // Beside the output, under the same lock: what a killed build left is removed by the next.
    // A raw file a stripe: libvips maps a `.v` file in windows of whole rows, and windows of the
    // whole width took 27 MB more at each stripe's start at 2 Gpx.
    const stripes = stripesOf(width, height, stripeLevels);
    const parts = stripes.map((stripe, i) => ({ ...stripe, file: temporary.sibling(stripes.length === 1 ? 'v' : `v${i}`) }));
    const written = temporary.sibling('dz');
    await renderVipsFiles(parts, width, height, renderBand, (done) => onProgress?.('render', done, height), signal);
    signal?.throwIfAborted();
    options.onRendered?.();
    collectGarbage();
    await mkdir(written);
    const sharp = await loadSharp();
    let counting: { folder: string; before: number } | undefined;
    let counted = 0;
    onProgress?.('tiles', 0, fullTiles);
    // libvips gives no progress: the full-size tiles of the stripe being written, top to bottom, are
    // counted; never fewer than before, as a stripe's tiles are moved out once it is done.
    const poll = setInterval(() => {
      const pass = counting;
      if (!pass) return;
      readdir(pass.folder).then(
        (names) => {
          if (counting !== pass) return;
          counted = Math.max(counted, Math.min(pass.before + names.length, fullTiles - 1));
          onProgress?.('tiles', counted, fullTiles);
        },
        () => undefined,
      );
    }, POLL_MS);
    // One libvips thread a core for this pass (sharp's default is one on glibc): 15 % faster at 500 Mpx.
    const concurrency = sharp.concurrency();
    sharp.concurrency(os.availableParallelism());
    try {
      const partAt = (left: number, stripeWidth: number): VipsFilePart => {
        const part = parts.find((candidate) => candidate.left === left && candidate.width === stripeWidth);
        if (!part) throw new Error(`no raw file holds columns ${left} to ${left + stripeWidth}`);
        return part;
      };
      const source: PyramidSource = {
        width,
        height,
        open: (left, stripeWidth) => sharp(partAt(left, stripeWidth).file, { limitInputPixels: false, sequentialRead: true }),
        done: (left, stripeWidth) => rm(partAt(left, stripeWidth).file, { force: true }),
      };
      await writeStripedPyramid(source, temporary.path, {
        sharp,
        stripeLevels,
        scratch: written,
        dzsave: (image, into) => tileJpeg(image).tile({ size: layout.tileSize, overlap: layout.overlap, layout: 'dz' }).toFile(into),
        onPass: (folder, before) => (counting = { folder, before }),
        signal,
      });
    } finally {
      counting = undefined;
      clearInterval(poll);
      sharp.concurrency(concurrency);
    }
    // Freed before the tiles are synced and published.
    await Promise.all(parts.map(({ file }) => rm(file, { force: true })));
    await removeTree(written);
    onProgress?.('tiles', fullTiles, fullTiles);
    await options.beforePublish?.();
    await yieldToEventLoop(signal);
    await temporary.publish();
    await writeThroughTemporary(file, (descriptor) => writeFile(descriptor, dziDescriptor(layout)));
    await writeViewer(path.dirname(file), name, layout);
  } catch (error) {
    await temporary.discard().catch(() => undefined);
    if (signal?.aborted && error === signal.reason) throw error;
    if (error instanceof TsmosaicError) throw error;
    throw new TsmosaicError(`cannot write ${quote(file)}: ${reasonOf(error)}`, 1, { cause: error });
  }
  return layout;
}

/** The tiles' JPEG settings; no Huffman optimisation: 3.5 % smaller tiles for ~25 % more encoding time. */
function tileJpeg(image: Sharp): Sharp {
  return image.jpeg({ quality: DEEP_ZOOM_JPEG_QUALITY, optimiseCoding: false });
}

/**
 * Bytes the pyramid's tiles will take on disk, from a band of the image's middle encoded as they
 * are: a third more than the full-size level for the levels above it, plus each tile file's slack.
 */
async function estimatePyramidBytes(layout: DeepZoomLayout, renderBand: BandRenderer): Promise<number> {
  const fullSize = await estimateEncodedBytes(layout.width, layout.height, renderBand, tileJpeg);
  const tiles = layout.levels.reduce((sum, level) => sum + level.columns * level.rows, 0);
  return fullSize * (4 / 3) + tiles * TILE_FILE_SLACK;
}
