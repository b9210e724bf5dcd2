/**
 * Remote operation through the whole stack, with real components only:
 * operators → gateway (REST and the live stream) → hatake's broker →
 * simulated tractors, which obey, answer and stop; the answers come back the
 * same way and every step lands in the store's command audit.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandAckTopic, commandTopic, exampleTractorSample, SCHEMA_VERSION, type Command, type CommandAck } from '@hatake/protocol';
import type { Fleet } from '@hatake/fleet';
import { waitFor } from '@hatake/testkit';
import { startStack, type Stack } from './stack.ts';

const NORTH_GROUP = { prefix: 'tn', kind: 'tractor', count: 3, farm: 'north', field: 'n1' };
const LOAD_GROUP = { prefix: 'load', kind: 'sensor', count: 20, farm: 'north', field: 'n1' };
const NORTH = ['t1', 'tn-0001', 'tn-0002', 'tn-0003'];

type Sample = { speed: number; mode: string; implement: string };

/** The last telemetry sample of `device` a live client received. */
function lastOf(messages: Record<string, unknown>[], device: string): Sample | undefined {
  let last: Sample | undefined;
  for (const m of messages) if (m['type'] === 'telemetry' && m['device'] === device) last = (m['samples'] as Sample[]).at(-1);
  return last;
}

interface CommandView {
  id: string;
  device: string;
  type: string;
  status: string;
  issuer: string;
  reason?: string;
  ackLatencyMs?: number;
  history: { status: string; t: number }[];
}

describe('remote operation: commands, e-stop, leases, two-step start, audit', () => {
  let stack: Stack;
  let fleet: Fleet;
  let group: Fleet;
  let probe: MqttClient;
  const commandsSeen: { topic: string; command: Command }[] = [];
  const acksSeen: { topic: string; ack: CommandAck }[] = [];

  const call = async (method: 'GET' | 'POST', path: string, user: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${stack.api}${path}`, {
      method,
      headers: { authorization: `Bearer ${await stack.token(user)}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const command = (user: string, device: string, body: Record<string, unknown>) => call('POST', `/api/v1/devices/${device}/commands`, user, body);
  const settled = (user: string, device: string, id: string, until: (c: CommandView) => boolean) =>
    waitFor(`command ${id} of ${device}`, async () => {
      const c = (await call('GET', `/api/v1/devices/${device}/commands/${id}`, user)).body as unknown as CommandView;
      return until(c) ? c : undefined;
    }, { timeoutMs: 10_000 });

  beforeAll(async () => {
    stack = await startStack('embedded', {
      env: { HATAKE_GATEWAY__COMMANDS__LEASE_SECONDS: '5', HATAKE_GATEWAY__COMMANDS__ARM_SECONDS: '1', HATAKE_GATEWAY__COMMANDS__HEARTBEAT_MS: '200' },
      overrides: { deviceGroups: [LOAD_GROUP, NORTH_GROUP] },
    });
    fleet = await stack.fleet({ only: ['t1', 't2'] });
    group = await stack.fleet({ synthetic: 3, kinds: ['tractor'], secrets: { devices: stack.dep.secrets, groups: { tn: stack.dep.secrets['tn']! } } });
    // an admin watching live: the supervisor heartbeat flows while someone who may command is watching
    await stack.live('admin');
    probe = await stack.mqtt('gateway', 'gateway:probe');
    probe.on('message', (topic, payload) => {
      if (topic.endsWith('/cmd')) commandsSeen.push({ topic, command: JSON.parse(String(payload)) as Command });
      else if (topic.endsWith('/cmd/ack')) acksSeen.push({ topic, ack: JSON.parse(String(payload)) as CommandAck });
    });
    await probe.subscribeAsync(['hatake/v1/+/+/cmd', 'hatake/v1/+/+/cmd/ack'], { qos: 1 });
    expect([...fleet.devices, ...group.devices].map((d) => d.id).sort()).toEqual(['t1', 't2', 'tn-0001', 'tn-0002', 'tn-0003']);
    await waitFor('every tractor sending telemetry', () => ([...fleet.devices, ...group.devices].every((d) => d.stats.samples >= 3) ? true : undefined), { timeoutMs: 15_000 });
  });
  afterAll(async () => {
    await probe?.endAsync();
    await group?.stop();
    await fleet?.stop();
    await stack?.stop();
  });

  it('refuses a command to a machine the user may not command before it reaches the broker', async () => {
    const before = commandsSeen.length;
    const south = await command('op-south', 't1', { type: 'stop' });
    expect(south.status).toBe(404); // not even visible to them
    const viewer = await command('view-north', 't1', { type: 'stop' });
    expect(viewer.status).toBe(403);
    expect((viewer.body['error'] as { code: string }).code).toBe('HATAKE_ERR_GATEWAY_FORBIDDEN');
    const agronomist = await command('agro', 't1', { type: 'pause' });
    expect(agronomist.status).toBe(403);
    const sensor = await command('admin', 's1', { type: 'stop' });
    expect(sensor.status).toBe(403);
    expect((sensor.body['error'] as { message: string }).message).toMatch(/only tractors take commands/);
    // a command that is allowed does reach the probe, so the probe would have seen the refused ones
    const ok = await command('op-south', 't2', { type: 'set_speed', params: { speed: 2 } });
    expect(ok.status).toBe(202);
    await waitFor('the allowed command at the broker', () => (commandsSeen.some((c) => c.command.id === ok.body['id']) ? true : undefined));
    expect(commandsSeen.slice(before).map((c) => c.topic)).toEqual([commandTopic('tractor', 't2')]);
    const done = await settled('op-south', 't2', ok.body['id'] as string, (c) => c.status === 'completed');
    expect(done.history.map((h) => h.status)).toEqual(['sent', 'accepted', 'completed']);
    expect(done.ackLatencyMs).toBeGreaterThanOrEqual(0);
  });

  it('refuses malformed commands, leases and queries with every reason, and unknown ids with 404', async () => {
    const bad = async (r: Promise<{ status: number; body: Record<string, unknown> }>, status: number, message: RegExp): Promise<void> => {
      const got = await r;
      expect(got.status, JSON.stringify(got.body)).toBe(status);
      expect((got.body['error'] as { message: string }).message).toMatch(message);
    };
    await bad(command('op-south', 't2', { type: 'fly' }), 400, /body\/type/);
    await bad(command('op-south', 't2', { type: 'set_speed', params: { speed: 99 } }), 400, /body\/params\/speed/);
    await bad(command('op-south', 't2', { type: 'stop', urgent: true }), 400, /urgent/);
    await bad(command('op-south', 't2', { type: 'stop', confirm: 'arm-x' }), 400, /not armed/);
    await bad(command('op-south', 't2<script>', { type: 'stop' }), 400, /params\/id/);
    await bad(call('POST', '/api/v1/devices/t2/lease', 'op-south', { action: 'steal' }), 400, /body\/action/);
    await bad(call('POST', '/api/v1/devices/t2/lease', 'op-south', { action: 'takeover', reason: 'bad\u0007bell' }), 400, /body\/reason/);
    await bad(call('POST', '/api/v1/estop', 'op-south', { farm: 'north' }), 403, /no machine of farm north/);
    await bad(call('GET', '/api/v1/alarms?state=bogus', 'op-south'), 400, /querystring\/state/);
    await bad(call('GET', '/api/v1/devices/t2/commands/cmd-nothing', 'op-south'), 404, /no command cmd-nothing/);
    await bad(call('POST', '/api/v1/alarms/alarm-nothing/ack', 'op-south'), 404, /no alarm/);
    const anonymous = await fetch(`${stack.api}/api/v1/estop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
  });

  it('over the live stream: a command and its updates; a refused one and a malformed one answered with an error', async () => {
    const c = await stack.live('op-south');
    c.ws.send(JSON.stringify({ type: 'command', device: 't2', command: { type: 'set_speed', params: { speed: 2.2 } } }));
    const done = await waitFor('the command completed on the stream', () =>
      c.messages.find((m) => m['type'] === 'command' && (m['command'] as CommandView).device === 't2' && (m['command'] as CommandView).issuer === 'op-south' && (m['command'] as CommandView).status === 'completed'),
    );
    expect((done['command'] as CommandView).history.map((h) => h.status)).toEqual(['sent', 'accepted', 'completed']);
    c.ws.send(JSON.stringify({ type: 'command', device: 't1', command: { type: 'stop' } }));
    const refused = await waitFor('the refusal', () => c.messages.find((m) => m['type'] === 'error' && m['device'] === 't1'));
    expect(refused['code']).toBe('HATAKE_ERR_GATEWAY_NOT_FOUND');
    c.ws.send(JSON.stringify({ type: 'command', device: 't2', command: { type: 'explode', params: { speed: 'fast' } } }));
    const malformed = await waitFor('the malformed one', () => c.messages.find((m) => m['type'] === 'error' && String(m['message']).includes('not a valid command message')));
    expect(malformed['code']).toBe('HATAKE_ERR_GATEWAY_BAD_REQUEST');
    c.ws.close();
  });

  it('a machine refuses an expired command, and runs a repeated id once', async () => {
    const now = Date.now();
    const expired: Command = { v: SCHEMA_VERSION, id: 'probe-expired-1', type: 'pause', issuer: 'op-south', issuedAt: now - 60_000, expiresAt: now - 30_000 };
    await probe.publishAsync(commandTopic('tractor', 't2'), JSON.stringify(expired), { qos: 1 });
    const refusal = await waitFor('the refusal', () => acksSeen.find((a) => a.ack.id === 'probe-expired-1'));
    expect(refusal.ack.status).toBe('rejected');
    expect(refusal.ack.reason).toMatch(/expired/);

    const twice: Command = { v: SCHEMA_VERSION, id: 'probe-twice-1', type: 'set_speed', issuer: 'op-south', issuedAt: now, expiresAt: now + 30_000, params: { speed: 1.5 } };
    await probe.publishAsync(commandTopic('tractor', 't2'), JSON.stringify(twice), { qos: 1 });
    await probe.publishAsync(commandTopic('tractor', 't2'), JSON.stringify(twice), { qos: 1 });
    await waitFor('its completion', () => acksSeen.find((a) => a.ack.id === 'probe-twice-1' && a.ack.status === 'completed'));
    await new Promise((r) => setTimeout(r, 1000)); // time for a second execution to show, were there one
    expect(acksSeen.filter((a) => a.ack.id === 'probe-twice-1').map((a) => a.ack.status)).toEqual(['accepted', 'completed']);
    expect(acksSeen.every((a) => a.topic === commandAckTopic('tractor', 't2'))).toBe(true);
  });

  it('lease: another operator cannot command a leased machine but can e-stop it; a takeover is recorded; a lapsed lease frees the machine', async () => {
    const take = await call('POST', '/api/v1/devices/tn-0003/lease', 'op-north', { action: 'take' });
    expect(take.status).toBe(200);
    expect(take.body['holder']).toBe('op-north');
    const blocked = await command('admin', 'tn-0003', { type: 'pause' });
    expect(blocked.status).toBe(409);
    expect((blocked.body['error'] as { message: string }).message).toMatch(/controlled by op-north/);
    const stop = await command('admin', 'tn-0003', { type: 'estop' });
    expect(stop.status).toBe(202);
    await settled('admin', 'tn-0003', stop.body['id'] as string, (c) => c.status === 'accepted' || c.status === 'completed');

    const noReason = await call('POST', '/api/v1/devices/tn-0003/lease', 'admin', { action: 'takeover' });
    expect(noReason.status).toBe(400);
    const over = await call('POST', '/api/v1/devices/tn-0003/lease', 'admin', { action: 'takeover', reason: 'operator north left the centre' });
    expect(over.body['holder']).toBe('admin');
    await stack.gateway.flushAudit();
    const events = (await call('GET', '/api/v1/events?device=tn-0003', 'admin')).body['events'] as { message?: string }[];
    expect(events.some((e) => /taken over from op-north by admin: operator north left the centre/.test(e.message ?? ''))).toBe(true);
    expect((await command('op-north', 'tn-0003', { type: 'stop' })).status).toBe(409);

    // op-north has no live session: a lease taken over REST lapses leaseSeconds (5 s here) after its last use
    expect((await call('POST', '/api/v1/devices/tn-0002/lease', 'op-north', { action: 'take' })).body['holder']).toBe('op-north');
    const lapsesAt = (await call('GET', '/api/v1/devices/tn-0002/lease', 'op-north')).body['lapsesAt'] as number;
    expect(lapsesAt).toBeGreaterThan(Date.now());
    expect((await command('admin', 'tn-0002', { type: 'pause' })).status).toBe(409);
    await waitFor('the lease to lapse', async () => ((await call('GET', '/api/v1/devices/tn-0002/lease', 'admin')).body['holder'] === null ? true : undefined), { timeoutMs: 10_000 });
    expect((await command('admin', 'tn-0002', { type: 'pause' })).status).toBe(202);
  });

  it('two-step resume: confirm without an arm, or with an expired arm, is refused; arm then confirm starts it', async () => {
    const pause = await command('op-north', 'tn-0001', { type: 'pause' });
    expect(pause.status).toBe(202);
    await settled('op-north', 'tn-0001', pause.body['id'] as string, (c) => c.status === 'completed');
    const unarmed = await command('op-north', 'tn-0001', { type: 'resume', confirm: 'arm-nothing' });
    expect(unarmed.status).toBe(409);
    expect((unarmed.body['error'] as { message: string }).message).toMatch(/arm first/);
    const arm1 = await command('op-north', 'tn-0001', { type: 'resume' });
    expect(arm1.status).toBe(200);
    const armId = (arm1.body['armed'] as { id: string }).id;
    await new Promise((r) => setTimeout(r, 1300)); // armSeconds is 1 here
    const late = await command('op-north', 'tn-0001', { type: 'resume', confirm: armId });
    expect(late.status).toBe(409);
    expect((late.body['error'] as { message: string }).message).toMatch(/expired/);
    const before = commandsSeen.filter((c) => c.command.type === 'resume').length;
    expect(before).toBe(0); // nothing armed ever reached a machine
    const arm2 = await command('op-north', 'tn-0001', { type: 'resume' });
    const go = await command('op-north', 'tn-0001', { type: 'resume', confirm: (arm2.body['armed'] as { id: string }).id });
    expect(go.status).toBe(202);
    await settled('op-north', 'tn-0001', go.body['id'] as string, (c) => c.status === 'completed');
    // someone else's arm cannot be confirmed, nor one with other parameters; return_home is armed too
    const arm3 = await command('op-north', 'tn-0001', { type: 'start_mission', params: { missionId: 'm1' } });
    const arm3Id = (arm3.body['armed'] as { id: string }).id;
    expect((await command('admin', 'tn-0001', { type: 'start_mission', params: { missionId: 'm1' }, confirm: arm3Id })).status).toBe(409);
    const switched = await command('op-north', 'tn-0001', { type: 'start_mission', params: { missionId: 'm2' }, confirm: arm3Id });
    expect(switched.status).toBe(409);
    expect((switched.body['error'] as { message: string }).message).toMatch(/differ from what was armed/);
    const home = await command('op-north', 'tn-0001', { type: 'return_home' });
    expect(home.status).toBe(200);
    expect((home.body['armed'] as { type: string }).type).toBe('return_home');
    expect(commandsSeen.filter((c) => c.command.type === 'start_mission' || c.command.type === 'return_home')).toEqual([]);
  });

  it('e-stop of a whole farm: every machine acknowledges, every speed reaches zero, latencies recorded; the audit holds every step in order with its issuer', async () => {
    const live = await stack.live('op-north');
    const stop = await call('POST', '/api/v1/estop', 'op-north', { farm: 'north' });
    expect(stop.status).toBe(202);
    const issued = stop.body['commands'] as CommandView[];
    expect(issued.map((c) => c.device).sort()).toEqual([...NORTH].sort());
    for (const c of issued) {
      const done = await settled('op-north', c.device, c.id, (x) => x.status === 'accepted' || x.status === 'completed');
      expect(done.ackLatencyMs, c.device).toBeGreaterThan(0);
      expect(done.ackLatencyMs, c.device).toBeLessThan(2000); // acknowledged within the e-stop's ack timeout
      expect(done.issuer).toBe('op-north');
      expect(done.history[0]!.status).toBe('sent');
    }
    // the live stream carried each command's changes
    await waitFor('command updates on the live stream', () =>
      issued.every((c) => live.messages.some((m) => m['type'] === 'command' && (m['command'] as CommandView).id === c.id && (m['command'] as CommandView).status !== 'sent')) ? true : undefined,
    );
    // every north tractor's telemetry shows it standing, in estop; the south one goes on
    await waitFor('every north tractor at speed zero', () => (NORTH.every((d) => lastOf(live.messages, d)?.speed === 0 && lastOf(live.messages, d)?.mode === 'estop') ? true : undefined), { timeoutMs: 20_000 });
    expect(fleet.devices.find((d) => d.id === 't2')).toBeDefined();

    await stack.gateway.flushAudit();
    const audit = (await call('GET', '/api/v1/devices/tn-0001/audit', 'op-north')).body['audit'] as { commandId: string; status: string; issuer: string; type: string; t: number }[];
    const byCommand = new Map<string, { status: string; issuer: string }[]>();
    for (const a of audit) byCommand.set(a.commandId, [...(byCommand.get(a.commandId) ?? []), a]);
    const estop = issued.find((c) => c.device === 'tn-0001')!;
    expect(byCommand.get(estop.id)?.map((a) => a.status).slice(0, 2)).toEqual(['sent', 'accepted']);
    for (const steps of byCommand.values()) {
      expect(steps[0]!.status).toBe('sent');
      expect(new Set(steps.map((s) => s.issuer)).size).toBe(1);
    }
    expect(audit.map((a) => a.t)).toEqual([...audit.map((a) => a.t)].sort((x, y) => x - y));
    expect([...byCommand.values()].some((steps) => steps[0]!.issuer === 'op-north')).toBe(true);
  });
});

describe('link loss: the supervisor heartbeat and link_lost', () => {
  let stack: Stack;
  const spec = { workingWidth: 12, linkLossSeconds: 1, silentSeconds: 2 };
  beforeAll(async () => {
    stack = await startStack('embedded', {
      env: { HATAKE_GATEWAY__COMMANDS__HEARTBEAT_MS: '200' },
      overrides: {
        devices: [
          { id: 't1', kind: 'tractor', name: 'Tractor 1', farm: 'north', field: 'n1', tractor: spec },
          { id: 't2', kind: 'tractor', name: 'Tractor 2', farm: 'south', field: 's1', tractor: spec },
        ],
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });


  it('heartbeat stopped: every tractor in automatic mode stops within its time, raises its implement and says why; it does not restart when the heartbeat returns', async () => {
    const operator = await stack.live('admin'); // heartbeats flow while an operator watches
    const fleet = await stack.fleet({ only: ['t1', 't2'] });
    try {
      const watcher = await stack.live('view-north'); // a viewer's session sends no heartbeat
      await waitFor('both moving in auto', () => (['t1', 't2'].every((d) => lastOf(operator.messages, d)?.mode === 'auto' && lastOf(operator.messages, d)!.speed > 0) ? true : undefined), { timeoutMs: 15_000 });
      const beats = (await stack.gateway.metrics.heartbeats.get()).values[0]?.value ?? 0;
      expect(beats).toBeGreaterThan(0);
      operator.ws.close();
      const silencedAt = Date.now();
      await waitFor('t1 standing, stopped, implement raised', () => {
        const s = lastOf(watcher.messages, 't1');
        return s?.mode === 'stopped' && s.speed === 0 && s.implement === 'raised' ? true : undefined;
      }, { timeoutMs: 10_000 });
      // 1 s without a beat, then braking from work speed; allow for the 200 ms beat period and a telemetry period
      expect(Date.now() - silencedAt).toBeLessThan(6000);
      // the other farm's tractor too (no one here may see it live: read it back from the store)
      await waitFor('t2 standing, stopped, implement raised', async () => {
        await stack.ingest.flush();
        const last = (await stack.get('/api/v1/devices/t2', 'admin')).body['last'] as { speed?: number; mode?: string; implement?: string } | undefined;
        return last?.mode === 'stopped' && last.speed === 0 && last.implement === 'raised' ? true : undefined;
      }, { timeoutMs: 10_000 });
      const cause = watcher.messages.find((m) => m['type'] === 'event' && m['device'] === 't1' && (m['event'] as { type: string }).type === 'link_lost');
      expect((cause?.['event'] as { data?: Record<string, unknown> } | undefined)?.data?.['cause']).toBe('heartbeat_lost');
      // the heartbeat returns: the machine stays where it is until an operator resumes it
      const back = await stack.live('admin');
      await new Promise((r) => setTimeout(r, 2500));
      expect(lastOf(back.messages, 't1')).toMatchObject({ mode: 'stopped', speed: 0 });
    } finally {
      await fleet.stop();
    }
  });

  it('raises link_lost for a machine gone silent, and clears it when it is heard again; an operator acknowledges it', async () => {
    const first = await stack.fleet({ only: ['t2'] });
    await waitFor('t2 heard', () => (first.devices[0]!.stats.samples >= 2 ? true : undefined));
    await first.stop();
    const alarms = async (state: 'active' | 'all') => (await stack.get(`/api/v1/alarms?state=${state}`, 'op-south')).body['alarms'] as { id: string; type: string; device: string; acknowledgedBy?: string; clearedBy?: string }[];
    const raised = await waitFor('link_lost raised', async () => (await alarms('active')).find((a) => a.type === 'link_lost' && a.device === 't2'), { timeoutMs: 10_000 });
    // another farm's operator does not see it (t1's own link_lost, from the test before, is theirs)
    expect(((await stack.get('/api/v1/alarms', 'op-north')).body['alarms'] as { device: string }[]).filter((a) => a.device === 't2')).toEqual([]);
    const ack = await fetch(`${stack.api}/api/v1/alarms/${raised.id}/ack`, { method: 'POST', headers: { authorization: `Bearer ${await stack.token('op-south')}` } });
    expect(ack.status).toBe(200);
    expect(((await ack.json()) as { acknowledgedBy: string }).acknowledgedBy).toBe('op-south');
    const again = await stack.fleet({ only: ['t2'] });
    try {
      await waitFor('link_lost cleared', async () => ((await alarms('active')).some((a) => a.id === raised.id) ? undefined : true), { timeoutMs: 10_000 });
      const all = await alarms('all');
      expect(all.find((a) => a.id === raised.id)).toMatchObject({ acknowledgedBy: 'op-south', clearedBy: 'system' });
    } finally {
      await again.stop();
    }
  });
});

describe('the operating zone, and a machine that does not answer', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('embedded', { env: { HATAKE_GATEWAY__COMMANDS__HEARTBEAT_MS: '200', HATAKE_GATEWAY__COMMANDS__EXPIRY_SECONDS__ESTOP: '3' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  type AlarmRow = { id: string; type: string; device: string; message: string };
  const alarms = async (): Promise<AlarmRow[]> => (await stack.get('/api/v1/alarms?state=all', 'admin')).body['alarms'] as AlarmRow[];

  it('a tractor drifting out of its field raises geofence_exit and receives the stop', async () => {
    const live = await stack.live('admin');
    const fleet = await stack.fleet({ only: ['t1'], faults: { driftMps: 5 }, faultDevices: ['t1'] });
    try {
      const alarm = await waitFor('geofence_exit for t1', async () => (await alarms()).find((a) => a.type === 'geofence_exit' && a.device === 't1'), { timeoutMs: 40_000 });
      expect(alarm.message).toMatch(/left its operating zone north\/n1/);
      const stop = await waitFor('the automatic stop, accepted', () =>
        live.messages.find((m) => m['type'] === 'command' && (m['command'] as CommandView).device === 't1' && (m['command'] as CommandView).issuer === 'hatake-zone' && (m['command'] as CommandView).status !== 'sent'),
      );
      expect((stop['command'] as CommandView).type).toBe('stop');
      expect(['accepted', 'completed']).toContain((stop['command'] as CommandView).status);
      // and the machine stands, implement raised
      await waitFor('t1 standing after the zone stop', () => {
        const last = lastOf(live.messages, 't1');
        return last?.speed === 0 && last.implement === 'raised' && last.mode === 'stopped' ? true : undefined;
      }, { timeoutMs: 15_000 });
    } finally {
      await fleet.stop();
    }
  });

  it('a late answer still counts: timed_out, then accepted and completed; the estop_unacked alarm clears itself', async () => {
    const live = await stack.live('admin');
    const fleet = await stack.fleet({ only: ['t2'], faults: { ackDelayMs: 2500 }, faultDevices: ['t2'] });
    try {
      await waitFor('t2 sending', () => (fleet.devices[0]!.stats.samples >= 2 ? true : undefined));
      const res = await fetch(`${stack.api}/api/v1/devices/t2/commands`, { method: 'POST', headers: { authorization: `Bearer ${await stack.token('op-south')}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'estop' }) });
      const id = ((await res.json()) as { id: string }).id;
      const states = (): string[] => live.messages.filter((m) => m['type'] === 'command' && (m['command'] as CommandView).id === id).map((m) => (m['command'] as CommandView).status);
      await waitFor('completed', () => (states().includes('completed') ? true : undefined), { timeoutMs: 15_000 });
      expect(states()).toEqual(['sent', 'timed_out', 'accepted', 'completed']);
      const phases = live.messages.filter((m) => m['type'] === 'alarm' && (m['alarm'] as AlarmRow).device === 't2' && (m['alarm'] as AlarmRow).type === 'estop_unacked').map((m) => m['phase']);
      expect(phases).toEqual(['raised', 'cleared']);
    } finally {
      await fleet.stop();
    }
  });

  it('an e-stop the machine never answers: timed_out and an estop_unacked alarm after 2 s, expired when its validity ends', async () => {
    const live = await stack.live('admin');
    const fleet = await stack.fleet({ only: ['t2'], faults: { ignoreCommands: true }, faultDevices: ['t2'] });
    try {
      await waitFor('t2 sending', () => (fleet.devices[0]!.stats.samples >= 2 ? true : undefined));
      const res = await fetch(`${stack.api}/api/v1/devices/t2/commands`, { method: 'POST', headers: { authorization: `Bearer ${await stack.token('op-south')}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'estop' }) });
      const id = ((await res.json()) as { id: string }).id;
      const states = (): string[] => live.messages.filter((m) => m['type'] === 'command' && (m['command'] as CommandView).id === id).map((m) => (m['command'] as CommandView).status);
      await waitFor('expired', () => (states().includes('expired') ? true : undefined), { timeoutMs: 10_000 });
      expect(states()).toEqual(['sent', 'timed_out', 'expired']);
      const alarm = (await alarms()).find((a) => a.type === 'estop_unacked' && a.device === 't2');
      expect(alarm?.message).toMatch(/not acknowledged within 2 s/);
      expect(fleet.devices[0]!.stats.commandsIgnored).toBeGreaterThan(0);
    } finally {
      await fleet.stop();
    }
  });

  it("a plow's road corridors give geofence_enter / geofence_exit events from the same watcher, stored and streamed", async () => {
    const live = await stack.live('crew');
    const fleet = await stack.fleet({ only: ['p1'] });
    try {
      const entered = await waitFor('p1 entering its first road', () =>
        live.messages.find((m) => m['type'] === 'event' && m['device'] === 'p1' && (m['event'] as { type: string }).type === 'geofence_enter'),
      { timeoutMs: 15_000 });
      expect((entered['event'] as { data: { road: string } }).data.road).toBe('ra');
      await stack.gateway.flushAudit();
      const stored = (await stack.get('/api/v1/events?device=p1', 'crew')).body['events'] as { type: string; data?: { road?: string } }[];
      expect(stored.some((e) => e.type === 'geofence_enter' && e.data?.road === 'ra')).toBe(true);
    } finally {
      await fleet.stop();
    }
  });

  it('a noisy fix near the edge raises nothing; a precise one outside does', async () => {
    const device = await stack.mqtt('t2');
    // after every sample t2 sent in the test before (the watcher ignores samples older than the last it counted)
    const t0 = Date.now();
    let seq = 100_000;
    const send = async (lat: number, fix: 'gps' | 'rtk_fixed', hdop: number): Promise<void> => {
      const s = exampleTractorSample({ seq, t: t0 + (seq - 100_000) * 200, lat, lon: 141.8015, fix, hdop, mode: 'auto', speed: 1 });
      seq++;
      await device.publishAsync('hatake/v1/tractor/t2/telemetry', JSON.stringify({ v: 1, ...s }), { qos: 1 });
    };
    const metre = 1 / 111_320;
    for (let i = 0; i < 3; i++) await send(43.1205, 'rtk_fixed', 0.8); // in the middle of s1
    for (let i = 0; i < 6; i++) await send(43.12 - 2 * metre, 'gps', 3); // 2 m outside, but ±18 m
    await stack.gateway.flushAudit();
    await new Promise((r) => setTimeout(r, 500));
    expect((await alarms()).filter((a) => a.device === 't2' && a.type === 'geofence_exit')).toEqual([]);
    for (let i = 0; i < 2; i++) await send(43.12 - 3 * metre, 'rtk_fixed', 0.8); // 3 m outside, ±4 cm
    await waitFor('geofence_exit for t2', async () => (await alarms()).find((a) => a.type === 'geofence_exit' && a.device === 't2'));
    await device.endAsync();
  });
});
