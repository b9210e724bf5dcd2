export * from './plow.ts';
export * from './factory.ts';
