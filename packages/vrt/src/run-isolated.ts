/**
 * runPrescription in a worker thread of its own, for services: the event
 * loop that answers HTTP stays free while a run computes, cancelling stops
 * the run at once (the thread is terminated), and a run that exhausts its
 * memory limit ends that thread, not the process.
 */
import type { RunJob } from './run-worker.ts';
import { VRT_ERRORS, VrtError, type VrtErrorCode } from './errors.ts';
import type { PrescriptionParams } from './params.ts';
import type { PrescriptionInputs, RunOptions, RunProgress, RunResult } from './run.ts';
import { startWorker } from './worker.ts';

/** Options of an isolated run: those of a run, plus the thread's heap limit. */
export interface IsolatedRunOptions extends RunOptions {
  /** Old-generation heap limit of the run's thread in MB (default 2048). */
  memoryLimitMb?: number | undefined;
}

/** Runs a prescription in its own worker thread; same inputs, options and result as runPrescription. */
export function runPrescriptionIsolated(inputs: PrescriptionInputs, params: Partial<Record<keyof PrescriptionParams, unknown>>, opts: IsolatedRunOptions): Promise<RunResult> {
  const { onProgress, signal, memoryLimitMb, ...options } = opts;
  signal?.throwIfAborted();
  const job: RunJob = { inputs, params, options };
  const limit = memoryLimitMb ?? 2048;
  const worker = startWorker('run-worker', job, { resourceLimits: { maxOldGenerationSizeMb: limit } });
  return new Promise<RunResult>((resolve, reject) => {
    let result: RunResult | undefined;
    let failure: Error | undefined;
    const abort = (): void => void worker.terminate();
    signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', (m: { progress?: RunProgress; result?: RunResult; error?: { code?: unknown; message: string; problems?: unknown } }) => {
      if (m.progress) onProgress?.(m.progress);
      else if (m.result) result = m.result;
      else if (m.error) {
        const { code, message, problems } = m.error;
        failure = typeof code === 'string' && code in VRT_ERRORS ? new VrtError(code as VrtErrorCode, message, Array.isArray(problems) ? { problems: problems as string[] } : {}) : new Error(message);
      }
    });
    worker.on('error', (err: Error & { code?: string }) => {
      failure ??= err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new Error(`the run needed more than its memory limit of ${limit} MB`) : err;
    });
    worker.on('exit', (code) => {
      signal?.removeEventListener('abort', abort);
      if (result) resolve(result);
      else if (signal?.aborted) reject(signal.reason);
      else reject(failure ?? new Error(`the run's thread exited with code ${code} and no result`));
    });
  });
}
