/**
 * The field boundary: parsed from what users upload (a WGS84 GeoJSON Polygon
 * or MultiPolygon, bare or in a Feature or FeatureCollection), checked, and
 * rasterised onto the working grid (a cell is in the field when its centre is).
 */
import { kinks, polygon as turfPolygon } from '@turf/turf';
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { transformer, utmZoneFor } from './crs.ts';
import { VrtError } from './errors.ts';
import type { FieldFeature, Grid } from './types.ts';

const fail = (why: string): never => {
  throw new VrtError('HATAKE_ERR_VRT_BOUNDARY', `field boundary: ${why}`);
};

function checkRing(ring: unknown, where: string): Position[] {
  if (!Array.isArray(ring) || ring.length < 4) fail(`${where} needs at least 4 positions (a closed ring)`);
  const r = ring as unknown[];
  r.forEach((p, i) => {
    if (!Array.isArray(p) || p.length < 2 || !p.slice(0, 2).every((v) => typeof v === 'number' && Number.isFinite(v))) fail(`${where} position ${i} is not [lon, lat] numbers`);
    const [lon, lat] = p as number[];
    if (Math.abs(lon!) > 180 || Math.abs(lat!) > 90) fail(`${where} position ${i} (${lon}, ${lat}) is not WGS84 longitude/latitude`);
  });
  const first = r[0] as number[];
  const last = r[r.length - 1] as number[];
  if (first[0] !== last[0] || first[1] !== last[1]) fail(`${where} is not closed (first and last positions differ)`);
  return r as Position[];
}

function polygonsOf(input: unknown): Position[][][] {
  if (typeof input !== 'object' || input === null) return fail('not a GeoJSON object');
  const g = input as { type?: unknown; coordinates?: unknown; geometry?: unknown; features?: unknown };
  switch (g.type) {
    case 'FeatureCollection':
      if (!Array.isArray(g.features) || g.features.length === 0) return fail('the FeatureCollection has no features');
      return (g.features as unknown[]).flatMap((f) => polygonsOf(f));
    case 'Feature':
      return polygonsOf(g.geometry);
    case 'Polygon':
      if (!Array.isArray(g.coordinates) || g.coordinates.length === 0) return fail('the Polygon has no rings');
      return [(g.coordinates as unknown[]).map((r, i) => checkRing(r, i === 0 ? 'the outer ring' : `hole ${i}`))];
    case 'MultiPolygon':
      if (!Array.isArray(g.coordinates) || g.coordinates.length === 0) return fail('the MultiPolygon has no polygons');
      return (g.coordinates as unknown[]).map((poly, j) => {
        if (!Array.isArray(poly) || poly.length === 0) return fail(`polygon ${j} has no rings`);
        return (poly as unknown[]).map((r, i) => checkRing(r, `polygon ${j} ${i === 0 ? 'outer ring' : `hole ${i}`}`));
      });
    default:
      return fail(`a ${JSON.stringify(g.type ?? null)} is not a Polygon or MultiPolygon (a field is an area, not a point or a line)`);
  }
}

/** The boundary as one WGS84 Feature, or HATAKE_ERR_VRT_BOUNDARY saying what is wrong. */
export function parseField(input: unknown): FieldFeature {
  const polys = polygonsOf(input);
  polys.forEach((rings, j) => {
    const k = kinks(turfPolygon(rings));
    if (k.features.length > 0) {
      const [lon, lat] = k.features[0]!.geometry.coordinates;
      fail(`polygon ${j} intersects itself near (${lon!.toFixed(6)}, ${lat!.toFixed(6)})`);
    }
  });
  const geometry: Polygon | MultiPolygon = polys.length === 1 ? { type: 'Polygon', coordinates: polys[0]! } : { type: 'MultiPolygon', coordinates: polys };
  return { type: 'Feature', properties: {}, geometry };
}

/** The rings of a field, projected to `epsg`, as flat [x0, y0, x1, y1, …] arrays (polygon by polygon, outer ring first). */
export function projectRings(field: FieldFeature, epsg: number): Float64Array[] {
  const t = transformer(4326, epsg);
  const polys = field.geometry.type === 'Polygon' ? [field.geometry.coordinates] : field.geometry.coordinates;
  return polys.flatMap((rings) => rings.map((ring) => t.forwardAll(Float64Array.from(ring.flatMap((p) => [p[0]!, p[1]!])))));
}

/** The working grid: in the UTM zone of the field's centre, cells of `cellSize` metres, origin snapped to whole cells, covering the field. */
export function fieldGrid(field: FieldFeature, cellSize: number): Grid {
  const polys = field.geometry.type === 'Polygon' ? [field.geometry.coordinates] : field.geometry.coordinates;
  let lon0 = Infinity, lon1 = -Infinity, lat0 = Infinity, lat1 = -Infinity;
  for (const p of polys.flatMap((r) => r[0]!)) {
    lon0 = Math.min(lon0, p[0]!);
    lon1 = Math.max(lon1, p[0]!);
    lat0 = Math.min(lat0, p[1]!);
    lat1 = Math.max(lat1, p[1]!);
  }
  const epsg = utmZoneFor((lon0 + lon1) / 2, (lat0 + lat1) / 2);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const ring of projectRings(field, epsg)) {
    for (let i = 0; i < ring.length; i += 2) {
      x0 = Math.min(x0, ring[i]!);
      x1 = Math.max(x1, ring[i]!);
      y0 = Math.min(y0, ring[i + 1]!);
      y1 = Math.max(y1, ring[i + 1]!);
    }
  }
  const originX = Math.floor(x0 / cellSize) * cellSize;
  const originY = Math.ceil(y1 / cellSize) * cellSize;
  const width = Math.max(1, Math.ceil((x1 - originX) / cellSize));
  const height = Math.max(1, Math.ceil((originY - y0) / cellSize));
  if (width * height > 50_000_000) fail(`the field spans ${width} × ${height} cells of ${cellSize} m; at most 50 million cells (use a wider working width or split the area)`);
  return { epsg, originX, originY, cellSize, width, height };
}

/** 1 where a cell's centre lies inside the field (even-odd over every ring, so holes are out), else 0. */
export function fieldMask(field: FieldFeature, grid: Grid): Uint8Array {
  const mask = new Uint8Array(grid.width * grid.height);
  const rings = projectRings(field, grid.epsg);
  const xs: number[] = [];
  for (let row = 0; row < grid.height; row++) {
    const y = grid.originY - (row + 0.5) * grid.cellSize;
    xs.length = 0;
    for (const ring of rings) {
      for (let i = 0; i + 3 < ring.length; i += 2) {
        const ya = ring[i + 1]!, yb = ring[i + 3]!;
        if ((ya <= y && yb > y) || (yb <= y && ya > y)) {
          const xa = ring[i]!, xb = ring[i + 2]!;
          xs.push(xa + ((y - ya) / (yb - ya)) * (xb - xa));
        }
      }
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const c0 = Math.max(0, Math.ceil((xs[k]! - grid.originX) / grid.cellSize - 0.5));
      const c1 = Math.min(grid.width - 1, Math.floor((xs[k + 1]! - grid.originX) / grid.cellSize - 0.5));
      for (let c = c0; c <= c1; c++) mask[row * grid.width + c] = 1;
    }
  }
  return mask;
}
