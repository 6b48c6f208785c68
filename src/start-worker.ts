import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * Starts the worker script `name` (without extension) that sits beside the module at `moduleUrl`
 * (its `import.meta.url`): the compiled .js, or under tsx (tests, benches) the .ts through tsx's loader.
 */
export function startWorker(moduleUrl: string, name: string, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  if (!moduleUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, moduleUrl), { workerData, resourceLimits });
  const script = JSON.stringify(new URL(`./${name}.ts`, moduleUrl).href);
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${script}); });`, { eval: true, workerData, resourceLimits });
}
