/**
 * One vehicle's shift in numbers: distance, time by activity, material
 * spread, speeds — from the step model of `trips.ts`, clipped to the shift.
 *
 * Time classes (they add up to the shift exactly):
 * - working: a trip step with the blade down;
 * - transit: a trip step with the blade up, or a vehicle without blade state;
 * - idle: a step in a stop (or a short motionless run between gaps);
 * - no data: gaps, and the shift's time before the first / after the last
 *   positioned sample.
 * Steps crossing the shift's edges count in proportion (time and distance).
 */
import { TracksError } from './errors.ts';
import { STEP, classifySteps, type TripOptions } from './trips.ts';
import type { Track, TrackPoint } from './types.ts';

/** Options of {@link shiftReport}: the shift (epoch ms) and the trip options. */
export interface ShiftOptions extends TripOptions {
  readonly from: number;
  readonly to: number;
}

/** A vehicle's shift report. */
export interface ShiftReport {
  readonly device: string;
  readonly kind: Track['kind'];
  /** The shift, ms. */
  readonly from: number;
  readonly to: number;
  /** km driven in trips (stops' GNSS wander and gaps excluded). */
  readonly drivenKm: number;
  /** km driven with the blade down. */
  readonly bladeDownKm: number;
  /** km driven with the blade up (deadheading); 0 for vehicles without blade state. */
  readonly deadheadKm: number;
  readonly workingH: number;
  readonly transitH: number;
  readonly idleH: number;
  readonly noDataH: number;
  /** kg spread while the material contains salt ('salt', 'salt_sand'). */
  readonly saltKg: number;
  /** kg spread by material ('unknown' when the sample names none). */
  readonly spreadKg: Readonly<Record<string, number>>;
  /** Highest speed in a trip step, km/h (0 without trips). */
  readonly maxSpeedKmh: number;
  /** drivenKm over working + transit hours, km/h (0 without moving time). */
  readonly meanSpeedKmh: number;
  /** Trips, stops and gaps that overlap the shift. */
  readonly trips: number;
  readonly stops: number;
  readonly gaps: number;
}

/** The longest shift a report covers, hours. */
export const MAX_SHIFT_H = 48;

/** The shift report of one vehicle between `from` and `to` (module comment: the definitions). */
export function shiftReport(track: Track, opts: ShiftOptions): ShiftReport {
  const { from, to } = opts;
  if (typeof from !== 'number' || typeof to !== 'number' || !Number.isFinite(from) || !Number.isFinite(to) || !(from < to)) {
    throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `a shift needs from before to (epoch ms), got ${String(from)} – ${String(to)}`);
  }
  if (to - from > MAX_SHIFT_H * 3_600_000) {
    throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `a shift is at most ${MAX_SHIFT_H} h, got ${((to - from) / 3_600_000).toFixed(1)} h`);
  }
  const steps = classifySteps(track, opts);
  const { idx, kind, distanceM, speedMps } = steps;
  const pts = track.points;
  let driven = 0;
  let down = 0;
  let deadhead = 0;
  let workingMs = 0;
  let transitMs = 0;
  let idleMs = 0;
  let vmax = 0;
  let salt = 0;
  const byMaterial: Record<string, number> = {};
  for (let k = 0; k < kind.length; k++) {
    const a = pts[idx[k] as number] as TrackPoint;
    const b = pts[idx[k + 1] as number] as TrackPoint;
    const overlap = Math.min(b.t, to) - Math.max(a.t, from);
    if (overlap <= 0) continue;
    const c = kind[k];
    if (c === STEP.gap) continue;
    if (c !== STEP.trip) {
      idleMs += overlap;
      continue;
    }
    const d = ((distanceM[k] as number) * overlap) / (b.t - a.t);
    driven += d;
    if ((speedMps[k] as number) > vmax) vmax = speedMps[k] as number;
    if (a.blade === 'down') {
      down += d;
      workingMs += overlap;
    } else {
      transitMs += overlap;
      if (a.blade === 'up') deadhead += d;
    }
    if (a.spread !== undefined && a.spread > 0 && a.width !== undefined) {
      const kg = (a.spread * a.width * d) / 1000;
      const material = a.material ?? 'unknown';
      byMaterial[material] = (byMaterial[material] ?? 0) + kg;
      if (material.includes('salt')) salt += kg;
    }
  }
  const overlaps = (p: { from: number; to: number }): boolean => p.to > from && p.from < to;
  const movingH = (workingMs + transitMs) / 3_600_000;
  return {
    device: track.device,
    kind: track.kind,
    from,
    to,
    drivenKm: driven / 1000,
    bladeDownKm: down / 1000,
    deadheadKm: deadhead / 1000,
    workingH: workingMs / 3_600_000,
    transitH: transitMs / 3_600_000,
    idleH: idleMs / 3_600_000,
    noDataH: (to - from - workingMs - transitMs - idleMs) / 3_600_000,
    saltKg: salt,
    spreadKg: byMaterial,
    maxSpeedKmh: vmax * 3.6,
    meanSpeedKmh: movingH > 0 ? driven / 1000 / movingH : 0,
    trips: steps.trips.filter(overlaps).length,
    stops: steps.stops.filter(overlaps).length,
    gaps: steps.gaps.filter(overlaps).length,
  };
}

/** Columns of {@link shiftReportCsv} (README "Shift report" gives units). */
export const SHIFT_CSV_COLUMNS = [
  'device',
  'kind',
  'from',
  'to',
  'driven_km',
  'blade_down_km',
  'deadhead_km',
  'working_h',
  'transit_h',
  'idle_h',
  'no_data_h',
  'salt_kg',
  'spread_salt_kg',
  'spread_sand_kg',
  'spread_brine_kg',
  'spread_salt_sand_kg',
  'spread_other_kg',
  'max_speed_kmh',
  'mean_speed_kmh',
  'trips',
  'stops',
  'gaps',
] as const;

const NAMED_MATERIALS = ['salt', 'sand', 'brine', 'salt_sand'] as const;

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function iso(t: number): string {
  return new Date(t).toISOString().replace('.000Z', 'Z');
}

/** Shift reports as CSV (RFC 4180, CRLF), one row per report, {@link SHIFT_CSV_COLUMNS} as header. */
export function shiftReportCsv(reports: readonly ShiftReport[]): string {
  const lines = [SHIFT_CSV_COLUMNS.join(',')];
  for (const r of reports) {
    let other = 0;
    for (const [material, kg] of Object.entries(r.spreadKg)) if (!(NAMED_MATERIALS as readonly string[]).includes(material)) other += kg;
    lines.push(
      [
        csvField(r.device),
        r.kind,
        iso(r.from),
        iso(r.to),
        r.drivenKm.toFixed(3),
        r.bladeDownKm.toFixed(3),
        r.deadheadKm.toFixed(3),
        r.workingH.toFixed(3),
        r.transitH.toFixed(3),
        r.idleH.toFixed(3),
        r.noDataH.toFixed(3),
        r.saltKg.toFixed(1),
        ...NAMED_MATERIALS.map((m) => (r.spreadKg[m] ?? 0).toFixed(1)),
        other.toFixed(1),
        r.maxSpeedKmh.toFixed(1),
        r.meanSpeedKmh.toFixed(1),
        String(r.trips),
        String(r.stops),
        String(r.gaps),
      ].join(','),
    );
  }
  return lines.join('\r\n') + '\r\n';
}
