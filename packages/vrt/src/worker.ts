/**
 * Starting the engine's worker threads the same way from the TypeScript
 * sources (through worker-boot.mjs, which registers tsx in the thread) and
 * from a compiled build (the .js module directly).
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';

/** A worker running `module` (a sibling of this file, named without extension) with `data` as its workerData. */
export function startWorker(module: string, data: object, options: { transferList?: ArrayBuffer[]; resourceLimits?: ResourceLimits } = {}): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./${module}.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  const url = fromSource ? new URL('./worker-boot.mjs', import.meta.url) : entry;
  return new Worker(url, { workerData: { ...data, entry: entry.href }, ...(options.transferList ? { transferList: options.transferList } : {}), ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}) });
}
