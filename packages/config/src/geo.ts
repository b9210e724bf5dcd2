/**
 * Checks the GeoJSON a deployment ships: field boundaries and the road
 * network. Every problem is reported with where it is; nothing here throws.
 */
import { area, kinks, length, lineString, polygon, multiPolygon } from '@turf/turf';
import type { Feature, LineString, MultiPolygon, Polygon, Position } from 'geojson';
import { explainInvalidId } from '@hatake/protocol';

export interface ConfigIssue {
  /** Where: a JSON pointer into the config, or `file.geojson#/features/2/...`. */
  readonly path: string;
  readonly message: string;
}

export interface FieldDef {
  readonly id: string;
  readonly name: string;
  readonly farm: string;
  /** Boundary, WGS84. */
  readonly boundary: Feature<Polygon | MultiPolygon>;
  /** Area in hectares. */
  readonly areaHa: number;
}

export interface RoadDef {
  readonly id: string;
  readonly name: string;
  /** Service priority: 1 is the highest. */
  readonly class: number;
  readonly geometry: LineString;
  /** Length in metres. */
  readonly lengthM: number;
}

const MAX_FIELD_HA = 2000;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkPosition(p: unknown, where: string, issues: ConfigIssue[]): p is Position {
  if (!Array.isArray(p) || p.length < 2 || p.length > 3 || !p.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    issues.push({ path: where, message: 'a position must be [longitude, latitude] (optionally altitude), finite numbers' });
    return false;
  }
  const [lon, lat] = p as number[];
  if (lon! < -180 || lon! > 180 || lat! < -90 || lat! > 90) {
    issues.push({ path: where, message: `position [${lon}, ${lat}] is outside WGS84 (longitude first: [lon, lat])` });
    return false;
  }
  return true;
}

function checkRing(ring: unknown, where: string, issues: ConfigIssue[]): boolean {
  if (!Array.isArray(ring) || ring.length < 4) {
    issues.push({ path: where, message: 'a polygon ring needs at least 4 positions' });
    return false;
  }
  let ok = true;
  ring.forEach((p, i) => {
    ok = checkPosition(p, `${where}/${i}`, issues) && ok;
  });
  if (!ok) return false;
  const first = ring[0] as number[];
  const last = ring[ring.length - 1] as number[];
  if (first[0] !== last[0] || first[1] !== last[1]) {
    issues.push({ path: where, message: 'a polygon ring must be closed (last position equal to the first)' });
    return false;
  }
  return true;
}

function featuresOf(collection: unknown, where: string, issues: ConfigIssue[]): unknown[] | undefined {
  if (!isObject(collection) || collection['type'] !== 'FeatureCollection' || !Array.isArray(collection['features'])) {
    issues.push({ path: where, message: 'must be a GeoJSON FeatureCollection' });
    return undefined;
  }
  return collection['features'];
}

function idAndName(feature: Record<string, unknown>, where: string, issues: ConfigIssue[]): { id: string; name: string } | undefined {
  const props = isObject(feature['properties']) ? feature['properties'] : {};
  const id = props['id'];
  const name = props['name'];
  const why = explainInvalidId(id);
  let ok = true;
  if (why !== undefined) {
    issues.push({ path: `${where}/properties/id`, message: `id ${why}` });
    ok = false;
  }
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) {
    issues.push({ path: `${where}/properties/name`, message: 'name must be a string of 1 to 128 characters' });
    ok = false;
  }
  return ok ? { id: id as string, name: name as string } : undefined;
}

/** Validates a FeatureCollection of field boundaries for one farm. */
export function checkFields(collection: unknown, farm: string, where: string, issues: ConfigIssue[]): FieldDef[] {
  const features = featuresOf(collection, where, issues);
  if (!features) return [];
  const out: FieldDef[] = [];
  const seen = new Set<string>();
  features.forEach((f, i) => {
    const at = `${where}/features/${i}`;
    if (!isObject(f) || f['type'] !== 'Feature' || !isObject(f['geometry'])) {
      issues.push({ path: at, message: 'must be a GeoJSON Feature with a geometry' });
      return;
    }
    const named = idAndName(f, at, issues);
    const geometry = f['geometry'];
    const type = geometry['type'];
    const coords = geometry['coordinates'];
    let polygons: unknown[];
    if (type === 'Polygon') polygons = [coords];
    else if (type === 'MultiPolygon' && Array.isArray(coords)) polygons = coords;
    else {
      issues.push({ path: `${at}/geometry`, message: `a field boundary must be a Polygon or MultiPolygon (got ${String(type)})` });
      return;
    }
    let ok = polygons.length > 0;
    polygons.forEach((rings, pi) => {
      const pat = type === 'Polygon' ? `${at}/geometry/coordinates` : `${at}/geometry/coordinates/${pi}`;
      if (!Array.isArray(rings) || rings.length === 0) {
        issues.push({ path: pat, message: 'a polygon needs an outer ring' });
        ok = false;
        return;
      }
      rings.forEach((ring, ri) => {
        ok = checkRing(ring, `${pat}/${ri}`, issues) && ok;
      });
    });
    if (!ok || !named) return;
    const feature = (type === 'Polygon' ? polygon(coords as Position[][]) : multiPolygon(coords as Position[][][])) as Feature<Polygon | MultiPolygon>;
    const crossings = kinks(feature).features;
    if (crossings.length > 0) {
      const c = crossings[0]!.geometry.coordinates;
      issues.push({ path: `${at}/geometry`, message: `boundary crosses itself (${crossings.length} crossing(s), first near [${c[0]?.toFixed(6)}, ${c[1]?.toFixed(6)}])` });
      return;
    }
    const ha = area(feature) / 10_000;
    if (!(ha > 0.01) || ha > MAX_FIELD_HA) {
      issues.push({ path: `${at}/geometry`, message: `field area ${ha.toFixed(3)} ha is implausible (expected 0.01 to ${MAX_FIELD_HA} ha)` });
      return;
    }
    if (seen.has(named.id)) {
      issues.push({ path: `${at}/properties/id`, message: `duplicate field id ${named.id}` });
      return;
    }
    seen.add(named.id);
    feature.properties = { id: named.id, name: named.name, farm };
    out.push({ id: named.id, name: named.name, farm, boundary: feature, areaHa: ha });
  });
  return out;
}

/** Validates the road network. */
export function checkRoads(collection: unknown, where: string, issues: ConfigIssue[]): RoadDef[] {
  const features = featuresOf(collection, where, issues);
  if (!features) return [];
  const out: RoadDef[] = [];
  const seen = new Set<string>();
  features.forEach((f, i) => {
    const at = `${where}/features/${i}`;
    if (!isObject(f) || f['type'] !== 'Feature' || !isObject(f['geometry'])) {
      issues.push({ path: at, message: 'must be a GeoJSON Feature with a geometry' });
      return;
    }
    const named = idAndName(f, at, issues);
    const props = isObject(f['properties']) ? f['properties'] : {};
    const cls = props['class'];
    if (!Number.isInteger(cls) || (cls as number) < 1 || (cls as number) > 5) {
      issues.push({ path: `${at}/properties/class`, message: 'class must be an integer priority 1 (highest) to 5' });
    }
    const geometry = f['geometry'];
    if (geometry['type'] !== 'LineString' || !Array.isArray(geometry['coordinates'])) {
      issues.push({ path: `${at}/geometry`, message: `a road must be a LineString (got ${String(geometry['type'])})` });
      return;
    }
    const coords = geometry['coordinates'] as unknown[];
    if (coords.length < 2) {
      issues.push({ path: `${at}/geometry/coordinates`, message: 'a road needs at least 2 positions' });
      return;
    }
    let ok = true;
    coords.forEach((p, pi) => {
      ok = checkPosition(p, `${at}/geometry/coordinates/${pi}`, issues) && ok;
    });
    if (!ok || !named || !Number.isInteger(cls)) return;
    const line = lineString(coords as Position[]);
    const lengthM = length(line, { units: 'meters' });
    if (!(lengthM >= 1)) {
      issues.push({ path: `${at}/geometry`, message: 'a road must be at least 1 m long' });
      return;
    }
    if (seen.has(named.id)) {
      issues.push({ path: `${at}/properties/id`, message: `duplicate road id ${named.id}` });
      return;
    }
    seen.add(named.id);
    out.push({ id: named.id, name: named.name, class: cls as number, geometry: line.geometry, lengthM });
  });
  return out;
}
