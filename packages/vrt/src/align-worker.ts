/**
 * A worker thread that aligns one layer onto the rows of the grid its mask
 * holds (see alignLayerInWorkers): it opens the file itself, so the two
 * threads decode different strips and tiles at the same time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { alignLayer } from './align.ts';
import { openRaster } from './raster.ts';
import type { Grid } from './types.ts';

/** What the parent sends. */
export interface AlignJob {
  path: string;
  name: string;
  maxCells?: number | undefined;
  grid: Grid;
  mask: Uint8Array;
  bandRows?: number | undefined;
}

const job = workerData as AlignJob;
try {
  const raster = await openRaster(job.path, { name: job.name, maxCells: job.maxCells });
  try {
    const { values, stats } = await alignLayer(raster, job.grid, job.mask, { bandRows: job.bandRows, onProgress: (f) => parentPort!.postMessage({ progress: f }) });
    parentPort!.postMessage({ values, stats }, [values.buffer as ArrayBuffer]);
  } finally {
    await raster.close();
  }
} catch (err) {
  // errors cross the thread boundary as their code and message
  parentPort!.postMessage({ error: { code: (err as { code?: unknown }).code, message: err instanceof Error ? err.message : String(err) } });
}
