/**
 * Map matching of blade-down samples to road segments: each sample goes to
 * the one segment that is near enough, runs in its direction (either way) and
 * continues the previous match best; a sample that fits no segment is kept as
 * unmatched. One pass over the samples, typed arrays out, nothing allocated
 * per sample.
 */
import { TracksError } from './errors.ts';
import { endTouching, type RoadNetwork } from './network.ts';
import type { Track } from './types.ts';

/** How samples are matched; every field has a default. */
export interface MatchOptions {
  /** Farthest a sample may be from a segment, m (default 12). */
  readonly maxDistanceM?: number;
  /** Largest angle between the direction of travel and the segment, either way, degrees (default 45). */
  readonly maxHeadingDiffDeg?: number;
  /** A time step longer than this, s, breaks continuity (default 30). */
  readonly maxGapS?: number;
  /** Below this speed, m/s, the reported heading is not trusted; the direction of movement is used (default 1.5). */
  readonly minHeadingSpeedMps?: number;
  /** Movement shorter than this, m, gives no direction (default 3). */
  readonly minMoveM?: number;
}

/** Match options with their defaults filled in. */
export interface ResolvedMatchOptions {
  readonly maxDistanceM: number;
  readonly maxHeadingDiffDeg: number;
  readonly maxGapS: number;
  readonly minHeadingSpeedMps: number;
  readonly minMoveM: number;
}

/** What became of one sample. */
export const SampleState = {
  /** Not blade-down, or outside the time window: not matched at all. */
  skipped: 0,
  /** Blade down but without a position (no fix). */
  noPosition: 1,
  /** Blade down with a position, but no segment fits. */
  unmatched: 2,
  matched: 3,
} as const;
export type SampleState = (typeof SampleState)[keyof typeof SampleState];

/** Per-sample result of matching one track; arrays are indexed like `track.points`. */
export interface MatchedTrack {
  readonly device: string;
  /** A `SampleState` per sample. */
  readonly state: Uint8Array;
  /** Segment index in `network.segments`, or -1. */
  readonly segment: Int32Array;
  /** Where on the segment, as a fraction of its length from its first position (0–1). */
  readonly along: Float64Array;
  /** Distance to the segment, m. */
  readonly distance: Float32Array;
  /** Direction of travel against the segment's digitisation: 1 forward, -1 backward, 0 unknown. */
  readonly direction: Int8Array;
  /**
   * 1 where continuity with the sample before is broken: the sample before was
   * not blade-down or outside the window, either lacks a position, or more
   * than `maxGapS` lies between them.
   */
  readonly breakBefore: Uint8Array;
  readonly counts: { readonly considered: number; readonly noPosition: number; readonly matched: number; readonly unmatched: number; readonly gaps: number };
}

function numberIn(name: string, v: unknown, fallback: number, lo: number, hi: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= lo && v <= hi)) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `${name} must be a number from ${lo} to ${hi} (got ${String(v)})`);
  }
  return v;
}

/** Fills in and checks match options; throws HATAKE_ERR_TRACKS_OPTIONS naming a bad one. */
export function resolveMatchOptions(o: MatchOptions = {}): ResolvedMatchOptions {
  return {
    maxDistanceM: numberIn('maxDistanceM', o.maxDistanceM, 12, 0.5, 200),
    maxHeadingDiffDeg: numberIn('maxHeadingDiffDeg', o.maxHeadingDiffDeg, 45, 1, 90),
    maxGapS: numberIn('maxGapS', o.maxGapS, 30, 0.1, 86_400),
    minHeadingSpeedMps: numberIn('minHeadingSpeedMps', o.minHeadingSpeedMps, 1.5, 0, 100),
    minMoveM: numberIn('minMoveM', o.minMoveM, 3, 0, 1000),
  };
}

/** Weight of the heading term in a candidate's cost (a 0–1 term; distance is 0–1 too). */
const HEADING_WEIGHT = 0.5;
/** Continuity penalties: the same segment costs nothing; a touching one, the same road, anything else. */
const PENALTY_TOUCHING = 0.1;
const PENALTY_SAME_ROAD = 0.25;
const PENALTY_JUMP = 0.5;
const RAD = Math.PI / 180;

/**
 * Matches the blade-down samples of one track in [from, to] (ms, inclusive) to
 * segments. The cost of a candidate segment is
 * distance / maxDistanceM + 0.5 × heading misfit (0 when parallel either way,
 * 1 at maxHeadingDiffDeg) + a continuity penalty against the previous match
 * (0 same segment, 0.1 touching it, 0.25 same road, 0.5 elsewhere); the
 * cheapest wins. A candidate beyond maxDistanceM, or beyond
 * maxHeadingDiffDeg, is refused — except within maxDistanceM of a segment end
 * that continues the previous match (a vehicle turning at a junction), where
 * it is taken with the full heading misfit.
 */
export function matchTrack(network: RoadNetwork, track: Track, window: { readonly from?: number; readonly to?: number } = {}, options: MatchOptions | ResolvedMatchOptions = {}): MatchedTrack {
  const o = resolveMatchOptions(options);
  const from = window.from ?? -Infinity;
  const to = window.to ?? Infinity;
  const points = track.points;
  const n = points.length;
  const state = new Uint8Array(n);
  const segment = new Int32Array(n).fill(-1);
  const along = new Float64Array(n);
  const distance = new Float32Array(n);
  const direction = new Int8Array(n);
  const breakBefore = new Uint8Array(n);

  // project the whole track at once (allocation-free per point); missing positions come out NaN
  const lons = new Float64Array(n);
  const lats = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = points[i]!;
    lons[i] = p.lon ?? NaN;
    lats[i] = p.lat ?? NaN;
  }
  const { x: xs, y: ys } = network.plane.toXYArrays(lons, lats);
  const e = network.edges;
  const { x0: ex0, y0: ey0, ux: eux, uy: euy, len: elen, seg: eseg, frac0: ef0, frac1: ef1, index } = e;
  const adj = network.adjacency;
  const segRoad = network.segmentRoad;
  const segLen = network.segmentLength;
  const R = o.maxDistanceM;
  const cosMax = Math.cos(o.maxHeadingDiffDeg * RAD);
  const headingScale = 1 / Math.max(1e-9, 1 - cosMax);
  const gapMs = o.maxGapS * 1000;
  const minMove2 = o.minMoveM * o.minMoveM;
  const minHeadingSpeed = o.minHeadingSpeedMps;

  // Candidates from the index land here; the filter keeps flatbush's own result list empty.
  const cand = new Int32Array(e.count);
  let candN = 0;
  const collect = (k: number): boolean => {
    cand[candN++] = k;
    return false;
  };

  let considered = 0;
  let noPosition = 0;
  let matched = 0;
  let unmatched = 0;
  let gaps = 0;

  let prevT = -Infinity;
  let prevConsidered = false;
  let prevHasPos = false;
  // movement direction from an anchor that moves on every minMoveM of travel
  let anchorOk = false;
  let ax = 0;
  let ay = 0;
  let moveOk = false;
  let mx = 0;
  let my = 0;
  let lastSeg = -1;

  for (let i = 0; i < n; i++) {
    const p = points[i]!;
    const t = p.t;
    const dt = t - prevT;
    if (dt > gapMs) anchorOk = false;
    const lon = p.lon;
    const lat = p.lat;
    const hasPos = lon !== undefined && lat !== undefined && Number.isFinite(lon) && Number.isFinite(lat) && p.fix !== 'none';
    let x = 0;
    let y = 0;
    if (hasPos) {
      x = xs[i]!;
      y = ys[i]!;
      if (!anchorOk) {
        ax = x;
        ay = y;
        anchorOk = true;
        moveOk = false;
      } else {
        const dx = x - ax;
        const dy = y - ay;
        const d2 = dx * dx + dy * dy;
        if (d2 >= minMove2 && d2 > 0) {
          const d = Math.sqrt(d2);
          mx = dx / d;
          my = dy / d;
          moveOk = true;
          ax = x;
          ay = y;
        }
      }
    }
    const isConsidered = p.blade === 'down' && t >= from && t <= to;
    const continuous = i > 0 && prevConsidered && prevHasPos && hasPos && dt <= gapMs;
    if (isConsidered && prevConsidered && i > 0 && dt > gapMs) gaps++;
    prevT = t;
    prevConsidered = isConsidered;
    prevHasPos = hasPos;
    if (!isConsidered) {
      lastSeg = -1;
      continue;
    }
    considered++;
    if (!continuous) {
      breakBefore[i] = 1;
      lastSeg = -1;
    }
    if (!hasPos) {
      state[i] = SampleState.noPosition;
      noPosition++;
      continue;
    }

    // direction of travel: the reported heading when moving, else the direction of movement
    let hasDir = false;
    let hx = 0;
    let hy = 0;
    const heading = p.heading;
    const speed = p.speed;
    const headingOk = heading !== undefined && Number.isFinite(heading);
    if (headingOk && speed !== undefined && speed >= minHeadingSpeed) {
      hx = Math.sin(heading * RAD);
      hy = Math.cos(heading * RAD);
      hasDir = true;
    } else if (moveOk) {
      hx = mx;
      hy = my;
      hasDir = true;
    } else if (headingOk && speed === undefined) {
      hx = Math.sin(heading * RAD);
      hy = Math.cos(heading * RAD);
      hasDir = true;
    }

    candN = 0;
    index.search(x - R, y - R, x + R, y + R, collect);
    let best = -1;
    let bestCost = Infinity;
    let bestFrac = 0;
    let bestD = 0;
    let bestDot = 0;
    for (let c = 0; c < candN; c++) {
      const k = cand[c]!;
      const ux = eux[k]!;
      const uy = euy[k]!;
      const l = elen[k]!;
      const dx = x - ex0[k]!;
      const dy = y - ey0[k]!;
      let s = dx * ux + dy * uy;
      if (s < 0) s = 0;
      else if (s > l) s = l;
      const px = dx - s * ux;
      const py = dy - s * uy;
      const d = Math.sqrt(px * px + py * py);
      if (d > R) continue;
      const sg = eseg[k]!;
      const frac = ef0[k]! + (l > 0 ? s / l : 0) * (ef1[k]! - ef0[k]!);
      let cont = 0;
      if (lastSeg >= 0 && sg !== lastSeg) {
        if (endTouching(adj, lastSeg, sg) >= 0 || endTouching(adj, sg, lastSeg) >= 0) cont = PENALTY_TOUCHING;
        else if (segRoad[sg] === segRoad[lastSeg]) cont = PENALTY_SAME_ROAD;
        else cont = PENALTY_JUMP;
      }
      let misfit = 0;
      let dot = 0;
      if (hasDir) {
        dot = hx * ux + hy * uy;
        const a = dot < 0 ? -dot : dot;
        if (a < cosMax) {
          // a turn at a junction: allowed only near an end of a segment continuing the previous match
          const L = segLen[sg]!;
          const nearEnd = frac * L <= R || (1 - frac) * L <= R;
          if (!nearEnd || lastSeg < 0 || cont > PENALTY_TOUCHING) continue;
          misfit = 1;
        } else {
          misfit = (1 - a) * headingScale;
        }
      }
      const cost = d / R + HEADING_WEIGHT * misfit + cont;
      if (cost < bestCost) {
        bestCost = cost;
        best = sg;
        bestFrac = frac;
        bestD = d;
        bestDot = dot;
      }
    }
    if (best < 0) {
      state[i] = SampleState.unmatched;
      unmatched++;
      continue;
    }
    state[i] = SampleState.matched;
    matched++;
    segment[i] = best;
    along[i] = bestFrac;
    distance[i] = bestD;
    direction[i] = bestDot > 0.2 ? 1 : bestDot < -0.2 ? -1 : 0;
    lastSeg = best;
  }
  return { device: track.device, state, segment, along, distance, direction, breakBefore, counts: { considered, noPosition, matched, unmatched, gaps } };
}
