/**
 * Douglas–Peucker simplification of a track in metres, keeping what a
 * reviewer needs: every blade change (both samples), every spreader on/off or
 * material change (both samples), the ends of every part, the first and last
 * sample of every run without position, and at least one sample every
 * `maxGapS` inside a part — so the simplified track has exactly the parts and
 * gaps of the original (`splitTrack` gives the same boundaries on both) and
 * still answers "where was it at 05:32" to within `maxGapS`.
 *
 * Own implementation rather than turf's `simplify`: turf has no way to pin
 * points, runs a radial pre-pass that would drop pinned ones, and wants
 * GeoJSON arrays; this works on one projection pass into typed arrays.
 */
import { TracksError } from './errors.ts';
import { projectionForExtent } from './project.ts';
import { checkMaxGapS, partRanges } from './track.ts';
import type { Track, TrackPoint } from './types.ts';

/** Options of {@link simplifyTrack}. */
export interface SimplifyOptions {
  /** Longest step between samples that is not a data gap, s (default 60); also the longest time between kept samples. Infinity: no time limit. */
  readonly maxGapS?: number;
}

function spreading(p: TrackPoint): boolean {
  return (p.spread ?? 0) > 0;
}

/** The track with points dropped that lie within `toleranceM` metres of the simplified line; 0 returns the track itself. */
export function simplifyTrack(track: Track, toleranceM: number, opts: SimplifyOptions = {}): Track {
  if (typeof toleranceM !== 'number' || Number.isNaN(toleranceM) || toleranceM < 0) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `toleranceM must be a number of metres, 0 or more, got ${String(toleranceM)}`);
  }
  const maxGapS = checkMaxGapS(opts.maxGapS);
  if (toleranceM === 0) return track;
  const points = track.points;
  const n = points.length;
  if (n <= 2) return track;

  // one projection pass over the positioned samples
  let m = 0;
  for (const p of points) if (p.lon !== undefined && p.lat !== undefined) m++;
  const lons = new Float64Array(m);
  const lats = new Float64Array(m);
  const slot = new Int32Array(n).fill(-1);
  m = 0;
  for (let i = 0; i < n; i++) {
    const p = points[i] as TrackPoint;
    if (p.lon === undefined || p.lat === undefined) continue;
    lons[m] = p.lon;
    lats[m] = p.lat;
    slot[i] = m++;
  }
  const { x, y } = projectionForExtent(lons, lats).toXYArrays(lons, lats);

  const keep = new Uint8Array(n);
  // runs without position: their first and last sample mark the gap
  for (let i = 0; i < n; i++) {
    if (slot[i] === -1 && (i === 0 || slot[i - 1] !== -1 || i === n - 1 || slot[i + 1] !== -1)) keep[i] = 1;
  }
  const parts = partRanges(points, maxGapS);
  const maxGapMs = maxGapS * 1000;
  const tol2 = toleranceM * toleranceM;
  let stack = new Int32Array(64);
  for (let k = 0; k < parts.length; k += 2) {
    const s = parts[k] as number;
    const e = parts[k + 1] as number;
    keep[s] = 1;
    keep[e] = 1;
    // state changes inside the part (the blade change at its end is pinned too: both samples)
    for (let i = s + 1; i <= e; i++) {
      const a = points[i - 1] as TrackPoint;
      const b = points[i] as TrackPoint;
      if (a.blade !== b.blade || spreading(a) !== spreading(b) || a.material !== b.material) {
        keep[i - 1] = 1;
        keep[i] = 1;
      }
    }
    // Douglas–Peucker between consecutive pinned samples, distance to the segment (keeps turn-backs)
    let a = s;
    for (let b = s + 1; b <= e; b++) {
      if (keep[b] === 0) continue;
      if (b - a > 1) {
        let top = 0;
        stack[top++] = a;
        stack[top++] = b;
        while (top > 0) {
          const j1 = stack[--top] as number;
          const j0 = stack[--top] as number;
          const ax = x[slot[j0] as number] as number;
          const ay = y[slot[j0] as number] as number;
          const dx = (x[slot[j1] as number] as number) - ax;
          const dy = (y[slot[j1] as number] as number) - ay;
          const l2 = dx * dx + dy * dy;
          let worst = -1;
          let at = -1;
          for (let i = j0 + 1; i < j1; i++) {
            const px = (x[slot[i] as number] as number) - ax;
            const py = (y[slot[i] as number] as number) - ay;
            let d2: number;
            if (l2 === 0) d2 = px * px + py * py;
            else {
              let u = (px * dx + py * dy) / l2;
              u = u < 0 ? 0 : u > 1 ? 1 : u;
              const qx = px - u * dx;
              const qy = py - u * dy;
              d2 = qx * qx + qy * qy;
            }
            if (d2 > worst) {
              worst = d2;
              at = i;
            }
          }
          if (worst > tol2) {
            keep[at] = 1;
            if (top + 4 > stack.length) {
              const grown = new Int32Array(stack.length * 2);
              grown.set(stack);
              stack = grown;
            }
            if (at - j0 > 1) {
              stack[top++] = j0;
              stack[top++] = at;
            }
            if (j1 - at > 1) {
              stack[top++] = at;
              stack[top++] = j1;
            }
          }
        }
      }
      a = b;
    }
    // no two kept samples of a part further apart in time than maxGapS
    if (maxGapMs !== Infinity) {
      let last = s;
      for (let i = s + 1; i <= e; i++) {
        if ((points[i] as TrackPoint).t - (points[last] as TrackPoint).t > maxGapMs) {
          keep[i - 1] = 1;
          last = i - 1;
        }
        if (keep[i] === 1) last = i;
      }
    }
  }
  const out: TrackPoint[] = [];
  for (let i = 0; i < n; i++) if (keep[i] === 1) out.push(points[i] as TrackPoint);
  return { device: track.device, kind: track.kind, points: out };
}
