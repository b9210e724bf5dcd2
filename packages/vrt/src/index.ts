/**
 * @hatake/vrt — variable-rate fertilizer prescriptions from GeoTIFF layers and
 * a field boundary.
 */
export * from './errors.ts';
export * from './crs.ts';
export type * from './types.ts';
