export * from './secrets.ts';
export * from './access.ts';
export * from './tokens.ts';
export * from './failures.ts';
