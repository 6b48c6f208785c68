import { parentPort, workerData } from 'node:worker_threads';
import { reasonOf } from '../errors.js';
import { loadIndexAnn } from '../index-store/read-index.js';
import type { TargetImage } from '../mosaic/target.js';
import { answerCells, cachedSearch } from './cell-search.js';
import type { CellWorkerData, CellWorkerReply, CellWorkerRequest } from './cell-source.js';

/**
 * A worker thread that describes bands of grid cells and asks the index for their candidates
 * (answerCells), one band after another as they are asked for, while the main thread places the
 * band before: its own copy of the HNSW index, loaded from the index folder while the main
 * thread loads the rest.
 */
const data = workerData as CellWorkerData;
const port = parentPort!;
let search: ReturnType<typeof cachedSearch> | undefined;
let loadError: string | undefined;
try {
  search = cachedSearch(loadIndexAnn(data.index, data.manifest), data.grid.method);
} catch (error) {
  loadError = reasonOf(error);
}
let giveTarget: (target: TargetImage) => void = () => undefined;
const target = new Promise<TargetImage>((resolve) => (giveTarget = resolve));
// Requests are answered in order, one at a time, once the target is here.
let queue = Promise.resolve();

port.on('message', (message: CellWorkerRequest) => {
  if ('target' in message) {
    // Buffers arrive as plain Uint8Arrays.
    const { pixels, width, height } = message.target;
    giveTarget({ pixels: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.length), width, height });
    return;
  }
  queue = queue.then(async () => {
    let reply: CellWorkerReply;
    try {
      if (!search) throw new Error(loadError);
      const cells = await answerCells({ ...data.grid, target: await target }, message.band, search, data.candidates);
      reply = { id: message.id, cells };
      // Moved, not copied: answerCells made the three arrays, each in a buffer of its own.
      port.postMessage(reply, [cells.descriptors.buffer, cells.neighbors.buffer, cells.distances.buffer] as ArrayBuffer[]);
    } catch (error) {
      reply = { id: message.id, error: reasonOf(error) };
      port.postMessage(reply);
    }
  });
});
