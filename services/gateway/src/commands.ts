/**
 * Remote operation: the life of every command, emergency stops, control
 * leases, two-step starts, the supervisor heartbeat and the alarms
 * (link lost, an e-stop nobody acknowledged, a machine out of its zone).
 *
 * The backend is never the safety function — the machine stops on its own
 * (expired commands, lost heartbeat) — but it makes unsafe operation hard and
 * keeps the proof: every state change of every command is written to the
 * store's command audit and streamed to every dashboard watching the machine.
 *
 * State lives in this gateway's memory (one gateway commands a fleet; several
 * gateways share the store's audit but not leases: see the README).
 */
import { randomBytes } from 'node:crypto';
import { canCommand, canSee } from '@hatake/auth';
import { findDevice, findField, findRoad, type Config, type DeviceDef, type UserDef } from '@hatake/config';
import { buildZone, corridorZone, ZoneWatcher, type PositionSample } from '@hatake/geofence';
import { SCHEMA_VERSION, commandTopic, type Command, type CommandAck, type CommandType, type DeviceKind, type EventType } from '@hatake/protocol';
import { settledWithin, type Logger } from '@hatake/runtime';
import { StoreError, type AuditRecord, type AuditStatus, type EventRecord, type TelemetryStore } from '@hatake/store';
import { GatewayError } from './errors.ts';

/** A user whose live session counts as supervision (the heartbeat runs while one is watching). */
export function supervises(u: UserDef): boolean {
  return u.roles.includes('operator') || u.roles.includes('admin');
}

/** Commands that set a machine moving by itself: armed first, then confirmed. */
export const ARMED_TYPES: ReadonlySet<CommandType> = new Set(['resume', 'start_mission', 'return_home']);

export interface CommandStep {
  readonly status: AuditStatus;
  readonly t: number;
  readonly reason?: string;
}

export interface CommandState {
  readonly id: string;
  readonly device: string;
  readonly kind: DeviceKind;
  readonly farm?: string;
  readonly type: CommandType;
  readonly params?: Command['params'];
  readonly issuer: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  status: AuditStatus;
  reason?: string;
  ackLatencyMs?: number;
  doneLatencyMs?: number;
  readonly history: CommandStep[];
}

export interface Arm {
  readonly id: string;
  readonly device: string;
  readonly type: CommandType;
  readonly params?: Command['params'];
  readonly user: string;
  readonly expiresAt: number;
}

export interface Lease {
  readonly device: string;
  readonly holder: string;
  readonly since: number;
  renewedAt: number;
}

export const ALARM_TYPES = ['link_lost', 'geofence_exit', 'position_unknown', 'estop_unacked'] as const;
export type AlarmType = (typeof ALARM_TYPES)[number];

export interface Alarm {
  readonly id: string;
  readonly type: AlarmType;
  readonly device: string;
  readonly kind: DeviceKind;
  readonly farm?: string;
  readonly message: string;
  readonly raisedAt: number;
  acknowledgedAt?: number;
  acknowledgedBy?: string;
  clearedAt?: number;
  clearedBy?: string;
}

/** What the command center tells the world: the live stream, the MQTT client, the metrics. */
export interface CommandOutlets {
  /** Publishes a command at QoS 1; rejects when the broker did not take it. */
  publish(topic: string, payload: string): Promise<void>;
  /** Streams a message about `device` to every live client that may see it. */
  stream(type: 'command' | 'lease' | 'alarm' | 'event', device: string, json: string): void;
  /** How many live sessions `username` has open now. */
  sessionsOf(username: string): number;
  /** Counts a state change (metrics). */
  counted(what: 'command' | 'alarm', label: string): void;
}

const KEEP_COMMANDS_MS = 3600_000;
/** Audit and alarm records are gathered this long before they are written. */
const AUDIT_BATCH_MS = 100;
/** A tractor in automatic mode whose samples have not been good enough to place it for this long raises position_unknown. */
const POSITION_UNKNOWN_MS = 10_000;
/** Records waiting for the store beyond this are dropped, oldest first, and logged. */
const MAX_QUEUED_RECORDS = 100_000;
const KEEP_ALARMS_MS = 24 * 3600_000;

/** Half the width of a road corridor a plow is watched in, m. */
export const CORRIDOR_HALF_WIDTH_M = 15;

/** The issuer of the stops the operating zone sends by itself. */
export const ZONE_ISSUER = 'hatake-zone';

const FINAL: ReadonlySet<AuditStatus> = new Set(['rejected', 'completed', 'failed', 'expired']);
const ALARM_EVENT: Record<AlarmType, EventType> = { link_lost: 'link_lost', geofence_exit: 'geofence_exit', position_unknown: 'fix_change', estop_unacked: 'estop' };
const newId = (prefix: string): string => `${prefix}-${randomBytes(9).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}`;

export class CommandCenter {
  private readonly config: Config;
  private readonly store: TelemetryStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly out: CommandOutlets;
  private readonly commands = new Map<string, CommandState>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  private readonly arms = new Map<string, Arm>();
  private readonly leases = new Map<string, Lease>();
  private readonly alarms = new Map<string, Alarm>();
  /** Active alarm per `${type}|${device}`. */
  private readonly active = new Map<string, Alarm>();
  /** Last message from each commandable machine (gateway clock). */
  private readonly heardAt = new Map<string, number>();
  /** The machines that take commands (named and group members). */
  private readonly tractors: readonly DeviceDef[];
  private sweeper: NodeJS.Timeout | undefined;
  /** Audit and alarm records not yet written (written in order, one batch at a time). */
  private auditQueue: AuditRecord[] = [];
  private eventQueue: EventRecord[] = [];
  private writing: Promise<void> | undefined;
  private writeTimer: NodeJS.Timeout | undefined;

  constructor(config: Config, store: TelemetryStore, log: Logger, out: CommandOutlets, now: () => number) {
    this.config = config;
    this.store = store;
    this.log = log.child({ component: 'commands' });
    this.out = out;
    this.now = now;
    this.tractors = config.devices.filter((d) => d.kind === 'tractor');
  }

  start(): void {
    this.sweeper = setInterval(() => this.sweep(), 250);
    this.sweeper.unref();
  }

  /** Stops the timers; waits up to 5 s for the audit to reach the store (what does not is logged as lost). */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    for (const ts of this.timers.values()) for (const t of ts) clearTimeout(t);
    this.timers.clear();
    if (!(await settledWithin(this.flushWrites(), 5000))) this.log.error({ audit: this.auditQueue.length, events: this.eventQueue.length }, 'command audit not stored before stopping');
  }

  // ── commands ─────────────────────────────────────────────────────────────

  private commandable(user: UserDef, id: string): DeviceDef {
    const d = findDevice(this.config, id);
    if (!d || !canSee(user, d)) throw new GatewayError('HATAKE_ERR_GATEWAY_NOT_FOUND', `no device ${id}`);
    if (d.kind !== 'tractor') throw new GatewayError('HATAKE_ERR_GATEWAY_FORBIDDEN', `${id} is a ${d.kind}: only tractors take commands`);
    if (!canCommand(user, d)) throw new GatewayError('HATAKE_ERR_GATEWAY_FORBIDDEN', `you may not command ${id}: commands need the operator role for farm ${d.farm ?? '(none)'}`);
    return d;
  }

  /** Expiry of a command class, ms. */
  private validityMs(type: CommandType): number {
    const e = this.config.gateway.commands.expirySeconds;
    return (type === 'estop' ? e.estop : type === 'stop' || type === 'pause' ? e.stop : e.motion) * 1000;
  }

  /**
   * Issues a command from `user` to machine `deviceId`, or arms it (resume, start_mission, return_home without
   * `confirm`: they set a machine moving by itself). E-stop: any operator of the farm, whoever holds the lease.
   * Everything else: the lease holder (a command that is issued takes a free machine's lease).
   */
  async issue(user: UserDef, deviceId: string, body: { type: CommandType; params?: Command['params']; confirm?: string }): Promise<{ command: CommandState } | { armed: Arm }> {
    const d = this.commandable(user, deviceId);
    const t = this.now();
    this.renew(user.username);
    const lease = body.type === 'estop' ? undefined : this.leaseOf(d.id);
    if (lease && lease.holder !== user.username) {
      throw new GatewayError('HATAKE_ERR_GATEWAY_CONFLICT', `${d.id} is controlled by ${lease.holder} since ${new Date(lease.since).toISOString()}: take it over with a reason, or e-stop it`);
    }
    let params = body.params;
    if (ARMED_TYPES.has(body.type)) {
      if (body.confirm === undefined) {
        const arm: Arm = { id: newId('arm'), device: d.id, type: body.type, ...(body.params ? { params: body.params } : {}), user: user.username, expiresAt: t + this.config.gateway.commands.armSeconds * 1000 };
        this.arms.set(arm.id, arm);
        return { armed: arm };
      }
      const arm = this.arms.get(body.confirm);
      if (!arm || arm.user !== user.username || arm.device !== d.id || arm.type !== body.type) {
        throw new GatewayError('HATAKE_ERR_GATEWAY_CONFLICT', `nothing armed under ${body.confirm} for ${body.type} of ${d.id} by you: arm first (send the command without confirm), then confirm within ${this.config.gateway.commands.armSeconds} s`);
      }
      this.arms.delete(arm.id);
      if (arm.expiresAt < t) throw new GatewayError('HATAKE_ERR_GATEWAY_CONFLICT', `the arm ${arm.id} expired ${Math.round((t - arm.expiresAt) / 100) / 10} s ago: arm again`);
      // what was armed is what runs: a confirmation may repeat the parameters, not change them
      if (body.params !== undefined && JSON.stringify(body.params) !== JSON.stringify(arm.params ?? {})) {
        throw new GatewayError('HATAKE_ERR_GATEWAY_CONFLICT', `the confirmation's params differ from what was armed (${JSON.stringify(arm.params ?? {})}): arm again with the new ones`);
      }
      params = arm.params;
    } else if (body.confirm !== undefined) {
      throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `${body.type} is not armed: confirm applies to ${[...ARMED_TYPES].join(', ')}`);
    }
    if (body.type !== 'estop' && !lease) this.setLease(d, user.username, t, 'taken by a command');
    return { command: this.send(d, user.username, body.type, params) };
  }

  /** Emergency stop of every machine `user` may command (of `farm`). Never refused for a lease; each machine separately. */
  async estopAll(user: UserDef, farm?: string): Promise<CommandState[]> {
    const machines = this.tractors.filter((d) => canCommand(user, d) && (farm === undefined || d.farm === farm));
    if (farm !== undefined && machines.length === 0) throw new GatewayError('HATAKE_ERR_GATEWAY_FORBIDDEN', `no machine of farm ${farm} is yours to command`);
    this.renew(user.username);
    return machines.map((d) => this.send(d, user.username, 'estop', undefined));
  }

  /**
   * Sends a command: `sent` and its timers at once, the publish behind them — so a broker that is slow to take it
   * (a half-open connection) still times it out, and an answer that overtakes the broker's PUBACK is not undone.
   */
  private send(d: DeviceDef, issuer: string, type: CommandType, params: Command['params'] | undefined): CommandState {
    const issuedAt = this.now();
    const state: CommandState = {
      id: newId('cmd'),
      device: d.id,
      kind: d.kind,
      ...(d.farm !== undefined ? { farm: d.farm } : {}),
      type,
      ...(params ? { params } : {}),
      issuer,
      issuedAt,
      expiresAt: issuedAt + this.validityMs(type),
      status: 'sent',
      history: [],
    };
    const cmd: Command = { v: SCHEMA_VERSION, id: state.id, type, issuer, issuedAt, expiresAt: state.expiresAt, ...(params ? { params } : {}) };
    this.commands.set(state.id, state);
    this.step(state, 'sent');
    const c = this.config.gateway.commands;
    const ackMs = (type === 'estop' ? c.ackTimeoutSeconds.estop : c.ackTimeoutSeconds.other) * 1000;
    this.timer(state.id, ackMs, () => {
      if (state.status !== 'sent') return;
      this.step(state, 'timed_out', `no answer from ${d.id} within ${ackMs / 1000} s`);
      if (type === 'estop') this.raise('estop_unacked', d, `emergency stop ${state.id} by ${issuer} not acknowledged within ${ackMs / 1000} s`);
    });
    this.timer(state.id, state.expiresAt - issuedAt, () => {
      if (state.status === 'sent' || (state.status === 'timed_out' && state.ackLatencyMs === undefined)) this.step(state, 'expired', 'expired without an answer: the machine refuses it from now on');
    });
    this.out.publish(commandTopic(d.kind, d.id), JSON.stringify(cmd)).catch((err: unknown) => {
      if (state.ackLatencyMs !== undefined || FINAL.has(state.status)) return;
      this.step(state, 'failed', `not delivered to the broker: ${(err as Error).message}`.slice(0, 256));
      if (type === 'estop') this.raise('estop_unacked', d, `emergency stop ${state.id} by ${issuer} could not be sent: ${(err as Error).message}`);
    });
    return state;
  }

  /** A machine's answer (`…/cmd/ack`). Answers to unknown ids (another gateway's, or from before a restart) are logged. */
  onAck(kind: DeviceKind, deviceId: string, ack: CommandAck): void {
    this.heard(deviceId);
    const state = this.commands.get(ack.id);
    if (!state || state.device !== deviceId) {
      this.log.info({ device: deviceId, id: ack.id, status: ack.status }, 'answer to a command this gateway did not send');
      return;
    }
    if (state.history.some((h) => h.status === ack.status)) return; // a repeated answer
    const rank = { accepted: 1, rejected: 2, completed: 2, failed: 2 } as const;
    const reached = Math.max(0, ...state.history.map((h) => (h.status in rank ? rank[h.status as keyof typeof rank] : 0)));
    if (rank[ack.status] <= reached) return; // never backwards: an accepted after completed says nothing new
    const t = this.now();
    if (state.ackLatencyMs === undefined) state.ackLatencyMs = t - state.issuedAt;
    if (ack.status === 'completed' || ack.status === 'failed') state.doneLatencyMs = t - state.issuedAt;
    this.step(state, ack.status, ack.reason);
    if (state.type === 'estop') {
      if (ack.status === 'accepted' || ack.status === 'completed') this.clear('estop_unacked', deviceId, 'system');
      else this.raise('estop_unacked', findDevice(this.config, deviceId)!, `emergency stop ${state.id} ${ack.status} by ${deviceId}: ${ack.reason ?? 'no reason given'}`);
    }
    if (ack.status === 'accepted') {
      // completion is timed from acceptance (an answer after expiry too: the machine took it)
      const c = this.config.gateway.commands.completionTimeoutSeconds;
      this.timer(state.id, c * 1000, () => {
        if (state.status === 'accepted') this.step(state, 'timed_out', `accepted, not completed within ${c} s`);
      });
    }
  }

  private step(state: CommandState, status: AuditStatus, reason?: string): void {
    const t = this.now();
    state.status = status;
    if (reason !== undefined) state.reason = reason;
    else delete state.reason;
    state.history.push({ status, t, ...(reason !== undefined ? { reason } : {}) });
    this.out.counted('command', status);
    const latency = status === 'sent' ? undefined : t - state.issuedAt;
    const what = state.params ? ` ${JSON.stringify(state.params)}` : '';
    this.audit({ t, commandId: state.id, device: state.device, kind: state.kind, issuer: state.issuer, type: `${state.type}${what}`.slice(0, 256), status, ...(reason !== undefined ? { reason } : {}), ...(latency !== undefined ? { latencyMs: latency } : {}) });
    this.out.stream('command', state.device, JSON.stringify({ type: 'command', command: state }));
    this.log.info({ id: state.id, device: state.device, type: state.type, issuer: state.issuer, status, reason }, 'command');
    // done, or timed out after acceptance: nothing more is waited for
    if (FINAL.has(status) || (status === 'timed_out' && state.ackLatencyMs !== undefined)) this.forgetTimers(state.id);
  }

  command(user: UserDef, deviceId: string, id: string): CommandState {
    const d = findDevice(this.config, deviceId);
    const state = this.commands.get(id);
    if (!d || !canSee(user, d) || !state || state.device !== d.id) throw new GatewayError('HATAKE_ERR_GATEWAY_NOT_FOUND', `no command ${id} of ${deviceId}`);
    return state;
  }

  private timer(id: string, ms: number, fn: () => void): void {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    const list = this.timers.get(id) ?? [];
    list.push(t);
    this.timers.set(id, list);
  }

  private forgetTimers(id: string): void {
    for (const t of this.timers.get(id) ?? []) clearTimeout(t);
    this.timers.delete(id);
  }

  // ── leases ───────────────────────────────────────────────────────────────

  /** The live lease of a machine (a lapsed one is ended here). */
  leaseOf(device: string): Lease | undefined {
    const l = this.leases.get(device);
    if (!l) return undefined;
    if (this.out.sessionsOf(l.holder) > 0) {
      // an open session renews it continuously: the lapse counts from when the last one closed
      l.renewedAt = this.now();
      return l;
    }
    if (this.now() - l.renewedAt <= this.config.gateway.commands.leaseSeconds * 1000) return l;
    this.leases.delete(device);
    const d = findDevice(this.config, device);
    if (d) this.leaseChanged(d, undefined, `lease of ${l.holder} lapsed: no live session for ${this.config.gateway.commands.leaseSeconds} s`);
    return undefined;
  }

  leaseView(device: string): { device: string; holder: string | null; since?: number; renewedAt?: number; lapsesAt?: number } {
    const l = this.leaseOf(device);
    if (!l) return { device, holder: null };
    const live = this.out.sessionsOf(l.holder) > 0;
    return { device, holder: l.holder, since: l.since, renewedAt: l.renewedAt, ...(live ? {} : { lapsesAt: l.renewedAt + this.config.gateway.commands.leaseSeconds * 1000 }) };
  }

  /** Every lease `username` holds is renewed (by any request or live message of theirs). */
  renew(username: string): void {
    const t = this.now();
    for (const l of this.leases.values()) if (l.holder === username) l.renewedAt = t;
  }

  lease(user: UserDef, deviceId: string, action: 'take' | 'release' | 'takeover', reason?: string): ReturnType<CommandCenter['leaseView']> {
    const d = this.commandable(user, deviceId);
    const current = this.leaseOf(d.id);
    const t = this.now();
    switch (action) {
      case 'take':
        if (current && current.holder !== user.username) throw new GatewayError('HATAKE_ERR_GATEWAY_CONFLICT', `${d.id} is controlled by ${current.holder}: take it over with a reason`);
        if (current) current.renewedAt = t;
        else this.setLease(d, user.username, t, 'taken');
        break;
      case 'release':
        if (!current || current.holder !== user.username) throw new GatewayError('HATAKE_ERR_GATEWAY_CONFLICT', `you do not control ${d.id}`);
        this.leases.delete(d.id);
        this.leaseChanged(d, undefined, `released by ${user.username}`);
        break;
      case 'takeover':
        if (reason === undefined || reason.trim().length < 3) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', 'a takeover needs a reason (3 to 256 characters); it is recorded');
        this.setLease(d, user.username, t, current && current.holder !== user.username ? `taken over from ${current.holder} by ${user.username}: ${reason}` : `taken by ${user.username}: ${reason}`);
        break;
    }
    return this.leaseView(d.id);
  }

  private setLease(d: DeviceDef, holder: string, t: number, why: string): void {
    this.leases.set(d.id, { device: d.id, holder, since: t, renewedAt: t });
    this.leaseChanged(d, holder, why);
  }

  private leaseChanged(d: DeviceDef, holder: string | undefined, why: string): void {
    this.log.info({ device: d.id, holder, why }, 'control lease');
    this.record(d, { type: 'mode_change', severity: 'info', message: `control: ${why}`.slice(0, 256), data: { lease: holder ?? '' } });
    this.out.stream('lease', d.id, JSON.stringify({ type: 'lease', lease: this.leases.has(d.id) ? this.leaseView(d.id) : { device: d.id, holder: null }, why }));
  }

  // ── operating zone ───────────────────────────────────────────────────────

  private readonly zones = new Map<string, ZoneWatcher | null>();

  private watcherOf(d: DeviceDef): ZoneWatcher | undefined {
    let w = this.zones.get(d.id);
    if (w === undefined) {
      const field = d.farm !== undefined && d.field !== undefined ? findField(this.config, d.farm, d.field) : undefined;
      w = null;
      if (field) {
        try {
          // a tractor starts inside its field: the first counted samples outside are an exit
          w = new ZoneWatcher(buildZone(field.boundary as Parameters<typeof buildZone>[0], { id: `${d.farm}/${d.field}`, marginMeters: d.tractor?.zoneMarginMeters ?? 0 }), { initial: 'inside' });
        } catch (err) {
          this.log.error({ device: d.id, err: { message: (err as Error).message } }, 'no operating zone for this tractor');
        }
      }
      this.zones.set(d.id, w);
    }
    return w ?? undefined;
  }

  /**
   * A tractor's samples: its operating zone (the field grown by `zoneMarginMeters`) is watched; leaving it raises
   * `geofence_exit` and — in automatic mode, with `zoneAutoStop` — sends a stop; coming back clears the alarm.
   * Which samples count (fix quality, uncertainty against distance to the edge): @hatake/geofence.
   */
  onSamples(d: DeviceDef, samples: readonly Record<string, unknown>[]): void {
    if (d.kind === 'plow') return this.onPlowSamples(d, samples);
    if (d.kind !== 'tractor') return;
    const w = this.watcherOf(d);
    if (!w) return;
    for (const s of samples) {
      const e = w.update(s as unknown as PositionSample);
      // moving by itself with no position good enough to tell where it is relative to its zone
      const t = s['t'] as number;
      const last = w.lastCountedAt;
      if (last !== undefined && last === t) this.clear('position_unknown', d.id, 'system');
      else if (last !== undefined && s['mode'] === 'auto' && t - last > POSITION_UNKNOWN_MS) {
        this.raise('position_unknown', d, `${d.id} in automatic mode without a usable position for ${Math.round((t - last) / 1000)} s (fix ${String(s['fix'])}): its zone cannot be watched`);
      }
      if (!e) continue;
      if (e.type === 'enter') {
        this.clear('geofence_exit', d.id, 'system');
        continue;
      }
      this.raise('geofence_exit', d, `${d.id} left its operating zone ${e.zoneId} by ${e.distanceMeters.toFixed(1)} m (fix ${e.fix}, ±${e.uncertaintyMeters.toFixed(2)} m)`);
      if ((d.tractor?.zoneAutoStop ?? true) && s['mode'] === 'auto') {
        this.send(d, ZONE_ISSUER, 'stop', undefined);
      }
    }
  }

  private readonly corridors = new Map<string, ZoneWatcher[]>();

  /**
   * Plows: the roads of their route are corridors (the road ± {@link CORRIDOR_HALF_WIDTH_M}); entering and leaving
   * one is a `geofence_enter` / `geofence_exit` event of the plow (stored and streamed; not an alarm), decided by
   * the same watcher and fix rule as a tractor's zone.
   */
  private onPlowSamples(d: DeviceDef, samples: readonly Record<string, unknown>[]): void {
    let watchers = this.corridors.get(d.id);
    if (!watchers) {
      watchers = (d.route ?? []).flatMap((id) => {
        const road = findRoad(this.config, id);
        return road ? [new ZoneWatcher(corridorZone(road.geometry, CORRIDOR_HALF_WIDTH_M, id))] : [];
      });
      this.corridors.set(d.id, watchers);
    }
    for (const s of samples) {
      for (const w of watchers) {
        const e = w.update(s as unknown as PositionSample);
        if (!e) continue;
        const event = { type: e.type === 'enter' ? ('geofence_enter' as const) : ('geofence_exit' as const), severity: 'info' as const, message: `${e.type === 'enter' ? 'entered' : 'left'} road ${e.zoneId}`, lat: e.lat, lon: e.lon, data: { road: e.zoneId } };
        this.record(d, event, e.t);
        this.out.stream('event', d.id, JSON.stringify({ type: 'event', device: d.id, kind: d.kind, ...(d.farm !== undefined ? { farm: d.farm } : {}), event: { v: SCHEMA_VERSION, t: e.t, ...event } }));
      }
    }
  }

  // ── alarms and link watch ────────────────────────────────────────────────

  /** Anything from a machine: it is heard (clears link_lost). */
  heard(deviceId: string): void {
    const d = findDevice(this.config, deviceId);
    if (!d || d.kind !== 'tractor') return;
    this.heardAt.set(deviceId, this.now());
    if (this.active.has(`link_lost|${deviceId}`)) this.clear('link_lost', deviceId, 'system');
  }

  raise(type: AlarmType, d: DeviceDef, message: string): Alarm {
    const key = `${type}|${d.id}`;
    const existing = this.active.get(key);
    if (existing) return existing;
    const alarm: Alarm = { id: newId('alarm'), type, device: d.id, kind: d.kind, ...(d.farm !== undefined ? { farm: d.farm } : {}), message: message.slice(0, 256), raisedAt: this.now() };
    this.alarms.set(alarm.id, alarm);
    this.active.set(key, alarm);
    this.alarmChanged(alarm, 'raised');
    return alarm;
  }

  clear(type: AlarmType, deviceId: string, by: string): void {
    const alarm = this.active.get(`${type}|${deviceId}`);
    if (!alarm) return;
    this.active.delete(`${type}|${deviceId}`);
    alarm.clearedAt = this.now();
    alarm.clearedBy = by;
    this.alarmChanged(alarm, 'cleared');
  }

  acknowledge(user: UserDef, id: string): Alarm {
    const alarm = this.alarms.get(id);
    const d = alarm ? findDevice(this.config, alarm.device) : undefined;
    if (!alarm || !d || !canSee(user, d)) throw new GatewayError('HATAKE_ERR_GATEWAY_NOT_FOUND', `no alarm ${id}`);
    if (!canCommand(user, d)) throw new GatewayError('HATAKE_ERR_GATEWAY_FORBIDDEN', `only an operator of farm ${d.farm ?? '(none)'} may acknowledge alarms of ${d.id}`);
    if (alarm.acknowledgedAt === undefined) {
      alarm.acknowledgedAt = this.now();
      alarm.acknowledgedBy = user.username;
      this.alarmChanged(alarm, 'acknowledged');
    }
    return alarm;
  }

  alarmsFor(user: UserDef, state: 'active' | 'all'): Alarm[] {
    return [...this.alarms.values()]
      .filter((a) => (state === 'all' || a.clearedAt === undefined) && canSee(user, findDevice(this.config, a.device) ?? { kind: a.kind, ...(a.farm !== undefined ? { farm: a.farm } : {}) }))
      .sort((a, b) => b.raisedAt - a.raisedAt);
  }

  private alarmChanged(alarm: Alarm, phase: 'raised' | 'acknowledged' | 'cleared'): void {
    this.out.counted('alarm', `${alarm.type}_${phase}`);
    this.log[phase === 'raised' ? 'warn' : 'info']({ alarm: alarm.id, type: alarm.type, device: alarm.device, by: alarm.acknowledgedBy ?? alarm.clearedBy }, `alarm ${phase}`);
    const d = findDevice(this.config, alarm.device);
    if (d) {
      const by = phase === 'acknowledged' ? alarm.acknowledgedBy : phase === 'cleared' ? alarm.clearedBy : undefined;
      this.record(d, { type: ALARM_EVENT[alarm.type], severity: phase === 'raised' ? 'alarm' : 'info', message: `${alarm.type} ${phase}${by ? ` by ${by}` : ''}: ${alarm.message}`.slice(0, 256), data: { alarm: alarm.id, phase, ...(by ? { by } : {}) } });
    }
    this.out.stream('alarm', alarm.device, JSON.stringify({ type: 'alarm', phase, alarm }));
  }

  /** Every 250 ms: machines silent too long, lapsed leases, stale arms; finished commands and cleared alarms age out. */
  private sweep(): void {
    const t = this.now();
    for (const d of this.tractors) {
      const heard = this.heardAt.get(d.id);
      const silentMs = (d.tractor?.silentSeconds ?? 10) * 1000;
      if (heard !== undefined && t - heard > silentMs) this.raise('link_lost', d, `nothing from ${d.id} for ${Math.round((t - heard) / 1000)} s`);
    }
    for (const device of [...this.leases.keys()]) this.leaseOf(device);
    for (const [id, arm] of this.arms) if (arm.expiresAt < t - 60_000) this.arms.delete(id);
    // what the live stream and the audit already hold: GET of a command works for an hour, the alarm list keeps a day
    for (const [id, c] of this.commands) if (c.issuedAt < t - KEEP_COMMANDS_MS && (FINAL.has(c.status) || c.status === 'timed_out')) this.commands.delete(id);
    for (const [id, a] of this.alarms) if (a.clearedAt !== undefined && a.clearedAt < t - KEEP_ALARMS_MS) this.alarms.delete(id);
  }

  // ── the store ────────────────────────────────────────────────────────────

  private audit(r: AuditRecord): void {
    this.auditQueue.push(r);
    this.writeSoon();
  }

  /** An event of the machine that the gateway, not the machine, observed: `data.source` says so. */
  private record(d: DeviceDef, e: Omit<EventRecord['event'], 'v' | 't'>, t = this.now()): void {
    this.eventQueue.push({ kind: d.kind, device: d.id, ...(d.farm !== undefined ? { farm: d.farm } : {}), event: { v: SCHEMA_VERSION, t, ...e, data: { ...e.data, source: 'gateway' } } });
    this.writeSoon();
  }

  /**
   * Writes what is queued after {@link AUDIT_BATCH_MS}, in order, one batch at a time; a failed write is retried
   * with the next. The wait gathers a fleet stop's records into one write and keeps the store's work (an embedded
   * store writes on this thread) off the path of the machines' answers.
   */
  private writeSoon(): void {
    if (this.writing || this.writeTimer) return;
    this.writeTimer = setTimeout(() => this.writeNow(), AUDIT_BATCH_MS);
    this.writeTimer.unref();
  }

  private writeNow(): void {
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    if (this.writing) return;
    this.writing = (async () => {
      while (this.auditQueue.length > 0 || this.eventQueue.length > 0) {
        const audit = this.auditQueue;
        const events = this.eventQueue;
        this.auditQueue = [];
        this.eventQueue = [];
        try {
          if (audit.length > 0) await this.store.writeAudit(audit);
          if (events.length > 0) await this.store.writeEvents(events);
        } catch (err) {
          if (err instanceof StoreError && (err.code === 'HATAKE_ERR_STORE_INVALID_RECORD' || err.code === 'HATAKE_ERR_STORE_REFUSED')) {
            // refused for good: retrying would block every later record behind it
            this.log.error({ err: { code: err.code, message: err.message }, audit: audit.length, events: events.length }, 'command audit refused by the store; these records are lost');
            continue;
          }
          this.log.error({ err: { message: (err as Error).message }, audit: audit.length, events: events.length }, 'command audit not stored; retrying');
          this.auditQueue = [...audit, ...this.auditQueue];
          this.eventQueue = [...events, ...this.eventQueue];
          const over = this.auditQueue.length + this.eventQueue.length - MAX_QUEUED_RECORDS;
          if (over > 0) {
            this.log.error({ dropped: over }, 'command audit queue full while the store is away: oldest records dropped');
            this.auditQueue.splice(0, Math.min(over, this.auditQueue.length));
            this.eventQueue.splice(0, Math.max(0, this.auditQueue.length + this.eventQueue.length - MAX_QUEUED_RECORDS));
          }
          await new Promise((r) => setTimeout(r, 1000).unref());
        }
      }
    })().finally(() => {
      this.writing = undefined;
      // records queued while the last write was finishing
      if (this.auditQueue.length > 0 || this.eventQueue.length > 0) this.writeSoon();
    });
  }

  /** Waits until the audit is written (tests, shutdown). */
  async flushWrites(): Promise<void> {
    if (this.writeTimer) this.writeNow();
    while (this.writing) await this.writing;
  }

}
