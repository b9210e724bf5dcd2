/**
 * Trips, stops and data gaps of a track. One model, shared with the shift
 * report (README "Trips, stops and gaps"):
 *
 * - Only samples with a position count. A *step* runs from one positioned
 *   sample to the next and carries the state of its first sample (blade,
 *   spreader, speed).
 * - A step longer than `maxGapS` is a **gap**: no distance, neither driving
 *   nor stopped. Shorter stretches without a fix are bridged by a straight step.
 * - A step is *slow* when the speed at its start is below `stopSpeedMps` (the
 *   reported speed; without one, the step's distance over its duration).
 * - A **stop** is a run of slow steps (not broken by a gap) lasting at least
 *   `minStopS`; shorter pauses belong to the trip around them.
 * - A **trip** is a run of steps between gaps, stops and the track's ends
 *   that moves at least once. Its distance is the sum of its steps (GNSS
 *   wander during stops is not distance).
 */
import { TracksError } from './errors.ts';
import { stepDistanceM } from './project.ts';
import { checkMaxGapS } from './track.ts';
import type { Track, TrackPoint } from './types.ts';

/** Options of {@link tripsAndStops} (and of the shift report). */
export interface TripOptions {
  /** Below this speed a step is slow, m/s (default 0.5). */
  readonly stopSpeedMps?: number;
  /** A slow run this long or longer is a stop, s (default 120). */
  readonly minStopS?: number;
  /** A step longer than this is a data gap, s (default 60). */
  readonly maxGapS?: number;
}

/** A trip: times in ms, distances in m, speeds in m/s. */
export interface Trip {
  readonly from: number;
  readonly to: number;
  readonly durationS: number;
  readonly distanceM: number;
  readonly bladeDownM: number;
  readonly maxSpeedMps: number;
  /** distanceM / durationS (short pauses included). */
  readonly meanSpeedMps: number;
}

/** A stop: times in ms; lon/lat the mean position while stopped. */
export interface Stop {
  readonly from: number;
  readonly to: number;
  readonly lon: number;
  readonly lat: number;
  readonly durationS: number;
}

/** A data gap: from the last sample before to the first after, ms. */
export interface Gap {
  readonly from: number;
  readonly to: number;
  readonly durationS: number;
}

/** What a step is. */
export const STEP = { gap: 0, stop: 1, trip: 2, /** a short motionless run between gaps or track ends: idle, but no stop */ still: 3 } as const;

/** The steps of a track, classified; the shift report's input. */
export interface Steps {
  /** Indices of the positioned samples; step k runs from sample idx[k] to idx[k+1]. */
  readonly idx: Int32Array;
  readonly kind: Uint8Array;
  readonly distanceM: Float64Array;
  readonly speedMps: Float64Array;
  readonly trips: Trip[];
  readonly stops: Stop[];
  readonly gaps: Gap[];
}

function nonNegative(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `${name} must be a finite number, 0 or more, got ${String(v)}`);
  }
  return x;
}

/** Steps of the track classified as gap / stop / trip / still, with the trips, stops and gaps they form. */
export function classifySteps(track: Track, opts: TripOptions = {}): Steps {
  const stopSpeed = nonNegative('stopSpeedMps', opts.stopSpeedMps, 0.5);
  const minStopMs = nonNegative('minStopS', opts.minStopS, 120) * 1000;
  const maxGapMs = checkMaxGapS(opts.maxGapS) * 1000;
  const pts = track.points;
  let m = 0;
  for (const p of pts) if (p.lon !== undefined && p.lat !== undefined) m++;
  const idx = new Int32Array(m);
  m = 0;
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i] as TrackPoint;
    if (p.lon !== undefined && p.lat !== undefined) idx[m++] = i;
  }
  const steps = Math.max(0, m - 1);
  const kind = new Uint8Array(steps);
  const distanceM = new Float64Array(steps);
  const speedMps = new Float64Array(steps);
  const slow = new Uint8Array(steps);
  const gaps: Gap[] = [];
  const at = (k: number): TrackPoint => pts[idx[k] as number] as TrackPoint;
  for (let k = 0; k < steps; k++) {
    const a = at(k);
    const b = at(k + 1);
    const dt = b.t - a.t;
    if (dt > maxGapMs) {
      kind[k] = STEP.gap;
      gaps.push({ from: a.t, to: b.t, durationS: dt / 1000 });
      continue;
    }
    const d = stepDistanceM(a.lon as number, a.lat as number, b.lon as number, b.lat as number);
    distanceM[k] = d;
    const v = a.speed ?? d / (dt / 1000);
    speedMps[k] = v;
    slow[k] = v < stopSpeed ? 1 : 0;
    kind[k] = STEP.trip;
  }
  // stops: slow runs of at least minStopS, not broken by a gap
  const stops: Stop[] = [];
  for (let k = 0; k < steps; ) {
    if (kind[k] === STEP.gap || slow[k] === 0) {
      k++;
      continue;
    }
    let e = k;
    while (e + 1 < steps && kind[e + 1] !== STEP.gap && slow[e + 1] === 1) e++;
    const from = at(k).t;
    const to = at(e + 1).t;
    if (to - from >= minStopMs) {
      // mean of the offsets from the first position: exact when they are all equal
      const lon0 = at(k).lon as number;
      const lat0 = at(k).lat as number;
      let dlon = 0;
      let dlat = 0;
      for (let j = k; j <= e; j++) {
        kind[j] = STEP.stop;
        dlon += (at(j).lon as number) - lon0;
        dlat += (at(j).lat as number) - lat0;
      }
      const count = e - k + 1;
      stops.push({ from, to, lon: lon0 + dlon / count, lat: lat0 + dlat / count, durationS: (to - from) / 1000 });
    }
    k = e + 1;
  }
  // trips: the remaining runs; a run that never moves is 'still'
  const trips: Trip[] = [];
  for (let k = 0; k < steps; ) {
    if (kind[k] !== STEP.trip) {
      k++;
      continue;
    }
    let e = k;
    while (e + 1 < steps && kind[e + 1] === STEP.trip) e++;
    let dist = 0;
    let down = 0;
    let vmax = 0;
    let moves = false;
    for (let j = k; j <= e; j++) {
      dist += distanceM[j] as number;
      if (at(j).blade === 'down') down += distanceM[j] as number;
      if ((speedMps[j] as number) > vmax) vmax = speedMps[j] as number;
      if (slow[j] === 0) moves = true;
    }
    if (moves) {
      const from = at(k).t;
      const to = at(e + 1).t;
      const durationS = (to - from) / 1000;
      trips.push({ from, to, durationS, distanceM: dist, bladeDownM: down, maxSpeedMps: vmax, meanSpeedMps: durationS > 0 ? dist / durationS : 0 });
    } else {
      for (let j = k; j <= e; j++) kind[j] = STEP.still;
    }
    k = e + 1;
  }
  return { idx, kind, distanceM, speedMps, trips, stops, gaps };
}

/** The track's trips, stops and data gaps (module comment: the definitions). */
export function tripsAndStops(track: Track, opts: TripOptions = {}): { trips: Trip[]; stops: Stop[]; gaps: Gap[] } {
  const { trips, stops, gaps } = classifySteps(track, opts);
  return { trips, stops, gaps };
}
