/**
 * The dashboard's fleet state, fed as the gateway feeds it: a REST snapshot,
 * then live messages — trail, mode, latency on the gateway's clock, commands
 * newest first with later states winning, leases, alarms.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS_KEPT, Fleet, TRAIL_POINTS } from '../src/web/fleet.ts';
import { age, commandLabel, commandStatus, fix, kmhToMps, latency, speedKmh } from '../src/web/format.ts';
import { SPEED_PARAM, mayCommand, type CommandView, type DeviceView } from '../src/web/types.ts';

const T0 = 1_790_000_000_000;
const tractor: DeviceView = { id: 't1', kind: 'tractor', name: 'Tractor 1', farm: 'north', online: true, state: { t: T0, online: true, mode: 'auto' }, last: { t: T0, seq: 1, fix: 'rtk_fixed', lat: 43.1, lon: 141.7, speed: 2, heading: 90, mode: 'auto' } };
const cmd = (over: Partial<CommandView>): CommandView => ({ id: 'c1', device: 't1', type: 'pause', issuer: 'op', issuedAt: T0, expiresAt: T0 + 15_000, status: 'sent', history: [{ status: 'sent', t: T0 }], ...over });

describe('Fleet', () => {
  it('takes the snapshot, then live samples: position, trail, mode and latency on the gateway clock', () => {
    let now = T0 + 1000;
    const fleet = new Fleet(() => now);
    const changes: string[] = [];
    fleet.onChange((c) => changes.push(c.what === 'machine' ? `machine:${c.id}` : c.what));
    fleet.load([tractor]);
    const m = fleet.machines.get('t1')!;
    expect([m.lat, m.lon, m.mode, m.trail.length]).toEqual([43.1, 141.7, 'auto', 1]);
    // the browser's clock is 500 ms behind the gateway's
    fleet.apply({ type: 'hello', user: { username: 'op', name: 'Op', roles: ['operator'], farms: ['north'] }, serverTime: now + 500, devices: [], states: {} });
    expect(fleet.clockOffsetMs).toBe(500);
    now = T0 + 1200;
    fleet.apply({ type: 'telemetry', device: 't1', kind: 'tractor', samples: [{ t: T0 + 1000, seq: 2, lat: 43.2, lon: 141.8, mode: 'paused' }, { t: T0 + 1600, seq: 3, lat: 43.3, lon: 141.9, mode: 'paused' }] });
    expect([m.lat, m.lon, m.mode, m.lastSeen, m.trail.length]).toEqual([43.3, 141.9, 'paused', T0 + 1600, 3]);
    expect(m.latencyMs).toBe(100); // (1200 + 500) - 1600
    // an older message never takes the machine back
    fleet.apply({ type: 'telemetry', device: 't1', kind: 'tractor', samples: [{ t: T0 + 1100, seq: 9, lat: 1, lon: 1 }] });
    expect(m.lat).toBe(43.3);
    // replays are not the live state
    fleet.apply({ type: 'telemetry', device: 't1', kind: 'tractor', samples: [{ t: T0 + 9999, seq: 10, lat: 2, lon: 2 }], replay: 'r1' });
    expect(m.lat).toBe(43.3);
    expect(changes).toContain('machine:t1');
    for (let i = 0; i < TRAIL_POINTS + 20; i++) fleet.apply({ type: 'telemetry', device: 't1', kind: 'tractor', samples: [{ t: T0 + 2000 + i, seq: 20 + i, lat: 43 + i * 1e-5, lon: 141 }] });
    expect(m.trail.length).toBe(TRAIL_POINTS);
    // a ping answered in 10 ms by a gateway 300 ms ahead: the offset follows, a slower one later is ignored
    now = T0 + 5010;
    fleet.pong(T0 + 5000, T0 + 5305);
    expect(fleet.clockOffsetMs).toBe(300);
    now = T0 + 6200;
    fleet.pong(T0 + 6000, T0 + 7000);
    expect(fleet.clockOffsetMs).toBe(300);
    fleet.apply({ type: 'state', device: 't1', state: { online: false }, receivedAt: now });
    expect(m.online).toBe(false);
  });

  it('keeps each command once, newest first, with the later state winning whichever way it arrives', () => {
    const fleet = new Fleet(() => T0);
    fleet.load([tractor]);
    const m = fleet.machines.get('t1')!;
    fleet.apply({ type: 'command', command: cmd({ status: 'accepted', ackLatencyMs: 20, history: [{ status: 'sent', t: T0 }, { status: 'accepted', t: T0 + 20 }] }) });
    // the REST answer (only "sent") arrives after the live update: it does not undo it
    fleet.command(cmd({}));
    expect(m.commands.map((c) => c.status)).toEqual(['accepted']);
    for (let i = 2; i < COMMANDS_KEPT + 5; i++) fleet.command(cmd({ id: `c${i}`, issuedAt: T0 + i }));
    expect(m.commands.length).toBe(COMMANDS_KEPT);
    expect(m.commands[0]!.id).toBe(`c${COMMANDS_KEPT + 4}`);
    fleet.apply({ type: 'lease', lease: { device: 't1', holder: 'op', since: T0 }, why: 'taken' });
    expect(m.lease?.holder).toBe('op');
    // the live stream says why it changed (the panel tells a user who lost control); a REST answer keeps the last why
    fleet.apply({ type: 'lease', lease: { device: 't1', holder: 'admin', since: T0 + 1 }, why: 'taken over from op by admin: field check' });
    fleet.lease({ device: 't1', holder: 'admin', since: T0 + 1 });
    expect([m.lease?.holder, m.leaseWhy]).toEqual(['admin', 'taken over from op by admin: field check']);
  });

  it('keeps the active alarms: raised and acknowledged ones listed, cleared ones gone', () => {
    const fleet = new Fleet(() => T0);
    const alarm = { id: 'a1', type: 'link_lost', device: 't1', kind: 'tractor' as const, farm: 'north', message: 'silent', raisedAt: T0 };
    fleet.loadAlarms([alarm]);
    fleet.apply({ type: 'alarm', phase: 'raised', alarm: { ...alarm, id: 'a2', raisedAt: T0 + 5 } });
    expect(fleet.activeAlarms().map((a) => a.id)).toEqual(['a2', 'a1']);
    fleet.apply({ type: 'alarm', phase: 'acknowledged', alarm: { ...alarm, acknowledgedAt: T0 + 1, acknowledgedBy: 'op' } });
    expect(fleet.alarms.get('a1')?.acknowledgedBy).toBe('op');
    fleet.apply({ type: 'alarm', phase: 'cleared', alarm: { ...alarm, clearedAt: T0 + 2 } });
    expect(fleet.activeAlarms().map((a) => a.id)).toEqual(['a2']);
  });
});

describe('who gets command controls', () => {
  it('operators of the farm and admins, for tractors only', () => {
    const u = (roles: string[], farms: string[]) => ({ username: 'u', name: 'U', roles, farms });
    expect(mayCommand(u(['admin'], ['*']), { kind: 'tractor', farm: 'south' })).toBe(true);
    expect(mayCommand(u(['admin'], ['*']), { kind: 'plow' })).toBe(false);
    expect(mayCommand(u(['operator'], ['north']), { kind: 'tractor', farm: 'north' })).toBe(true);
    expect(mayCommand(u(['operator'], ['north']), { kind: 'tractor', farm: 'south' })).toBe(false);
    expect(mayCommand(u(['operator'], ['*']), { kind: 'tractor', farm: 'south' })).toBe(true);
    expect(mayCommand(u(['viewer', 'agronomist'], ['north']), { kind: 'tractor', farm: 'north' })).toBe(false);
  });
});

describe('format', () => {
  it('reads as a person reads it', () => {
    expect([age(400), age(42_000), age(600_000), age(3 * 3600_000)]).toEqual(['0.4 s', '42 s', '10 min', '3 h']);
    expect(speedKmh(2.5)).toBe('9.0 km/h');
    expect([latency(37.4), latency(1234), latency(undefined)]).toEqual(['37 ms', '1.2 s', '—']);
    expect(fix({ fix: 'rtk_fixed', hdop: 0.8, sats: 17 })).toBe('RTK fixed (HDOP 0.8, 17 sats)');
    expect(commandStatus({ status: 'accepted', ackLatencyMs: 24 })).toBe('accepted · 24 ms');
    expect(commandStatus({ status: 'completed', ackLatencyMs: 24, doneLatencyMs: 1500 })).toBe('completed · 1.5 s');
    expect(commandStatus({ status: 'rejected', reason: 'already running', ackLatencyMs: 30 })).toBe('rejected · 30 ms: already running');
    expect(commandStatus({ status: 'timed_out', reason: 'no answer from t1 within 2 s' })).toBe('timed out: no answer from t1 within 2 s');
    expect(commandLabel({ type: 'set_speed', params: { speed: 1 } })).toBe('Set speed 3.6 km/h');
    expect(commandLabel({ type: 'start_mission', params: { missionId: 'spring-1' } })).toBe('Start mission spring-1');
    expect(commandLabel({ type: 'return_home' })).toBe('Return home');
  });

  it('turns a typed speed in km/h into set_speed m/s within the gateway bounds, or nothing', () => {
    expect(['3.6', '7,2', '0', '54', ' 10 ', '.5'].map((t) => kmhToMps(t, SPEED_PARAM))).toEqual([1, 2, 0, 15, 2.78, 0.14]);
    expect(['', '-1', '55', 'fast', '1e2', 'NaN', '3.6.1'].map((t) => kmhToMps(t, SPEED_PARAM))).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
  });
});
