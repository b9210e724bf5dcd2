/**
 * The ACL matrix against the real broker over TCP, with real MQTT clients:
 * mqtt.js and Debian's mosquitto_pub / mosquitto_sub.
 */
import { connect as netConnect } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBroker, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import {
  HEARTBEAT_TOPIC,
  commandAckTopic,
  commandTopic,
  deadLetterTopic,
  eventTopic,
  exampleCommand,
  exampleState,
  exampleTractorSample,
  exampleWill,
  stateTopic,
  telemetryTopic,
} from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { run, testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';

let dep: TestDeployment;
let broker: HatakeBroker;
let addr: BrokerAddresses;
const clients: MqttClient[] = [];

beforeAll(async () => {
  dep = await testDeployment();
  broker = buildBroker(dep.config, { logger: silentLogger() });
  addr = await broker.start();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await broker.stop();
});

function options(name: string, extra: Partial<IClientOptions> = {}): IClientOptions {
  return { username: name, password: dep.secrets[name], clientId: name, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 5000, ...extra };
}

async function connect(name: string, extra: Partial<IClientOptions> = {}, url = addr.mqtt.url): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, options(name, extra));
  clients.push(c);
  return c;
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = await broker.metrics.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/** Subscribes `client` and records every message. */
async function recorder(client: MqttClient, filters: string[]): Promise<{ topic: string; payload: string; retain: boolean }[]> {
  const got: { topic: string; payload: string; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  const granted = await client.subscribeAsync(filters, { qos: 1 });
  expect(granted.map((g) => g.qos)).toEqual(filters.map(() => 1));
  return got;
}

/** Subscribes to each filter on its own and reports the broker's answer (mqtt.js rejects a whole SUBACK that holds a 0x80). */
async function subscribeOutcomes(client: MqttClient, filters: string[]): Promise<('granted' | 'denied')[]> {
  const out: ('granted' | 'denied')[] = [];
  for (const f of filters) {
    out.push(await client.subscribeAsync(f, { qos: 1 }).then(() => 'granted' as const, () => 'denied' as const));
  }
  return out;
}

/** Publishes and returns the error that closed the connection, if any. */
async function publishOutcome(client: MqttClient, topic: string, payload: string, retain = false): Promise<'delivered' | 'disconnected'> {
  const closed = new Promise<'disconnected'>((resolve) => client.once('close', () => resolve('disconnected')));
  const sent = client.publishAsync(topic, payload, { qos: 1, retain }).then(() => 'delivered' as const);
  return Promise.race([sent, closed]);
}

const sample = JSON.stringify({ v: 1, ...exampleTractorSample() });

describe('authentication', () => {
  it('refuses a wrong password (mqtt.js) and counts it', async () => {
    const before = await metric('hatake_broker_connections_total', { result: 'refused', reason: 'bad_credentials' });
    await expect(mqtt.connectAsync(addr.mqtt.url, options('t1', { password: 'wrong' }))).rejects.toThrow(/Bad username or password/);
    expect(await metric('hatake_broker_connections_total', { result: 'refused', reason: 'bad_credentials' })).toBe(before + 1);
  });

  it('refuses a wrong password, an unknown user and no credentials (mosquitto_pub)', async () => {
    const common = ['-h', '127.0.0.1', '-p', String(addr.mqtt.port), '-V', 'mqttv311', '-t', telemetryTopic('tractor', 't1'), '-m', sample, '-q', '1'];
    const wrong = await run('mosquitto_pub', [...common, '-i', 't1', '-u', 't1', '-P', 'wrong']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/bad user name or password/i);
    const unknown = await run('mosquitto_pub', [...common, '-i', 'ghost', '-u', 'ghost', '-P', 'whatever']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/bad user name or password/i);
    const anonymous = await run('mosquitto_pub', [...common, '-i', 'anon']);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/bad user name or password/i);
    expect(await metric('hatake_broker_connections_total', { result: 'refused', reason: 'unknown_user' })).toBeGreaterThanOrEqual(1);
    expect(await metric('hatake_broker_connections_total', { result: 'refused', reason: 'no_credentials' })).toBeGreaterThanOrEqual(1);
  });

  it("refuses a client id that is not the principal's (no session takeover)", async () => {
    await expect(mqtt.connectAsync(addr.mqtt.url, options('t1', { clientId: 't2' }))).rejects.toThrow(/Identifier rejected/);
    const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(addr.mqtt.port), '-V', 'mqttv311', '-i', 'ingest', '-u', 't1', '-P', dep.secrets['t1']!, '-t', telemetryTopic('tractor', 't1'), '-m', sample]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/identifier rejected/i);
    // a suffixed client id of one's own is fine
    const ok = await connect('ingest', { clientId: 'ingest:test-1' });
    expect(ok.connected).toBe(true);
  });

  it('refuses a last will on somebody else\'s topic', async () => {
    await expect(
      mqtt.connectAsync(addr.mqtt.url, options('t1', { will: { topic: stateTopic('tractor', 't2'), payload: Buffer.from(JSON.stringify(exampleWill())), qos: 1, retain: true } })),
    ).rejects.toThrow(/Not authorized/);
    expect(await metric('hatake_broker_connections_total', { result: 'refused', reason: 'will_not_allowed' })).toBeGreaterThanOrEqual(1);
  });
});

describe('a device', () => {
  it('publishes its own telemetry, state, events and acks', async () => {
    const ingest = await connect('ingest', { clientId: 'ingest:dev-own' });
    const got = await recorder(ingest, ['hatake/v1/+/+/telemetry', 'hatake/v1/+/+/state', 'hatake/v1/+/+/event', 'hatake/v1/+/+/cmd/ack']);
    const t1 = await connect('t1');
    // one at a time: MQTT orders messages per topic, not across topics (with on-disk sessions the broker's
    // bookkeeping for one delivery may finish before the one for the message before it)
    const publish = async (topic: string, payload: string, retain = false): Promise<void> => {
      const before = got.length;
      await t1.publishAsync(topic, payload, { qos: 1, retain });
      await waitFor(`${topic} at ingest`, () => (got.length > before ? true : undefined));
    };
    await publish(telemetryTopic('tractor', 't1'), sample);
    await publish(stateTopic('tractor', 't1'), JSON.stringify(exampleState()), true);
    await publish(eventTopic('tractor', 't1'), '{"v":1}');
    await publish(commandAckTopic('tractor', 't1'), '{"v":1}');
    expect(got.map((m) => m.topic)).toEqual([telemetryTopic('tractor', 't1'), stateTopic('tractor', 't1'), eventTopic('tractor', 't1'), commandAckTopic('tractor', 't1')]);
    await t1.endAsync();
  });

  it.each([
    ["another device's telemetry", telemetryTopic('tractor', 't2'), false, 'not_own_topic'],
    ['its own topic under another kind', telemetryTopic('plow', 't1'), false, 'not_own_topic'],
    ['a command (only the gateway commands)', commandTopic('tractor', 't1'), false, 'not_own_topic'],
    ['the supervisor heartbeat', HEARTBEAT_TOPIC, false, 'not_own_topic'],
    ['retained telemetry', telemetryTopic('tractor', 't1'), true, 'retain_not_allowed'],
    ['a $SYS topic', '$SYS/fake', false, 'reserved_topic'],
  ])('is refused publishing %s, and disconnected', async (_what, topic, retain, reason) => {
    const spy = await connect('gateway', { clientId: `gateway:spy-${reason}-${String(retain)}-${topic.length}` });
    const seen: string[] = [];
    spy.on('message', (t) => seen.push(t));
    await spy.subscribeAsync(['hatake/v1/+/+/telemetry', 'hatake/v1/+/+/cmd'], { qos: 1 });
    const before = await metric('hatake_broker_publish_refused_total', { reason });
    const t1 = await connect('t1');
    expect(await publishOutcome(t1, topic, sample, retain)).toBe('disconnected');
    expect(await metric('hatake_broker_publish_refused_total', { reason })).toBe(before + 1);
    // nothing leaked: a marker published afterwards by the rightful device arrives alone
    const t2 = await connect('t2');
    await t2.publishAsync(telemetryTopic('tractor', 't2'), sample, { qos: 1 });
    await waitFor('marker', () => (seen.includes(telemetryTopic('tractor', 't2')) ? true : undefined));
    expect(seen.filter((t) => t === topic && topic !== telemetryTopic('tractor', 't2'))).toEqual([]);
    await t2.endAsync();
    await spy.endAsync();
  });

  it('is refused publishing as another device with mosquitto_pub too', async () => {
    const before = await metric('hatake_broker_publish_refused_total', { reason: 'not_own_topic' });
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(addr.mqtt.port), '-V', 'mqttv311', '-i', 't1', '-u', 't1', '-P', dep.secrets['t1']!, '-q', '1', '-t', telemetryTopic('tractor', 't2'), '-m', sample]);
    expect(await metric('hatake_broker_publish_refused_total', { reason: 'not_own_topic' })).toBe(before + 1);
  });

  it('subscribes to its own commands and the heartbeat, nothing else (mqtt.js)', async () => {
    const t1 = await connect('t1');
    const before = await metric('hatake_broker_subscribe_refused_total', { reason: 'not_own_topic' });
    const outcomes = await subscribeOutcomes(t1, [
      commandTopic('tractor', 't1'),
      HEARTBEAT_TOPIC,
      commandTopic('tractor', 't2'),
      'hatake/v1/tractor/+/cmd',
      'hatake/v1/#',
      '#',
      '$SYS/#',
      telemetryTopic('tractor', 't1'),
      '$share/g/hatake/v1/tractor/t1/cmd',
    ]);
    expect(outcomes).toEqual(['granted', 'granted', 'denied', 'denied', 'denied', 'denied', 'denied', 'denied', 'denied']);
    expect(await metric('hatake_broker_subscribe_refused_total', { reason: 'not_own_topic' })).toBe(before + 5);
    // a refused subscription does not cost the connection
    expect(t1.connected).toBe(true);
    await t1.endAsync();
  });

  it("is refused another device's commands (mosquitto_sub)", async () => {
    const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(addr.mqtt.port), '-V', 'mqttv311', '-i', 't1', '-u', 't1', '-P', dep.secrets['t1']!, '-q', '1', '-t', commandTopic('tractor', 't2'), '-C', '1', '-W', '5', '-v']);
    const r = await sub;
    // mosquitto_sub 2.0 reports the refusal and stops; it never sees a message of t2
    expect(r.stderr).toMatch(/All subscription requests were denied/);
    expect(r.stdout).toBe('');
  });

  it('receives commands addressed to it from the gateway', async () => {
    const t1 = await connect('t1');
    const got = await recorder(t1, [commandTopic('tractor', 't1')]);
    const gateway = await connect('gateway', { clientId: 'gateway:cmd' });
    await gateway.publishAsync(commandTopic('tractor', 't1'), JSON.stringify(exampleCommand()), { qos: 1 });
    await waitFor('command', () => (got.length === 1 ? got : undefined));
    expect(JSON.parse(got[0]!.payload)).toEqual(exampleCommand());
    await Promise.all([t1.endAsync(), gateway.endAsync()]);
  });
});

describe('service accounts have their rights and nothing more', () => {
  it('ingest: reads device channels, writes only its dead-letter topic', async () => {
    const ingest = await connect('ingest', { clientId: 'ingest:rights' });
    const outcomes = await subscribeOutcomes(ingest, [
      'hatake/v1/+/+/telemetry',
      'hatake/v1/tractor/+/state',
      'hatake/v1/+/+/event',
      'hatake/v1/+/+/cmd/ack',
      HEARTBEAT_TOPIC,
      'hatake/v1/#',
      'hatake/v1/deadletter/+',
      '$share/bad group/x',
    ]);
    expect(outcomes).toEqual(['granted', 'granted', 'granted', 'granted', 'denied', 'denied', 'denied', 'denied']);
    // the embedded broker (aedes) cannot deliver shared subscriptions: refused rather than silently empty
    const before = await metric('hatake_broker_subscribe_refused_total', { reason: 'shared_subscriptions_unsupported' });
    expect(await subscribeOutcomes(ingest, ['$share/ingest/hatake/v1/+/+/telemetry'])).toEqual(['denied']);
    expect(await metric('hatake_broker_subscribe_refused_total', { reason: 'shared_subscriptions_unsupported' })).toBe(before + 1);
    expect(await publishOutcome(ingest, deadLetterTopic('ingest'), '{"v":1}')).toBe('delivered');
    expect(await publishOutcome(ingest, deadLetterTopic('gateway'), '{"v":1}')).toBe('disconnected');
    const again = await connect('ingest', { clientId: 'ingest:rights2' });
    expect(await publishOutcome(again, telemetryTopic('tractor', 't1'), sample)).toBe('disconnected');
    const third = await connect('ingest', { clientId: 'ingest:rights3' });
    expect(await publishOutcome(third, commandTopic('tractor', 't1'), '{}')).toBe('disconnected');
  });

  it('gateway: commands any device and beats the heartbeat, publishes nothing else', async () => {
    const gateway = await connect('gateway', { clientId: 'gateway:rights' });
    expect(await subscribeOutcomes(gateway, ['hatake/v1/+/+/telemetry', 'hatake/v1/deadletter/+', commandTopic('plow', 'p1'), '#', '$SYS/#'])).toEqual([
      'granted',
      'granted',
      'granted',
      'denied',
      'denied',
    ]);
    expect(await publishOutcome(gateway, commandTopic('plow', 'p1'), '{}')).toBe('delivered');
    expect(await publishOutcome(gateway, HEARTBEAT_TOPIC, '{}')).toBe('delivered');
    expect(await publishOutcome(gateway, 'hatake/v1/tractor/bad id/cmd', '{}')).toBe('disconnected');
    const g2 = await connect('gateway', { clientId: 'gateway:rights2' });
    expect(await publishOutcome(g2, telemetryTopic('tractor', 't1'), sample)).toBe('disconnected');
    const g3 = await connect('gateway', { clientId: 'gateway:rights3' });
    expect(await publishOutcome(g3, commandTopic('tractor', 't1'), '{}', true)).toBe('disconnected');
  });

  it('a service password does not open a device account, nor the reverse', async () => {
    await expect(mqtt.connectAsync(addr.mqtt.url, options('t1', { password: dep.secrets['ingest'] }))).rejects.toThrow(/Bad username or password/);
    await expect(mqtt.connectAsync(addr.mqtt.url, options('ingest', { password: dep.secrets['t1'] }))).rejects.toThrow(/Bad username or password/);
  });
});

describe('sessions', () => {
  it('keeps persistent sessions to services with a bounded set of client ids', async () => {
    const ok = await connect('ingest', { clean: false });
    expect(ok.connected).toBe(true);
    const instance = await connect('ingest', { clean: false, clientId: 'ingest:2' });
    expect(instance.connected).toBe(true);
    await expect(mqtt.connectAsync(addr.mqtt.url, options('ingest', { clean: false, clientId: 'ingest:random-abc' }))).rejects.toThrow(/Not authorized/);
    await expect(mqtt.connectAsync(addr.mqtt.url, options('t1', { clean: false }))).rejects.toThrow(/Not authorized/);
    expect(await metric('hatake_broker_connections_total', { result: 'refused', reason: 'persistent_session_not_allowed' })).toBeGreaterThanOrEqual(2);
  });
});

describe('retained state and the last will', () => {
  it('keeps the retained state and publishes the will when the link dies', async () => {
    const will = { topic: stateTopic('tractor', 't2'), payload: Buffer.from(JSON.stringify(exampleWill())), qos: 1 as const, retain: true };
    const t2 = await connect('t2', { will });
    await t2.publishAsync(stateTopic('tractor', 't2'), JSON.stringify(exampleState()), { qos: 1, retain: true });

    const late = await connect('gateway', { clientId: 'gateway:late' });
    const got = await recorder(late, [stateTopic('tractor', 't2')]);
    await waitFor('retained online state', () => (got.length === 1 ? got : undefined));
    expect(got[0]).toMatchObject({ retain: true });
    expect(JSON.parse(got[0]!.payload)).toMatchObject({ online: true });

    t2.stream.destroy(); // the link dies without DISCONNECT
    await waitFor('last will', () => (got.length === 2 ? got : undefined));
    expect(JSON.parse(got[1]!.payload)).toEqual(exampleWill());

    const later = await connect('gateway', { clientId: 'gateway:later' });
    const got2 = await recorder(later, [stateTopic('tractor', 't2')]);
    await waitFor('retained will', () => (got2.length === 1 ? got2 : undefined));
    expect(got2[0]).toMatchObject({ retain: true });
    expect(JSON.parse(got2[0]!.payload)).toMatchObject({ online: false, reason: 'connection_lost' });
  });
});

describe('protection', () => {
  it('cuts a connection that announces an oversized packet, and lets a 1 MB message through for validation downstream', async () => {
    const ingest = await connect('ingest', { clientId: 'ingest:big' });
    const got = await recorder(ingest, ['hatake/v1/+/+/telemetry']);
    const s1 = await connect('s1');
    const oneMb = 'x'.repeat(1024 * 1024);
    await s1.publishAsync(telemetryTopic('sensor', 's1'), oneMb, { qos: 1 });
    await waitFor('1 MB message', () => (got.length === 1 ? got : undefined));
    expect(got[0]!.payload.length).toBe(1024 * 1024);
    const before = await metric('hatake_broker_connection_errors_total', { reason: 'packet_too_large' });
    expect(await publishOutcome(s1, telemetryTopic('sensor', 's1'), 'x'.repeat(dep.config.broker.maxPacketBytes + 1))).toBe('disconnected');
    expect(await metric('hatake_broker_connection_errors_total', { reason: 'packet_too_large' })).toBe(before + 1);
  });

  it('reads at most 64 KiB from a client that has not logged in', async () => {
    const before = await metric('hatake_broker_connection_errors_total', { reason: 'packet_too_large' });
    const sock = netConnect(addr.mqtt.port, '127.0.0.1');
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.on('error', () => undefined);
    // a CONNECT header announcing 100 KiB
    sock.write(Buffer.from([0x10, 0x80, 0x94, 0x06]));
    await closed;
    expect(await metric('hatake_broker_connection_errors_total', { reason: 'packet_too_large' })).toBe(before + 1);
  });

  it('survives garbage and a header announcing 256 MB on a raw socket', async () => {
    for (const bytes of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01])]) {
      const sock = netConnect(addr.mqtt.port, '127.0.0.1');
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      sock.on('error', () => undefined);
      sock.write(bytes);
      await closed;
    }
    const c = await connect('s2');
    expect(c.connected).toBe(true);
  });

  it('serves /metrics and /healthz', async () => {
    const health = await fetch(`${addr.http.url}/healthz`);
    expect(health.status).toBe(200);
    const text = await (await fetch(`${addr.http.url}/metrics`)).text();
    expect(text).toMatch(/hatake_broker_connections_total\{result="refused",reason="bad_credentials"\} [1-9]/);
    expect(text).toMatch(/hatake_broker_publish_refused_total\{reason="not_own_topic"\} [1-9]/);
    expect(text).toMatch(/hatake_broker_subscribe_refused_total\{reason="not_own_topic"\} [1-9]/);
    expect(text).toMatch(/hatake_broker_messages_total\{channel="telemetry"\} [1-9]/);
  });
});

describe('MQTT over WebSocket', () => {
  it('authenticates and applies the same rights', async () => {
    expect(addr.ws).toBeDefined();
    const ingest = await connect('ingest', { clientId: 'ingest:ws' });
    const got = await recorder(ingest, ['hatake/v1/+/+/telemetry']);
    const viaWs = await connect('p1', {}, addr.ws!.url);
    await viaWs.publishAsync(telemetryTopic('plow', 'p1'), sample, { qos: 1 });
    await waitFor('message over ws', () => (got.length === 1 ? got : undefined));
    await expect(mqtt.connectAsync(addr.ws!.url, options('p1', { password: 'nope' }))).rejects.toThrow(/Bad username or password/);
    expect(await publishOutcome(viaWs, telemetryTopic('plow', 'p2'), sample)).toBe('disconnected');
  });
});
