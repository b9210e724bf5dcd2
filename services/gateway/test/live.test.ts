/**
 * The live stream's fan-out, per-device rate limit and scale-out, with a real
 * broker, real MQTT devices and real WebSocket clients.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildBroker, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import { buildGateway, mqttClientId, type Gateway } from '@hatake/gateway';
import { eventTopic, exampleEvent, exampleSensorSample, telemetryTopic } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore, type TelemetryStore } from '@hatake/store';
import { testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';
import { textFrame } from '../src/frame.ts';

let dep: TestDeployment;
let broker: HatakeBroker;
let addr: BrokerAddresses;
let store: TelemetryStore;
let gateway: Gateway;
let wsUrl: string;
let base: string;
const devices: MqttClient[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  dep = await testDeployment({ env: { HATAKE_GATEWAY__HTTP__PORT: '0', HATAKE_BROKER__PERSISTENCE__TYPE: 'memory', HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '10000', HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '10000' } });
  broker = buildBroker(dep.config, { logger: silentLogger() });
  addr = await broker.start();
  store = new EmbeddedStore(':memory:', { logger: silentLogger() });
  await store.start();
  gateway = buildGateway(dep.config, { logger: silentLogger(), store, password: dep.secrets['gateway']!, mqttUrl: addr.mqtt.url });
  const { http } = await gateway.start();
  wsUrl = http.ws;
  base = http.url;
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await Promise.all(devices.map((d) => d.endAsync()));
  await gateway.stop();
  await store.stop();
  await broker.stop();
});

async function device(id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(addr.mqtt.url, { username: id, password: dep.secrets[id] ?? dep.secrets['load'], clientId: id, protocolVersion: 4, reconnectPeriod: 0 });
  devices.push(c);
  return c;
}

interface Received {
  readonly m: Record<string, unknown>;
  /** performance.now() at receipt */
  readonly at: number;
}

interface Live {
  readonly ws: WebSocket;
  readonly got: Received[];
  next(type: string, pred?: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  telemetry(device: string): { seq: number; at: number }[];
}

async function live(user: string, url = wsUrl, issuer: Gateway = gateway): Promise<Live> {
  const { token } = await issuer.tokens.issue(user);
  const ws = new WebSocket(url, ['hatake.v1', `bearer.${token}`]);
  sockets.push(ws);
  const got: Received[] = [];
  ws.on('message', (d) => got.push({ m: JSON.parse(String(d)) as Record<string, unknown>, at: performance.now() }));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const l: Live = {
    ws,
    got,
    next: (type, pred = () => true) => waitFor(`a ${type} message`, () => got.find((r) => r.m['type'] === type && pred(r.m))?.m),
    telemetry: (id) => got.filter((r) => r.m['type'] === 'telemetry' && r.m['device'] === id).flatMap((r) => (r.m['samples'] as { seq: number }[]).map((s) => ({ seq: s.seq, at: r.at }))),
  };
  await l.next('hello');
  return l;
}

const sample = (seq: number, extra: Record<string, unknown> = {}): string => JSON.stringify({ v: 1, ...exampleSensorSample({ seq, t: Date.now() }), ...extra });
interface Metric {
  get(): Promise<{ values: { labels: Partial<Record<string, string | number>>; value: number }[] }>;
}
const counter = async (c: Metric, labels: Record<string, string> = {}): Promise<number> =>
  (await c.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);

describe('fan-out', () => {
  it('gives every client every message it may see, in order, and each scope only its own', async () => {
    const admins = await Promise.all(Array.from({ length: 12 }, () => live('admin')));
    const north = await Promise.all(Array.from({ length: 4 }, () => live('view-north')));
    const sentBefore = await counter(gateway.metrics.sent, { type: 'telemetry' });
    const s1 = await device('s1');
    const s2 = await device('s2');
    const n = 150;
    // not awaited one by one: many messages reach the gateway within one event-loop turn and are written together
    await Promise.all(
      Array.from({ length: n }, (_, seq) =>
        Promise.all([s1.publishAsync(telemetryTopic('sensor', 's1'), sample(seq), { qos: 1 }), s2.publishAsync(telemetryTopic('sensor', 's2'), sample(seq), { qos: 1 })]),
      ),
    );
    const all = Array.from({ length: n }, (_, i) => i);
    for (const c of admins) {
      await waitFor('all of s1 and s2', () => (c.telemetry('s1').length === n && c.telemetry('s2').length === n ? true : undefined));
      expect(c.telemetry('s1').map((s) => s.seq)).toEqual(all);
      expect(c.telemetry('s2').map((s) => s.seq)).toEqual(all);
    }
    for (const c of north) {
      await waitFor('all of s1', () => (c.telemetry('s1').length === n ? true : undefined));
      expect(c.telemetry('s1').map((s) => s.seq)).toEqual(all);
    }
    // south's sensor went to no viewer of the north
    await waitFor('the last of s2 everywhere', () => (admins.every((c) => c.telemetry('s2').length === n) ? true : undefined));
    expect(north.some((c) => c.telemetry('s2').length > 0)).toBe(false);
    expect((await counter(gateway.metrics.sent, { type: 'telemetry' })) - sentBefore).toBe(admins.length * 2 * n + north.length * n);
    for (const c of [...admins, ...north]) c.ws.close();
  });

  it('frames short, medium and long messages as RFC 6455 says', async () => {
    expect([...textFrame('{}')]).toEqual([0x81, 2, 0x7b, 0x7d]);
    const medium = textFrame('x'.repeat(300));
    expect([...medium.subarray(0, 4)]).toEqual([0x81, 126, 1, 44]);
    const long = textFrame('é'.repeat(40_000));
    expect([...long.subarray(0, 10)]).toEqual([0x81, 127, 0, 0, 0, 0, 0, 1, 0x38, 0x80]);
    expect(long.length).toBe(10 + 80_000);
    // and a real client reads a long one among short ones
    const c = await live('admin');
    c.ws.send(JSON.stringify({ type: 'subscribe', devices: ['s1'] }));
    await c.next('subscribed');
    const s1 = await device('s1');
    const batch = JSON.stringify({ v: 1, samples: Array.from({ length: 400 }, (_, i) => exampleSensorSample({ seq: 10_000 + i, t: Date.now() - 400 + i })) });
    expect(batch.length).toBeGreaterThan(65_536);
    await s1.publishAsync(telemetryTopic('sensor', 's1'), sample(9_999), { qos: 1 });
    await s1.publishAsync(telemetryTopic('sensor', 's1'), batch, { qos: 1 });
    await s1.publishAsync(telemetryTopic('sensor', 's1'), sample(10_400), { qos: 1 });
    await waitFor('the message after the long one', () => (c.telemetry('s1').some((s) => s.seq === 10_400) ? true : undefined));
    expect(c.telemetry('s1').map((s) => s.seq)).toEqual(Array.from({ length: 402 }, (_, i) => 9_999 + i));
    c.ws.close();
  });
});

describe('maxRate', () => {
  it('sends a client at most maxRate telemetry messages per second per device: the latest wins, and the last is not lost', async () => {
    const slow = await live('admin');
    const full = await live('admin');
    slow.ws.send(JSON.stringify({ type: 'subscribe', devices: ['s1', 's2'], maxRate: 4 }));
    expect(await slow.next('subscribed')).toEqual({ type: 'subscribed', devices: ['s1', 's2'], kinds: null, farm: null, maxRate: 4 });
    full.ws.send(JSON.stringify({ type: 'subscribe', devices: ['s1', 's2'] }));
    await full.next('subscribed');
    const throttledBefore = await counter(gateway.metrics.throttled);
    const s1 = await device('s1');
    const s2 = await device('s2');
    const n = 40;
    const start = performance.now();
    for (let seq = 0; seq < n; seq++) {
      await s1.publishAsync(telemetryTopic('sensor', 's1'), sample(seq), { qos: 1 });
      if (seq % 4 === 0) await s2.publishAsync(telemetryTopic('sensor', 's2'), sample(seq), { qos: 1 });
    }
    // events are never held back
    for (let i = 0; i < 3; i++) await s1.publishAsync(eventTopic('sensor', 's1'), JSON.stringify(exampleEvent({ t: Date.now() + i })), { qos: 1 });
    const took = performance.now() - start;
    await waitFor('everything at full rate', () => (full.telemetry('s1').length === n && full.telemetry('s2').length === n / 4 ? true : undefined));
    // the device went quiet: the latest held back still arrives, within an interval
    await waitFor('the last of s1 and s2 at the limited rate', () => (slow.telemetry('s1').at(-1)?.seq === n - 1 && slow.telemetry('s2').at(-1)?.seq === n - 4 ? true : undefined), { timeoutMs: 3000 });
    for (const id of ['s1', 's2']) {
      const got = slow.telemetry(id);
      expect(got[0]!.seq).toBe(0); // the first goes at once
      for (let i = 1; i < got.length; i++) {
        expect(got[i]!.seq).toBeGreaterThan(got[i - 1]!.seq); // newest only, never an older one after a newer
        // 4/s: sent 250 ms apart; received at least 200 ms apart even if the first was late on a busy machine
        expect(got[i]!.at - got[i - 1]!.at).toBeGreaterThanOrEqual(200);
      }
      expect(got.length).toBeLessThanOrEqual(2 + Math.ceil(took / 250));
    }
    expect(slow.telemetry('s1').length).toBeLessThan(n);
    expect(slow.got.filter((r) => r.m['type'] === 'event')).toHaveLength(3);
    expect((await counter(gateway.metrics.throttled)) - throttledBefore).toBeGreaterThan(0);
    // nothing more comes: nothing queued behind the latest
    const count = slow.got.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(slow.got.length).toBe(count);
    slow.ws.close();
    full.ws.close();
  });

  it('starts afresh with each subscribe, and without maxRate sends everything again', async () => {
    const c = await live('admin');
    const watcher = await live('admin');
    c.ws.send(JSON.stringify({ type: 'subscribe', devices: ['s2'], maxRate: 0.5 }));
    await c.next('subscribed');
    const s2 = await device('s2');
    for (let seq = 100; seq < 105; seq++) await s2.publishAsync(telemetryTopic('sensor', 's2'), sample(seq), { qos: 1 });
    // the gateway has had them all (the broker's PUBACK alone does not say so)
    await waitFor('104 at full rate', () => (watcher.telemetry('s2').some((s) => s.seq === 104) ? true : undefined));
    expect(c.telemetry('s2').map((s) => s.seq)).toEqual([100]);
    c.ws.send(JSON.stringify({ type: 'subscribe', devices: ['s2'] }));
    await c.next('subscribed', (m) => m['maxRate'] === null);
    for (let seq = 105; seq < 110; seq++) await s2.publishAsync(telemetryTopic('sensor', 's2'), sample(seq), { qos: 1 });
    await waitFor('all after the new subscribe', () => (c.telemetry('s2').at(-1)?.seq === 109 ? true : undefined));
    // what the old subscription held back (104) was dropped with it, not sent 2 s later
    expect(c.telemetry('s2').map((s) => s.seq)).toEqual([100, 105, 106, 107, 108, 109]);
    c.ws.close();
    watcher.ws.close();
  });

  it.each([
    ['zero', 0, 'maxRate must be a number of messages per second per device, from 0.01 to 1000 (got 0)'],
    ['too high', 5000, 'maxRate must be a number of messages per second per device, from 0.01 to 1000 (got 5000)'],
    ['not a number', '"fast"', 'maxRate must be a number of messages per second per device, from 0.01 to 1000 (got "fast")'],
  ])('refuses a maxRate that is %s, saying why, and counts it', async (_name, value, reason) => {
    const c = await live('admin');
    const before = await counter(gateway.metrics.clientErrors, { reason: 'HATAKE_ERR_GATEWAY_BAD_REQUEST' });
    c.ws.send(`{"type":"subscribe","devices":["s1"],"maxRate":${String(value)}}`);
    const err = await c.next('error');
    expect(err['code']).toBe('HATAKE_ERR_GATEWAY_BAD_REQUEST');
    expect(String(err['message'])).toContain('not a valid subscribe message');
    expect(String(err['message'])).toContain(reason);
    expect(await counter(gateway.metrics.clientErrors, { reason: 'HATAKE_ERR_GATEWAY_BAD_REQUEST' })).toBe(before + 1);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });

  it('names the message types it knows when given another', async () => {
    const c = await live('admin');
    c.ws.send('{"type":"unsubscribe"}');
    expect(await c.next('error')).toMatchObject({ code: 'HATAKE_ERR_GATEWAY_BAD_REQUEST', message: 'not a message of the live protocol: type must be one of subscribe, ping, command, lease, estop_all, replay, replay_control' });
    c.ws.close();
  });
});

describe('several gateways on one broker', () => {
  it('gives each instance a client id of its own, so each serves its own clients', async () => {
    expect(mqttClientId('gateway', 'gateway', () => 'a1b2c3d4')).toBe('gateway:a1b2c3d4');
    expect(mqttClientId('gateway:2', 'gateway')).toBe('gateway:2');
    // the same configuration as the first gateway: client id left at its default
    const second = buildGateway(dep.config, { logger: silentLogger(), store, password: dep.secrets['gateway']!, mqttUrl: addr.mqtt.url });
    const { http } = await second.start();
    try {
      const one = await live('admin');
      const two = await live('admin', http.ws, second);
      for (const c of [one, two]) {
        c.ws.send(JSON.stringify({ type: 'subscribe', devices: ['s1'] }));
        await c.next('subscribed');
      }
      const s1 = await device('s1');
      const n = 30;
      for (let seq = 0; seq < n; seq++) {
        await s1.publishAsync(telemetryTopic('sensor', 's1'), sample(20_000 + seq), { qos: 1 });
        if (seq % 10 === 0) await new Promise((r) => setTimeout(r, 50));
      }
      for (const c of [one, two]) await waitFor('every message on both gateways', () => (c.telemetry('s1').length === n ? true : undefined));
      for (const url of [http.url, base]) expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
      one.ws.close();
      two.ws.close();
    } finally {
      await second.stop();
    }
  });
});
