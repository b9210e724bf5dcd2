export * from './coverage.ts';
export * from './tractor.ts';
export * from './factory.ts';
