/**
 * The gateway with a real broker, real MQTT devices, a real store, real HTTP
 * and real WebSocket clients.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildBroker, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import { buildGateway, type Gateway } from '@hatake/gateway';
import { EXAMPLE_T0, exampleEvent, examplePlowSample, exampleSensorSample, exampleState, exampleTractorSample } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore, type TelemetryStore } from '@hatake/store';
import { testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';

let dep: TestDeployment;
let broker: HatakeBroker;
let addr: BrokerAddresses;
let store: TelemetryStore;
let gateway: Gateway;
let base: string;
let wsUrl: string;
const devices: MqttClient[] = [];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  dep = await testDeployment({ env: { HATAKE_GATEWAY__HTTP__PORT: '0', HATAKE_GATEWAY__WS__HIGH_WATER_BYTES: '65536', HATAKE_GATEWAY__API__MAX_RANGE_DAYS: '7' } });
  broker = buildBroker(dep.config, { logger: silentLogger() });
  addr = await broker.start();
  store = new EmbeddedStore(':memory:', { logger: silentLogger() });
  await store.start();
  await store.writeSamples(Array.from({ length: 50 }, (_, seq) => ({ kind: 'tractor' as const, device: 't1', farm: 'north', field: 'n1', sample: exampleTractorSample({ seq, t: EXAMPLE_T0 + seq * 200 }) })));
  await store.writeSamples([{ kind: 'tractor', device: 't2', farm: 'south', field: 's1', sample: exampleTractorSample({ seq: 0 }) }]);
  await store.writeStates([{ kind: 'tractor', device: 't1', t: EXAMPLE_T0, state: exampleState() }]);
  await store.writeEvents([{ kind: 'tractor', device: 't1', farm: 'north', event: exampleEvent() }, { kind: 'tractor', device: 't2', farm: 'south', event: exampleEvent({ type: 'estop', severity: 'critical' }) }]);
  gateway = buildGateway(dep.config, { logger: silentLogger(), store, password: dep.secrets['gateway']!, mqttUrl: addr.mqtt.url });
  const { http } = await gateway.start();
  base = http.url;
  wsUrl = http.ws;
  for (const u of ['admin', 'op-north', 'op-south', 'crew', 'view-north']) {
    const res = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: u, password: dep.secrets[u] }) });
    expect(res.status).toBe(200);
    tokens[u] = ((await res.json()) as { token: string }).token;
  }
});

afterAll(async () => {
  await Promise.all(devices.map((d) => d.endAsync()));
  await gateway.stop();
  await store.stop();
  await broker.stop();
});

const get = async (path: string, user?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await fetch(`${base}${path}`, { headers: { ...(user ? { authorization: `Bearer ${tokens[user]}` } : {}), ...headers } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const errorOf = (body: Record<string, unknown>): { code: string; message: string } => body['error'] as { code: string; message: string };

async function device(id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(addr.mqtt.url, { username: id, password: dep.secrets[id], clientId: id, protocolVersion: 4, reconnectPeriod: 0 });
  devices.push(c);
  return c;
}

interface Live {
  readonly ws: WebSocket;
  readonly messages: Record<string, unknown>[];
  next(type: string, pred?: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  close(): void;
}

function live(opts: { token?: string; via?: 'header' | 'protocol' | 'query' } = {}): Promise<Live> {
  const via = opts.via ?? 'protocol';
  const token = opts.token ?? '';
  const ws =
    via === 'header'
      ? new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } })
      : via === 'query'
        ? new WebSocket(`${wsUrl}?access_token=${encodeURIComponent(token)}`)
        : new WebSocket(wsUrl, ['hatake.v1', `bearer.${token}`]);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        next: (type, pred = () => true) => waitFor(`a ${type} message`, () => messages.find((m) => m['type'] === type && pred(m))),
        close: () => ws.close(),
      }),
    );
  });
}

describe('sign-in', () => {
  it('refuses a wrong password, an unknown user and a malformed body, with reasons', async () => {
    const post = (body: unknown) => fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const wrong = await post({ username: 'admin', password: 'nope' });
    expect(wrong.status).toBe(401);
    expect(errorOf((await wrong.json()) as Record<string, unknown>)).toEqual({ code: 'HATAKE_ERR_GATEWAY_UNAUTHORIZED', message: 'wrong username or password' });
    expect((await post({ username: 'ghost', password: 'x' })).status).toBe(401);
    const bad = await post({ username: 'admin' });
    expect(bad.status).toBe(400);
    expect(errorOf((await bad.json()) as Record<string, unknown>).message).toContain("must have required property 'password'");
  });

  it('blocks a user from an address after repeated failures', async () => {
    const post = () => fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'agro', password: 'wrong' }) });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post()).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
  });

  it('knows who is signed in', async () => {
    expect((await get('/api/v1/me', 'view-north')).body).toEqual({ username: 'view-north', name: 'Viewer north', roles: ['viewer'], farms: ['north'] });
  });
});

describe('REST', () => {
  it('refuses requests without a valid token', async () => {
    const none = await get('/api/v1/devices');
    expect(none.status).toBe(401);
    expect(errorOf(none.body).code).toBe('HATAKE_ERR_GATEWAY_UNAUTHORIZED');
    const forged = await get('/api/v1/devices', undefined, { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.x' });
    expect(forged.status).toBe(401);
    const other = buildGateway(dep.config, { logger: silentLogger(), store, password: 'x' });
    const foreign = await other.tokens.issue('admin');
    expect((await get('/api/v1/devices', undefined, { authorization: `Bearer ${foreign.token}` })).status).toBe(401);
  });

  it('lists exactly the devices each role and scope may see, with last state and position', async () => {
    const ids = async (u: string) => ((await get('/api/v1/devices', u)).body['devices'] as { id: string }[]).map((d) => d.id).sort();
    expect(await ids('admin')).toEqual(['p1', 's1', 's2', 't1', 't2']);
    expect(await ids('view-north')).toEqual(['s1', 't1']);
    expect(await ids('op-south')).toEqual(['s2', 't2']);
    expect(await ids('crew')).toEqual(['p1']);
    const t1 = ((await get('/api/v1/devices', 'view-north')).body['devices'] as Record<string, unknown>[]).find((d) => d['id'] === 't1')!;
    expect(t1).toMatchObject({ kind: 'tractor', farm: 'north', field: 'n1', online: true, lastSeen: EXAMPLE_T0 + 49 * 200, state: { online: true, mode: 'auto' }, position: { fix: 'rtk_fixed', lat: 43.2312 } });
    expect((await get('/api/v1/devices?kind=sensor', 'admin')).body['devices']).toHaveLength(2);
  });

  it('enforces scope on every device route', async () => {
    const forbidden = await get('/api/v1/devices/t2', 'view-north');
    expect(forbidden.status).toBe(403);
    expect(errorOf(forbidden.body)).toEqual({ code: 'HATAKE_ERR_GATEWAY_FORBIDDEN', message: 'device t2 is not in your farms' });
    expect((await get(`/api/v1/devices/t2/telemetry?from=${EXAMPLE_T0 - 1000}&to=${EXAMPLE_T0 + 1000}`, 'view-north')).status).toBe(403);
    expect((await get('/api/v1/devices?farm=south', 'view-north')).status).toBe(403);
    expect((await get('/api/v1/devices/p1', 'op-north')).status).toBe(403);
    expect((await get('/api/v1/devices/p1', 'crew')).status).toBe(200);
    const events = (await get(`/api/v1/events?from=${EXAMPLE_T0 - 60_000}&to=${EXAMPLE_T0 + 60_000}`, 'view-north')).body['events'] as { device: string }[];
    expect(events.map((e) => e.device)).toEqual(['t1']);
    expect((await get(`/api/v1/events?device=t2&from=${EXAMPLE_T0 - 60_000}&to=${EXAMPLE_T0 + 60_000}`, 'view-north')).status).toBe(403);
  });

  it('returns history, raw and downsampled', async () => {
    const raw = await get(`/api/v1/devices/t1/telemetry?from=${new Date(EXAMPLE_T0).toISOString()}&to=${EXAMPLE_T0 + 10_000}`, 'op-north');
    expect(raw.status).toBe(200);
    expect(raw.body).toMatchObject({ device: 't1', kind: 'tractor', from: EXAMPLE_T0, to: EXAMPLE_T0 + 10_000, count: 50, truncated: false });
    expect((raw.body['samples'] as { seq: number }[]).map((s) => s.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const buckets = await get(`/api/v1/devices/t1/telemetry?from=${EXAMPLE_T0}&to=${EXAMPLE_T0 + 10_000}&every=2s`, 'op-north');
    expect(buckets.body).toMatchObject({ every: 2000, count: 5 });
    expect((buckets.body['samples'] as { n: number }[]).map((b) => b.n)).toEqual([10, 10, 10, 10, 10]);
    const page = await get(`/api/v1/devices/t1/telemetry?from=${EXAMPLE_T0}&to=${EXAMPLE_T0 + 10_000}&limit=20`, 'op-north');
    expect(page.body).toMatchObject({ count: 20, truncated: true });
  });

  it.each([
    ['a time that is not one', '?from=yesterday', 'querystring/from must match pattern'],
    ['an impossible date', '?from=2026-13-45T99:00:00Z', 'from is not a time'],
    ['from after to', `?from=${EXAMPLE_T0 + 1000}&to=${EXAMPLE_T0}`, 'from must be before to'],
    ['a range over the limit', `?from=${EXAMPLE_T0 - 8 * 86_400_000}&to=${EXAMPLE_T0}`, 'the range is longer than 7 days'],
    ['a bad bucket width', '?every=10 minutes', 'querystring/every must match pattern'],
    ['a bucket wider than the range', `?from=${EXAMPLE_T0}&to=${EXAMPLE_T0 + 1000}&every=1h`, 'every is wider than the range'],
    ['a limit over the maximum', '?limit=100000000', 'limit must be at most 100000'],
    ['a limit that is not a number', '?limit=lots', 'querystring/limit must be integer'],
    ['an unknown parameter', '?form=1', 'querystring must NOT have additional properties (form)'],
  ])('answers 400 with the reason for %s', async (_name, query, reason) => {
    const r = await get(`/api/v1/devices/t1/telemetry${query}`, 'admin');
    expect(r.status).toBe(400);
    expect(errorOf(r.body).code).toBe('HATAKE_ERR_GATEWAY_BAD_REQUEST');
    expect(errorOf(r.body).message).toContain(reason);
  });

  it('answers 404 for an unknown device or route, 400 for a malformed id', async () => {
    expect((await get('/api/v1/devices/ghost', 'admin')).status).toBe(404);
    expect((await get('/api/v1/nothing-here', 'admin')).status).toBe(404);
    const bad = await get('/api/v1/devices/a%20b', 'admin');
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body).message).toContain('params/id must match pattern');
  });

  it('serves health, metrics and an OpenAPI document of its routes', async () => {
    expect((await get('/healthz')).body).toEqual({ status: 'ok' });
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('hatake_gateway_http_requests_total');
    const doc = (await get('/api/v1/openapi.json')).body as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/auth/login', '/api/v1/devices', '/api/v1/devices/{id}', '/api/v1/devices/{id}/telemetry', '/api/v1/events']));
  });
});

describe('live stream', () => {
  it('refuses a missing or bad token at the upgrade', async () => {
    await expect(live({ token: '' })).rejects.toThrow('refused with 401');
    await expect(live({ token: 'not-a-token' })).rejects.toThrow('refused with 401');
    await expect(live({ token: 'not-a-token', via: 'header' })).rejects.toThrow('refused with 401');
  });

  it('accepts the token by header, subprotocol or query, and says what the user may see', async () => {
    for (const via of ['header', 'protocol', 'query'] as const) {
      const c = await live({ token: tokens['view-north']!, via });
      const hello = await c.next('hello');
      expect((hello['devices'] as { id: string }[]).map((d) => d.id).sort()).toEqual(['s1', 't1']);
      if (via === 'protocol') expect(c.ws.protocol).toBe('hatake.v1');
      c.close();
    }
  });

  it('streams every tractor\'s telemetry to a farm\'s viewer, and nothing of another farm', async () => {
    const north = await live({ token: tokens['view-north']! });
    const adminLive = await live({ token: tokens['admin']! });
    await north.next('hello');
    const t1 = await device('t1');
    const t2 = await device('t2');
    const now = Date.now();
    for (let seq = 0; seq < 20; seq++) {
      await t1.publishAsync('hatake/v1/tractor/t1/telemetry', JSON.stringify({ v: 1, ...exampleTractorSample({ seq, t: now + seq }) }), { qos: 1 });
      await t2.publishAsync('hatake/v1/tractor/t2/telemetry', JSON.stringify({ v: 1, ...exampleTractorSample({ seq, t: now + seq }) }), { qos: 1 });
    }
    await t2.publishAsync('hatake/v1/tractor/t2/state', JSON.stringify(exampleState()), { qos: 1, retain: true });
    await t2.publishAsync('hatake/v1/tractor/t2/event', JSON.stringify(exampleEvent({ type: 'estop', severity: 'critical' })), { qos: 1 });
    await t1.publishAsync('hatake/v1/tractor/t1/event', JSON.stringify(exampleEvent()), { qos: 1 });
    await adminLive.next('event', (m) => m['device'] === 't2');
    await north.next('event', (m) => m['device'] === 't1');
    const northTelemetry = north.messages.filter((m) => m['type'] === 'telemetry');
    expect(northTelemetry.map((m) => (m['samples'] as { seq: number }[])[0]!.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(north.messages.some((m) => m['device'] === 't2')).toBe(false);
    expect(adminLive.messages.filter((m) => m['type'] === 'telemetry' && m['device'] === 't2')).toHaveLength(20);
    north.close();
    adminLive.close();
  });

  it('lets a client narrow its stream, and refuses what it may not see', async () => {
    const c = await live({ token: tokens['admin']! });
    await c.next('hello');
    c.ws.send(JSON.stringify({ type: 'subscribe', devices: ['p1'] }));
    await c.next('subscribed');
    const s1 = await device('s1');
    const p1 = await device('p1');
    await s1.publishAsync('hatake/v1/sensor/s1/telemetry', JSON.stringify({ v: 1, ...exampleSensorSample({ t: Date.now() }) }), { qos: 1 });
    await p1.publishAsync('hatake/v1/plow/p1/telemetry', JSON.stringify({ v: 1, ...examplePlowSample({ t: Date.now() }) }), { qos: 1 });
    await c.next('telemetry', (m) => m['device'] === 'p1');
    expect(c.messages.some((m) => m['type'] === 'telemetry' && m['device'] === 's1')).toBe(false);
    c.ws.send(JSON.stringify({ type: 'ping' }));
    await c.next('pong');
    c.close();

    const v = await live({ token: tokens['view-north']! });
    await v.next('hello');
    v.ws.send(JSON.stringify({ type: 'subscribe', devices: ['t2'] }));
    expect(await v.next('error')).toMatchObject({ code: 'HATAKE_ERR_GATEWAY_FORBIDDEN', message: 'not yours to see: t2' });
    v.ws.send(JSON.stringify({ type: 'subscribe', farm: 'south' }));
    expect(await v.next('error', (m) => String(m['message']).includes('farm'))).toMatchObject({ code: 'HATAKE_ERR_GATEWAY_FORBIDDEN' });
    v.ws.send(JSON.stringify({ type: 'subscribe', devices: ['ghost'] }));
    expect(await v.next('error', (m) => m['code'] === 'HATAKE_ERR_GATEWAY_NOT_FOUND')).toMatchObject({ message: 'no such device: ghost' });
    v.ws.send('{"type":"subscribe","kinds":["boat"]}');
    expect(await v.next('error', (m) => String(m['message']).includes('live protocol'))).toMatchObject({ code: 'HATAKE_ERR_GATEWAY_BAD_REQUEST' });
    v.ws.send('not json');
    expect(await v.next('error', (m) => m['message'] === 'not valid JSON')).toBeDefined();
    expect(v.ws.readyState).toBe(WebSocket.OPEN);
    v.close();
  });

  it('keeps a slow client to the latest per device and says what it dropped', async () => {
    const c = await live({ token: tokens['admin']! });
    await c.next('hello');
    c.ws.send(JSON.stringify({ type: 'subscribe', devices: ['s2'] }));
    await c.next('subscribed');
    // stop reading: the server's send buffer fills
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const s2 = await device('s2');
    const telemetrySeen = async (): Promise<number> => (await gateway.metrics.mqttMessages.get()).values.find((v) => v.labels['channel'] === 'telemetry')?.value ?? 0;
    const seenBefore = await telemetrySeen();
    const t = Date.now() - 600_000;
    const batch = (k: number) => JSON.stringify({ v: 1, samples: Array.from({ length: 500 }, (_, i) => exampleSensorSample({ seq: k * 500 + i, t: t + k * 500 + i })) });
    const total = 120;
    for (let k = 0; k < total; k++) await s2.publishAsync('hatake/v1/sensor/s2/telemetry', batch(k), { qos: 1 });
    await waitFor('the gateway to see every message', async () => ((await telemetrySeen()) - seenBefore >= total ? true : undefined));
    socket.resume();
    const dropped = await c.next('dropped');
    expect((dropped['telemetry'] as Record<string, number>)['s2']).toBeGreaterThan(0);
    // the last message published is the last one received: the latest was kept
    await waitFor('the latest message', () => c.messages.find((m) => m['type'] === 'telemetry' && (m['samples'] as { seq: number }[])[0]!.seq === (total - 1) * 500));
    const received = c.messages.filter((m) => m['type'] === 'telemetry').length;
    // every message was either received or counted as dropped (the kernel's buffers may let a client be slow more than once)
    const droppedTotal = c.messages.filter((m) => m['type'] === 'dropped').reduce((n, m) => n + ((m['telemetry'] as Record<string, number>)['s2'] ?? 0), 0);
    expect(received + droppedTotal).toBe(total);
    expect(received).toBeLessThan(total);
    c.close();
  });

  it('disconnects a client that asks and never reads, instead of buffering for it', async () => {
    const c = await live({ token: tokens['view-north']! });
    await c.next('hello');
    const socket = (c.ws as unknown as { _socket: { pause(): void } })._socket;
    socket.pause();
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    let sent = 0;
    while (c.ws.readyState === WebSocket.OPEN && sent < 400_000) {
      c.ws.send('{"type":"ping"}');
      sent++;
      if (sent % 5000 === 0) await new Promise((r) => setImmediate(r));
    }
    (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1006);
    const errors = await gateway.metrics.clientErrors.get();
    expect(errors.values.find((v) => v.labels['reason'] === 'too_slow')?.value).toBeGreaterThanOrEqual(1);
  });

  it('closes the stream when the token expires', async () => {
    const { token } = await gateway.tokens.issue('view-north', Date.now() - (dep.config.gateway.auth.tokenTtlSeconds * 1000 - 1500));
    const c = await live({ token });
    await c.next('hello');
    const code = await new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    expect(code).toBe(4001);
  });
});

describe('live stream limits', () => {
  it('refuses a client beyond the configured number before the upgrade, with a reason', async () => {
    const small = await testDeployment({ env: { HATAKE_GATEWAY__HTTP__PORT: '0', HATAKE_GATEWAY__WS__MAX_CLIENTS: '1' } });
    const g = buildGateway(small.config, { logger: silentLogger(), store, password: 'unused', mqttUrl: 'mqtt://127.0.0.1:1' });
    await g.app.ready();
    await g.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `ws://127.0.0.1:${(g.app.server.address() as { port: number }).port}/ws`;
    const { token } = await g.tokens.issue('admin');
    const first = new WebSocket(url, ['hatake.v1', `bearer.${token}`]);
    await new Promise((r) => first.once('open', r));
    await waitFor('the first client registered', async () => ((await g.metrics.clients.get()).values[0]?.value === 1 ? true : undefined));
    const second = new WebSocket(url, ['hatake.v1', `bearer.${token}`]);
    const refused = await new Promise<{ status: number; body: string }>((resolve) =>
      second.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }),
    );
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'HATAKE_ERR_GATEWAY_TOO_MANY_CLIENTS' } });
    first.close();
    await g.app.close();
  });
});
