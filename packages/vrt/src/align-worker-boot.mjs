// Starts align-worker.ts in a worker thread when hatake runs from its TypeScript
// sources (tests, `pnpm hatake`): registers tsx's loader in this thread first.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./align-worker.ts', import.meta.url).href);
