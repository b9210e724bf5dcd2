import type { Position } from 'geojson';
import { expect, it } from 'vitest';
import { GeofenceError, buildZone, type GeofenceErrorCode } from '@hatake/geofence';
import { L_FIELD, RECT, at } from './geo.ts';

const ring = RECT.geometry.coordinates[0]!;
const pos = (e: number, n: number): Position => {
  const p = at(e, n);
  return [p.lon, p.lat];
};
const square = (w: number, s: number, e: number, n: number): Position[] => [pos(w, s), pos(e, s), pos(e, n), pos(w, n), pos(w, s)];

function caught(fn: () => unknown): GeofenceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GeofenceError);
    return err as GeofenceError;
  }
  throw new Error('expected a GeofenceError, nothing was thrown');
}

const BAD: [string, unknown, GeofenceErrorCode, RegExp][] = [
  ['not GeoJSON', null, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /must be a GeoJSON Polygon or MultiPolygon/],
  ['a LineString', { type: 'LineString', coordinates: ring }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /got LineString/],
  ['a Feature without a geometry', { type: 'Feature', properties: {}, geometry: null }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /Polygon or MultiPolygon/],
  ['no rings', { type: 'Polygon', coordinates: [] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /needs an outer ring/],
  ['an empty MultiPolygon', { type: 'MultiPolygon', coordinates: [] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /at least one polygon/],
  ['an open ring', { type: 'Polygon', coordinates: [ring.slice(0, 4)] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /coordinates\[0\]: the ring is not closed/],
  ['3 positions', { type: 'Polygon', coordinates: [[ring[0], ring[1], ring[0]]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /at least 4 positions.*got 3/],
  ['a NaN coordinate', { type: 'Polygon', coordinates: [[ring[0], [Number.NaN, 43.2], ...ring.slice(2)]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /coordinates\[0\]\[1\]: coordinates must be finite/],
  ['an infinite coordinate', { type: 'Polygon', coordinates: [[ring[0], [141.77, Infinity], ...ring.slice(2)]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /finite/],
  ['a string coordinate', { type: 'Polygon', coordinates: [[ring[0], ['141.77', 43.2], ...ring.slice(2)]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /finite/],
  ['latitude out of range ([lat, lon] swapped)', { type: 'Polygon', coordinates: [ring.map((p) => [p[1], p[0]])] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /latitude 141.76 is outside -90…90 \(GeoJSON positions are \[longitude, latitude\]\)/],
  ['longitude out of range', { type: 'Polygon', coordinates: [[[181, 43.2], ...ring.slice(1, 4), [181, 43.2]]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /longitude 181/],
  ['a position of one number', { type: 'Polygon', coordinates: [[ring[0], [141.77], ...ring.slice(2)]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /\[longitude, latitude\]/],
  ['a bow tie', { type: 'Polygon', coordinates: [[pos(0, 0), pos(100, 100), pos(100, 0), pos(0, 100), pos(0, 0)]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /crosses itself \(1 crossing/],
  ['a ring with no area', { type: 'Polygon', coordinates: [[pos(0, 0), pos(100, 0), pos(200, 0), pos(0, 0)]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /encloses no area/],
  ['a hole outside its polygon', { type: 'Polygon', coordinates: [square(0, 0, 100, 100), square(200, 0, 250, 50)] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /coordinates\[1\]: a hole must lie inside/],
  ['a bad ring in a MultiPolygon', { type: 'MultiPolygon', coordinates: [L_FIELD.geometry.coordinates[0], [ring.slice(0, 4)]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /coordinates\[1\]\[0\]: the ring is not closed/],
  ['a ring across the antimeridian', { type: 'Polygon', coordinates: [[[179.9, 43], [-179.9, 43], [-179.9, 43.1], [179.9, 43.1], [179.9, 43]]] }, 'HATAKE_ERR_GEOFENCE_BOUNDARY', /antimeridian/],
];

it.each(BAD)('%s: HATAKE_ERR_GEOFENCE_BOUNDARY saying why', (_name, boundary, code, message) => {
  const err = caught(() => buildZone(boundary as typeof RECT, { id: 'f', marginMeters: 10 }));
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
});

it('a field with a hole is fine, and the hole is outside the zone', () => {
  const zone = buildZone({ type: 'Polygon', coordinates: [square(0, 0, 100, 100), square(40, 40, 60, 60)] }, { id: 'pond', marginMeters: 0 });
  expect(zone.contains(at(50, 50))).toBe(false);
  expect(zone.signedDistanceMeters(at(50, 50))).toBeCloseTo(10, 2);
  expect(zone.signedDistanceMeters(at(30, 50))).toBeCloseTo(-10, 2);
});

it.each([
  ['a negative margin', { id: 'f', marginMeters: -1 }, /marginMeters must be a number of metres, 0…1000 \(got -1\)/],
  ['a NaN margin', { id: 'f', marginMeters: Number.NaN }, /marginMeters/],
  ['a margin over 1 km', { id: 'f', marginMeters: 1500 }, /marginMeters/],
  ['no margin', { id: 'f' }, /marginMeters/],
  ['an empty id', { id: '', marginMeters: 0 }, /zone id/],
  ['no id', { marginMeters: 0 }, /zone id/],
])('%s: HATAKE_ERR_GEOFENCE_OPTIONS', (_name, opts, message) => {
  const err = caught(() => buildZone(RECT, opts as { id: string; marginMeters: number }));
  expect(err.code).toBe('HATAKE_ERR_GEOFENCE_OPTIONS');
  expect(err.message).toMatch(message);
});
