export * from './ingest.ts';
export * from './metrics.ts';
export * from './batcher.ts';
