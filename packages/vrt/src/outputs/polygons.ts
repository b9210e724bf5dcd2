/**
 * Zone polygons: the cells of each zone dissolved into polygons that follow
 * the cell edges exactly, and the check every polygon output must pass.
 *
 * The boundary is traced in one pass over the grid's lattice (O(cells), typed
 * arrays): every cell edge between a zone cell and a cell of another zone (or
 * outside the grid) is a directed edge with the zone on its left, so outer
 * rings come out counter-clockwise and holes clockwise (RFC 7946 §3.1.6). At
 * a corner where two cells of the zone touch only diagonally the walk always
 * turns left, which keeps a region's cells 4-connected: diagonal neighbours
 * become separate polygons that touch at one point. A ring that still visits
 * such a corner twice (a hole or notch closing at a corner) is split there into
 * simple rings, so every ring is simple and rings meet only at isolated points.
 */
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { transformer } from '../crs.ts';
import { VrtError } from '../errors.ts';
import type { ZoneFeatures, ZoneMap, ZoneProperties } from '../types.ts';

/** Directions of travel on the lattice: 0 east, 1 north, 2 west, 3 south (north = decreasing row). */
const DI = [1, 0, -1, 0] as const;
const DJ = [0, -1, 0, 1] as const;
const EAST = 0;

/** One 4-connected region of a zone: its outer ring and holes as lattice vertex ids (j·(width+1)+i), not closed. */
interface Region {
  zone: number;
  shell: number[];
  holes: number[][];
}

/** Twice the signed area of a lattice ring in (i, −j), i.e. positive when counter-clockwise on the map. */
function latticeArea2(ring: readonly number[], vw: number): number {
  let sum = 0;
  const n = ring.length;
  for (let k = 0; k < n; k++) {
    const a = ring[k]!;
    const b = ring[(k + 1) % n]!;
    const ai = a % vw;
    const aj = (a - ai) / vw;
    const bi = b % vw;
    const bj = (b - bi) / vw;
    sum += ai * -bj - bi * -aj;
  }
  return sum;
}

/** Splits a ring that passes a vertex more than once into simple rings. */
function splitAtRepeats(ring: readonly number[]): number[][] {
  const at = new Map<number, number>();
  const stack: number[] = [];
  const out: number[][] = [];
  for (const v of ring) {
    const p = at.get(v);
    if (p === undefined) {
      at.set(v, stack.length);
      stack.push(v);
      continue;
    }
    const loop = stack.slice(p);
    for (let k = p + 1; k < stack.length; k++) at.delete(stack[k]!);
    stack.length = p + 1;
    out.push(loop);
  }
  out.push(stack);
  return out;
}

/** Traces every zone's regions on the grid lattice. */
function traceRegions(map: ZoneMap): Region[] {
  const { width: w, height: h } = map.grid;
  const zone = map.zone;
  if (zone.length !== w * h) {
    throw new VrtError('HATAKE_ERR_VRT_OUTPUT', `zone polygons: the zone array has ${zone.length} cells, the grid ${w}×${h}`);
  }
  const vw = w + 1;
  const cell = (c: number, r: number): number => (c < 0 || r < 0 || c >= w || r >= h ? 0 : zone[r * w + c]!);

  // 4-connected components of equal zone ids (union–find with path halving).
  const parent = new Int32Array(w * h);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      const up = parent[parent[x]!]!;
      parent[x] = up;
      x = up;
    }
    return x;
  };
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const idx = r * w + c;
      parent[idx] = idx;
      const z = zone[idx]!;
      if (z === 0) continue;
      if (c > 0 && zone[idx - 1] === z) parent[idx] = find(idx - 1);
      if (r > 0 && zone[idx - w] === z) {
        const a = find(idx);
        const b = find(idx - w);
        if (a !== b) parent[a < b ? b : a] = a < b ? a : b;
      }
    }
  }

  const regions: Region[] = [];
  const regionOf = new Map<number, Region>();
  // Rings are started only from east-going edges (every ring has one); this marks those already walked.
  const walkedEast = new Uint8Array(vw * (h + 1));
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const z = zone[r * w + c]!;
      if (z === 0 || (r + 1 < h && zone[(r + 1) * w + c] === z)) continue;
      const startI = c;
      const startJ = r + 1;
      if (walkedEast[startJ * vw + startI] === 1) continue;

      // Walk with the zone on the left: at each vertex turn left if the cell ahead-left is not the zone,
      // else go straight if the cell ahead-right is not the zone, else turn right. Only corners are kept.
      const ring: number[] = [];
      let saddle = false;
      walkedEast[startJ * vw + startI] = 1;
      let i = startI + 1;
      let j = startJ;
      let d = EAST;
      for (;;) {
        let fl: number;
        let fr: number;
        switch (d) {
          case 0: fl = cell(i, j - 1); fr = cell(i, j); break;
          case 1: fl = cell(i - 1, j - 1); fr = cell(i, j - 1); break;
          case 2: fl = cell(i - 1, j); fr = cell(i - 1, j - 1); break;
          default: fl = cell(i, j); fr = cell(i - 1, j); break;
        }
        let nd: number;
        if (fl !== z) {
          nd = (d + 1) & 3;
          if (fr === z) saddle = true;
        } else if (fr !== z) {
          nd = d;
        } else {
          nd = (d + 3) & 3;
        }
        if (i === startI && j === startJ && nd === EAST) {
          if (d !== EAST) ring.push(j * vw + i);
          break;
        }
        if (nd !== d) ring.push(j * vw + i);
        d = nd;
        if (d === EAST) walkedEast[j * vw + i] = 1;
        i += DI[d as 0 | 1 | 2 | 3];
        j += DJ[d as 0 | 1 | 2 | 3];
      }

      const component = find(r * w + c);
      let region = regionOf.get(component);
      if (!region) {
        region = { zone: z, shell: [], holes: [] };
        regionOf.set(component, region);
        regions.push(region);
      }
      for (const part of saddle ? splitAtRepeats(ring) : [ring]) {
        if (latticeArea2(part, vw) > 0) {
          if (region.shell.length > 0) throw new VrtError('HATAKE_ERR_VRT_OUTPUT', `zone polygons: zone ${z} traced two outer rings for one region (a bug)`);
          region.shell = part;
        } else {
          region.holes.push(part);
        }
      }
    }
  }
  for (const region of regions) {
    if (region.shell.length === 0) throw new VrtError('HATAKE_ERR_VRT_OUTPUT', `zone polygons: zone ${region.zone} traced a region without an outer ring (a bug)`);
  }
  return regions;
}

/** Builds the feature collection, mapping lattice vertices to output coordinates through `project` (flat x, y pairs in place). */
function buildFeatures(map: ZoneMap, project: (xy: Float64Array) => Float64Array): ZoneFeatures {
  const regions = traceRegions(map);
  const { originX, originY, cellSize, width } = map.grid;
  const vw = width + 1;
  let count = 0;
  for (const region of regions) {
    count += region.shell.length;
    for (const hole of region.holes) count += hole.length;
  }
  const xy = new Float64Array(count * 2);
  let k = 0;
  const put = (ring: readonly number[]): void => {
    for (const v of ring) {
      const i = v % vw;
      xy[k++] = originX + i * cellSize;
      xy[k++] = originY - ((v - i) / vw) * cellSize;
    }
  };
  for (const region of regions) {
    put(region.shell);
    for (const hole of region.holes) put(hole);
  }
  project(xy);
  k = 0;
  const take = (n: number): Position[] => {
    const ring: Position[] = new Array<Position>(n + 1);
    for (let m = 0; m < n; m++, k += 2) ring[m] = [xy[k]!, xy[k + 1]!];
    ring[n] = [ring[0]![0]!, ring[0]![1]!];
    return ring;
  };

  const byZone = new Map<number, Position[][][]>();
  for (const region of regions) {
    const rings = [take(region.shell.length)];
    for (const hole of region.holes) rings.push(take(hole.length));
    const parts = byZone.get(region.zone);
    if (parts) parts.push(rings);
    else byZone.set(region.zone, [rings]);
  }

  const features: ZoneFeatures['features'] = [];
  for (const zoneId of [...byZone.keys()].sort((a, b) => a - b)) {
    const summary = map.zones.find((s) => s.id === zoneId);
    if (!summary) throw new VrtError('HATAKE_ERR_VRT_OUTPUT', `zone polygons: zone ${zoneId} has cells but no entry in the zone summary`);
    const parts = byZone.get(zoneId)!;
    const geometry: Polygon | MultiPolygon = parts.length === 1
      ? { type: 'Polygon', coordinates: parts[0]! }
      : { type: 'MultiPolygon', coordinates: parts };
    const properties: ZoneProperties = { zone: zoneId, rate: summary.rate, areaHa: summary.areaHa };
    features.push({ type: 'Feature', properties, geometry });
  }
  return { type: 'FeatureCollection', features };
}

/** Dissolved zone polygons in WGS84 (RFC 7946), one Feature per zone present, properties { zone, rate, areaHa } from map.zones. */
export function zonePolygons(map: ZoneMap): ZoneFeatures {
  const toWgs84 = transformer(map.grid.epsg, 4326);
  return buildFeatures(map, (xy) => toWgs84.forwardAll(xy));
}

/** The same polygons as {@link zonePolygons} in the grid's own CRS (metres), before reprojection: vertices lie exactly on cell corners. */
export function gridZonePolygons(map: ZoneMap): ZoneFeatures {
  return buildFeatures(map, (xy) => xy);
}

/** Signed planar area of a ring (shoelace, in the ring's units squared): positive when counter-clockwise. */
export function signedRingArea(ring: readonly Position[]): number {
  if (ring.length < 3) return 0;
  const x0 = ring[0]![0]!;
  const y0 = ring[0]![1]!;
  let sum = 0;
  for (let k = 1; k + 1 < ring.length; k++) {
    const a = ring[k]!;
    const b = ring[k + 1]!;
    sum += (a[0]! - x0) * (b[1]! - y0) - (b[0]! - x0) * (a[1]! - y0);
  }
  return sum / 2;
}

/** Planar area of a Polygon or MultiPolygon in its own units squared: outer rings minus holes, whatever their orientation. */
export function planarArea(geometry: Polygon | MultiPolygon): number {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  let area = 0;
  for (const rings of polygons) {
    rings.forEach((ring, r) => {
      const a = Math.abs(signedRingArea(ring));
      area += r === 0 ? a : -a;
    });
  }
  return area;
}

/** Flat segment arrays of one geometry, for the intersection check. */
interface Segments {
  x1: Float64Array;
  y1: Float64Array;
  x2: Float64Array;
  y2: Float64Array;
  /** Ring number (over the whole geometry), its polygon and index within the polygon, and the segment's index in its ring. */
  ring: Int32Array;
  index: Int32Array;
  /** Segments per ring, by ring number. */
  ringSegments: number[];
  /** (polygon, ring-in-polygon) per ring number, for messages. */
  ringName: [number, number][];
}

function collectSegments(polygons: readonly (readonly (readonly Position[])[])[]): Segments {
  let n = 0;
  for (const rings of polygons) for (const ring of rings) n += ring.length - 1;
  const s: Segments = {
    x1: new Float64Array(n), y1: new Float64Array(n), x2: new Float64Array(n), y2: new Float64Array(n),
    ring: new Int32Array(n), index: new Int32Array(n), ringSegments: [], ringName: [],
  };
  let k = 0;
  polygons.forEach((rings, p) => {
    rings.forEach((ring, r) => {
      const id = s.ringName.length;
      s.ringName.push([p, r]);
      s.ringSegments.push(ring.length - 1);
      for (let m = 0; m + 1 < ring.length; m++, k++) {
        s.x1[k] = ring[m]![0]!;
        s.y1[k] = ring[m]![1]!;
        s.x2[k] = ring[m + 1]![0]!;
        s.y2[k] = ring[m + 1]![1]!;
        s.ring[k] = id;
        s.index[k] = m;
      }
    });
  });
  return s;
}

const NO_CONTACT = 0;
const TOUCH = 1;
const CROSS = 2;

/** How two segments meet: not at all, at a single point, or crossing / overlapping along a stretch. */
function contact(s: Segments, a: number, b: number): number {
  const px = s.x1[a]!, py = s.y1[a]!, qx = s.x2[a]!, qy = s.y2[a]!;
  const rx = s.x1[b]!, ry = s.y1[b]!, tx = s.x2[b]!, ty = s.y2[b]!;
  if (Math.max(px, qx) < Math.min(rx, tx) || Math.max(rx, tx) < Math.min(px, qx)) return NO_CONTACT;
  if (Math.max(py, qy) < Math.min(ry, ty) || Math.max(ry, ty) < Math.min(py, qy)) return NO_CONTACT;
  const o1 = (qx - px) * (ry - py) - (qy - py) * (rx - px);
  const o2 = (qx - px) * (ty - py) - (qy - py) * (tx - px);
  const o3 = (tx - rx) * (py - ry) - (ty - ry) * (px - rx);
  const o4 = (tx - rx) * (qy - ry) - (ty - ry) * (qx - rx);
  if (o1 === 0 && o2 === 0) {
    const alongX = Math.abs(qx - px) >= Math.abs(qy - py);
    const lo1 = alongX ? Math.min(px, qx) : Math.min(py, qy);
    const hi1 = alongX ? Math.max(px, qx) : Math.max(py, qy);
    const lo2 = alongX ? Math.min(rx, tx) : Math.min(ry, ty);
    const hi2 = alongX ? Math.max(rx, tx) : Math.max(ry, ty);
    const overlap = Math.min(hi1, hi2) - Math.max(lo1, lo2);
    return overlap > 0 ? CROSS : overlap === 0 ? TOUCH : NO_CONTACT;
  }
  if ((o1 > 0 && o2 > 0) || (o1 < 0 && o2 < 0) || (o3 > 0 && o4 > 0) || (o3 < 0 && o4 < 0)) return NO_CONTACT;
  return o1 !== 0 && o2 !== 0 && o3 !== 0 && o4 !== 0 ? CROSS : TOUCH;
}

/**
 * The first pair of segments that makes the geometry invalid, or undefined: within a ring any contact
 * between non-adjacent segments (or adjacent ones folding back); between rings a crossing or a shared
 * stretch (touching at a point is allowed). Segments are bucketed on a uniform grid, so the cost is
 * about linear in the number of segments rather than quadratic as with turf's kinks.
 */
function findIntersection(s: Segments): [number, number] | undefined {
  const n = s.x1.length;
  if (n < 2) return undefined;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let k = 0; k < n; k++) {
    minX = Math.min(minX, s.x1[k]!, s.x2[k]!);
    maxX = Math.max(maxX, s.x1[k]!, s.x2[k]!);
    minY = Math.min(minY, s.y1[k]!, s.y2[k]!);
    maxY = Math.max(maxY, s.y1[k]!, s.y2[k]!);
  }
  const g = Math.max(1, Math.min(1024, Math.ceil(Math.sqrt(n))));
  const cw = (maxX - minX) / g || 1;
  const ch = (maxY - minY) / g || 1;
  const bx = (x: number): number => Math.min(g - 1, Math.max(0, Math.floor((x - minX) / cw)));
  const by = (y: number): number => Math.min(g - 1, Math.max(0, Math.floor((y - minY) / ch)));
  const span = (k: number): [number, number, number, number] => [
    bx(Math.min(s.x1[k]!, s.x2[k]!)), bx(Math.max(s.x1[k]!, s.x2[k]!)),
    by(Math.min(s.y1[k]!, s.y2[k]!)), by(Math.max(s.y1[k]!, s.y2[k]!)),
  ];
  // Bucket lists in compressed form: counts, prefix sums, then fill.
  const start = new Int32Array(g * g + 1);
  for (let k = 0; k < n; k++) {
    const [x0, x1, y0, y1] = span(k);
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) start[y * g + x + 1]!++;
  }
  for (let b = 0; b < g * g; b++) start[b + 1]! += start[b]!;
  const fill = start.slice(0, g * g);
  const items = new Int32Array(start[g * g]!);
  for (let k = 0; k < n; k++) {
    const [x0, x1, y0, y1] = span(k);
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) items[fill[y * g + x]!++] = k;
  }

  for (let b = 0; b < g * g; b++) {
    const bxCell = b % g;
    const byCell = (b - bxCell) / g;
    for (let u = start[b]!; u < start[b + 1]!; u++) {
      const a = items[u]!;
      for (let v = u + 1; v < start[b + 1]!; v++) {
        const c = items[v]!;
        // Test each pair once: in the bucket holding the lower-left corner of their bounding boxes' overlap.
        const ox = Math.max(Math.min(s.x1[a]!, s.x2[a]!), Math.min(s.x1[c]!, s.x2[c]!));
        const oy = Math.max(Math.min(s.y1[a]!, s.y2[a]!), Math.min(s.y1[c]!, s.y2[c]!));
        if (bx(ox) !== bxCell || by(oy) !== byCell) continue;
        const how = contact(s, a, c);
        if (how === NO_CONTACT) continue;
        if (s.ring[a] !== s.ring[c]) {
          if (how === CROSS) return [a, c];
          continue;
        }
        const m = s.ringSegments[s.ring[a]!]!;
        const gap = Math.abs(s.index[a]! - s.index[c]!);
        const adjacent = gap === 1 || gap === m - 1;
        if (!adjacent || how === CROSS) return [a, c];
      }
    }
  }
  return undefined;
}

/** Throws VrtError HATAKE_ERR_VRT_OUTPUT naming the zone and the problem unless every geometry is valid: closed rings of ≥4 positions, no self-intersections (turf kinks), outer rings counter-clockwise and holes clockwise, finite lon/lat in range. */
export function checkZoneFeatures(fc: ZoneFeatures): void {
  const fail = (what: string, message: string): never => {
    throw new VrtError('HATAKE_ERR_VRT_OUTPUT', `zone polygons: ${what}: ${message}`);
  };
  if (fc?.type !== 'FeatureCollection' || !Array.isArray(fc.features)) fail('output', 'not a GeoJSON FeatureCollection');
  fc.features.forEach((feature, f) => {
    const props = feature.properties as Partial<ZoneProperties> | null;
    const what = typeof props?.zone === 'number' ? `zone ${props.zone}` : `feature ${f}`;
    for (const key of ['zone', 'rate', 'areaHa'] as const) {
      if (typeof props?.[key] !== 'number' || !Number.isFinite(props[key])) fail(what, `property "${key}" is not a finite number`);
    }
    const geometry = feature.geometry as Polygon | MultiPolygon | null;
    if (!geometry || (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon')) fail(what, 'geometry is not a Polygon or MultiPolygon');
    const polygons = geometry!.type === 'Polygon' ? [geometry!.coordinates] : geometry!.coordinates;
    if (polygons.length === 0) fail(what, 'MultiPolygon has no polygons');
    polygons.forEach((rings, p) => {
      if (rings.length === 0) fail(what, `polygon ${p} has no rings`);
      rings.forEach((ring, r) => {
        const where = `polygon ${p} ${r === 0 ? 'outer ring' : `hole ${r}`}`;
        if (ring.length < 4) fail(what, `${where} has ${ring.length} positions, at least 4 needed`);
        for (const [m, pos] of ring.entries()) {
          const [lon, lat] = pos;
          if (typeof lon !== 'number' || typeof lat !== 'number' || !Number.isFinite(lon) || !Number.isFinite(lat)) fail(what, `${where} position ${m} is not a finite lon/lat`);
          if (Math.abs(lon!) > 180 || Math.abs(lat!) > 90) fail(what, `${where} position ${m} (${lon}, ${lat}) is outside lon ±180 / lat ±90`);
          const next = ring[m + 1];
          if (next && next[0] === lon && next[1] === lat) fail(what, `${where} repeats position ${m} (${lon}, ${lat})`);
        }
        const first = ring[0]!;
        const last = ring[ring.length - 1]!;
        if (first[0] !== last[0] || first[1] !== last[1]) fail(what, `${where} is not closed (first and last positions differ)`);
      });
    });
    const segments = collectSegments(polygons);
    const hit = findIntersection(segments);
    if (hit) {
      const [a, b] = hit;
      const [pa, ra] = segments.ringName[segments.ring[a]!]!;
      const [pb, rb] = segments.ringName[segments.ring[b]!]!;
      const near = `${segments.x1[a]}, ${segments.y1[a]}`;
      fail(what, segments.ring[a] === segments.ring[b]
        ? `polygon ${pa} ring ${ra} self-intersects near (${near})`
        : `polygon ${pa} ring ${ra} and polygon ${pb} ring ${rb} intersect near (${near})`);
    }
    polygons.forEach((rings, p) => {
      rings.forEach((ring, r) => {
        const area = signedRingArea(ring);
        if (r === 0 && !(area > 0)) fail(what, `polygon ${p} outer ring is not counter-clockwise`);
        if (r > 0 && !(area < 0)) fail(what, `polygon ${p} hole ${r} is not clockwise`);
      });
    });
  });
}
