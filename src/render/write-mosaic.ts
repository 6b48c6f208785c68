import { performance } from 'node:perf_hooks';
import { gridRowsThrough, mosaicSize } from '../tiles/mosaic-plan.js';
import { TileStore } from '../tiles/tile-store.js';
import { SourceRenderer, type TileSource } from './tile-source.js';
import { writeDeepZoom, assertDeepZoomReplaceable } from './deep-zoom.js';
import { writeImage, type OutputFormat } from './encode.js';
import { writeThroughTemporary } from '../files/publish.js';
import { TileRowDeflater } from './tile-deflate.js';
import { writeCodedPng, writePng, type PngRowCoder } from './write-png.js';
import type { MosaicPlan } from './render-region.js';
import { writeLargeImage } from './write-large-image.js';

/**
 * Raw canvases up to this size are rendered and encoded in one piece (fastest for everyday
 * sizes); larger ones are streamed band by band through a temporary file, with flat memory.
 * PNG is always written band by band by tsmosaic's own encoder (write-png.ts).
 */
export const ONE_PIECE_MAX_BYTES = 48 * 1024 * 1024;

/** Progress of writing the output: `render` in rows, `encode` in MB (rows for PNG), `tiles` in full-size deep zoom tiles. */
export type WriteProgress = (stage: 'render' | 'encode' | 'tiles', done: number, total: number) => void;

export interface WriteMosaicOptions {
  onProgress?: WriteProgress;
  /**
   * When the plan is still being placed: resolves once its first `rows` rows are. A PNG asks for
   * the rows of each band as it goes, so bands are encoded while later rows are placed; the other
   * formats ask for every row first.
   */
  placed?: (rows: number) => Promise<void>;
  /** Stops the work between bands or tiles; temporaries are removed and the reason thrown. */
  signal?: AbortSignal;
  /**
   * Runs once the output is written, before it is put in place: work that must not outlast an
   * interrupted build (the fidelity measure, other files) then leaves no output behind.
   */
  beforePublish?: () => Promise<void>;
  /** Pixels per inch the file declares (PNG pHYs, JPEG density, TIFF resolution). */
  density?: number;
}

/**
 * Checks, before any work, that writing `file` replaces nothing that tsmosaic did not write.
 * @throws {TsmosaicError}
 */
export async function assertOutputReplaceable(file: string, format: OutputFormat): Promise<void> {
  if (format === 'dzi') await assertDeepZoomReplaceable(file);
}

export interface WriteMosaicResult {
  /** Seconds the main thread spent rendering pixels (the rest of the write is encoding). */
  renderSeconds: number;
}

/**
 * Writes the mosaic `plan` to `file` in `format`: a single image (in one piece or band by band)
 * or a Deep Zoom pyramid with its viewer (band by band, as large images). Every path renders
 * through renderRegion, and an interrupted or failed write leaves nothing under the final name.
 * @throws {TsmosaicError} on a write error; the signal's reason when aborted.
 */
export async function writeMosaic(
  plan: MosaicPlan,
  store: TileSource,
  file: string,
  format: OutputFormat,
  options: WriteMosaicOptions = {},
): Promise<WriteMosaicResult> {
  const { onProgress, signal, placed, beforePublish, density } = options;
  const { width, height } = mosaicSize(plan, store.tileWidth, store.tileHeight);
  let renderSeconds = 0;
  /** `work`, its time added to renderSeconds. */
  const timed =
    <Args extends unknown[], Result>(work: (...args: Args) => Result) =>
    (...args: Args): Result => {
      const started = performance.now();
      try {
        return work(...args);
      } finally {
        renderSeconds += (performance.now() - started) / 1000;
      }
    };
  const renderer = new SourceRenderer(plan, store);
  /** Rows [top, top + rows) of the mosaic, drawn into `into` when given. */
  const renderRows = timed((top: number, rows: number, into?: Buffer): Buffer =>
    renderer.render({ left: 0, top, width, height: rows }, into),
  );
  if (format !== 'png') await placed?.(plan.rows);
  if (format === 'dzi') {
    await writeDeepZoom(file, width, height, renderRows, { onProgress, signal, beforePublish, onRendered: () => renderer.release() });
  } else if (format === 'png') {
    const encodeProgress = (done: number, total: number): void => onProgress?.('encode', done, total);
    const placedThrough = async (top: number, rows: number): Promise<void> => {
      await placed?.(gridRowsThrough(plan, store.tileHeight, top + rows));
    };
    if (store instanceof TileStore && TileRowDeflater.supports(plan, store)) {
      // Coded straight from the tiles: no pixels rendered (the coding's time counts as rendering).
      const coder = new TileRowDeflater(plan, store);
      const timedCoder: PngRowCoder = {
        band: timed((top: number, rows: number) => coder.band(top, rows)),
        finish: () => coder.finish(),
        get adler() {
          return coder.adler;
        },
      };
      await writeThroughTemporary(
        file,
        async (temporary) => {
          await writeCodedPng(temporary, width, height, timedCoder, { ready: placedThrough, signal, onProgress: encodeProgress, density });
          await beforePublish?.();
        },
        signal,
      );
    } else {
      // One band buffer, rendered into again and again: the first band is the tallest.
      let band: Buffer | undefined;
      const renderBand = async (top: number, rows: number): Promise<Buffer> => {
        await placedThrough(top, rows);
        return renderRows(top, rows, (band ??= Buffer.allocUnsafe(rows * width * 3)));
      };
      await writeThroughTemporary(
        file,
        async (temporary) => {
          await writePng(temporary, width, height, renderBand, { signal, onProgress: encodeProgress, density });
          await beforePublish?.();
        },
        signal,
      );
    }
  } else if (width * height * 3 <= ONE_PIECE_MAX_BYTES) {
    onProgress?.('render', 0, height);
    const canvas = renderRows(0, height);
    onProgress?.('render', height, height);
    signal?.throwIfAborted();
    onProgress?.('encode', 0, 1);
    await writeImage(canvas, width, height, file, format, { signal, beforePublish, density });
    onProgress?.('encode', 1, 1);
  } else {
    await writeLargeImage(file, width, height, format, renderRows, {
      onProgress,
      signal,
      beforePublish,
      density,
      onRendered: () => renderer.release(),
    });
  }
  return { renderSeconds };
}
