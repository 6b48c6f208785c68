import { parentPort, workerData } from 'node:worker_threads';
import { reasonOf } from '../errors.js';
import type { AnnSearch } from '../index-store/ann.js';
import { loadIndexAnn } from '../index-store/read-index.js';
import { loadSharp } from '../load-sharp.js';
import { loadTarget, readTargetSize } from '../target/target.js';
import { detachBufferOnce } from '../start-worker.js';
import { answerCells, CachedSearch, type CellGrid } from './cell-search.js';
import type { CellWorkerData, CellWorkerReply, CellWorkerRequest } from './cell-worker-protocol.js';

/**
 * A worker thread that describes bands of grid cells and asks the index for their candidates
 * (answerCells), one band after another as they are asked for, while the main thread places the
 * band before. It loads its own copy of the HNSW index from the index folder as soon as it knows
 * it (in its start-up data, or, started ahead of the build, in its first message), and sharp, and
 * decodes the target itself, while the main thread loads the rest.
 */
const port = parentPort!;
// Bands are moved to the main thread, which detaches their buffers here.
detachBufferOnce();
let ann: AnnSearch | undefined;
let loadError: string | undefined;
/** The grid, with the decoded target, and how to search for its cells (undefined when the index failed to load). */
interface Job {
  grid: CellGrid;
  candidates: number;
  search: CachedSearch | undefined;
}
let giveJob: (job: Job) => void = () => undefined;
let failJob: (error: unknown) => void = () => undefined;
const job = new Promise<Job>((resolve, reject) => {
  giveJob = resolve;
  failJob = reject;
});
job.catch(() => undefined); // each band asked for reports it
// sharp, for the target, loaded while this thread would wait. It decodes one image: no cache.
loadSharp().then(
  (sharp) => sharp.cache(false),
  () => undefined,
);
// Buffers of bands the main thread has placed, given back for later bands of the same size.
const spare = new Map<number, ArrayBuffer[]>();
const memory = (bytes: number): ArrayBuffer => spare.get(bytes)?.pop() ?? new ArrayBuffer(bytes);
// Requests are answered in order, one at a time, once the grid and target are here.
let queue = Promise.resolve();

let giveIndex: (data: CellWorkerData) => void = () => undefined;
/** The HNSW index loaded (or failed to load: see loadError), once the index folder is known. */
const indexLoaded = new Promise<void>((resolve) => {
  giveIndex = (data) =>
    // After the requests already here: the target's header is read (in libuv's pool) first.
    setImmediate(() => {
      try {
        ann = loadIndexAnn(data.index, data.manifest);
      } catch (error) {
        loadError = reasonOf(error);
      }
      resolve();
    });
});

if (!(workerData as { ahead?: boolean }).ahead) giveIndex(workerData as CellWorkerData);

port.on('message', (message: CellWorkerRequest) => {
  if ('index' in message) {
    giveIndex(message);
    return;
  }
  if ('recycle' in message) {
    for (const buffer of message.recycle) {
      const same = spare.get(buffer.byteLength) ?? [];
      // A few of each size: the bands asked for ahead.
      if (same.length < 8) same.push(buffer);
      spare.set(buffer.byteLength, same);
    }
    return;
  }
  if ('stop' in message) {
    // At once, between tasks, never inside native code: a build stops it once every band it asked
    // for is answered, or on an error or Ctrl-C, when the rest (the target, the index) is not needed.
    process.exit(0);
  }
  if ('grid' in message) {
    const { grid, candidates } = message;
    const { target: file, size, crop, columns, rows, method } = grid;
    Promise.all([loadTarget(file, columns, rows, size, crop), indexLoaded]).then(
      ([target]) => giveJob({ grid: { target, columns, rows, method }, candidates, search: ann && new CachedSearch(ann, method) }),
      (error: unknown) => failJob(error),
    );
    return;
  }
  if ('sizeOf' in message) {
    const { id, sizeOf } = message;
    readTargetSize(sizeOf).then(
      (size) => port.postMessage({ id, size } satisfies CellWorkerReply),
      (error: unknown) => port.postMessage({ id, error: reasonOf(error) } satisfies CellWorkerReply),
    );
    return;
  }
  queue = queue.then(async () => {
    let reply: CellWorkerReply;
    try {
      const { grid, candidates, search } = await job;
      if (!search) throw new Error(loadError);
      const cells = await answerCells(grid, message.band, search, candidates, memory);
      reply = { id: message.id, cells };
      // Moved, not copied: answerCells made the three arrays, each in a buffer of its own.
      port.postMessage(reply, [cells.descriptors.buffer, cells.neighbors.buffer, cells.distances.buffer] as ArrayBuffer[]);
    } catch (error) {
      reply = { id: message.id, error: reasonOf(error) };
      port.postMessage(reply);
    }
  });
});
