import { Worker, type ResourceLimits } from 'node:worker_threads';
import { loadersGate } from './load-sharp.js';

/**
 * Starts the worker script `name` (without extension) that sits beside the module at `moduleUrl`
 * (its `import.meta.url`): the compiled .js, or under tsx (tests, benches) the .ts through tsx's loader.
 * It shares this thread's gate on sharp's loaders (see loadersGate).
 */
export function startWorker(moduleUrl: string, name: string, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  loadersGate();
  if (!moduleUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, moduleUrl), { workerData, resourceLimits });
  const script = JSON.stringify(new URL(`./${name}.ts`, moduleUrl).href);
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${script}); });`, {
    eval: true,
    workerData,
    resourceLimits,
  });
}

let detached = false;

/**
 * Detaches a buffer, once per thread, before there is optimised code to lose: the first buffer
 * detached in a thread (moved to another by postMessage) makes V8 throw away that thread's
 * optimised code that touched typed arrays (compiled assuming that no buffer is ever detached).
 * Threads that move buffers call it as they start.
 */
export function detachBufferOnce(): void {
  if (detached) return;
  detached = true;
  const buffer = new ArrayBuffer(8);
  structuredClone(buffer, { transfer: [buffer] });
}
