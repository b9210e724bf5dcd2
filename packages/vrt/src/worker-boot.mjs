// Starts a TypeScript worker module (workerData.entry) in a worker thread when
// hatake runs from its sources (tests, `pnpm hatake`): registers tsx's loader in
// this thread first. Compiled builds start the .js module directly.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
