export * from './gateway.ts';
export * from './errors.ts';
export * from './live.ts';
export * from './metrics.ts';
export * from './schemas.ts';
export * from './time.ts';
export * from './replay.ts';
export { TRACK_GEOJSON_FIELDS, TRACK_MATCH_FIELDS } from './tracks-routes.ts';
export { dashboardCsp, tileSource } from './dashboard.ts';
