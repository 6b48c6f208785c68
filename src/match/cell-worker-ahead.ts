import type { Worker } from 'node:worker_threads';
import { startWorker } from '../start-worker.js';
import type { CellWorkerRequest } from './cell-worker-protocol.js';

/*
 * The cell worker (cell-worker.ts) started ahead of a build. This module loads nothing else, so
 * that the CLI can start the worker before it loads the rest of tsmosaic.
 */

/**
 * The worker's young generation (48 MB): its short-lived garbage (the search's keys and answers)
 * in fewer, cheaper collections than in V8's default.
 */
export const CELL_WORKER_LIMITS = { maxYoungGenerationSizeMb: 48 };

/** A cell worker started before any build asked for one (see startCellWorkerAhead), until one takes it. */
let workerAhead: Worker | undefined;

/**
 * Starts a cell worker now, for the next WorkerCells to take: the CLI calls it as it starts a
 * `build`, so that the worker boots (node's start-up of a thread, loading hnswlib-node) on the
 * other core while this thread loads its modules, ~0.1 s before the build would start it. It does
 * not keep the process alive; `stopCellWorkerAhead` ends it if no build took it.
 */
export function startCellWorkerAhead(): void {
  if (workerAhead) return;
  const worker = startWorker(import.meta.url, 'cell-worker', { ahead: true }, CELL_WORKER_LIMITS);
  worker.unref();
  // A worker that failed before a build took it is not taken (the build starts its own, whose
  // failure it reports); one taken reports its failures to the build.
  worker.on('error', () => undefined);
  worker.once('exit', () => {
    if (workerAhead === worker) workerAhead = undefined;
  });
  workerAhead = worker;
}

/** The worker started ahead, if any (once), kept alive from now on. */
export function takeWorkerStartedAhead(): Worker | undefined {
  const worker = workerAhead;
  workerAhead = undefined;
  worker?.ref();
  return worker;
}

/**
 * Ends the worker started ahead if no build took it, and waits for it to end: asked to stop, not
 * terminated, like WorkerCells.close (terminating a thread inside hnswlib-node's native set-up,
 * as process exit would, can abort the process).
 */
export async function stopCellWorkerAhead(): Promise<void> {
  const worker = workerAhead;
  workerAhead = undefined;
  if (!worker) return;
  // Kept alive until it has ended (the process would otherwise exit first, ending it mid-task).
  worker.ref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const request: CellWorkerRequest = { stop: true };
  worker.postMessage(request);
  await exited;
}
