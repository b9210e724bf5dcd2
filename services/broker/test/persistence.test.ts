/**
 * The broker's session store across a stop and a start on the same directory
 * (aedes-persistence-level over LevelDB), and the typed errors of a directory
 * that is locked, damaged or not a directory. Real broker, real MQTT clients.
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildBroker, persistenceDir, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import { exampleState, exampleTractorSample, exampleWill, stateTopic, telemetryTopic } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { collect, testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';

const brokers: HatakeBroker[] = [];
const clients: MqttClient[] = [];
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
});

/** A test deployment (each has a fresh data directory) with the given store. */
async function deployment(type: 'level' | 'memory', env: Record<string, string> = {}): Promise<TestDeployment> {
  const dep = await testDeployment({ env: { HATAKE_BROKER__PERSISTENCE__TYPE: type, ...env } });
  dirs.push(dep.config.deployment.dataDir);
  return dep;
}

function brokerOf(dep: TestDeployment): HatakeBroker {
  const b = buildBroker(dep.config, { logger: silentLogger() });
  brokers.push(b);
  return b;
}

async function client(addr: BrokerAddresses, dep: TestDeployment, user: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(addr.mqtt.url, { username: user, password: dep.secrets[user], clientId: user, protocolVersion: 4, reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

/** Connects a persistent session with the message handler in place before CONNACK, as ingest does. */
function persistentSession(addr: BrokerAddresses, dep: TestDeployment, clientId: string): Promise<{ c: MqttClient; sessionPresent: boolean; got: { topic: string; body: Record<string, unknown> }[] }> {
  const got: { topic: string; body: Record<string, unknown> }[] = [];
  const c = mqtt.connect(addr.mqtt.url, { username: 'ingest', password: dep.secrets['ingest'], clientId, clean: false, protocolVersion: 4, reconnectPeriod: 0 });
  clients.push(c);
  c.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
  return new Promise((resolve, reject) => {
    c.once('connect', (connack) => resolve({ c, sessionPresent: connack.sessionPresent, got }));
    c.once('error', reject);
  });
}

/** Retained states a fresh subscriber gets, by topic. */
async function retainedStates(addr: BrokerAddresses, dep: TestDeployment, count: number, timeoutMs = 10_000): Promise<Record<string, Record<string, unknown>>> {
  const sub = await client(addr, dep, 'gateway', { clientId: `gateway:${Math.random().toString(36).slice(2)}` });
  const got = collect<[string, Buffer]>(
    (push) => {
      const on = (topic: string, payload: Buffer): void => push([topic, payload]);
      sub.on('message', on);
      return () => sub.off('message', on);
    },
    count,
    'retained states',
    timeoutMs,
  );
  await sub.subscribeAsync('hatake/v1/+/+/state', { qos: 1 });
  return Object.fromEntries((await got).map(([t, p]) => [t, JSON.parse(p.toString()) as Record<string, unknown>]));
}

const T1_STATE = stateTopic('tractor', 't1');
const T2_STATE = stateTopic('tractor', 't2');

describe('level persistence', () => {
  it('keeps persistent sessions, their queued QoS 1 messages and retained states across stop and start', async () => {
    const dep = await deployment('level');
    const broker = brokerOf(dep);
    let addr = await broker.start();
    // ingest's persistent session subscribes, then goes away
    const first = await persistentSession(addr, dep, 'ingest:3');
    expect(first.sessionPresent).toBe(false);
    await first.c.subscribeAsync('hatake/v1/+/+/telemetry', { qos: 1 });
    await first.c.endAsync();
    // while it is away: a retained state and five QoS 1 messages
    const t1 = await client(addr, dep, 't1');
    await t1.publishAsync(T1_STATE, JSON.stringify(exampleState({ firmware: 'kept-across-restart' })), { qos: 1, retain: true });
    for (let seq = 0; seq < 5; seq++) await t1.publishAsync(telemetryTopic('tractor', 't1'), JSON.stringify({ v: 1, ...exampleTractorSample({ seq }) }), { qos: 1 });
    await t1.endAsync();

    await broker.stop();
    addr = await broker.start();

    const back = await persistentSession(addr, dep, 'ingest:3');
    expect(back.sessionPresent).toBe(true); // its subscription came back from disk: it does not subscribe again
    await waitFor('the five queued messages', () => (back.got.length >= 5 ? true : undefined));
    expect(back.got.map((m) => [m.topic, m.body['seq']])).toEqual([0, 1, 2, 3, 4].map((seq) => [telemetryTopic('tractor', 't1'), seq]));
    // and the subscription still delivers what is published now
    const t1again = await client(addr, dep, 't1');
    await t1again.publishAsync(telemetryTopic('tractor', 't1'), JSON.stringify({ v: 1, ...exampleTractorSample({ seq: 5 }) }), { qos: 1 });
    await waitFor('a message published after the restart', () => (back.got.some((m) => m.body['seq'] === 5) ? true : undefined));
    expect((await retainedStates(addr, dep, 1))[T1_STATE]).toMatchObject({ online: true, firmware: 'kept-across-restart' });
  });

  it('delivers every message to an online persistent session at once, though the store finishes its writes out of order', async () => {
    const dep = await deployment('level', { HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '1000000', HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '1000000' });
    const addr = await brokerOf(dep).start();
    const session = await persistentSession(addr, dep, 'ingest:6');
    await session.c.subscribeAsync(['hatake/v1/+/+/telemetry', 'hatake/v1/+/+/state'], { qos: 1 });
    const t1 = await client(addr, dep, 't1');
    // QoS 1 telemetry, 100 in flight, with retained states (stored first) and QoS 0 messages (not stored) in between
    for (let i = 0; i < 1000; i += 100) {
      const batch = Array.from({ length: 100 }, (_, k) => t1.publishAsync(telemetryTopic('tractor', 't1'), JSON.stringify({ v: 1, ...exampleTractorSample({ seq: i + k }) }), { qos: 1 }));
      t1.publish(telemetryTopic('tractor', 't1'), JSON.stringify({ v: 1, ...exampleTractorSample({ seq: 100_000 + i }) }), { qos: 0 });
      batch.push(t1.publishAsync(T1_STATE, JSON.stringify(exampleState({ t: i })), { qos: 1, retain: true }));
      await Promise.all(batch);
    }
    const qos1 = (): number => new Set(session.got.flatMap((m) => (typeof m.body['seq'] === 'number' && m.body['seq'] < 100_000 ? [m.body['seq']] : []))).size;
    await waitFor('all 1000 QoS 1 messages, without a reconnect', () => (qos1() === 1000 ? true : undefined));
    await waitFor('all 10 states', () => (session.got.filter((m) => m.topic === T1_STATE).length === 10 ? true : undefined));
  });

  it('writes the wills published as it stops (clients cut without DISCONNECT) before it closes the store', async () => {
    const dep = await deployment('level');
    const broker = brokerOf(dep);
    let addr = await broker.start();
    const t2 = await client(addr, dep, 't2', { will: { topic: T2_STATE, payload: Buffer.from(JSON.stringify(exampleWill())), qos: 1, retain: true } });
    await t2.publishAsync(T2_STATE, JSON.stringify(exampleState()), { qos: 1, retain: true });
    await broker.stop();
    addr = await broker.start();
    expect((await retainedStates(addr, dep, 1))[T2_STATE]).toEqual(exampleWill());
  });

  it('stores under deployment.dataDir/broker.persistence.dir', async () => {
    const dep = await deployment('level');
    const broker = brokerOf(dep);
    await broker.start();
    expect(persistenceDir(dep.config)).toBe(join(dep.config.deployment.dataDir, 'broker'));
    expect(await readdir(persistenceDir(dep.config))).toEqual(expect.arrayContaining(['CURRENT', 'LOCK']));
  });

  it('with memory persistence, forgets sessions and retained states when it stops', async () => {
    const dep = await deployment('memory');
    const broker = brokerOf(dep);
    let addr = await broker.start();
    const first = await persistentSession(addr, dep, 'ingest:4');
    await first.c.subscribeAsync('hatake/v1/+/+/telemetry', { qos: 1 });
    await first.c.endAsync();
    const t1 = await client(addr, dep, 't1');
    await t1.publishAsync(T1_STATE, JSON.stringify(exampleState()), { qos: 1, retain: true });
    await t1.endAsync();
    await broker.stop();
    addr = await broker.start();
    expect((await persistentSession(addr, dep, 'ingest:4')).sessionPresent).toBe(false);
    await expect(retainedStates(addr, dep, 1, 1000)).rejects.toThrow(/timed out waiting for 1 retained states/);
  });
});

describe('a persistence directory the broker cannot use', () => {
  it('held by another broker: HATAKE_ERR_BROKER_PERSISTENCE_LOCKED, and the first broker is untouched', async () => {
    const dep = await deployment('level');
    const first = brokerOf(dep);
    const addr = await first.start();
    const second = brokerOf(dep);
    await expect(second.start()).rejects.toMatchObject({ code: 'HATAKE_ERR_BROKER_PERSISTENCE_LOCKED', message: expect.stringContaining(persistenceDir(dep.config)) });
    const t1 = await client(addr, dep, 't1');
    await t1.publishAsync(T1_STATE, JSON.stringify(exampleState()), { qos: 1, retain: true });
    // once the first one stops, the directory is free again
    await first.stop();
    await second.start();
  });

  it('with damaged LevelDB files: HATAKE_ERR_BROKER_PERSISTENCE_CORRUPT', async () => {
    const dep = await deployment('level');
    const broker = brokerOf(dep);
    await broker.start();
    await broker.stop();
    const dir = persistenceDir(dep.config);
    for (const f of await readdir(dir)) if (f.startsWith('MANIFEST-')) await writeFile(join(dir, f), 'not a leveldb manifest');
    await expect(brokerOf(dep).start()).rejects.toMatchObject({ code: 'HATAKE_ERR_BROKER_PERSISTENCE_CORRUPT', message: expect.stringMatching(/delete the directory/) });
  });

  it('with a record aedes cannot decode: HATAKE_ERR_BROKER_PERSISTENCE_CORRUPT, and the directory is released', async () => {
    const dep = await deployment('level');
    const dir = persistenceDir(dep.config);
    const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
    await db.put('subscriptions:ingest:hatake/v1/#', Buffer.from([0xc1])); // 0xc1: never used in msgpack
    await db.close();
    await expect(brokerOf(dep).start()).rejects.toMatchObject({ code: 'HATAKE_ERR_BROKER_PERSISTENCE_CORRUPT' });
    const again = new ClassicLevel(dir);
    await again.open(); // not locked: the failed start closed it
    await again.close();
  });

  it('that is a file: HATAKE_ERR_BROKER_PERSISTENCE_UNAVAILABLE', async () => {
    const dep = await deployment('level');
    await writeFile(persistenceDir(dep.config), 'a file, not a directory');
    await expect(brokerOf(dep).start()).rejects.toMatchObject({ code: 'HATAKE_ERR_BROKER_PERSISTENCE_UNAVAILABLE' });
  });
});
