/**
 * Typed errors of the geofence engine (`HATAKE_ERR_GEOFENCE_*`), matched by
 * `err.code`. Only building a zone or a watcher throws; samples never do.
 */
export const GEOFENCE_ERRORS = {
  HATAKE_ERR_GEOFENCE_BOUNDARY: 'a zone boundary is not a usable WGS84 Polygon or MultiPolygon; the message says where and why',
  HATAKE_ERR_GEOFENCE_LINE: 'a corridor centre line is not a usable WGS84 LineString; the message says where and why',
  HATAKE_ERR_GEOFENCE_OPTIONS: 'a zone id, margin, corridor half-width or watcher setting is missing or out of range',
} as const;
export type GeofenceErrorCode = keyof typeof GEOFENCE_ERRORS;

/** An error with a stable `code`. */
export class GeofenceError extends Error {
  readonly code: GeofenceErrorCode;
  constructor(code: GeofenceErrorCode, message: string) {
    super(message);
    this.name = 'GeofenceError';
    this.code = code;
  }
}
