export * from './ingest.ts';
export * from './metrics.ts';
export * from './errors.ts';
export * from './pipeline.ts';
export * from './spool.ts';
export * from './acks.ts';
