import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { IndexManifest } from '../index-store/format.js';
import { writeThroughTemporary } from '../files/publish.js';
import { safeJson } from '../text.js';
import type { MosaicPlan } from '../tiles/mosaic-plan.js';

/**
 * Writes `{ columns, rows, cells: [{ tile, source, crop?, mirrored? }] }` (row-major) through a
 * temporary file; `tile` is the picture's id, with `crop` (its index in `cropWindows`) when the
 * index holds several crops.
 * @throws {TsmosaicError} naming the file; the signal's reason when it is aborted before the file is in place
 */
export async function writePlan(
  file: string,
  plan: MosaicPlan,
  manifest: Pick<IndexManifest, 'crops' | 'tiles'>,
  signal?: AbortSignal,
): Promise<void> {
  await writeThroughTemporary(
    file,
    async (temporary) => {
      const stream = createWriteStream(temporary);
      try {
        const write = async (text: string): Promise<void> => {
          if (!stream.write(text)) {
            await once(stream, 'drain');
            signal?.throwIfAborted();
          }
        };
        const { crops, tiles } = manifest;
        await write(`{"columns":${plan.columns},"rows":${plan.rows},"cells":[`);
        for (let cell = 0; cell < plan.tiles.length; cell++) {
          const picture = Math.floor(plan.tiles[cell]! / crops);
          const crop = crops > 1 ? `,"crop":${plan.tiles[cell]! % crops}` : '';
          const mirrored = plan.mirrored?.[cell] ? ',"mirrored":true' : '';
          await write(`${cell === 0 ? '' : ','}\n{"tile":${picture},"source":${safeJson(tiles[picture]!.source)}${crop}${mirrored}}`);
        }
        await write(']}\n');
      } finally {
        stream.end();
      }
      await once(stream, 'finish');
    },
    signal,
  );
}
