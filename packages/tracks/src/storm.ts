/**
 * Storm compliance: was every segment plowed within its class's service
 * level after the storm started? From a coverage result, so one matching run
 * serves both the map and the report.
 */
import type { Feature, FeatureCollection, LineString } from 'geojson';
import type { CoverageResult } from './coverage.ts';
import { TracksError } from './errors.ts';

/** Hours allowed from the clock start to the first pass, per road class (1 = highest priority). */
export const DEFAULT_SERVICE_LEVELS_H: Readonly<Record<number, number>> = Object.freeze({ 1: 4, 2: 12, 3: 24, 4: 48, 5: 48 });

export interface StormOptions {
  /** Storm start and end, ms. */
  readonly stormStart: number;
  readonly stormEnd: number;
  /** Service level in hours per class; merged over DEFAULT_SERVICE_LEVELS_H. */
  readonly levels?: Readonly<Record<number, number>>;
  /** Whether deadlines run from the storm's start (default) or its end. */
  readonly clock?: 'start' | 'end';
  /** How many of the worst breaches to list (default 10). */
  readonly worst?: number;
}

/**
 * How a segment fared: `on_time` first passed by its deadline, `late` first
 * passed after it, `unserviced` no pass and the deadline gone by at `asOf`,
 * `pending` no pass yet but the deadline still ahead.
 */
export type StormStatus = 'on_time' | 'late' | 'unserviced' | 'pending';

export interface StormSegment {
  readonly id: string;
  readonly road: string;
  readonly name: string;
  readonly class: number;
  readonly lengthM: number;
  readonly levelH: number;
  /** ms. */
  readonly deadline: number;
  /** First pass at or after the storm's start, ms. */
  readonly firstPass: number | undefined;
  /** Minutes from the storm's start to the first pass. */
  readonly timeToFirstPassMin: number | undefined;
  readonly status: StormStatus;
  /** Passes (both directions) between stormStart and stormEnd. */
  readonly passesInStorm: number;
  readonly vehicles: readonly string[];
}

export interface StormClassSummary {
  readonly class: number;
  readonly levelH: number;
  readonly segments: number;
  readonly lengthM: number;
  readonly onTimeLengthM: number;
  readonly lateLengthM: number;
  readonly unservicedLengthM: number;
  readonly pendingLengthM: number;
  /** onTimeLengthM / lengthM, 0–1. */
  readonly onTimeShare: number;
  /** Over segments with a first pass: minutes from the storm's start. */
  readonly meanTimeToFirstPassMin: number | undefined;
  readonly maxTimeToFirstPassMin: number | undefined;
}

export interface StormBreach {
  readonly id: string;
  readonly road: string;
  readonly name: string;
  readonly class: number;
  readonly levelH: number;
  readonly status: 'late' | 'unserviced';
  /** Minutes from the clock start to the first pass, or to `asOf` when still waiting. */
  readonly waitMin: number;
  /** Minutes past the deadline. */
  readonly overdueMin: number;
}

export interface UnservicedSegment {
  readonly id: string;
  readonly road: string;
  readonly name: string;
  readonly class: number;
  readonly lengthM: number;
  readonly status: 'unserviced' | 'pending';
  readonly coordinates: readonly (readonly [number, number])[];
}

/** A storm's compliance report; plain data, JSON-ready (times in ms since the epoch). */
export interface StormReport {
  readonly stormStart: number;
  readonly stormEnd: number;
  /** The coverage's `to`: the moment the report describes. */
  readonly asOf: number;
  readonly clock: 'start' | 'end';
  readonly levels: Readonly<Record<number, number>>;
  readonly total: { readonly lengthM: number; readonly onTimeLengthM: number; readonly onTimeShare: number };
  readonly classes: readonly StormClassSummary[];
  /** Late and unserviced segments, longest overdue first. */
  readonly worst: readonly StormBreach[];
  /** Segments with no pass since the storm started. */
  readonly unserviced: readonly UnservicedSegment[];
  readonly segments: readonly StormSegment[];
}

const H = 3_600_000;
const MIN = 60_000;
const round1 = (v: number): number => Math.round(v * 10) / 10;

function resolveLevels(levels: Readonly<Record<number, number>> | undefined): Record<number, number> {
  const out: Record<number, number> = { ...DEFAULT_SERVICE_LEVELS_H };
  for (const [k, v] of Object.entries(levels ?? {})) {
    const cls = Number(k);
    if (!Number.isInteger(cls) || cls < 1 || cls > 5 || typeof v !== 'number' || !(v > 0 && v <= 24 * 30)) {
      throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `levels: class ${k} needs a number of hours above 0 and at most 720 (got ${String(v)})`);
    }
    out[cls] = v;
  }
  return out;
}

/**
 * Storm compliance of a coverage result: per segment the first pass at or
 * after stormStart against its class's service level (deadline = clock start +
 * level), per class the share of length served in time and the mean and
 * longest time to first pass, the worst breaches and the segments never
 * served. The coverage window must start no later than the storm; its `to`
 * is the report's `asOf`.
 */
export function stormReport(coverage: CoverageResult, options: StormOptions): StormReport {
  const { stormStart, stormEnd } = options;
  if (typeof stormStart !== 'number' || typeof stormEnd !== 'number' || !Number.isFinite(stormStart) || !Number.isFinite(stormEnd) || !(stormStart < stormEnd)) {
    throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `storm window must be two finite times in ms with stormStart before stormEnd (got ${String(stormStart)}, ${String(stormEnd)})`);
  }
  if (coverage.from > stormStart) {
    throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `coverage starts at ${new Date(coverage.from).toISOString()}, after the storm's start ${new Date(stormStart).toISOString()}: passes in between are unknown`);
  }
  if (coverage.to <= stormStart) {
    throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `coverage ends at ${new Date(coverage.to).toISOString()}, before the storm's start`);
  }
  const clock = options.clock ?? 'start';
  if (clock !== 'start' && clock !== 'end') throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `clock must be 'start' or 'end' (got ${String(clock)})`);
  const worstN = options.worst ?? 10;
  if (!Number.isInteger(worstN) || worstN < 0 || worstN > 10_000) throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `worst must be an integer from 0 to 10000 (got ${String(worstN)})`);
  const levels = resolveLevels(options.levels);
  const clockStart = clock === 'start' ? stormStart : stormEnd;
  const asOf = coverage.to;

  const segments: StormSegment[] = [];
  const unserviced: UnservicedSegment[] = [];
  const breaches: { breach: StormBreach; overdueMs: number }[] = [];
  for (const c of coverage.segments) {
    const s = c.segment;
    const levelH = levels[s.class] ?? 48;
    const deadline = clockStart + levelH * H;
    let firstPass: number | undefined;
    let inStorm = 0;
    const vehicles = new Set<string>();
    for (const p of c.passes) {
      if (p.end < stormStart) continue;
      if (firstPass === undefined || p.end < firstPass) firstPass = p.end;
      if (p.end <= stormEnd) inStorm++;
      vehicles.add(p.device);
    }
    let status: StormStatus;
    if (firstPass !== undefined) status = firstPass <= deadline ? 'on_time' : 'late';
    else status = asOf > deadline ? 'unserviced' : 'pending';
    segments.push({
      id: s.id,
      road: s.road,
      name: s.name,
      class: s.class,
      lengthM: s.lengthM,
      levelH,
      deadline,
      firstPass,
      timeToFirstPassMin: firstPass === undefined ? undefined : round1((firstPass - stormStart) / MIN),
      status,
      passesInStorm: inStorm,
      vehicles: [...vehicles].sort(),
    });
    if (status === 'unserviced' || status === 'pending') {
      unserviced.push({ id: s.id, road: s.road, name: s.name, class: s.class, lengthM: s.lengthM, status, coordinates: s.coordinates });
    }
    if (status === 'late' || status === 'unserviced') {
      const waited = (firstPass ?? asOf) - clockStart;
      const overdueMs = waited - levelH * H;
      breaches.push({ breach: { id: s.id, road: s.road, name: s.name, class: s.class, levelH, status, waitMin: round1(waited / MIN), overdueMin: round1(overdueMs / MIN) }, overdueMs });
    }
  }

  const classes: StormClassSummary[] = [];
  for (const cls of [...new Set(segments.map((s) => s.class))].sort((a, b) => a - b)) {
    const of = segments.filter((s) => s.class === cls);
    const len = (st: StormStatus): number => of.filter((s) => s.status === st).reduce((a, s) => a + s.lengthM, 0);
    const lengthM = of.reduce((a, s) => a + s.lengthM, 0);
    const times = of.flatMap((s) => (s.firstPass === undefined ? [] : [(s.firstPass - stormStart) / MIN]));
    classes.push({
      class: cls,
      levelH: levels[cls] ?? 48,
      segments: of.length,
      lengthM: round1(lengthM),
      onTimeLengthM: round1(len('on_time')),
      lateLengthM: round1(len('late')),
      unservicedLengthM: round1(len('unserviced')),
      pendingLengthM: round1(len('pending')),
      onTimeShare: lengthM > 0 ? Math.round((len('on_time') / lengthM) * 10_000) / 10_000 : 0,
      meanTimeToFirstPassMin: times.length > 0 ? round1(times.reduce((a, b) => a + b, 0) / times.length) : undefined,
      maxTimeToFirstPassMin: times.length > 0 ? round1(Math.max(...times)) : undefined,
    });
  }
  const totalLength = segments.reduce((a, s) => a + s.lengthM, 0);
  const onTime = segments.filter((s) => s.status === 'on_time').reduce((a, s) => a + s.lengthM, 0);
  breaches.sort((a, b) => b.overdueMs - a.overdueMs || a.breach.class - b.breach.class || a.breach.id.localeCompare(b.breach.id));
  return {
    stormStart,
    stormEnd,
    asOf,
    clock,
    levels,
    total: { lengthM: round1(totalLength), onTimeLengthM: round1(onTime), onTimeShare: totalLength > 0 ? Math.round((onTime / totalLength) * 10_000) / 10_000 : 0 },
    classes,
    worst: breaches.slice(0, worstN).map((b) => b.breach),
    unserviced,
    segments,
  };
}

/** Columns of `stormReportCsv`, in order. */
export const STORM_CSV_COLUMNS = [
  'segment_id',
  'road_id',
  'road_name',
  'class',
  'length_m',
  'level_h',
  'deadline',
  'first_pass',
  'time_to_first_pass_min',
  'status',
  'passes_in_storm',
  'vehicles',
] as const;

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The report as CSV, one line per segment (columns: STORM_CSV_COLUMNS; times ISO 8601 UTC, blank when none; vehicles separated by ';'). */
export function stormReportCsv(report: StormReport): string {
  const lines = [STORM_CSV_COLUMNS.join(',')];
  for (const s of report.segments) {
    lines.push(
      [
        s.id,
        s.road,
        s.name,
        String(s.class),
        s.lengthM.toFixed(1),
        String(s.levelH),
        new Date(s.deadline).toISOString(),
        s.firstPass === undefined ? '' : new Date(s.firstPass).toISOString(),
        s.timeToFirstPassMin === undefined ? '' : s.timeToFirstPassMin.toFixed(1),
        s.status,
        String(s.passesInStorm),
        s.vehicles.join(';'),
      ]
        .map(csvField)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Properties of each feature of `unservicedGeoJSON`. */
export interface UnservicedProperties {
  readonly id: string;
  readonly road: string;
  readonly name: string;
  readonly class: number;
  readonly lengthM: number;
  readonly status: 'unserviced' | 'pending';
}

/** Segments with no pass since the storm started, as GeoJSON LineStrings (status says whether the deadline has passed). */
export function unservicedGeoJSON(report: StormReport): FeatureCollection<LineString, UnservicedProperties> {
  return {
    type: 'FeatureCollection',
    features: report.unserviced.map((u): Feature<LineString, UnservicedProperties> => ({
      type: 'Feature',
      properties: { id: u.id, road: u.road, name: u.name, class: u.class, lengthM: u.lengthM, status: u.status },
      geometry: { type: 'LineString', coordinates: u.coordinates.map((p) => [p[0], p[1]]) },
    })),
  };
}
