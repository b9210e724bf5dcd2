/**
 * Whether one machine is inside one zone, decided from its position samples
 * (ISO 18497: a machine never leaves its operating zone unnoticed, and a
 * noisy fix near the edge never makes it flicker). One watcher per machine
 * and zone: a machine watched against several zones (a plow and each road
 * segment of interest) gets one watcher per zone, each with its own state.
 *
 * The rule, in full in README "How a sample is judged":
 * - a sample votes only if its fix counts and it is farther from the edge
 *   than its uncertainty; a valid sample nearer than that is undecided and
 *   breaks any run of votes; a sample with no usable position is ignored;
 * - exit after `exitSamples` consecutive outside votes, or at once when a
 *   vote is more than `hardLimitMeters` outside even after taking off its
 *   uncertainty; enter after `enterSamples` consecutive inside votes.
 */
import { GeofenceError } from './errors.ts';
import { DEFAULT_FIX_RULE, judgeFix, type FixRule, type FixType, type PositionFix } from './fix.ts';
import type { Zone } from './zone.ts';

/** One position sample, as a device reports it (`@hatake/protocol` samples fit). */
export interface PositionSample {
  /** Sample time; any unit, increasing (hatake: device time, ms since the epoch). */
  readonly t: number;
  readonly fix: FixType;
  /** WGS84, degrees; absent when fix is none. */
  readonly lat?: number;
  readonly lon?: number;
  readonly hdop?: number;
}

export type ZoneState = 'inside' | 'outside';

export interface ZoneEvent {
  readonly type: 'exit' | 'enter';
  readonly zoneId: string;
  /** Time of the sample that decided it. */
  readonly t: number;
  /** How far that sample was outside (exit) or inside (enter) the zone's edge, metres (to the millimetre). */
  readonly distanceMeters: number;
  /** That sample's position uncertainty, metres. */
  readonly uncertaintyMeters: number;
  /** `consecutive`: the configured number of votes in a row; `hard_limit`: one vote far outside. */
  readonly rule: 'consecutive' | 'hard_limit';
  readonly lat: number;
  readonly lon: number;
  readonly fix: PositionFix;
}

/** Why a sample was ignored (it carries no information about the position). */
export const IGNORE_REASONS = ['malformed', 'bad_time', 'out_of_order', 'unknown_fix', 'no_fix', 'bad_coordinates', 'bad_hdop', 'weak_fix'] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

export interface WatcherStats {
  /** Every call to `update`. */
  readonly samples: number;
  /** Samples that voted inside or outside. */
  readonly counted: number;
  /** Valid samples nearer the edge than their uncertainty. */
  readonly undecided: number;
  /** Samples ignored, by reason. samples = counted + undecided + the sum of these. */
  readonly ignored: Readonly<Record<IgnoreReason, number>>;
}

export interface WatcherOptions {
  /** Consecutive outside votes that make an exit, 1…100. Default 2. */
  readonly exitSamples?: number;
  /** Consecutive inside votes that make an entry, 1…100. Default 2. */
  readonly enterSamples?: number;
  /** A single vote this many metres outside (after subtracting its uncertainty) is an exit at once, 0…1000. Default 5. */
  readonly hardLimitMeters?: number;
  /** State before any sample. Default `outside`: a machine is inside only once samples show it, so every `enter` is announced. */
  readonly initial?: ZoneState;
  /** Changes to the fix rule (DEFAULT_FIX_RULE). */
  readonly fixRule?: Partial<Omit<FixRule, 'uereMeters'>> & { readonly uereMeters?: Partial<FixRule['uereMeters']> };
}

export const DEFAULT_WATCHER_OPTIONS = Object.freeze({ exitSamples: 2, enterSamples: 2, hardLimitMeters: 5, initial: 'outside' as ZoneState });

function optionError(message: string): GeofenceError {
  return new GeofenceError('HATAKE_ERR_GEOFENCE_OPTIONS', message);
}

function checkCount(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 100) throw optionError(`${name} must be an integer 1…100 (got ${String(v)})`);
  return v;
}

function checkMeters(v: unknown, name: string, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) throw optionError(`${name} must be a number 0…${max} (got ${String(v)})`);
  return v;
}

function resolveFixRule(o: WatcherOptions['fixRule']): FixRule {
  const d = DEFAULT_FIX_RULE;
  const uere = { ...d.uereMeters, ...o?.uereMeters };
  for (const [fix, v] of Object.entries(uere)) checkMeters(v, `fixRule.uereMeters.${fix}`, 1000);
  const rule: FixRule = {
    uereMeters: Object.freeze(uere),
    confidence: o?.confidence ?? d.confidence,
    minHdop: o?.minHdop ?? d.minHdop,
    minUncertaintyMeters: o?.minUncertaintyMeters ?? d.minUncertaintyMeters,
    maxGpsHdop: o?.maxGpsHdop ?? d.maxGpsHdop,
  };
  if (!(rule.confidence >= 1 && rule.confidence <= 10)) throw optionError(`fixRule.confidence must be a number 1…10 (got ${String(rule.confidence)})`);
  checkMeters(rule.minHdop, 'fixRule.minHdop', 100);
  checkMeters(rule.minUncertaintyMeters, 'fixRule.minUncertaintyMeters', 1000);
  checkMeters(rule.maxGpsHdop, 'fixRule.maxGpsHdop', 100);
  return Object.freeze(rule);
}

function validCoordinates(lat: unknown, lon: unknown): boolean {
  return typeof lat === 'number' && typeof lon === 'number' && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** Watches one machine against one zone; feed it every position sample in order. */
export class ZoneWatcher {
  readonly zone: Zone;
  private readonly exitSamples: number;
  private readonly enterSamples: number;
  private readonly hardLimitMeters: number;
  private readonly rule: FixRule;
  private current: ZoneState;
  private outsideRun = 0;
  private insideRun = 0;
  private lastT = -Infinity;
  private lastCounted: number | undefined;
  private samples = 0;
  private counted = 0;
  private undecided = 0;
  private readonly ignored: Record<IgnoreReason, number> = Object.fromEntries(IGNORE_REASONS.map((r) => [r, 0])) as Record<IgnoreReason, number>;

  /** Throws HATAKE_ERR_GEOFENCE_OPTIONS on an option out of range. */
  constructor(zone: Zone, opts: WatcherOptions = {}) {
    this.zone = zone;
    const d = DEFAULT_WATCHER_OPTIONS;
    this.exitSamples = checkCount(opts.exitSamples ?? d.exitSamples, 'exitSamples');
    this.enterSamples = checkCount(opts.enterSamples ?? d.enterSamples, 'enterSamples');
    this.hardLimitMeters = checkMeters(opts.hardLimitMeters ?? d.hardLimitMeters, 'hardLimitMeters', 1000);
    const initial = opts.initial ?? d.initial;
    if (initial !== 'inside' && initial !== 'outside') throw optionError(`initial must be inside or outside (got ${String(initial)})`);
    this.current = initial;
    this.rule = resolveFixRule(opts.fixRule);
  }

  /** The decided state: changes only with an event. */
  get state(): ZoneState {
    return this.current;
  }

  /** Time of the last sample that voted; the caller alarms when it grows old (no sample good enough to tell). */
  get lastCountedAt(): number | undefined {
    return this.lastCounted;
  }

  /** Counters since construction (a copy). */
  get stats(): WatcherStats {
    return { samples: this.samples, counted: this.counted, undecided: this.undecided, ignored: { ...this.ignored } };
  }

  /** Takes one sample; returns the event it decides, if any. Never throws: a bad sample is ignored and counted in `stats`. */
  update(sample: PositionSample): ZoneEvent | undefined {
    this.samples++;
    if (sample === null || typeof sample !== 'object') return this.ignore('malformed');
    const { t, lat, lon, fix, hdop } = sample;
    if (typeof t !== 'number' || !Number.isFinite(t)) return this.ignore('bad_time');
    if (t <= this.lastT) return this.ignore('out_of_order');
    this.lastT = t;
    const verdict = judgeFix(fix, hdop, this.rule);
    if ('reason' in verdict) return this.ignore(verdict.reason);
    if (!validCoordinates(lat, lon)) return this.ignore('bad_coordinates');
    const p = { lat: lat!, lon: lon! };
    const u = verdict.uncertaintyMeters;

    // Already outside and clearly off the zone's box: an outside vote, no exact distance needed.
    if (this.current === 'outside' && this.zone.bboxDistanceMeters(p) > u) {
      this.vote(t, 'outside');
      return undefined;
    }
    const d = this.zone.signedDistanceMeters(p);
    if (Math.abs(d) <= u) {
      this.undecided++;
      this.outsideRun = 0;
      this.insideRun = 0;
      return undefined;
    }
    if (d > 0) {
      this.vote(t, 'outside');
      if (this.current === 'outside') return undefined;
      const byCount = this.outsideRun >= this.exitSamples;
      if (!byCount && d - u <= this.hardLimitMeters) return undefined;
      return this.decide('exit', t, d, u, byCount ? 'consecutive' : 'hard_limit', p, fix as PositionFix);
    }
    this.vote(t, 'inside');
    if (this.current === 'inside' || this.insideRun < this.enterSamples) return undefined;
    return this.decide('enter', t, -d, u, 'consecutive', p, fix as PositionFix);
  }

  private ignore(reason: IgnoreReason): undefined {
    this.ignored[reason]++;
    return undefined;
  }

  private vote(t: number, side: ZoneState): void {
    this.counted++;
    this.lastCounted = t;
    if (side === 'outside') {
      this.outsideRun++;
      this.insideRun = 0;
    } else {
      this.insideRun++;
      this.outsideRun = 0;
    }
  }

  private decide(type: 'exit' | 'enter', t: number, distance: number, u: number, rule: ZoneEvent['rule'], p: { lat: number; lon: number }, fix: PositionFix): ZoneEvent {
    this.current = type === 'exit' ? 'outside' : 'inside';
    return { type, zoneId: this.zone.id, t, distanceMeters: round3(distance), uncertaintyMeters: round3(u), rule, lat: p.lat, lon: p.lon, fix };
  }
}
