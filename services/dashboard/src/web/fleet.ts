/**
 * What the dashboard knows about the fleet: every machine's last sample,
 * mode, trail, control lease and recent commands, and the active alarms —
 * built from the REST snapshot and kept current by the live stream. No DOM
 * here (unit-tested in Node); views listen for changes.
 */
import type { AlarmView, CommandView, DeviceKind, DeviceView, LeaseView, LiveMessage, Sample } from './types.ts';

/** Trail points kept per machine. */
export const TRAIL_POINTS = 150;
/** Commands kept per machine, newest first. */
export const COMMANDS_KEPT = 8;

export interface Machine {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly name: string;
  readonly farm?: string;
  readonly field?: string;
  online: boolean;
  /** Operating mode (tractors): from the last sample, or the retained state. */
  mode?: string;
  /** The last sample, every field. */
  sample?: Sample;
  lat?: number;
  lon?: number;
  /** Device time of the last sample, ms. */
  lastSeen?: number;
  /** Device time → on screen, ms (gateway clock as the reference: see {@link Fleet.clockOffsetMs}). */
  latencyMs?: number;
  /** [lat, lon], oldest first. */
  readonly trail: [number, number][];
  lease?: LeaseView;
  /** Why the lease last changed, as the gateway said (`taken over from op by admin: …`), when it came over the live stream. */
  leaseWhy?: string;
  /** Newest first. */
  readonly commands: CommandView[];
}

export type FleetChange = { readonly what: 'machine'; readonly id: string } | { readonly what: 'alarms' } | { readonly what: 'command'; readonly command: CommandView } | { readonly what: 'machines' };

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export class Fleet {
  readonly machines = new Map<string, Machine>();
  readonly alarms = new Map<string, AlarmView>();
  /** The gateway's clock minus this browser's, ms (from `hello` and `pong`): latencies are measured on the gateway's clock. */
  clockOffsetMs = 0;
  private readonly listeners = new Set<(c: FleetChange) => void>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Calls `fn` on every change; returns how to stop. */
  onChange(fn: (c: FleetChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(c: FleetChange): void {
    for (const fn of this.listeners) fn(c);
  }

  /** The REST snapshot (`GET /api/v1/devices`): machines are added or refreshed, never dropped (their trail stays). */
  load(devices: readonly DeviceView[]): void {
    for (const d of devices) {
      let m = this.machines.get(d.id);
      if (!m) {
        m = { id: d.id, kind: d.kind, name: d.name, ...(d.farm !== undefined ? { farm: d.farm } : {}), ...(d.field !== undefined ? { field: d.field } : {}), online: d.online, trail: [], commands: [] };
        this.machines.set(d.id, m);
      }
      m.online = d.online;
      if (d.state?.mode !== undefined) m.mode = d.state.mode;
      if (d.last && (m.sample === undefined || d.last.t > m.sample.t)) this.sample(m, d.last, false);
    }
    this.emit({ what: 'machines' });
  }

  /** The active alarms (`GET /api/v1/alarms`), replacing what was known. */
  loadAlarms(alarms: readonly AlarmView[]): void {
    this.alarms.clear();
    for (const a of alarms) this.alarms.set(a.id, a);
    this.emit({ what: 'alarms' });
  }

  /** Applies a command state from a REST answer (the live stream sends the same; the later status wins). */
  command(c: CommandView): void {
    const m = this.machines.get(c.device);
    if (!m) return;
    const i = m.commands.findIndex((x) => x.id === c.id);
    if (i >= 0) {
      // a REST answer may arrive after live updates of the same command: keep the one with more history
      if (m.commands[i]!.history.length > c.history.length) return;
      m.commands[i] = c;
    } else {
      m.commands.unshift(c);
      m.commands.sort((a, b) => b.issuedAt - a.issuedAt);
      m.commands.length = Math.min(m.commands.length, COMMANDS_KEPT);
    }
    this.emit({ what: 'command', command: c });
    this.emit({ what: 'machine', id: m.id });
  }

  /** A lease (a REST answer, or the live stream's with `why` it changed). */
  lease(l: LeaseView, why?: string): void {
    const m = this.machines.get(l.device);
    if (!m) return;
    m.lease = l;
    if (why !== undefined) m.leaseWhy = why;
    this.emit({ what: 'machine', id: m.id });
  }

  private sample(m: Machine, s: Sample, live: boolean): void {
    m.sample = s;
    m.lastSeen = s.t;
    const mode = s['mode'];
    if (typeof mode === 'string') m.mode = mode;
    const lat = num(s['lat']);
    const lon = num(s['lon']);
    if (lat !== undefined && lon !== undefined) {
      m.lat = lat;
      m.lon = lon;
      const last = m.trail[m.trail.length - 1];
      if (!last || last[0] !== lat || last[1] !== lon) m.trail.push([lat, lon]);
      if (m.trail.length > TRAIL_POINTS) m.trail.splice(0, m.trail.length - TRAIL_POINTS);
    }
    if (live) {
      m.online = true;
      // never below zero: a negative figure would only be the offset's own error (at most half a ping's round trip)
      m.latencyMs = Math.max(0, this.now() + this.clockOffsetMs - s.t);
    }
  }

  /** Applies one live message. */
  apply(msg: LiveMessage): void {
    switch (msg.type) {
      case 'hello': {
        // a first guess (late by the hello's delivery); pings refine it
        if (this.bestRttMs === Number.POSITIVE_INFINITY) this.clockOffsetMs = msg.serverTime - this.now();
        for (const [id, s] of Object.entries(msg.states)) {
          const m = this.machines.get(id);
          if (!m) continue;
          if (s.state.online !== undefined) m.online = s.state.online;
          if (s.state.mode !== undefined && m.mode === undefined) m.mode = s.state.mode;
        }
        this.emit({ what: 'machines' });
        return;
      }
      case 'telemetry': {
        const m = this.machines.get(msg.device);
        if (!m || msg.replay !== undefined) return;
        let newest: Sample | undefined;
        for (const s of msg.samples) if (!newest || s.t >= newest.t) newest = s;
        if (!newest || (m.sample && newest.t < m.sample.t)) return;
        // every sample of a batch adds to the trail; the newest is the machine's state
        for (const s of msg.samples) if (s !== newest) this.sample(m, s, true);
        this.sample(m, newest, true);
        this.emit({ what: 'machine', id: m.id });
        return;
      }
      case 'state': {
        const m = this.machines.get(msg.device);
        if (!m) return;
        if (msg.state.online !== undefined) m.online = msg.state.online;
        if (msg.state.mode !== undefined) m.mode = msg.state.mode;
        this.emit({ what: 'machine', id: m.id });
        return;
      }
      case 'command':
        this.command(msg.command);
        return;
      case 'lease':
        this.lease(msg.lease, msg.why);
        return;
      case 'alarm':
        if (msg.phase === 'cleared') this.alarms.delete(msg.alarm.id);
        else this.alarms.set(msg.alarm.id, msg.alarm);
        this.emit({ what: 'alarms' });
        return;
      case 'pong':
        return;
      default:
        return;
    }
  }

  /** Round trip of the best ping so far: its clock offset is the most exact. */
  private bestRttMs = Number.POSITIVE_INFINITY;

  /**
   * Refines the clock offset from a ping sent at `sentAt` (local) answered with the gateway's `t`: the gateway
   * stamped it about half-way through the round trip, so the error is at most half of it. Pings with a round
   * trip near the best one seen are taken (NTP's rule, simplified).
   */
  pong(sentAt: number, serverT: number): void {
    const now = this.now();
    const rtt = now - sentAt;
    if (rtt > this.bestRttMs + 5) return;
    this.bestRttMs = Math.min(this.bestRttMs, rtt);
    this.clockOffsetMs = serverT - (sentAt + now) / 2;
  }

  /** Active alarms, newest first. */
  activeAlarms(): AlarmView[] {
    return [...this.alarms.values()].sort((a, b) => b.raisedAt - a.raisedAt);
  }
}
