/**
 * Test helpers: the Iwamizawa fixtures and positions given in metres from
 * their edges.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Feature, LineString, MultiPolygon, Polygon } from 'geojson';
import { expect } from 'vitest';
import type { LatLon, PositionSample } from '@hatake/geofence';

/** Metres per degree of latitude on turf's sphere. */
const K = (Math.PI / 180) * 6_371_008.8;

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`fixtures/in/${name}`, import.meta.url), 'utf8')) as T;
}

/** 300 m (east) × 200 m (north) rectangle, SW corner at 43.2 N 141.76 E. */
export const RECT = fixture<Feature<Polygon>>('iwamizawa-rect.geojson');
/** L of two parcels sharing an edge, 500 m east of RECT: [500, 800] × [0, 100] and [500, 600] × [100, 300] in metres east/north of RECT's SW corner. */
export const L_FIELD = fixture<Feature<MultiPolygon>>('iwamizawa-l.geojson');
/** Road segment: (−100, 400) → (400, 400) → (600, 500) in metres. */
export const ROAD = fixture<Feature<LineString>>('iwamizawa-road.geojson');

const ring = RECT.geometry.coordinates[0]!;
/** RECT's edges, degrees. */
export const RECT_EDGES = {
  west: Math.min(...ring.map((p) => p[0]!)),
  east: Math.max(...ring.map((p) => p[0]!)),
  south: Math.min(...ring.map((p) => p[1]!)),
  north: Math.max(...ring.map((p) => p[1]!)),
};

/** `p` moved `east` and `north` metres. */
export function offset(p: LatLon, east: number, north: number): LatLon {
  const lat = p.lat + north / K;
  return { lat, lon: p.lon + east / (K * Math.cos((lat * Math.PI) / 180)) };
}

/** A point in the fixtures' local frame: metres east and north of RECT's SW corner. */
export function at(east: number, north: number): LatLon {
  return offset({ lat: RECT_EDGES.south, lon: RECT_EDGES.west }, east, north);
}

/** A point `meters` east of RECT's east edge (negative: inside), `north` metres north of its south edge. */
export function eastOfRect(meters: number, north = 100): LatLon {
  return offset({ lat: RECT_EDGES.south + north / K, lon: RECT_EDGES.east }, meters, 0);
}

/** An rtk_fixed sample. */
export function rtk(t: number, p: LatLon, hdop = 0.8): PositionSample {
  return { t, lat: p.lat, lon: p.lon, fix: 'rtk_fixed', hdop };
}

/** Geometry coordinates equal within `tol` degrees (1e-8° ≈ 1 mm). */
export function expectCoordsClose(actual: unknown, expected: unknown, tol = 1e-8, path = 'coordinates'): void {
  if (typeof expected === 'number') {
    expect(typeof actual, path).toBe('number');
    expect(Math.abs((actual as number) - expected), path).toBeLessThanOrEqual(tol);
    return;
  }
  expect(Array.isArray(actual), path).toBe(true);
  const a = actual as unknown[];
  const e = expected as unknown[];
  expect(a.length, `${path}.length`).toBe(e.length);
  e.forEach((v, i) => expectCoordsClose(a[i], v, tol, `${path}[${i}]`));
}

/** Compares a geometry with `fixtures/out/<name>`; `REGEN=1` rewrites the file. */
export function expectGolden(name: string, geometry: Polygon | MultiPolygon): void {
  const url = new URL(`fixtures/out/${name}`, import.meta.url);
  const round = (v: unknown): unknown => (Array.isArray(v) ? v.map(round) : Math.round((v as number) * 1e9) / 1e9);
  if (process.env['REGEN'] === '1') {
    writeFileSync(url, `${JSON.stringify({ type: geometry.type, coordinates: round(geometry.coordinates) })}\n`);
  }
  const expected = JSON.parse(readFileSync(url, 'utf8')) as Polygon | MultiPolygon;
  expect(geometry.type).toBe(expected.type);
  expectCoordsClose(geometry.coordinates, expected.coordinates);
}
