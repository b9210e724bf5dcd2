/**
 * A robot tractor as a stepwise model: it follows its coverage plan at
 * working speed with a speed profile (accelerate, slow for turns, brake in
 * time), switches sections off outside the area still to be worked, burns
 * fuel by load, sees the sky through a GNSS receiver model and the supervisor
 * through a local-5G link model, and obeys commands. No I/O: the MQTT runtime
 * (simkit's SimDevice) drives it.
 *
 * Remote supervision follows Japan's guideline for automated farm machinery
 * (MAFF, 農業機械の自動走行に関する安全性確保ガイドライン): in automatic
 * operation a lost link to the supervisor stops the machine by itself, and
 * it never restarts on its own — only the supervisor's `resume` does.
 */
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import type { TractorSpec } from '@hatake/config';
import type { Command, FixType, TractorMode } from '@hatake/protocol';
import {
  EventQueue,
  GnssModel,
  Path,
  RTK_PROFILE,
  approachSpeed,
  insideRing,
  positionFields,
  roundTo,
  type CommandOutcome,
  type DeviceModel,
  type DriveLimits,
  type LonLat,
  type ModelEvent,
  type Rng,
  type SampleBody,
  type XY,
} from '@hatake/simkit';
import { planCoverage, type CoveragePlan, type LegAttrs, type Phase } from './coverage.ts';

export interface TractorParams {
  readonly field: Feature<Polygon | MultiPolygon>;
  readonly spec: TractorSpec;
  readonly home?: LonLat;
  readonly headlandPasses?: number;
  /** Starting fuel, %; drawn from the seed when absent. */
  readonly fuel?: number;
}

/** The truth behind the telemetry, for tests. */
export interface TractorTruth {
  readonly xy: XY;
  readonly lonLat: LonLat;
  readonly heading: number;
  readonly speed: number;
  readonly implement: 'lowered' | 'raised';
  readonly sections: readonly boolean[];
  readonly phase: Phase | 'home';
  readonly mode: TractorMode;
  readonly fix: FixType;
}

export const TRACTOR_LIMITS: DriveLimits = { accel: 0.5, decel: 0.8, cornerSpeed: 1.2, cornerDeg: 25 };
/** Braking in an emergency stop, m/s² (`TRACTOR_LIMITS.decel` for every other stop). */
export const TRACTOR_ESTOP_DECEL = 3.5;
/** Below this speed, m/s, the tractor counts as standing (no drift, no sections). */
const MOVING = 0.05;
const RESTART_PAUSE_S = 60;
const LOW_FUEL = 15;

export class TractorModel implements DeviceModel<'tractor'> {
  readonly kind = 'tractor' as const;
  readonly periodMs = 200;
  readonly plan: CoveragePlan;
  private readonly spec: TractorSpec;
  private readonly rng: Rng;
  private readonly gnss: GnssModel;
  private path: Path<LegAttrs>;
  private readonly coverage: Path<LegAttrs>;
  private s = 0;
  private v = 0;
  private workSpeed: number;
  private modeNow: TractorMode = 'auto';
  private fuel: number;
  private waitLeft = 0;
  private readonly events = new EventQueue();
  private lastFix: FixType = 'rtk_fixed';
  private lowFuelRaised = false;
  private rssi: number;
  private readonly altBase: number;
  private readonly home: LonLat | undefined;
  private goingHome = false;
  private lastTruth: TractorTruth | undefined;
  /** Simulated time, s: the sum of every step's dt. */
  private clockS = 0;
  /** When the tractor last entered automatic mode (it starts in it), s of `clockS`. */
  private autoSinceS = 0;
  /** When the last supervisor heartbeat arrived, s of `clockS`. */
  private lastBeatS = -Infinity;
  /** Fault `drift`: m/s sideways while moving, and the offset so far, m (positive: right of the sweep direction). */
  private driftMps = 0;
  private driftM = 0;

  constructor(params: TractorParams, rng: Rng) {
    this.spec = params.spec;
    this.rng = rng;
    this.home = params.home;
    this.workSpeed = params.spec.workSpeed;
    this.plan = planCoverage(params.field, { workingWidth: params.spec.workingWidth, workSpeed: params.spec.workSpeed, ...(params.headlandPasses !== undefined ? { headlandPasses: params.headlandPasses } : {}) });
    this.coverage = new Path(this.plan.legs, TRACTOR_LIMITS);
    this.path = this.coverage;
    this.gnss = new GnssModel(rng.fork('gnss'), { profile: RTK_PROFILE, initialFix: 'rtk_fixed' });
    this.fuel = params.fuel ?? roundTo(rng.uniform(45, 95), 1);
    this.rssi = rng.uniform(-78, -66);
    this.altBase = rng.uniform(18, 60);
  }

  mode(): TractorMode {
    return this.modeNow;
  }

  drainEvents(): ModelEvent[] {
    return this.events.drain();
  }

  gnssDropout(seconds: number): void {
    this.gnss.dropout(seconds);
  }

  /**
   * A supervisor heartbeat arrived. It is stamped with the model's own clock (the sum of its steps), which
   * SimDevice's simulated time matches step for step, so the model stays testable without a runtime.
   */
  heartbeat(_simTimeMs: number): void {
    this.lastBeatS = this.clockS;
  }

  /** Fault `drift`: from now on, drift across the swaths at `metresPerSecond` while moving (negative: to the left). */
  lateralDrift(metresPerSecond: number): void {
    this.driftMps = metresPerSecond;
  }

  /** What really happened at the last step. */
  truth(): TractorTruth | undefined {
    return this.lastTruth;
  }

  private setMode(mode: TractorMode, why: string): void {
    if (mode === this.modeNow) return;
    const from = this.modeNow;
    this.modeNow = mode;
    if (mode === 'auto') this.autoSinceS = this.clockS;
    this.events.push({ type: mode === 'estop' ? 'estop' : 'mode_change', severity: mode === 'estop' ? 'critical' : 'info', message: `${from} → ${mode}: ${why}`.slice(0, 256), data: { from, to: mode } });
  }

  private sectionsAt(xy: XY, heading: number, attrs: LegAttrs, moving: boolean): boolean[] {
    const n = this.spec.sections;
    if (attrs.implement !== 'lowered' || !moving || this.modeNow !== 'auto') return new Array<boolean>(n).fill(false);
    // automatic section control: a section works only over ground this pass should cover
    const area = attrs.phase === 'swath' ? this.plan.swathArea : this.plan.boundary;
    const h = (heading * Math.PI) / 180;
    const right: XY = [Math.cos(h), -Math.sin(h)]; // unit vector to the right of the heading
    const w = this.spec.workingWidth;
    return Array.from({ length: n }, (_, j) => {
      const off = -w / 2 + (j + 0.5) * (w / n);
      return insideRing([xy[0] + right[0] * off, xy[1] + right[1] * off], area);
    });
  }

  /**
   * In automatic mode, no heartbeat for `linkLossSeconds` (counted from entering the mode or the last beat,
   * whichever is later) stops the machine: normal braking, implement raised, `link_lost` and `mode_change`
   * events. Returning heartbeats change nothing; only a `resume` command restarts it. Other modes already
   * stand still (or are driven by hand), so they ignore the heartbeat.
   */
  private watchdog(): void {
    if (this.modeNow !== 'auto') return;
    const silentS = this.clockS - Math.max(this.autoSinceS, this.lastBeatS);
    // a small tolerance: sums of 0.2 s steps are an ulp off either way (ten steps: 1.9999999999999998)
    if (silentS < this.spec.linkLossSeconds - 1e-9) return;
    const why = `supervisor heartbeat lost for ${this.spec.linkLossSeconds} s`;
    this.events.push({ type: 'link_lost', severity: 'alarm', message: `${why}: stopping, implement raised; resume to continue`, data: { cause: 'heartbeat_lost', seconds: this.spec.linkLossSeconds } });
    this.setMode('stopped', why);
  }

  step(dt: number): SampleBody<'tractor'> {
    this.clockS += dt;
    this.watchdog();
    // speed
    let target = 0;
    let decel = TRACTOR_LIMITS.decel;
    if (this.modeNow === 'auto') {
      if (this.waitLeft > 0) {
        this.waitLeft -= dt;
        if (this.waitLeft <= 0) {
          this.s = 0;
          this.setMode('auto', 'starting the next pass over the field');
        }
      } else {
        // look one step ahead so discrete braking never overshoots the limit
        const ahead = this.s + this.v * dt;
        target = Math.min(this.path.speedLimit(this.s, TRACTOR_LIMITS.decel), this.path.speedLimit(ahead, TRACTOR_LIMITS.decel), this.legSpeedCap());
      }
    } else if (this.modeNow === 'estop') decel = TRACTOR_ESTOP_DECEL;
    this.v = approachSpeed(this.v, target, dt, { accel: TRACTOR_LIMITS.accel, decel });
    this.s = Math.min(this.path.length, this.s + this.v * dt);
    if (this.modeNow === 'auto' && this.waitLeft <= 0 && this.s >= this.path.length - 1e-6 && this.v < MOVING) this.arrived();

    const planned = this.path.at(this.s);
    const moving = this.v > MOVING;
    if (moving) this.driftM += this.driftMps * dt;
    const pos = this.driftM === 0 ? planned : { ...planned, xy: this.drifted(planned.xy) };
    const implement: 'lowered' | 'raised' = this.modeNow === 'stopped' || this.modeNow === 'estop' || this.goingHome ? 'raised' : pos.attrs.implement;
    const sections = this.sectionsAt(pos.xy, pos.heading, { ...pos.attrs, implement }, moving);
    const working = sections.some(Boolean);

    // engine and fuel
    const load = working ? 1 : moving ? 0.5 : 0.15;
    const rpm = moving ? (working ? 2100 : 1650) + this.rng.normal(0, 20) : 850 + this.rng.normal(0, 8);
    this.fuel = Math.max(0, this.fuel - ((3 + 11 * load) * dt) / 3600 / this.spec.fuelTankLitres * 100);
    if (this.fuel < LOW_FUEL && !this.lowFuelRaised) {
      this.lowFuelRaised = true;
      this.events.push({ type: 'low_fuel', severity: 'warning', message: `fuel at ${this.fuel.toFixed(1)} %`, data: { fuel: roundTo(this.fuel, 1) } });
    }

    // link to the supervisor (local 5G)
    this.rssi = Math.max(-115, Math.min(-45, this.rssi + this.rng.normal(0, 0.3) * Math.sqrt(dt) - (this.rssi + 72) * 0.01 * dt));
    const rtt = 18 + Math.abs(this.rng.normal(0, 4)) + (this.rng.chance(0.01 * dt) ? this.rng.uniform(80, 300) : 0);

    // what the receiver reports
    const lonLat = this.plan.frame.toLonLat(pos.xy);
    const alt = this.altBase + 0.002 * pos.xy[0];
    const fix = this.gnss.read(dt, pos.xy, alt, this.plan.frame);
    if (fix.fix !== this.lastFix) {
      const degraded = fix.fix !== 'rtk_fixed';
      this.events.push({ type: 'fix_change', severity: degraded ? 'warning' : 'info', message: `GNSS ${this.lastFix} → ${fix.fix}`, data: { from: this.lastFix, to: fix.fix } });
      this.lastFix = fix.fix;
    }
    this.lastTruth = { xy: pos.xy, lonLat, heading: pos.heading, speed: this.v, implement, sections, phase: this.goingHome ? 'home' : pos.attrs.phase, mode: this.modeNow, fix: fix.fix };

    return {
      fix: fix.fix,
      ...positionFields(fix, { speed: this.v, heading: pos.heading }, this.rng, { speedSd: 0.02, headingSd: 0.3 }),
      mode: this.modeNow,
      rpm: Math.round(rpm),
      fuel: roundTo(this.fuel, 1),
      implement,
      sections,
      rate: working ? roundTo(this.spec.targetRate * (1 + this.rng.normal(0, 0.015)), 1) : 0,
      rssi: roundTo(this.rssi + this.rng.normal(0, 1.5), 1),
      rtt: roundTo(rtt, 1),
    };
  }

  /** Where the tractor really is: the planned point, shifted across the swaths by the drift so far. */
  private drifted(xy: XY): XY {
    const h = (this.plan.sweepHeading * Math.PI) / 180;
    return [xy[0] + Math.cos(h) * this.driftM, xy[1] - Math.sin(h) * this.driftM];
  }

  /** The leg's own speed, with the operator's set_speed applied to working legs. */
  private legSpeedCap(): number {
    const attrs = this.path.at(this.s).attrs;
    return attrs.phase === 'swath' || attrs.phase === 'headland' ? this.workSpeed : Infinity;
  }

  private arrived(): void {
    if (this.goingHome) {
      this.goingHome = false;
      this.setMode('stopped', 'arrived home');
      return;
    }
    if (this.path !== this.coverage) {
      // off the pattern (after return_home or start_mission): drive to its start, then take it up there
      const here = this.path.at(this.s).xy;
      const start = this.coverage.at(0).xy;
      if (Math.hypot(start[0] - here[0], start[1] - here[1]) < 0.5) {
        this.path = this.coverage;
        this.s = 0;
      } else this.straightTo(start, { phase: 'transit', implement: 'raised' }, 1.8);
      return;
    }
    this.events.push({ type: 'mode_change', severity: 'info', message: `field covered; next pass in ${RESTART_PAUSE_S} s`, data: { swaths: this.plan.swaths } });
    this.waitLeft = RESTART_PAUSE_S;
  }

  private straightTo(target: XY, attrs: LegAttrs, speed: number): void {
    const here = this.path.at(this.s).xy;
    if (Math.hypot(target[0] - here[0], target[1] - here[1]) < 0.5) return;
    this.path = new Path([{ points: [here, target], speed, attrs }], TRACTOR_LIMITS);
    this.s = 0;
  }

  command(cmd: Command): CommandOutcome {
    const stopped = (): boolean => this.v === 0;
    switch (cmd.type) {
      case 'estop':
        this.setMode('estop', `emergency stop by ${cmd.issuer}`);
        return { status: 'accepted', done: stopped };
      case 'stop':
        if (this.modeNow === 'estop') return { status: 'rejected', reason: 'already in emergency stop' };
        this.setMode('stopped', `stop by ${cmd.issuer}`);
        return { status: 'accepted', done: stopped, failed: () => (this.modeNow === 'auto' ? 'restarted before it stood still' : undefined) };
      case 'pause':
        if (this.modeNow !== 'auto') return { status: 'rejected', reason: `cannot pause in mode ${this.modeNow}` };
        this.setMode('paused', `pause by ${cmd.issuer}`);
        return { status: 'accepted', done: stopped, failed: () => (this.modeNow === 'auto' ? 'resumed before it stood still' : undefined) };
      case 'resume':
        if (this.modeNow === 'estop') return { status: 'rejected', reason: 'emergency stop engaged: reset it at the machine' };
        if (this.modeNow === 'auto') return { status: 'rejected', reason: 'already running' };
        this.setMode('auto', `resume by ${cmd.issuer}`);
        return { status: 'accepted', done: () => true };
      case 'set_speed': {
        const speed = cmd.params?.speed ?? 0;
        if (speed < 0.5 || speed > 3.5) return { status: 'rejected', reason: 'working speed must be 0.5 to 3.5 m/s for this machine' };
        this.workSpeed = speed;
        return { status: 'accepted', done: () => true };
      }
      case 'return_home': {
        if (this.modeNow === 'estop') return { status: 'rejected', reason: 'emergency stop engaged: reset it at the machine' };
        if (!this.home) return { status: 'rejected', reason: 'no home position configured' };
        this.goingHome = true;
        this.waitLeft = 0;
        this.straightTo(this.plan.frame.toXY(this.home), { phase: 'transit', implement: 'raised' }, 2.5);
        this.setMode('auto', `return home by ${cmd.issuer}`);
        return {
          status: 'accepted',
          done: () => this.modeNow === 'stopped' && !this.goingHome,
          // stopped, paused or e-stopped on the way: it will not get home by itself (a resume drives on, under a new command)
          failed: () => (this.goingHome && this.modeNow !== 'auto' ? `interrupted on the way home: ${this.modeNow}` : undefined),
        };
      }
      case 'start_mission': {
        if (this.modeNow === 'auto' || this.modeNow === 'estop') return { status: 'rejected', reason: `cannot start a mission in mode ${this.modeNow}` };
        const first = this.plan.legs.find((l) => l.attrs.phase === 'swath')!.points[0]!;
        this.waitLeft = 0;
        this.straightTo(first, { phase: 'transit', implement: 'raised' }, 1.8);
        this.setMode('auto', `mission ${cmd.params?.missionId ?? ''} by ${cmd.issuer}`);
        return { status: 'accepted', done: () => true };
      }
    }
  }
}
