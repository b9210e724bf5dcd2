export * from './broker.ts';
export * from './acl.ts';
export * from './authenticator.ts';
export * from './metrics.ts';
export * from './packet-guard.ts';
export * from './throttle.ts';
export * from './errors.ts';
export * from './persistence.ts';
