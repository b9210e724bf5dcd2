/**
 * The command center's clock-driven rules, on a fake clock: answers arriving
 * out of order, timeouts, expiry, arms and lease lapse. The broker leg is the
 * end-to-end tests' (test/e2e/commands.test.ts); here what would be published
 * is kept in a list, and the audit goes to a real embedded store.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { Config, UserDef } from '@hatake/config';
import { findUser } from '@hatake/config';
import { SCHEMA_VERSION, type CommandAck } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore } from '@hatake/store';
import { testDeployment } from '@hatake/testkit';
import { CommandCenter, type CommandState } from '../src/commands.ts';

let config: Config;
let store: EmbeddedStore;
let center: CommandCenter;
let published: { topic: string; payload: Record<string, unknown> }[];
let streamed: { type: string; json: Record<string, unknown> }[];
let sessions: Record<string, number>;
let failPublish: Error | undefined;
const T0 = Date.parse('2026-11-23T09:00:00Z');

const user = (name: string): UserDef => findUser(config, name)!;
const ack = (id: string, status: CommandAck['status'], reason?: string): CommandAck => ({ v: SCHEMA_VERSION, id, t: Date.now(), status, ...(reason ? { reason } : {}) });
const statuses = (c: CommandState): string[] => c.history.map((h) => h.status);
const alarms = (): { type: string; device: string; clearedAt?: number }[] => center.alarmsFor(user('admin'), 'all');

beforeEach(async () => {
  vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  config = (await testDeployment()).config;
  store = new EmbeddedStore(':memory:', { logger: silentLogger() });
  await store.start();
  published = [];
  streamed = [];
  sessions = {};
  failPublish = undefined;
  center = new CommandCenter(
    config,
    store,
    silentLogger(),
    {
      publish: async (topic, payload) => {
        if (failPublish) throw failPublish;
        published.push({ topic, payload: JSON.parse(payload) as Record<string, unknown> });
      },
      stream: (type, _device, json) => streamed.push({ type, json: JSON.parse(json) as Record<string, unknown> }),
      sessionsOf: (name) => sessions[name] ?? 0,
      counted: () => undefined,
    },
    () => Date.now(),
  );
  center.start();
});

afterEach(async () => {
  await center.stop();
  await store.stop();
  vi.useRealTimers();
});

it('stamps and publishes a command with the expiry of its class, and audits every step in order', async () => {
  const r = await center.issue(user('op-north'), 't1', { type: 'pause' });
  const c = (r as { command: CommandState }).command;
  await vi.advanceTimersByTimeAsync(0);
  expect(published).toEqual([{ topic: 'hatake/v1/tractor/t1/cmd', payload: { v: 1, id: c.id, type: 'pause', issuer: 'op-north', issuedAt: T0, expiresAt: T0 + 15_000 } }]);
  await vi.advanceTimersByTimeAsync(40);
  center.onAck('tractor', 't1', ack(c.id, 'accepted'));
  await vi.advanceTimersByTimeAsync(500);
  center.onAck('tractor', 't1', ack(c.id, 'completed'));
  expect(statuses(c)).toEqual(['sent', 'accepted', 'completed']);
  expect(c.ackLatencyMs).toBe(40);
  expect(c.doneLatencyMs).toBe(540);
  await center.flushWrites();
  const audit = await store.audit({ device: 't1', from: T0 - 1, to: T0 + 60_000, limit: 10 });
  expect(audit.map((a) => [a.status, a.issuer, a.latencyMs])).toEqual([
    ['sent', 'op-north', undefined],
    ['accepted', 'op-north', 40],
    ['completed', 'op-north', 540],
  ]);
});

it('never moves backwards: an answer that overtakes another, or a repeated one, changes nothing', async () => {
  const c = ((await center.issue(user('op-north'), 't1', { type: 'stop' })) as { command: CommandState }).command;
  center.onAck('tractor', 't1', ack(c.id, 'completed'));
  center.onAck('tractor', 't1', ack(c.id, 'accepted')); // late, out of order
  center.onAck('tractor', 't1', ack(c.id, 'completed')); // repeated
  expect(statuses(c)).toEqual(['sent', 'completed']);
  await vi.advanceTimersByTimeAsync(60_000);
  expect(statuses(c)).toEqual(['sent', 'completed']); // no timer fires on a finished command
});

it('an unanswered e-stop: timed_out and an alarm at 2 s, expired at 10 s; an answer then still counts and clears the alarm', async () => {
  const c = ((await center.issue(user('op-north'), 't1', { type: 'estop' })) as { command: CommandState }).command;
  await vi.advanceTimersByTimeAsync(1999);
  expect(c.status).toBe('sent');
  await vi.advanceTimersByTimeAsync(1);
  expect(c.status).toBe('timed_out');
  expect(alarms()).toMatchObject([{ type: 'estop_unacked', device: 't1' }]);
  await vi.advanceTimersByTimeAsync(8000);
  expect(statuses(c)).toEqual(['sent', 'timed_out', 'expired']);
  center.onAck('tractor', 't1', ack(c.id, 'accepted'));
  expect(statuses(c)).toEqual(['sent', 'timed_out', 'expired', 'accepted']);
  expect(alarms()[0]!.clearedAt).toBe(Date.now());
});

it('an e-stop the broker will not take fails at once and raises the alarm; one the machine rejects too', async () => {
  failPublish = new Error('not connected');
  const c = ((await center.issue(user('op-north'), 't1', { type: 'estop' })) as { command: CommandState }).command;
  await vi.advanceTimersByTimeAsync(0);
  expect(statuses(c)).toEqual(['sent', 'failed']);
  expect(c.reason).toMatch(/not delivered to the broker: not connected/);
  expect(alarms()).toMatchObject([{ type: 'estop_unacked', device: 't1' }]);
  failPublish = undefined;
  const south = ((await center.issue(user('op-south'), 't2', { type: 'estop' })) as { command: CommandState }).command;
  center.onAck('tractor', 't2', ack(south.id, 'rejected', 'e-stop circuit fault'));
  expect(alarms().map((a) => a.device).sort()).toEqual(['t1', 't2']);
});

it('times completion from acceptance, not from issue', async () => {
  const c = ((await center.issue(user('op-north'), 't1', { type: 'set_speed', params: { speed: 2 } })) as { command: CommandState }).command;
  await vi.advanceTimersByTimeAsync(5000);
  center.onAck('tractor', 't1', ack(c.id, 'accepted'));
  await vi.advanceTimersByTimeAsync(599_000);
  expect(c.status).toBe('accepted'); // 604 s after issue, 599 s after acceptance
  await vi.advanceTimersByTimeAsync(1000);
  expect(statuses(c)).toEqual(['sent', 'accepted', 'timed_out']);
  expect(c.reason).toMatch(/accepted, not completed within 600 s/);
});

it('arms expire after armSeconds; a confirmation sends what was armed', async () => {
  const arm = ((await center.issue(user('op-north'), 't1', { type: 'start_mission', params: { missionId: 'm1' } })) as { armed: { id: string } }).armed;
  expect(published).toEqual([]);
  await vi.advanceTimersByTimeAsync(5001);
  await expect(center.issue(user('op-north'), 't1', { type: 'start_mission', confirm: arm.id })).rejects.toThrow(/the arm arm-\S+ expired 0 s ago: arm again/);
  const again = ((await center.issue(user('op-north'), 't1', { type: 'start_mission', params: { missionId: 'm1' } })) as { armed: { id: string } }).armed;
  await vi.advanceTimersByTimeAsync(4000);
  await center.issue(user('op-north'), 't1', { type: 'start_mission', confirm: again.id });
  await vi.advanceTimersByTimeAsync(0);
  expect(published.map((p) => [p.payload['type'], p.payload['params']])).toEqual([['start_mission', { missionId: 'm1' }]]);
});

it('a lease stays while its holder has a session open and lapses leaseSeconds after the last one closed', async () => {
  sessions['op-north'] = 1;
  center.lease(user('op-north'), 't1', 'take');
  await vi.advanceTimersByTimeAsync(120_000); // two minutes, idle, session open
  expect(center.leaseView('t1').holder).toBe('op-north');
  sessions['op-north'] = 0;
  await vi.advanceTimersByTimeAsync(29_000);
  expect(center.leaseView('t1')).toMatchObject({ holder: 'op-north', lapsesAt: T0 + 120_000 + 30_000 });
  await vi.advanceTimersByTimeAsync(1500);
  expect(center.leaseView('t1').holder).toBeNull();
  expect(streamed.filter((s) => s.type === 'lease').map((s) => s.json['why'])).toEqual(['taken', 'lease of op-north lapsed: no live session for 30 s']);
});
