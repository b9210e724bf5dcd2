export * from './errors.ts';
export * from './fix.ts';
export { buildZone, corridorZone, MAX_MARGIN_METERS, type LatLon, type Zone, type ZoneOptions } from './zone.ts';
export type { BBox } from './shape.ts';
export * from './watcher.ts';
