import type { TileStore } from '../index-store/tile-store.js';
import { writeDeepZoom, assertDeepZoomReplaceable } from './deep-zoom.js';
import { writeImage, type OutputFormat } from './encode.js';
import { renderRegion, type MosaicPlan } from './render-region.js';
import { writeLargeImage } from './write-large-image.js';

/**
 * Raw canvases up to this size are rendered and encoded in one piece (fastest for everyday
 * sizes); larger ones are streamed band by band through a temporary file, with flat memory.
 */
export const ONE_PIECE_MAX_BYTES = 48 * 1024 * 1024;

/** Progress of writing the output: `render` in rows, `encode` in MB, `tiles` in deep zoom tiles. */
export type WriteProgress = (stage: 'render' | 'encode' | 'tiles', done: number, total: number) => void;

export interface WriteMosaicOptions {
  onProgress?: WriteProgress;
  /** Stops the work between bands or tiles; temporaries are removed and the reason thrown. */
  signal?: AbortSignal;
}

/**
 * Checks, before any work, that writing `file` replaces nothing that tsmosaic did not write.
 * @throws {TsmosaicError}
 */
export async function assertOutputReplaceable(file: string, format: OutputFormat): Promise<void> {
  if (format === 'dzi') await assertDeepZoomReplaceable(file);
}

/**
 * Writes the mosaic `plan` to `file` in `format`: a single image (in one piece or band by band)
 * or a Deep Zoom pyramid with its viewer. Every path renders through renderRegion, and an
 * interrupted or failed write leaves nothing under the final name.
 * @throws {TsmosaicError} on a write error; the signal's reason when aborted.
 */
export async function writeMosaic(plan: MosaicPlan, store: TileStore, file: string, format: OutputFormat, options: WriteMosaicOptions = {}): Promise<void> {
  const { onProgress, signal } = options;
  const width = plan.columns * store.tileSize;
  const height = plan.rows * store.tileSize;
  if (format === 'dzi') {
    await writeDeepZoom(plan, store, file, { signal, onProgress: (done, total) => onProgress?.('tiles', done, total) });
  } else if (width * height * 3 <= ONE_PIECE_MAX_BYTES) {
    onProgress?.('render', 0, height);
    const canvas = renderRegion(plan, store, { left: 0, top: 0, width, height });
    onProgress?.('render', height, height);
    signal?.throwIfAborted();
    onProgress?.('encode', 0, 1);
    await writeImage(canvas, width, height, file, format);
    onProgress?.('encode', 1, 1);
  } else {
    await writeLargeImage(plan, store, file, format, { onProgress, signal });
  }
}
