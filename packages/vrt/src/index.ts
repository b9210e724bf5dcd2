/**
 * @hatake/vrt — variable-rate fertilizer prescriptions from GeoTIFF layers and
 * a field boundary.
 */
export * from './errors.ts';
export * from './crs.ts';
export type * from './types.ts';
export * from './params.ts';
export * from './field.ts';
export * from './align.ts';
export * from './zones.ts';
export * from './rates.ts';
export * from './outputs/geotiff.ts';
export * from './outputs/polygons.ts';
export * from './outputs/png.ts';
export * from './outputs/shapefile.ts';
export * from './outputs/isoxml.ts';
export * from './outputs/profiles.ts';
export * from './raster.ts';
export * from './tiff-writer.ts';
export * from './run.ts';
export * from './run-isolated.ts';
