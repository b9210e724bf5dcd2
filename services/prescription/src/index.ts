export * from './service.ts';
export * from './errors.ts';
export * from './jobs.ts';
export * from './metrics.ts';
export * from './schemas.ts';
export { LAYERS, REQUIRED_LAYERS, checkParams, parseBoundary, paramValue } from './form.ts';
