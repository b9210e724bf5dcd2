/**
 * Zones: a field boundary grown by a margin, or a road corridor around a
 * centre line. Built once (validated, buffered with turf, prepared for fast
 * point queries), then queried per position sample.
 */
import { buffer, featureCollection, kinks, polygon as turfPolygon, union } from '@turf/turf';
import type { Feature, LineString, MultiPolygon, Polygon, Position } from 'geojson';
import { GeofenceError } from './errors.ts';
import { bboxDistance, edgeDistance, inParts, inRing, metersPerDegreeLon, prepareRing, ringAreaM2, unionBBox, type BBox, type Part } from './shape.ts';

/** A WGS84 position. */
export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

/** An operating zone or geofence, prepared for per-sample queries. */
export interface Zone {
  readonly id: string;
  /** `area`: a boundary grown by a margin; `corridor`: a centre line widened on both sides. */
  readonly kind: 'area' | 'corridor';
  /** Metres the zone reaches beyond the boundary (area) or either side of the centre line (corridor). */
  readonly marginMeters: number;
  /** The zone itself, WGS84 (after the margin). */
  readonly geometry: Polygon | MultiPolygon;
  /** West, south, east, north of `geometry`, degrees. */
  readonly bbox: BBox;
  /** True when the point is inside the zone. */
  contains(p: LatLon): boolean;
  /** Metres from the zone's edge: negative inside, positive outside. */
  signedDistanceMeters(p: LatLon): number;
  /** Metres from the zone's bounding box (0 within it): a cheap lower bound of the distance of an outside point. */
  bboxDistanceMeters(p: LatLon): number;
}

export interface ZoneOptions {
  /** Identifies the zone in events (a field id, a road segment id). */
  readonly id: string;
  /** Metres the zone extends beyond the boundary, 0…1000. */
  readonly marginMeters: number;
}

/** Largest margin or corridor half-width accepted, metres. */
export const MAX_MARGIN_METERS = 1000;
/** Largest extent of a zone in either direction, degrees: more is a data error (often a ring crossing the antimeridian). */
const MAX_SPAN_DEGREES = 10;
/** Largest sagitta of turf's round joins, metres (see `bufferSteps`). */
const ROUND_TOLERANCE_METERS = 0.01;

class PreparedZone implements Zone {
  readonly id: string;
  readonly kind: 'area' | 'corridor';
  readonly marginMeters: number;
  readonly geometry: Polygon | MultiPolygon;
  readonly bbox: BBox;
  private readonly parts: readonly Part[];

  constructor(id: string, kind: 'area' | 'corridor', marginMeters: number, geometry: Polygon | MultiPolygon) {
    this.id = id;
    this.kind = kind;
    this.marginMeters = marginMeters;
    this.geometry = geometry;
    const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
    this.parts = polygons.map((rings) => {
      const prepared = rings.map(prepareRing);
      return { outer: prepared[0]!, holes: prepared.slice(1), rings: prepared };
    });
    this.bbox = unionBBox(this.parts.map((p) => p.outer.bbox));
  }

  contains(p: LatLon): boolean {
    return inParts(this.parts, p.lon, p.lat);
  }

  signedDistanceMeters(p: LatLon): number {
    const d = edgeDistance(this.parts, p.lon, p.lat);
    return this.contains(p) ? -d : d;
  }

  bboxDistanceMeters(p: LatLon): number {
    return bboxDistance(this.bbox, p.lon, p.lat, metersPerDegreeLon(p.lat));
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
    throw new GeofenceError('HATAKE_ERR_GEOFENCE_OPTIONS', 'a zone id must be a string of 1 to 128 characters');
  }
  return id;
}

function checkDistance(value: unknown, what: string, min: 'zero' | 'positive'): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && (min === 'zero' ? value >= 0 : value > 0) && value <= MAX_MARGIN_METERS;
  if (!ok) {
    const range = min === 'zero' ? `0…${MAX_MARGIN_METERS}` : `more than 0 and at most ${MAX_MARGIN_METERS}`;
    throw new GeofenceError('HATAKE_ERR_GEOFENCE_OPTIONS', `${what} must be a number of metres, ${range} (got ${String(value)})`);
  }
  return value;
}

type Code = 'HATAKE_ERR_GEOFENCE_BOUNDARY' | 'HATAKE_ERR_GEOFENCE_LINE';

function checkPosition(p: unknown, where: string, code: Code): Position {
  if (!Array.isArray(p) || p.length < 2 || p.length > 3) {
    throw new GeofenceError(code, `${where}: a position must be [longitude, latitude] or [longitude, latitude, altitude]`);
  }
  if (!p.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    throw new GeofenceError(code, `${where}: coordinates must be finite numbers (got [${p.map(String).join(', ')}])`);
  }
  const [lon, lat] = p as number[];
  if (lon! < -180 || lon! > 180) throw new GeofenceError(code, `${where}: longitude ${lon} is outside -180…180`);
  if (lat! < -90 || lat! > 90) throw new GeofenceError(code, `${where}: latitude ${lat} is outside -90…90 (GeoJSON positions are [longitude, latitude])`);
  return [lon!, lat!];
}

function checkRing(ring: unknown, where: string): Position[] {
  if (!Array.isArray(ring)) throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', `${where}: a ring must be an array of positions`);
  if (ring.length < 4) {
    throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', `${where}: a ring needs at least 4 positions (a triangle and its closing position), got ${ring.length}`);
  }
  const out = ring.map((p, i) => checkPosition(p, `${where}[${i}]`, 'HATAKE_ERR_GEOFENCE_BOUNDARY'));
  const first = out[0]!;
  const last = out[out.length - 1]!;
  if (first[0] !== last[0] || first[1] !== last[1]) {
    throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', `${where}: the ring is not closed (its last position must equal its first)`);
  }
  return out;
}

function checkSpan(positions: readonly Position[], where: string, code: Code): void {
  const lons = positions.map((p) => p[0]!);
  const lats = positions.map((p) => p[1]!);
  const span = Math.max(Math.max(...lons) - Math.min(...lons), Math.max(...lats) - Math.min(...lats));
  if (span > MAX_SPAN_DEGREES) {
    throw new GeofenceError(code, `${where}: spans ${span.toFixed(1)}° (at most ${MAX_SPAN_DEGREES}°): a zone is a field or a road segment; a ring crossing the antimeridian must be split`);
  }
}

function checkPolygon(rings: unknown, where: string): Position[][] {
  if (!Array.isArray(rings) || rings.length === 0) throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', `${where}: a polygon needs an outer ring`);
  const out = rings.map((ring, i) => checkRing(ring, `${where}[${i}]`));
  const crossings = kinks(turfPolygon(out)).features;
  if (crossings.length > 0) {
    const c = crossings[0]!.geometry.coordinates;
    throw new GeofenceError(
      'HATAKE_ERR_GEOFENCE_BOUNDARY',
      `${where}: the boundary crosses itself (${crossings.length} crossing(s), first near [${c[0]?.toFixed(7)}, ${c[1]?.toFixed(7)}])`,
    );
  }
  out.forEach((ring, i) => {
    if (!(ringAreaM2(ring) > 0.01)) throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', `${where}[${i}]: the ring encloses no area`);
  });
  const outer = prepareRing(out[0]!);
  out.slice(1).forEach((hole, i) => {
    // no crossings (checked above), so one vertex inside means the whole hole is
    if (!inRing(outer, hole[0]![0]!, hole[0]![1]!)) {
      throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', `${where}[${i + 1}]: a hole must lie inside its polygon's outer ring`);
    }
  });
  return out;
}

/** The geometry of a Polygon, a MultiPolygon or a Feature holding one, validated; throws HATAKE_ERR_GEOFENCE_BOUNDARY saying why not. */
function checkBoundary(boundary: unknown): Position[][][] {
  const geometry = isObject(boundary) && boundary['type'] === 'Feature' ? boundary['geometry'] : boundary;
  if (!isObject(geometry)) throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', 'the boundary must be a GeoJSON Polygon or MultiPolygon (or a Feature with one)');
  const type = geometry['type'];
  const coords = geometry['coordinates'];
  let polygons: Position[][][];
  if (type === 'Polygon') polygons = [checkPolygon(coords, 'coordinates')];
  else if (type === 'MultiPolygon') {
    if (!Array.isArray(coords) || coords.length === 0) throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', 'coordinates: a MultiPolygon needs at least one polygon');
    polygons = coords.map((rings, i) => checkPolygon(rings, `coordinates[${i}]`));
  } else {
    throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', `the boundary must be a Polygon or MultiPolygon (got ${String(type)})`);
  }
  checkSpan(polygons.flatMap((rings) => rings[0]!), 'the boundary', 'HATAKE_ERR_GEOFENCE_BOUNDARY');
  return polygons;
}

/**
 * Quadrant segments for turf's buffer so that its round joins (chords of the
 * true arc, hence inside it) stray at most 1 cm from the exact offset: a
 * quarter circle in s chords of sagitta r(1 − cos(π/4s)).
 */
function bufferSteps(radius: number): number {
  const half = Math.acos(1 - Math.min(1, ROUND_TOLERANCE_METERS / radius));
  return Math.min(64, Math.max(8, Math.ceil(Math.PI / 4 / half)));
}

function buffered(input: Feature<Polygon | MultiPolygon | LineString>, meters: number, code: Code): Polygon | MultiPolygon {
  const out = buffer(input, meters, { units: 'meters', steps: bufferSteps(meters) });
  if (!out) throw new GeofenceError(code, 'buffering the geometry gave nothing');
  return out.geometry;
}

/**
 * An operating zone: the boundary (WGS84 Polygon or MultiPolygon, or a
 * Feature with one) grown by `marginMeters` with turf's buffer. Parts of a
 * MultiPolygon that touch or overlap are merged, so a shared edge is not an
 * edge of the zone. Throws HATAKE_ERR_GEOFENCE_BOUNDARY or _OPTIONS.
 */
export function buildZone(boundary: Polygon | MultiPolygon | Feature<Polygon | MultiPolygon>, opts: ZoneOptions): Zone {
  const id = checkId(opts.id);
  const margin = checkDistance(opts.marginMeters, 'marginMeters', 'zero');
  const polygons = checkBoundary(boundary);
  const input: Feature<MultiPolygon> = { type: 'Feature', properties: {}, geometry: { type: 'MultiPolygon', coordinates: polygons } };
  let geometry: Polygon | MultiPolygon;
  if (margin > 0) geometry = buffered(input, margin, 'HATAKE_ERR_GEOFENCE_BOUNDARY');
  else if (polygons.length === 1) geometry = { type: 'Polygon', coordinates: polygons[0]! };
  else {
    const merged = union(featureCollection(polygons.map((rings) => turfPolygon(rings))));
    if (!merged) throw new GeofenceError('HATAKE_ERR_GEOFENCE_BOUNDARY', 'merging the polygons gave nothing');
    geometry = merged.geometry;
  }
  return new PreparedZone(id, 'area', margin, geometry);
}

/**
 * A corridor zone along a centre line (a road segment of interest): every
 * point within `halfWidthMeters` of the line, ends rounded (turf's buffer).
 * Throws HATAKE_ERR_GEOFENCE_LINE or _OPTIONS.
 */
export function corridorZone(line: LineString | Feature<LineString>, halfWidthMeters: number, id: string): Zone {
  const zoneId = checkId(id);
  const half = checkDistance(halfWidthMeters, 'halfWidthMeters', 'positive');
  const geometry: unknown = isObject(line) && line['type'] === 'Feature' ? line['geometry'] : line;
  if (!isObject(geometry) || geometry['type'] !== 'LineString') {
    throw new GeofenceError('HATAKE_ERR_GEOFENCE_LINE', `the centre line must be a GeoJSON LineString (or a Feature with one)`);
  }
  const coords = geometry['coordinates'];
  if (!Array.isArray(coords) || coords.length < 2) throw new GeofenceError('HATAKE_ERR_GEOFENCE_LINE', 'coordinates: a line needs at least 2 positions');
  const positions = coords.map((p, i) => checkPosition(p, `coordinates[${i}]`, 'HATAKE_ERR_GEOFENCE_LINE'));
  if (positions.every((p) => p[0] === positions[0]![0] && p[1] === positions[0]![1])) {
    throw new GeofenceError('HATAKE_ERR_GEOFENCE_LINE', 'coordinates: the line has no length (all positions are the same)');
  }
  checkSpan(positions, 'the line', 'HATAKE_ERR_GEOFENCE_LINE');
  const input: Feature<LineString> = { type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: positions } };
  return new PreparedZone(zoneId, 'corridor', half, buffered(input, half, 'HATAKE_ERR_GEOFENCE_LINE'));
}
