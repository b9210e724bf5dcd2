export * from './schema.ts';
export * from './geo.ts';
export * from './credentials.ts';
export * from './errors.ts';
export * from './load.ts';
export * from './lookup.ts';
export * from './demo-credentials.ts';
