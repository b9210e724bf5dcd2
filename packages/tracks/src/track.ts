/**
 * A vehicle's track from the store's telemetry rows, its length, and the
 * parts it falls into (runs of one blade state without a data gap) — the one
 * definition of a part that simplification and every export share.
 */
import { TracksError } from './errors.ts';
import { stepDistanceM } from './project.ts';
import type { Blade, Track, TrackPoint } from './types.ts';

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function blade(kind: Track['kind'], v: unknown): Blade {
  if (kind === 'tractor') return 'none';
  return v === 'up' || v === 'down' ? v : 'none';
}

/**
 * Store rows (one per sample, fields flat) → a track sorted by time. A row
 * whose `t` is not a finite number is dropped; of rows with the same `t` the
 * first (by `seq`, then input order) is kept. A sample has a position only with
 * a fix other than 'none' and a finite lat in [-90, 90] and lon in [-180, 180]
 * other than exactly (0, 0) (the receiver's "no position" default); otherwise
 * it keeps its time, blade and spreader state but no lon/lat/speed/heading.
 */
export function trackFromRows(device: string, kind: Track['kind'], rows: readonly Record<string, unknown>[]): Track {
  const valid: Record<string, unknown>[] = [];
  for (const r of rows) if (num(r['t']) !== undefined) valid.push(r);
  const order = (a: Record<string, unknown>, b: Record<string, unknown>): number =>
    (a['t'] as number) - (b['t'] as number) || (num(a['seq']) ?? 0) - (num(b['seq']) ?? 0);
  // the store returns rows in time order: sort (stable) only when they are not
  let sorted = true;
  for (let i = 1; i < valid.length && sorted; i++) if (order(valid[i - 1] as Record<string, unknown>, valid[i] as Record<string, unknown>) > 0) sorted = false;
  if (!sorted) valid.sort(order);
  const points: TrackPoint[] = [];
  let lastT = NaN;
  for (const r of valid) {
    const t = r['t'] as number;
    if (t === lastT) continue;
    lastT = t;
    const fix = str(r['fix']);
    const lat = num(r['lat']);
    const lon = num(r['lon']);
    const positioned =
      fix !== undefined && fix !== 'none' && lat !== undefined && lon !== undefined && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 && (lat !== 0 || lon !== 0);
    const speed = positioned ? num(r['speed']) : undefined;
    const heading = positioned ? num(r['heading']) : undefined;
    const spread = num(r['spread']);
    const width = num(r['width']);
    // every point has every key (undefined when unknown): one object shape keeps the loops over points monomorphic
    const p: TrackPoint = {
      t,
      lon: positioned ? lon : undefined,
      lat: positioned ? lat : undefined,
      speed: speed !== undefined && speed >= 0 ? speed : undefined,
      heading: heading !== undefined ? ((heading % 360) + 360) % 360 : undefined,
      fix,
      blade: blade(kind, r['blade']),
      spread: spread !== undefined && spread >= 0 ? spread : undefined,
      material: str(r['material']),
      width: width !== undefined && width > 0 ? width : undefined,
    };
    points.push(p);
  }
  return { device, kind, points };
}

/** Length in metres of the line through the positioned points, in order (gaps bridged straight). */
export function trackLengthM(points: readonly TrackPoint[]): number {
  let sum = 0;
  let plon = NaN;
  let plat = NaN;
  for (const p of points) {
    if (p.lon === undefined || p.lat === undefined) continue;
    if (!Number.isNaN(plon)) sum += stepDistanceM(plon, plat, p.lon, p.lat);
    plon = p.lon;
    plat = p.lat;
  }
  return sum;
}

/** Default longest step between samples that is not a data gap, seconds. */
export const DEFAULT_MAX_GAP_S = 60;

/** `maxGapS` checked: a positive number (Infinity allowed: no time gaps). */
export function checkMaxGapS(maxGapS: number | undefined): number {
  const v = maxGapS ?? DEFAULT_MAX_GAP_S;
  if (typeof v !== 'number' || Number.isNaN(v) || v <= 0) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `maxGapS must be a number above 0, got ${String(maxGapS)}`);
  }
  return v;
}

function hasPos(p: TrackPoint | undefined): boolean {
  return p !== undefined && p.lon !== undefined && p.lat !== undefined;
}

/**
 * The parts of a track as index ranges into `points`: `[start0, end0, start1,
 * end1, …]`, ends inclusive. A part is a run of positioned samples of one
 * blade state; it ends at a data gap (a sample without position, or a step
 * longer than `maxGapS`) or at a blade change. At a blade change the two parts
 * share the first sample of the new state, so their lines join and their
 * lengths add up (a step belongs to the state at its start). A part can be a
 * single point (a lone fix between gaps).
 */
export function partRanges(points: readonly TrackPoint[], maxGapS: number): Int32Array {
  const maxGapMs = maxGapS * 1000;
  const out: number[] = [];
  const n = points.length;
  let start = -1;
  for (let i = 0; i < n; i++) {
    const p = points[i] as TrackPoint;
    if (!hasPos(p)) {
      if (start >= 0) out.push(start, i - 1);
      start = -1;
      continue;
    }
    if (start < 0) {
      start = i;
      continue;
    }
    const prev = points[i - 1] as TrackPoint;
    if (p.t - prev.t > maxGapMs) {
      out.push(start, i - 1);
      start = i;
    } else if (p.blade !== prev.blade) {
      out.push(start, i);
      start = i;
    }
  }
  if (start >= 0) out.push(start, n - 1);
  return Int32Array.from(out);
}
