import { rm, stat } from 'node:fs/promises';
import type { Sharp } from 'sharp';
import { loadSharp } from '../load-sharp.js';
import { encoderFor, estimateEncodedBytes, type LibvipsFormat } from './encode.js';
import { assertFreeSpace } from '../files/free-space.js';
import { writeThroughTemporary } from '../files/publish.js';
import { renderVipsFile, type BandRenderer } from './vips-file.js';
import { untilDoneOrAborted } from '../yield.js';
import { collectGarbage } from '../collect-garbage.js';

/** How often the size of the file being encoded is looked at for the progress bar. */
const POLL_MS = 250;

/** Progress of writing one image: `render` in rows, `encode` in megabytes of the estimated file. */
export type ImageProgress = (stage: 'render' | 'encode', done: number, total: number) => void;

export interface LargeImageOptions {
  onProgress?: ImageProgress;
  signal?: AbortSignal;
  /** Runs once the file is written, before it is renamed into place. */
  beforePublish?: () => Promise<void>;
  /** Pixels per inch the file declares. */
  density?: number;
  /** Runs once every row is rendered (and the encoding estimated): what only rendering needed can go before libvips encodes. */
  onRendered?: () => void;
}

/**
 * Writes an image of any size to one file with memory that does not grow with it: the rows are
 * rendered band by band (`renderBand(top, rows, into)` gives rows [top, top + rows), into `into`)
 * into a temporary libvips native (`.v`) file in the output's folder, which sharp/libvips then
 * encodes with sequential access, holding only a few rows at a time. Both temporaries are removed
 * in every case; the result is renamed into place.
 *
 * libvips gives no progress while encoding, so the `encode` progress is the size of the file being
 * written against an estimate from encoding one band the same way. `beforePublish` runs once the
 * file is written, before it is renamed.
 * @throws {TsmosaicError} when the disk lacks room for the temporary file, or on a write error.
 */
export async function writeLargeImage(
  file: string,
  width: number,
  height: number,
  format: LibvipsFormat,
  renderBand: BandRenderer,
  options: LargeImageOptions = {},
): Promise<void> {
  const { onProgress, signal, beforePublish, density } = options;
  // The encoded file comes on top, usually smaller.
  await assertFreeSpace(file, width * height * 3, 'a temporary raw copy of the image');

  let totalMb = 1;
  await writeThroughTemporary(
    file,
    async (encoded, temporary) => {
      // Beside the output, under the same lock: a killed build's raw file is removed by the next.
      const raw = temporary.sibling('v');
      try {
        await renderVipsFile(raw, width, height, renderBand, (done) => onProgress?.('render', done, height), signal);
        signal?.throwIfAborted();

        const encode = (image: Sharp): Sharp => encoderFor(image, format, width, height, density);
        const estimate = await untilDoneOrAborted(estimateEncodedBytes(width, height, renderBand, encode), signal);
        options.onRendered?.();
        collectGarbage();
        totalMb = Math.max(1, Math.round(estimate / 1e6));
        onProgress?.('encode', 0, totalMb);
        const poll = setInterval(() => {
          stat(encoded).then(
            ({ size }) => onProgress?.('encode', Math.min(Math.round(size / 1e6), totalMb - 1), totalMb),
            () => undefined,
          );
        }, POLL_MS);
        try {
          // libvips maps the .v file in windows and encodes it top to bottom: memory stays flat.
          const sharp = await loadSharp();
          const encoding = encode(sharp(raw, { limitInputPixels: false, sequentialRead: true })).toFile(encoded);
          await untilDoneOrAborted(encoding, signal);
        } finally {
          clearInterval(poll);
        }
      } finally {
        // Freed before the output is synced and published.
        await rm(raw, { force: true });
      }
      await beforePublish?.();
    },
    signal,
  );
  onProgress?.('encode', totalMb, totalMb);
}
