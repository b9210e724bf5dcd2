/**
 * A GNSS receiver's view of a true position: fix quality that changes over
 * time (a Markov chain per second), and position error that wanders rather
 * than jumps (first-order Gauss–Markov, time constant ~30 s) with a spread
 * that depends on the fix. A dropout (fault) reports no fix at all.
 */
import type { FixType } from '@hatake/protocol';
import type { LocalFrame, XY } from './frame.ts';
import { roundTo } from './report.ts';
import type { Rng } from './rng.ts';

/** Horizontal 1σ error per fix, metres (typical receiver datasheet figures). */
export const FIX_SIGMA_M: Readonly<Record<FixType, number>> = { none: 0, gps: 2.0, dgps: 0.6, rtk_float: 0.25, rtk_fixed: 0.015 };

/** Per-second transition probabilities between fixes. */
type Transitions = Partial<Record<FixType, readonly (readonly [FixType, number])[]>>;

/** RTK rover (robot tractors, plows): mostly fixed, occasional float and DGPS spells. */
export const RTK_PROFILE: Transitions = {
  rtk_fixed: [['rtk_float', 0.002]],
  rtk_float: [['rtk_fixed', 0.08], ['dgps', 0.005]],
  dgps: [['rtk_float', 0.05], ['gps', 0.005]],
  gps: [['dgps', 0.1]],
  none: [['gps', 1]],
};

/** Stand-alone receiver (field stations). */
export const STANDALONE_PROFILE: Transitions = { gps: [], none: [['gps', 1]] };

export interface GnssReading {
  readonly fix: FixType;
  readonly lat?: number;
  readonly lon?: number;
  readonly alt?: number;
  readonly hdop?: number;
  readonly sats?: number;
  /** Position error actually applied, metres east/north (for tests). */
  readonly error: readonly [number, number];
}

export class GnssModel {
  private fix: FixType;
  private readonly rng: Rng;
  private readonly profile: Transitions;
  private ex = 0;
  private ey = 0;
  private ez = 0;
  private sats: number;
  private hdopBase: number;
  private dropoutLeft = 0;
  private readonly tauS: number;

  constructor(rng: Rng, opts: { profile?: Transitions; initialFix?: FixType; tauS?: number } = {}) {
    this.rng = rng;
    this.profile = opts.profile ?? RTK_PROFILE;
    this.fix = opts.initialFix ?? 'rtk_fixed';
    this.tauS = opts.tauS ?? 30;
    this.sats = rng.int(15, 22);
    this.hdopBase = rng.uniform(0.6, 0.9);
  }

  /** Current fix (before any dropout). */
  get currentFix(): FixType {
    return this.dropoutLeft > 0 ? 'none' : this.fix;
  }

  /** Starts a dropout of `seconds`: no fix, no position. */
  dropout(seconds: number): void {
    this.dropoutLeft = Math.max(this.dropoutLeft, seconds);
  }

  /** Advances the receiver by dt seconds and reads the true position (in `frame`) through it. */
  read(dt: number, truth: XY, alt: number, frame: LocalFrame): GnssReading {
    if (this.dropoutLeft > 0) {
      this.dropoutLeft = Math.max(0, this.dropoutLeft - dt);
      return { fix: 'none', error: [0, 0] };
    }
    for (const [to, perSecond] of this.profile[this.fix] ?? []) {
      if (this.rng.chance(1 - Math.pow(1 - perSecond, dt))) {
        this.fix = to;
        break;
      }
    }
    if (this.rng.chance(0.02 * dt)) this.sats = Math.max(8, Math.min(28, this.sats + this.rng.int(-1, 1)));
    const sigma = FIX_SIGMA_M[this.fix];
    const phi = Math.exp(-dt / this.tauS);
    const k = sigma * Math.sqrt(1 - phi * phi);
    this.ex = this.ex * phi + k * this.rng.normal();
    this.ey = this.ey * phi + k * this.rng.normal();
    this.ez = this.ez * phi + 1.5 * k * this.rng.normal();
    // keep the wander within 4σ of the current fix's spread (after a fix upgrade the error converges quickly)
    const cap = 4 * sigma;
    this.ex = Math.max(-cap, Math.min(cap, this.ex));
    this.ey = Math.max(-cap, Math.min(cap, this.ey));
    this.ez = Math.max(-1.5 * cap, Math.min(1.5 * cap, this.ez));
    const hdop = this.hdopBase * (this.fix === 'gps' ? 1.6 : 1) + Math.abs(this.rng.normal(0, 0.05));
    const [lon, lat] = frame.toLonLat([truth[0] + this.ex, truth[1] + this.ey]);
    return {
      fix: this.fix,
      lat: roundTo(lat, 8),
      lon: roundTo(lon, 8),
      alt: roundTo(alt + this.ez, 3),
      hdop: Math.round(hdop * 100) / 100,
      sats: this.sats,
      error: [this.ex, this.ey],
    };
  }
}
