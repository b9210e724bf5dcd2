/**
 * The road network as review sees it: roads checked once at the trust
 * boundary, cut into segments of about equal length, projected once into a
 * local metric plane and indexed (flatbush over every straight piece), with
 * which segment ends touch which.
 */
import Flatbush from 'flatbush';
import type { Feature, FeatureCollection, LineString } from 'geojson';
import { TracksError } from './errors.ts';
import { localProjection, type LocalProjection } from './project.ts';
import type { Road } from './types.ts';

/** A piece of a road, about `segmentLengthM` long; the unit coverage is kept for. */
export interface Segment {
  /** `<roadId>#<n>`. */
  readonly id: string;
  /** The road's id. */
  readonly road: string;
  readonly name: string;
  readonly class: number;
  /** Position in the road, 0 first (digitisation order). */
  readonly index: number;
  /** [lon, lat] positions, WGS84, in the road's digitisation direction. */
  readonly coordinates: readonly (readonly [number, number])[];
  readonly lengthM: number;
  /** Degrees clockwise from north, from the first position to the last. */
  readonly bearing: number;
}

/** A segment near a point, as `RoadNetwork.near` finds it. */
export interface NearSegment {
  readonly segment: Segment;
  /** Distance from the point to the segment, m. */
  readonly distanceM: number;
  /** Where the nearest point lies, m from the segment's first position. */
  readonly alongM: number;
  /** Direction of the straight piece nearest the point, degrees clockwise from north. */
  readonly bearing: number;
}

/** Properties of each feature of `RoadNetwork.segmentsGeoJSON`. */
export interface SegmentProperties {
  readonly id: string;
  readonly road: string;
  readonly name: string;
  readonly class: number;
  readonly index: number;
  readonly lengthM: number;
  readonly bearing: number;
}

export interface BuildOptions {
  /** Target segment length, m (default 50; 5 to 5,000). */
  readonly segmentLengthM?: number;
  /** Segment ends this close (m) to another segment touch it (default 2). */
  readonly connectM?: number;
}

/**
 * The network in flat arrays for the matching loop: one entry per straight
 * piece ("edge") of every segment, in the network's local projection (metres
 * east and north of its centre). Shared by match and coverage; not a public API.
 */
export interface EdgeTable {
  readonly count: number;
  readonly x0: Float64Array;
  readonly y0: Float64Array;
  /** Unit direction (digitisation order). */
  readonly ux: Float64Array;
  readonly uy: Float64Array;
  /** Length in the plane. */
  readonly len: Float64Array;
  /** Segment index of the edge. */
  readonly seg: Int32Array;
  /** Fraction of the segment's length at the edge's first and last position. */
  readonly frac0: Float64Array;
  readonly frac1: Float64Array;
  readonly index: Flatbush;
}

/**
 * Which segments touch which, per segment end, in CSR form: the neighbours
 * of segment `s` at end `e` (0 = first position, 1 = last) are
 * `nbr[off[2s+e] .. off[2s+e+1])`, each coded `neighbour * 4 + where`, where
 * is 0 (its first position), 1 (its last) or 2 (its interior: a T-junction).
 */
export interface Adjacency {
  readonly off: Int32Array;
  readonly nbr: Int32Array;
}

const A = 6_378_137;
const E2 = 6.69437999014e-3;
const RAD = Math.PI / 180;

/** Metres per degree of longitude and latitude at `lat` on the WGS84 ellipsoid. */
function metresPerDegree(lat: number): { kx: number; ky: number } {
  const s = Math.sin(lat * RAD);
  const w = 1 - E2 * s * s;
  const n = A / Math.sqrt(w);
  const m = (A * (1 - E2)) / (w * Math.sqrt(w));
  return { kx: n * Math.cos(lat * RAD) * RAD, ky: m * RAD };
}

/** Length in metres of a short straight piece, scaled at its own mid-latitude. */
function pieceLength(a: readonly [number, number], b: readonly [number, number]): number {
  const { kx, ky } = metresPerDegree((a[1] + b[1]) / 2);
  return Math.hypot((b[0] - a[0]) * kx, (b[1] - a[1]) * ky);
}

function bearingOf(dx: number, dy: number): number {
  const deg = Math.atan2(dx, dy) / RAD;
  return Math.round(((deg + 360) % 360) * 100) / 100;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function networkError(issues: readonly string[]): TracksError {
  const shown = issues.slice(0, 20).join('; ');
  const more = issues.length > 20 ? `; and ${issues.length - 20} more` : '';
  return new TracksError('HATAKE_ERR_TRACKS_NETWORK', `road network: ${shown}${more}`);
}

/** Why a road's positions are degenerate (a spike or a part drawn twice), or undefined. */
function explainDegenerate(coords: readonly (readonly [number, number])[]): string | undefined {
  const { kx, ky } = metresPerDegree(coords[0]![1]);
  const xs = coords.map((p) => (p[0] - coords[0]![0]) * kx);
  const ys = coords.map((p) => (p[1] - coords[0]![1]) * ky);
  const n = coords.length - 1;
  for (let i = 0; i + 1 < n; i++) {
    const ax = xs[i + 1]! - xs[i]!;
    const ay = ys[i + 1]! - ys[i]!;
    const bx = xs[i + 2]! - xs[i + 1]!;
    const by = ys[i + 2]! - ys[i + 1]!;
    const la = Math.hypot(ax, ay);
    const lb = Math.hypot(bx, by);
    if ((ax * bx + ay * by) / (la * lb) < -0.999) return `doubles back on itself at position ${i + 1}`;
  }
  // Parts drawn twice: two non-adjacent pieces, collinear within 0.5 m, overlapping by more than 0.5 m.
  for (let i = 0; i < n; i++) {
    const ax = xs[i]!;
    const ay = ys[i]!;
    const dx = xs[i + 1]! - ax;
    const dy = ys[i + 1]! - ay;
    const l = Math.hypot(dx, dy);
    const ux = dx / l;
    const uy = dy / l;
    for (let j = i + 2; j < n; j++) {
      const px = xs[j]! - ax;
      const py = ys[j]! - ay;
      const qx = xs[j + 1]! - ax;
      const qy = ys[j + 1]! - ay;
      if (Math.abs(px * uy - py * ux) > 0.5 || Math.abs(qx * uy - qy * ux) > 0.5) continue;
      const s0 = Math.max(0, Math.min(px * ux + py * uy, qx * ux + qy * uy));
      const s1 = Math.min(l, Math.max(px * ux + py * uy, qx * ux + qy * uy));
      if (s1 - s0 > 0.5) return `overlaps itself (pieces from positions ${i} and ${j} lie on each other)`;
    }
  }
  return undefined;
}

/**
 * Validates a GeoJSON FeatureCollection of roads (LineStrings with id, name,
 * class 1–5); throws HATAKE_ERR_TRACKS_NETWORK listing every bad road and why.
 */
export function parseRoadNetwork(fc: unknown): Road[] {
  if (!isObject(fc) || fc['type'] !== 'FeatureCollection' || !Array.isArray(fc['features'])) {
    throw networkError(['must be a GeoJSON FeatureCollection']);
  }
  const issues: string[] = [];
  const roads: Road[] = [];
  const seen = new Map<string, number>();
  (fc['features'] as unknown[]).forEach((f, i) => {
    const props = isObject(f) && isObject(f['properties']) ? f['properties'] : {};
    const rawId = props['id'];
    const label = typeof rawId === 'string' && rawId.length > 0 ? `road '${rawId}' (feature ${i})` : `feature ${i}`;
    const bad = (why: string): void => {
      issues.push(`${label}: ${why}`);
    };
    if (!isObject(f) || f['type'] !== 'Feature') return bad('not a GeoJSON Feature');
    let ok = true;
    if (typeof rawId !== 'string' || rawId.length === 0 || rawId.length > 128 || rawId.includes('#')) {
      bad("id must be a string of 1 to 128 characters without '#'");
      ok = false;
    }
    const name = props['name'];
    if (typeof name !== 'string' || name.length === 0) {
      bad('name must be a non-empty string');
      ok = false;
    }
    const cls = props['class'];
    if (typeof cls !== 'number' || !Number.isInteger(cls) || cls < 1 || cls > 5) {
      bad(`class must be an integer 1 (highest) to 5 (got ${JSON.stringify(cls)})`);
      ok = false;
    }
    const geometry = f['geometry'];
    if (!isObject(geometry) || geometry['type'] !== 'LineString') {
      return bad(`not a LineString (got ${isObject(geometry) ? String(geometry['type']) : 'no geometry'})`);
    }
    const raw = geometry['coordinates'];
    if (!Array.isArray(raw) || raw.length < 2) return bad('a LineString needs at least 2 positions');
    const coords: [number, number][] = [];
    for (let k = 0; k < raw.length; k++) {
      const p: unknown = raw[k];
      if (!Array.isArray(p) || p.length < 2 || p.length > 3 || !p.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        return bad(`position ${k} is not [lon, lat] of finite numbers`);
      }
      const lon = p[0] as number;
      const lat = p[1] as number;
      if (lon < -180 || lon > 180 || lat < -90 || lat > 90) {
        return bad(`position ${k} [${lon}, ${lat}] is outside WGS84 (longitude first)`);
      }
      const last = coords[coords.length - 1];
      // A position repeated at once adds nothing; it is dropped rather than refused.
      if (last === undefined || last[0] !== lon || last[1] !== lat) coords.push([lon, lat]);
    }
    let lengthM = 0;
    for (let k = 1; k < coords.length; k++) lengthM += pieceLength(coords[k - 1]!, coords[k]!);
    if (coords.length < 2 || !(lengthM >= 1)) return bad(`zero length (${lengthM.toFixed(2)} m; a road must be at least 1 m long)`);
    const degenerate = explainDegenerate(coords);
    if (degenerate !== undefined) return bad(degenerate);
    if (!ok) return;
    const id = rawId as string;
    const first = seen.get(id);
    if (first !== undefined) return bad(`duplicate id (also feature ${first})`);
    seen.set(id, i);
    roads.push({ id, name: name as string, class: cls as number, coordinates: coords });
  });
  if (issues.length > 0) throw networkError(issues);
  if (roads.length === 0) throw networkError(['no roads']);
  return roads;
}

/** Cuts one road into `n` pieces of equal length (metres); positions interpolated linearly. */
function cutRoad(coords: readonly (readonly [number, number])[], segmentLengthM: number): { coordinates: [number, number][]; lengthM: number }[] {
  const pieces: number[] = [];
  let total = 0;
  for (let k = 1; k < coords.length; k++) {
    const l = pieceLength(coords[k - 1]!, coords[k]!);
    pieces.push(l);
    total += l;
  }
  const n = Math.max(1, Math.round(total / segmentLengthM));
  const step = total / n;
  const out: { coordinates: [number, number][]; lengthM: number }[] = [];
  let k = 0; // current piece
  let into = 0; // metres into piece k
  let current: [number, number][] = [[coords[0]![0], coords[0]![1]]];
  for (let s = 0; s < n; s++) {
    if (s === n - 1) {
      // the last segment takes everything left, so it ends exactly on the road's last position
      for (let j = k + 1; j < coords.length; j++) current.push([coords[j]![0], coords[j]![1]]);
      out.push({ coordinates: current, lengthM: step });
      break;
    }
    let need = step;
    for (;;) {
      const left = pieces[k]! - into;
      if (left >= need - 1e-9) {
        into = Math.min(into + need, pieces[k]!);
        const a = coords[k]!;
        const b = coords[k + 1]!;
        const r = pieces[k]! > 0 ? into / pieces[k]! : 1;
        // a cut within a nanometre of a vertex is the vertex (no sliver pieces)
        const cut: [number, number] = r >= 1 - 1e-12 ? [b[0], b[1]] : [a[0] + (b[0] - a[0]) * r, a[1] + (b[1] - a[1]) * r];
        current.push(cut);
        out.push({ coordinates: current, lengthM: step });
        current = [[cut[0], cut[1]]];
        break;
      }
      need -= left;
      k++;
      into = 0;
      current.push([coords[k]![0], coords[k]![1]]);
    }
  }
  // drop interior positions that coincide with a cut (a cut exactly on a vertex)
  for (const seg of out) {
    seg.coordinates = seg.coordinates.filter((p, i, a) => i === 0 || p[0] !== a[i - 1]![0] || p[1] !== a[i - 1]![1]);
  }
  return out;
}

/** What `RoadNetwork.build` hands its constructor. */
export interface NetworkParts {
  readonly roads: readonly Road[];
  readonly segments: readonly Segment[];
  readonly roadSegments: ReadonlyMap<string, readonly number[]>;
  readonly segmentLengthM: number;
  readonly plane: LocalProjection;
  readonly edges: EdgeTable;
  readonly adjacency: Adjacency;
  readonly segmentRoad: Int32Array;
  readonly segmentLength: Float64Array;
  readonly byId: ReadonlyMap<string, number>;
}

/** The road network cut into segments, projected and indexed for matching. */
export class RoadNetwork {
  readonly roads: readonly Road[];
  readonly segments: readonly Segment[];
  /** Segment indices of each road, in order. */
  readonly roadSegments: ReadonlyMap<string, readonly number[]>;
  readonly segmentLengthM: number;
  /** The local projection the network and every sample matched against it are projected with. */
  readonly plane: LocalProjection;
  /** Flat tables for the matching loop (see `EdgeTable`). */
  readonly edges: EdgeTable;
  readonly adjacency: Adjacency;
  /** Road index (in `roads`) of each segment. */
  readonly segmentRoad: Int32Array;
  /** Length of each segment, m. */
  readonly segmentLength: Float64Array;
  private readonly byId: ReadonlyMap<string, number>;

  constructor(parts: NetworkParts) {
    this.roads = parts.roads;
    this.segments = parts.segments;
    this.roadSegments = parts.roadSegments;
    this.segmentLengthM = parts.segmentLengthM;
    this.plane = parts.plane;
    this.edges = parts.edges;
    this.adjacency = parts.adjacency;
    this.segmentRoad = parts.segmentRoad;
    this.segmentLength = parts.segmentLength;
    this.byId = parts.byId;
  }

  /** Cuts every road into segments of about `segmentLengthM`, projects them and builds the index. */
  static build(roads: readonly Road[], options: BuildOptions = {}): RoadNetwork {
    const segmentLengthM = options.segmentLengthM ?? 50;
    const connectM = options.connectM ?? 2;
    if (typeof segmentLengthM !== 'number' || !(segmentLengthM >= 5 && segmentLengthM <= 5000)) {
      throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `segmentLengthM must be a number from 5 to 5000 (got ${String(segmentLengthM)})`);
    }
    if (typeof connectM !== 'number' || !(connectM >= 0 && connectM <= 50)) {
      throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `connectM must be a number from 0 to 50 (got ${String(connectM)})`);
    }
    if (roads.length === 0) throw networkError(['no roads']);
    const seen = new Set<string>();
    let minLon = Infinity;
    let minLat = Infinity;
    let maxLon = -Infinity;
    let maxLat = -Infinity;
    for (const r of roads) {
      if (seen.has(r.id)) throw networkError([`road '${r.id}': duplicate id`]);
      seen.add(r.id);
      if (r.coordinates.length < 2) throw networkError([`road '${r.id}': a LineString needs at least 2 positions`]);
      for (const [lon, lat] of r.coordinates) {
        if (!Number.isFinite(lon) || !Number.isFinite(lat)) throw networkError([`road '${r.id}': a position is not finite`]);
        minLon = Math.min(minLon, lon);
        maxLon = Math.max(maxLon, lon);
        minLat = Math.min(minLat, lat);
        maxLat = Math.max(maxLat, lat);
      }
    }
    const plane = localProjection((minLon + maxLon) / 2, (minLat + maxLat) / 2);

    const segments: Segment[] = [];
    const roadSegments = new Map<string, number[]>();
    const byId = new Map<string, number>();
    let edgeCount = 0;
    for (const road of roads) {
      let total = 0;
      for (let k = 1; k < road.coordinates.length; k++) total += pieceLength(road.coordinates[k - 1]!, road.coordinates[k]!);
      if (!(total >= 1)) throw networkError([`road '${road.id}': zero length`]);
      const list: number[] = [];
      cutRoad(road.coordinates, segmentLengthM).forEach((piece, index) => {
        const c = piece.coordinates;
        const first = c[0]!;
        const last = c[c.length - 1]!;
        const id = `${road.id}#${index}`;
        byId.set(id, segments.length);
        list.push(segments.length);
        edgeCount += c.length - 1;
        segments.push({
          id,
          road: road.id,
          name: road.name,
          class: road.class,
          index,
          coordinates: c,
          lengthM: Math.round(piece.lengthM * 100) / 100,
          bearing: bearingBetween(plane, first, last),
        });
      });
      roadSegments.set(road.id, list);
    }

    const edges = buildEdges(segments, edgeCount, plane);
    const adjacency = buildAdjacency(segments, edges, plane, connectM);
    const roadIndex = new Map(roads.map((r, i) => [r.id, i]));
    const segmentRoad = Int32Array.from(segments, (s) => roadIndex.get(s.road)!);
    const segmentLength = Float64Array.from(segments, (s) => s.lengthM);
    return new RoadNetwork({ roads, segments, roadSegments, segmentLengthM, plane, edges, adjacency, segmentRoad, segmentLength, byId });
  }

  /** Index of the segment with this id, or -1. */
  indexOf(segmentId: string): number {
    return this.byId.get(segmentId) ?? -1;
  }

  /** [x, y] in the network's local projection (metres east and north of its centre) of a WGS84 position. */
  toXY(lon: number, lat: number): [number, number] {
    return this.plane.toXY(lon, lat);
  }

  /** [lon, lat] of a point of the local projection. */
  toLonLat(x: number, y: number): [number, number] {
    return this.plane.toLonLat(x, y);
  }

  /** Segments within `radiusM` of the point (x, y) of the local projection, nearest first. */
  near(x: number, y: number, radiusM: number): NearSegment[] {
    const e = this.edges;
    const best = new Map<number, NearSegment>();
    for (const k of e.index.search(x - radiusM, y - radiusM, x + radiusM, y + radiusM)) {
      let t = (x - e.x0[k]!) * e.ux[k]! + (y - e.y0[k]!) * e.uy[k]!;
      const len = e.len[k]!;
      if (t < 0) t = 0;
      else if (t > len) t = len;
      const d = Math.hypot(x - (e.x0[k]! + t * e.ux[k]!), y - (e.y0[k]! + t * e.uy[k]!));
      if (d > radiusM) continue;
      const s = e.seg[k]!;
      const prior = best.get(s);
      if (prior !== undefined && prior.distanceM <= d) continue;
      const segment = this.segments[s]!;
      const frac = e.frac0[k]! + (len > 0 ? t / len : 0) * (e.frac1[k]! - e.frac0[k]!);
      best.set(s, { segment, distanceM: d, alongM: frac * segment.lengthM, bearing: bearingOf(e.ux[k]!, e.uy[k]!) });
    }
    return [...best.values()].sort((a, b) => a.distanceM - b.distanceM || a.segment.id.localeCompare(b.segment.id));
  }

  /** Every segment as a GeoJSON LineString feature with its id, road, name, class, index, length and bearing. */
  segmentsGeoJSON(): FeatureCollection<LineString, SegmentProperties> {
    return {
      type: 'FeatureCollection',
      features: this.segments.map((s): Feature<LineString, SegmentProperties> => ({
        type: 'Feature',
        properties: { id: s.id, road: s.road, name: s.name, class: s.class, index: s.index, lengthM: s.lengthM, bearing: s.bearing },
        geometry: { type: 'LineString', coordinates: s.coordinates.map((p) => [p[0], p[1]]) },
      })),
    };
  }
}

function bearingBetween(plane: LocalProjection, a: readonly [number, number], b: readonly [number, number]): number {
  const [ax, ay] = plane.toXY(a[0], a[1]);
  const [bx, by] = plane.toXY(b[0], b[1]);
  return bearingOf(bx - ax, by - ay);
}

function buildEdges(segments: readonly Segment[], count: number, plane: LocalProjection): EdgeTable {
  const x0 = new Float64Array(count);
  const y0 = new Float64Array(count);
  const ux = new Float64Array(count);
  const uy = new Float64Array(count);
  const len = new Float64Array(count);
  const seg = new Int32Array(count);
  const frac0 = new Float64Array(count);
  const frac1 = new Float64Array(count);
  const index = new Flatbush(count);
  let k = 0;
  segments.forEach((s, si) => {
    const c = s.coordinates;
    const lengths: number[] = [];
    let total = 0;
    for (let j = 1; j < c.length; j++) {
      const l = pieceLength(c[j - 1]!, c[j]!);
      lengths.push(l);
      total += l;
    }
    let cum = 0;
    const xy = c.map((p) => plane.toXY(p[0], p[1]));
    for (let j = 1; j < c.length; j++) {
      const [ax, ay] = xy[j - 1]!;
      const [bx, by] = xy[j]!;
      const l = Math.hypot(bx - ax, by - ay);
      x0[k] = ax;
      y0[k] = ay;
      len[k] = l;
      ux[k] = l > 1e-9 ? (bx - ax) / l : 0;
      uy[k] = l > 1e-9 ? (by - ay) / l : 0;
      seg[k] = si;
      frac0[k] = total > 0 ? cum / total : 0;
      cum += lengths[j - 1]!;
      frac1[k] = j === c.length - 1 ? 1 : total > 0 ? cum / total : 1;
      index.add(Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by));
      k++;
    }
  });
  index.finish();
  return { count, x0, y0, ux, uy, len, seg, frac0, frac1, index };
}

function buildAdjacency(segments: readonly Segment[], e: EdgeTable, plane: LocalProjection, connectM: number): Adjacency {
  const lists: number[][] = [];
  const tol = Math.max(connectM, 1e-6);
  segments.forEach((s, si) => {
    for (let end = 0; end < 2; end++) {
      const p = end === 0 ? s.coordinates[0]! : s.coordinates[s.coordinates.length - 1]!;
      const [x, y] = plane.toXY(p[0], p[1]);
      const found = new Map<number, number>();
      for (const k of e.index.search(x - tol, y - tol, x + tol, y + tol)) {
        const other = e.seg[k]!;
        if (other === si) continue;
        let t = (x - e.x0[k]!) * e.ux[k]! + (y - e.y0[k]!) * e.uy[k]!;
        if (t < 0) t = 0;
        else if (t > e.len[k]!) t = e.len[k]!;
        if (Math.hypot(x - (e.x0[k]! + t * e.ux[k]!), y - (e.y0[k]! + t * e.uy[k]!)) > tol) continue;
        const o = segments[other]!;
        const oa = o.coordinates[0]!;
        const ob = o.coordinates[o.coordinates.length - 1]!;
        const da = pieceLength(oa, p);
        const db = pieceLength(ob, p);
        const where = da <= tol && da <= db ? 0 : db <= tol ? 1 : 2;
        const prior = found.get(other);
        if (prior === undefined || where < prior) found.set(other, where);
      }
      lists.push([...found].map(([other, where]) => other * 4 + where));
    }
  });
  const off = new Int32Array(lists.length + 1);
  let total = 0;
  lists.forEach((l, i) => {
    off[i] = total;
    total += l.length;
  });
  off[lists.length] = total;
  const nbr = new Int32Array(total);
  lists.forEach((l, i) => nbr.set(l, off[i]!));
  return { off, nbr };
}

/** Which end (0 first, 1 last) of segment `s` touches segment `o`, or -1 when `o` touches no end of `s`. */
export function endTouching(adj: Adjacency, s: number, o: number): number {
  const off = adj.off;
  const nbr = adj.nbr;
  for (let end = 0; end < 2; end++) {
    const stop = off[2 * s + end + 1]!;
    for (let k = off[2 * s + end]!; k < stop; k++) if (nbr[k]! >> 2 === o) return end;
  }
  return -1;
}
