/**
 * A prescription run in a worker thread (see runPrescriptionIsolated): the
 * progress and the result go back to the parent as messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runPrescription, type PrescriptionInputs, type RunOptions } from './run.ts';
import type { PrescriptionParams } from './params.ts';

/** What the parent sends. */
export interface RunJob {
  inputs: PrescriptionInputs;
  params: Partial<Record<keyof PrescriptionParams, unknown>>;
  options: Omit<RunOptions, 'onProgress' | 'signal'>;
}

const job = workerData as RunJob;
try {
  const result = await runPrescription(job.inputs, job.params, { ...job.options, onProgress: (p) => parentPort!.postMessage({ progress: p }) });
  parentPort!.postMessage({ result });
} catch (err) {
  // errors cross the thread boundary as their code and message
  parentPort!.postMessage({ error: { code: (err as { code?: unknown }).code, message: err instanceof Error ? err.message : String(err), problems: (err as { problems?: unknown }).problems } });
}
