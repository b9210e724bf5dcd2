/**
 * Contractor reconciliation: each line of a contractor's claims file set
 * against what the vehicle's GPS shows for the same window — hours with the
 * blade down, kilometres driven, and how much of the claimed route it plowed.
 */
import { parse } from 'csv-parse/sync';
import { roadCoverage } from './coverage.ts';
import { TracksError } from './errors.ts';
import type { MatchOptions } from './match.ts';
import type { RoadNetwork } from './network.ts';
import { stepDistanceM } from './project.ts';
import type { Track, TrackPoint } from './types.ts';

/** Columns a claims file must have (any order; other columns are ignored). */
export const CLAIMS_COLUMNS = ['vehicle', 'start', 'end', 'claimed_hours', 'claimed_km', 'route'] as const;

/** One line of a claims file. */
export interface Claim {
  /** Line number in the file (1 is the header). */
  readonly line: number;
  readonly vehicle: string;
  /** ms. */
  readonly start: number;
  readonly end: number;
  readonly claimedHours: number;
  readonly claimedKm: number;
  /** Road ids; empty when the line names no route. */
  readonly route: readonly string[];
}

export interface ParseClaimsOptions {
  /** UTC offset for times written without one, e.g. '+09:00'; without it such times are refused. */
  readonly defaultOffset?: string;
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const OFFSET = /^(Z|[+-]\d{2}(?::?\d{2})?)$/i;

function offsetMinutes(o: string): number {
  if (o.toUpperCase() === 'Z') return 0;
  const sign = o[0] === '-' ? -1 : 1;
  const digits = o.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
}

/** ISO 8601 date-time → ms, or a reason it is not one. */
function parseTime(v: string, defaultOffset: string | undefined): number | string {
  const m = TIME.exec(v);
  if (m === null) return `'${v}' is not an ISO 8601 date-time (e.g. 2025-01-15T06:00:00+09:00)`;
  const zone = m[8] ?? defaultOffset;
  if (zone === undefined) return `'${v}' has no UTC offset (write e.g. +09:00 or Z)`;
  const [y, mo, d, h, mi] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const s = Number(m[6] ?? '0');
  const ms = Number(((m[7] ?? '') + '000').slice(0, 3));
  const off = offsetMinutes(zone);
  const local = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const check = new Date(local);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59 || Math.abs(off) > 14 * 60) {
    return `'${v}' is not a valid date-time`;
  }
  return local - off * 60_000;
}

function parseAmount(v: string, column: string): number | string {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(v)) return `${column} '${v}' is not a number`;
  const n = Number(v);
  if (n < 0) return `${column} ${v} is negative`;
  return n;
}

function claimsError(issues: readonly string[]): TracksError {
  const shown = issues.slice(0, 20).join('; ');
  const more = issues.length > 20 ? `; and ${issues.length - 20} more` : '';
  return new TracksError('HATAKE_ERR_TRACKS_CLAIMS', `claims: ${shown}${more}`);
}

/**
 * Reads a contractor claims CSV (header `vehicle,start,end,claimed_hours,claimed_km,route`;
 * times ISO 8601 with offset; route: road ids separated by ';', or blank);
 * throws HATAKE_ERR_TRACKS_CLAIMS listing every bad line with its number and why.
 */
export function parseClaims(csv: string | Uint8Array, options: ParseClaimsOptions = {}): Claim[] {
  const defaultOffset = options.defaultOffset;
  if (defaultOffset !== undefined && !OFFSET.test(defaultOffset)) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `defaultOffset must be a UTC offset like +09:00 or Z (got '${defaultOffset}')`);
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(csv, { info: true, skip_empty_lines: true, relax_column_count: true, bom: true, trim: true }) as unknown as typeof records;
  } catch (err) {
    const lines = (err as { lines?: unknown }).lines;
    throw claimsError([`not CSV${typeof lines === 'number' ? ` (line ${lines})` : ''}: ${(err as Error).message}`]);
  }
  const header = records[0];
  if (header === undefined) throw claimsError(['the file is empty (expected a header line)']);
  const names = header.record.map((h) => h.toLowerCase());
  const missing = CLAIMS_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length > 0) throw claimsError([`line ${header.info.lines}: header lacks column(s) ${missing.join(', ')} (expected ${CLAIMS_COLUMNS.join(',')})`]);
  const col = Object.fromEntries(CLAIMS_COLUMNS.map((c) => [c, names.indexOf(c)])) as Record<(typeof CLAIMS_COLUMNS)[number], number>;

  const claims: Claim[] = [];
  const issues: string[] = [];
  for (const { record, info } of records.slice(1)) {
    const line = info.lines;
    const why: string[] = [];
    if (record.length !== header.record.length) {
      issues.push(`line ${line}: ${record.length} fields, the header has ${header.record.length}`);
      continue;
    }
    const get = (c: (typeof CLAIMS_COLUMNS)[number]): string => record[col[c]] ?? '';
    const vehicle = get('vehicle');
    if (vehicle === '') why.push('vehicle is blank');
    const start = parseTime(get('start'), defaultOffset);
    if (typeof start === 'string') why.push(`start ${start}`);
    const end = parseTime(get('end'), defaultOffset);
    if (typeof end === 'string') why.push(`end ${end}`);
    const hours = parseAmount(get('claimed_hours'), 'claimed_hours');
    if (typeof hours === 'string') why.push(hours);
    const km = parseAmount(get('claimed_km'), 'claimed_km');
    if (typeof km === 'string') why.push(km);
    if (typeof start === 'number' && typeof end === 'number') {
      if (!(end > start)) why.push(`end ${get('end')} is not after start ${get('start')}`);
      else if (typeof hours === 'number' && hours > (end - start) / 3_600_000 + 1e-9) {
        why.push(`claimed_hours ${hours} exceeds the claim window of ${((end - start) / 3_600_000).toFixed(2)} h`);
      }
    }
    const route = get('route')
      .split(';')
      .map((r) => r.trim())
      .filter((r) => r !== '');
    if (why.length > 0) {
      issues.push(`line ${line}: ${why.join(', ')}`);
      continue;
    }
    claims.push({ line, vehicle, start: start as number, end: end as number, claimedHours: hours as number, claimedKm: km as number, route });
  }
  if (issues.length > 0) throw claimsError(issues);
  return claims;
}

export interface ReconcileOptions extends MatchOptions {
  /** Hours may differ by the larger of this (default 0.25 h) … */
  readonly hoursToleranceH?: number;
  /** … and this share of the claimed hours (default 0.1). */
  readonly hoursToleranceShare?: number;
  /** Kilometres may differ by the larger of this share of the claimed km (default 0.1) … */
  readonly kmToleranceShare?: number;
  /** … and this many km (default 0.5, so a claim of 0 km is not refused for GPS jitter). */
  readonly kmToleranceKm?: number;
  /** A claimed route must be covered at least this much (default 0.8). */
  readonly minRouteShare?: number;
  /** Passed on to coverage (see `CoverageOptions`). */
  readonly minPassShare?: number;
  readonly reverseToleranceM?: number;
}

/** What GPS shows for one claim, and the verdict. */
export interface ClaimReconciliation {
  readonly claim: Claim;
  /** GPS samples of the vehicle in the claim window. */
  readonly samples: number;
  /** Time with the blade down: steps that start blade-down and are no longer than maxGapS. */
  readonly gpsBladeDownHours: number;
  /** Distance through the positioned samples in the window (gaps bridged straight), km. */
  readonly gpsKm: number;
  /** The part of gpsKm driven with the blade down (steps that start blade-down), km. */
  readonly gpsBladeDownKm: number;
  /** Length of the claimed route, m (0 without a route). */
  readonly routeLengthM: number;
  /** Length of its segments with at least one blade-down pass by the vehicle in the window, m. */
  readonly routeCoveredM: number;
  /** routeCoveredM / routeLengthM, 0–1; undefined without a route. */
  readonly routeShare: number | undefined;
  readonly verdict: 'matches' | 'differs' | 'no_gps';
  /** Why it differs (or why there is no GPS), one sentence each. */
  readonly differences: readonly string[];
}

function option(name: string, v: unknown, fallback: number, lo: number, hi: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= lo && v <= hi)) throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `${name} must be a number from ${lo} to ${hi} (got ${String(v)})`);
  return v;
}

function trackOf(tracks: ReadonlyMap<string, Track> | Readonly<Record<string, Track>>, vehicle: string): Track | undefined {
  if (tracks instanceof Map) return (tracks as ReadonlyMap<string, Track>).get(vehicle);
  return Object.hasOwn(tracks, vehicle) ? (tracks as Readonly<Record<string, Track>>)[vehicle] : undefined;
}

/** Index of the first point with t ≥ `t` (points sorted by time). */
function lowerBound(points: readonly TrackPoint[], t: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]!.t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Sets each claim against its vehicle's track in the claim window: blade-down
 * hours, km driven and coverage of the claimed route, with the verdict
 * 'matches' (all within tolerance), 'differs' (with each difference spelled
 * out) or 'no_gps' (no samples of the vehicle in the window). A route naming
 * a road not in the network throws HATAKE_ERR_TRACKS_CLAIMS.
 */
export function reconcile(
  claims: readonly Claim[],
  tracksByVehicle: ReadonlyMap<string, Track> | Readonly<Record<string, Track>>,
  network: RoadNetwork,
  options: ReconcileOptions = {},
): ClaimReconciliation[] {
  const hoursTolH = option('hoursToleranceH', options.hoursToleranceH, 0.25, 0, 1000);
  const hoursTolShare = option('hoursToleranceShare', options.hoursToleranceShare, 0.1, 0, 1);
  const kmTolShare = option('kmToleranceShare', options.kmToleranceShare, 0.1, 0, 1);
  const kmTolKm = option('kmToleranceKm', options.kmToleranceKm, 0.5, 0, 10_000);
  const minRouteShare = option('minRouteShare', options.minRouteShare, 0.8, 0, 1);
  const maxGapMs = option('maxGapS', options.maxGapS, 30, 0.1, 86_400) * 1000;

  const unknown = claims.flatMap((c) => c.route.filter((r) => !network.roadSegments.has(r)).map((r) => `line ${c.line}: route names road '${r}', which is not in the network`));
  if (unknown.length > 0) throw claimsError(unknown);

  return claims.map((claim): ClaimReconciliation => {
    const track = trackOf(tracksByVehicle, claim.vehicle);
    const points = track?.points ?? [];
    const i0 = lowerBound(points, claim.start);
    const i1 = lowerBound(points, claim.end + 1);
    const samples = i1 - i0;
    const routeSegs = [...new Set(claim.route.flatMap((r) => network.roadSegments.get(r) ?? []))];
    const routeLengthM = routeSegs.reduce((a, s) => a + network.segments[s]!.lengthM, 0);
    const fmtWindow = `${new Date(claim.start).toISOString()} to ${new Date(claim.end).toISOString()}`;
    if (track === undefined || samples === 0) {
      return {
        claim,
        samples: 0,
        gpsBladeDownHours: 0,
        gpsKm: 0,
        gpsBladeDownKm: 0,
        routeLengthM,
        routeCoveredM: 0,
        routeShare: routeSegs.length > 0 ? 0 : undefined,
        verdict: 'no_gps',
        differences: [`no GPS samples for vehicle ${claim.vehicle} from ${fmtWindow}`],
      };
    }
    let downMs = 0;
    let km = 0;
    let downKm = 0;
    let last: TrackPoint | undefined;
    for (let i = i0; i < i1; i++) {
      const p = points[i]!;
      const prev = i > i0 ? points[i - 1]! : undefined;
      if (prev !== undefined && prev.blade === 'down' && p.t - prev.t <= maxGapMs) downMs += p.t - prev.t;
      if (p.lon === undefined || p.lat === undefined) continue;
      if (last !== undefined) {
        const d = stepDistanceM(last.lon!, last.lat!, p.lon, p.lat);
        km += d;
        if (last.blade === 'down') downKm += d;
      }
      last = p;
    }
    km /= 1000;
    downKm /= 1000;
    const hours = downMs / 3_600_000;

    let routeCoveredM = 0;
    if (routeSegs.length > 0) {
      const cov = roadCoverage(network, [{ ...track, points: points.slice(i0, i1) }], { ...options, from: claim.start, to: claim.end });
      for (const s of routeSegs) if (cov.segments[s]!.passes.length > 0) routeCoveredM += network.segments[s]!.lengthM;
    }
    const routeShare = routeSegs.length > 0 ? routeCoveredM / routeLengthM : undefined;

    const differences: string[] = [];
    const dh = claim.claimedHours - hours;
    if (Math.abs(dh) > Math.max(hoursTolH, hoursTolShare * claim.claimedHours) + 1e-9) {
      differences.push(`claimed ${claim.claimedHours.toFixed(1)} h, GPS shows ${hours.toFixed(1)} h blade down (differs by ${Math.abs(dh).toFixed(1)} h)`);
    }
    const dk = claim.claimedKm - km;
    if (Math.abs(dk) > Math.max(kmTolKm, kmTolShare * claim.claimedKm) + 1e-9) {
      differences.push(`claimed ${claim.claimedKm.toFixed(1)} km, GPS shows ${km.toFixed(1)} km driven (differs by ${Math.abs(dk).toFixed(1)} km)`);
    }
    if (routeShare !== undefined && routeShare < minRouteShare - 1e-9) {
      differences.push(`claimed route ${claim.route.join(';')} is ${Math.round(routeShare * 100)} % plowed by this vehicle in the window (expected at least ${Math.round(minRouteShare * 100)} %)`);
    }
    const r3 = (v: number): number => Math.round(v * 1000) / 1000;
    return {
      claim,
      samples,
      gpsBladeDownHours: r3(hours),
      gpsKm: r3(km),
      gpsBladeDownKm: r3(downKm),
      routeLengthM: Math.round(routeLengthM * 10) / 10,
      routeCoveredM: Math.round(routeCoveredM * 10) / 10,
      routeShare: routeShare === undefined ? undefined : Math.round(routeShare * 10_000) / 10_000,
      verdict: differences.length > 0 ? 'differs' : 'matches',
      differences,
    };
  });
}
