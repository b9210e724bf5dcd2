/**
 * Ingest with real brokers (hatake's own, and Mosquitto where a test needs to
 * publish what hatake's broker would refuse) and a real store.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildBroker, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import { buildIngest, type Ingest } from '@hatake/ingest';
import { DEAD_LETTER_FILTER, EXAMPLE_T0, exampleEvent, examplePlowSample, exampleSensorSample, exampleState, exampleTractorSample, type DeadLetter } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore, InfluxStore, type TelemetryStore } from '@hatake/store';
import { startInfluxd, startMosquitto, testDeployment, waitFor, type Influxd, type Mosquitto, type TestDeployment } from '@hatake/testkit';

const all = { from: EXAMPLE_T0 - 86_400_000, to: Date.now() + 86_400_000, limit: 1_000_000 };
const now = Date.now();
const tractor = (seq: number) => ({ v: 1, ...exampleTractorSample({ seq, t: now - 60_000 + seq * 200 }) });

async function metric(ingest: Ingest, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await ingest.metrics.registry.getSingleMetric(name)?.get();
  return m?.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((s, v) => s + v.value, 0) ?? 0;
}

describe('ingest behind hatake\'s broker', () => {
  let dep: TestDeployment;
  let broker: HatakeBroker;
  let addr: BrokerAddresses;
  let store: TelemetryStore;
  let ingest: Ingest | undefined;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    dep = await testDeployment({ env: { HATAKE_INGEST__HTTP__PORT: '0', HATAKE_INGEST__BATCH_MAX_MS: '50' } });
    broker = buildBroker(dep.config, { logger: silentLogger() });
    addr = await broker.start();
    store = new EmbeddedStore(':memory:', { logger: silentLogger() });
    await store.start();
  });
  afterEach(async () => {
    await ingest?.stop();
    ingest = undefined;
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });
  afterAll(async () => {
    await store.stop();
    await broker.stop();
  });

  const device = async (id: string): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(addr.mqtt.url, { username: id, password: dep.secrets[id], clientId: id, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  };
  const startIngest = async (): Promise<Ingest> => {
    ingest = buildIngest(dep.config, { logger: silentLogger(), store, password: dep.secrets['ingest']!, mqttUrl: addr.mqtt.url });
    await ingest.start();
    return ingest;
  };

  it('stores every sample of every kind, single and batched, states and events', async () => {
    const ing = await startIngest();
    const t1 = await device('t1');
    const p1 = await device('p1');
    const s1 = await device('s1');
    for (let seq = 0; seq < 100; seq++) await t1.publishAsync('hatake/v1/tractor/t1/telemetry', JSON.stringify(tractor(seq)), { qos: 1 });
    await p1.publishAsync('hatake/v1/plow/p1/telemetry', JSON.stringify({ v: 1, samples: Array.from({ length: 250 }, (_, seq) => examplePlowSample({ seq, t: now - 60_000 + seq * 1000 })) }), { qos: 1 });
    await s1.publishAsync('hatake/v1/sensor/s1/telemetry', JSON.stringify({ v: 1, ...exampleSensorSample({ t: now - 1000 }) }), { qos: 1 });
    await t1.publishAsync('hatake/v1/tractor/t1/state', JSON.stringify(exampleState({ t: now - 500 })), { qos: 1, retain: true });
    await t1.publishAsync('hatake/v1/tractor/t1/event', JSON.stringify(exampleEvent({ t: now - 400 })), { qos: 1 });
    await waitFor('every record received', async () => ((await metric(ing, 'hatake_ingest_received_total')) >= 104 ? true : undefined));
    await ing.flush();
    expect(await store.samples({ kind: 'tractor', device: 't1', ...all })).toHaveLength(100);
    expect(await store.samples({ kind: 'plow', device: 'p1', ...all })).toHaveLength(250);
    expect(await store.samples({ kind: 'sensor', device: 's1', ...all })).toHaveLength(1);
    const latest = await store.latest(['t1']);
    expect(latest[0]?.state).toMatchObject({ online: true, mode: 'auto' });
    expect((await store.events({ ...all, devices: ['t1'] })).map((e) => e.type)).toEqual(['low_fuel']);
    // tags come from the configuration
    expect(await metric(ing, 'hatake_ingest_stored_total', { type: 'sample' })).toBe(351);
    expect(await metric(ing, 'hatake_ingest_queue_depth')).toBe(0);
  });

  it('serves its metrics and health', async () => {
    const ing = buildIngest(dep.config, { logger: silentLogger(), store, password: dep.secrets['ingest']!, mqttUrl: addr.mqtt.url });
    ingest = ing;
    const { http } = await ing.start();
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
    const text = await (await fetch(`${http.url}/metrics`)).text();
    for (const m of ['hatake_ingest_received_total', 'hatake_ingest_stored_total', 'hatake_ingest_rejected_total', 'hatake_ingest_write_seconds', 'hatake_ingest_batch_size', 'hatake_ingest_queue_depth']) expect(text).toContain(m);
  });

  it('keeps its session: what is published while it is away arrives when it returns', async () => {
    await startIngest();
    await ingest!.stop();
    ingest = undefined;
    const s2 = await device('s2');
    for (let seq = 0; seq < 20; seq++) await s2.publishAsync('hatake/v1/sensor/s2/telemetry', JSON.stringify({ v: 1, ...exampleSensorSample({ seq, t: now - 30_000 + seq }) }), { qos: 1 });
    const ing = await startIngest();
    await waitFor('the queued messages', async () => ((await metric(ing, 'hatake_ingest_received_total', { channel: 'telemetry' })) >= 20 ? true : undefined));
    await ing.flush();
    expect(await store.samples({ kind: 'sensor', device: 's2', ...all })).toHaveLength(20);
  });

  it('writes everything it received before it stops', async () => {
    const ing = await startIngest();
    const t2 = await device('t2');
    await Promise.all(Array.from({ length: 300 }, (_, seq) => t2.publishAsync('hatake/v1/tractor/t2/telemetry', JSON.stringify({ v: 1, ...exampleTractorSample({ seq, t: now - 100_000 + seq }) }), { qos: 1 })));
    await waitFor('all received', async () => ((await metric(ing, 'hatake_ingest_received_total', { channel: 'telemetry' })) >= 300 ? true : undefined));
    await ing.stop();
    ingest = undefined;
    expect(await store.samples({ kind: 'tractor', device: 't2', ...all })).toHaveLength(300);
  });
});

describe('ingest behind an external broker that checks nothing (Mosquitto)', () => {
  let dep: TestDeployment;
  let mosq: Mosquitto;
  let store: TelemetryStore;
  let ingest: Ingest;
  let pub: MqttClient;
  const letters: DeadLetter[] = [];

  beforeAll(async () => {
    dep = await testDeployment({ env: { HATAKE_INGEST__HTTP__PORT: '0', HATAKE_INGEST__BATCH_MAX_MS: '50' } });
    mosq = await startMosquitto();
    store = new EmbeddedStore(':memory:', { logger: silentLogger() });
    await store.start();
    ingest = buildIngest(dep.config, { logger: silentLogger(), store, password: 'ignored by mosquitto', mqttUrl: mosq.url });
    await ingest.start();
    pub = await mqtt.connectAsync(mosq.url, { clientId: 'anyone', protocolVersion: 4, reconnectPeriod: 0 });
    pub.on('message', (_t, p) => letters.push(JSON.parse(p.toString()) as DeadLetter));
    await pub.subscribeAsync(DEAD_LETTER_FILTER, { qos: 1 });
  });
  afterAll(async () => {
    await pub.endAsync();
    await ingest.stop();
    await store.stop();
    await mosq.stop();
  });

  it('stores every good sample and dead-letters every bad one with its reason, whatever comes between them', async () => {
    const bad: [string, string | Buffer, string][] = [
      ['hatake/v1/tractor/t1/telemetry', '{"v":1,"t":', 'json'],
      ['hatake/v1/tractor/t1/telemetry', JSON.stringify({ v: 1, ...exampleTractorSample(), speed: 'fast' }), 'type'],
      ['hatake/v1/tractor/t1/telemetry', JSON.stringify(tractor(0)).replace('"speed":2.4', '"speed":NaN'), 'json'],
      ['hatake/v1/tractor/t1/telemetry', JSON.stringify({ ...tractor(0), lat: 200 }), 'range'],
      ['hatake/v1/tractor/t1/telemetry', Buffer.alloc(1024 * 1024, 0x7b), 'size'],
      ['hatake/v1/tractor/a,b=c/telemetry', JSON.stringify(tractor(0)), 'topic'],
      ['hatake/v1/tractor/a b/telemetry', JSON.stringify(tractor(0)), 'topic'],
      ['hatake/v1/tractor/a"b/telemetry', JSON.stringify(tractor(0)), 'topic'],
      ['hatake/v1/tractor/ghost/telemetry', JSON.stringify(tractor(0)), 'rule'],
      ['hatake/v1/plow/t1/telemetry', JSON.stringify({ v: 1, ...examplePlowSample() }), 'rule'],
      ['hatake/v1/tractor/t1/telemetry', JSON.stringify({ ...tractor(0), t: Date.now() + 3_600_000 }), 'rule'],
    ];
    let seq = 0;
    for (const [topic, payload] of bad) {
      // a good sample before and after each bad one
      await pub.publishAsync('hatake/v1/tractor/t1/telemetry', JSON.stringify(tractor(seq++)), { qos: 1 });
      await pub.publishAsync(topic, payload, { qos: 1 });
      await pub.publishAsync('hatake/v1/tractor/t1/telemetry', JSON.stringify(tractor(seq++)), { qos: 1 });
    }
    await waitFor('every dead letter', () => (letters.length >= bad.length ? true : undefined), { timeoutMs: 15_000 });
    await waitFor('every good sample', async () => ((await metric(ingest, 'hatake_ingest_received_total')) >= bad.length * 3 ? true : undefined));
    await ingest.flush();
    const stored = await store.samples({ kind: 'tractor', device: 't1', ...all });
    expect(stored.map((r) => r.seq).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: seq }, (_, i) => i));
    expect(letters.map((l) => l.reasons[0]?.code)).toEqual(bad.map((b) => b[2]));
    for (const [i, l] of letters.entries()) {
      expect(l.source).toBe('ingest');
      expect(l.topic).toBe(bad[i]![0]);
      expect(l.size).toBe(Buffer.byteLength(bad[i]![1]));
    }
    expect(letters[4]).toMatchObject({ truncated: true });
    expect(Buffer.from(letters[4]!.payload, 'base64')).toHaveLength(1024);
    expect(letters[8]?.reasons[0]?.message).toBe('device ghost is not in the configuration');
    expect(letters[9]?.reasons[0]?.message).toBe('device t1 is a tractor, not a plow');
    expect(await metric(ingest, 'hatake_ingest_rejected_total')).toBe(bad.length);
    expect(await metric(ingest, 'hatake_ingest_rejected_total', { reason: 'topic' })).toBe(3);
  });
});

describe('ingest over a real influxd that refuses, and that goes away', () => {
  let dep: TestDeployment;
  let broker: HatakeBroker;
  let addr: BrokerAddresses;
  let influxd: Influxd;
  let store: InfluxStore;
  let ingest: Ingest;
  let device: MqttClient;
  const letters: DeadLetter[] = [];

  beforeAll(async () => {
    influxd = await startInfluxd();
    dep = await testDeployment({ env: { HATAKE_INGEST__HTTP__PORT: '0', HATAKE_INGEST__BATCH_MAX_MS: '50' } });
    broker = buildBroker(dep.config, { logger: silentLogger() });
    addr = await broker.start();
    store = new InfluxStore(
      { ...dep.config.store.influx, url: influxd.url, username: influxd.username, password: influxd.password, retentionDays: 7, maxRetries: 2, maxRetryTimeMs: 2000, timeoutMs: 60_000 },
      { logger: silentLogger() },
    );
    await store.start();
    ingest = buildIngest(dep.config, { logger: silentLogger(), store, password: dep.secrets['ingest']!, mqttUrl: addr.mqtt.url });
    await ingest.start();
    const watcher = await mqtt.connectAsync(addr.mqtt.url, { username: 'gateway', password: dep.secrets['gateway'], clientId: 'gateway:dl', protocolVersion: 4, reconnectPeriod: 0 });
    watcher.on('message', (_t, p) => letters.push(JSON.parse(p.toString()) as DeadLetter));
    await watcher.subscribeAsync(DEAD_LETTER_FILTER, { qos: 1 });
    device = await mqtt.connectAsync(addr.mqtt.url, { username: 't1', password: dep.secrets['t1'], clientId: 't1', protocolVersion: 4, reconnectPeriod: 0 });
  });
  afterAll(async () => {
    await device.endAsync();
    await ingest.stop();
    await store.stop();
    await broker.stop();
    await influxd.stop();
  });

  const publish = (seq: number, t: number) => device.publishAsync('hatake/v1/tractor/t1/telemetry', JSON.stringify({ v: 1, ...exampleTractorSample({ seq, t }) }), { qos: 1 });
  const stored = async (from: number, to: number) => (await store.samples({ kind: 'tractor', device: 't1', from, to, limit: 100_000 })).map((r) => r.seq as number).sort((a, b) => a - b);

  it('sets aside a sample the database refuses (older than its retention) and writes the others around it', async () => {
    const now = Date.now();
    const base = now - 60_000;
    for (let seq = 0; seq < 40; seq++) await publish(seq, seq === 17 ? now - 30 * 86_400_000 : base + seq);
    await waitFor('the refused sample dead-lettered', () => (letters.some((l) => l.reasons[0]?.message.includes('partial write')) ? true : undefined), { timeoutMs: 20_000 });
    await ingest.drained();
    expect(await stored(base, base + 100)).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => i !== 17));
    const letter = letters.find((l) => l.reasons[0]?.message.includes('partial write'))!;
    expect(letter).toMatchObject({ source: 'ingest', note: 'refused by the store after validation' });
    expect(await metric(ingest, 'hatake_ingest_queue_depth')).toBe(0);
  });

  it('spools around a database that hangs (answers nothing) and stores everything once it answers again', async () => {
    const base = Date.now() - 45_000;
    const ackedBefore = await metric(ingest, 'hatake_ingest_acked_total');
    const spooledBefore = await metric(ingest, 'hatake_ingest_spooled_total', { type: 'sample' });
    influxd.freeze();
    try {
      await Promise.all(Array.from({ length: 50 }, (_, seq) => publish(3000 + seq, base + seq)));
      // the write is stuck, not failed (its timeout is a minute away): after ingest.spool.afterMs the batch goes
      // to the spool and is acknowledged
      await waitFor('all acknowledged', async () => ((await metric(ingest, 'hatake_ingest_acked_total')) - ackedBefore >= 50 ? true : undefined), { timeoutMs: 20_000 });
      expect((await metric(ingest, 'hatake_ingest_spooled_total', { type: 'sample' })) - spooledBefore).toBeGreaterThanOrEqual(50);
    } finally {
      influxd.thaw();
    }
    await ingest.drained();
    expect(await stored(base, base + 100)).toEqual(Array.from({ length: 50 }, (_, i) => 3000 + i));
  });

  it('acknowledges what arrives while the database is stopped only once it is spooled, and replays it all when the database returns', async () => {
    const base = Date.now() - 50_000;
    await influxd.pause();
    const ackedBefore = await metric(ingest, 'hatake_ingest_acked_total');
    await Promise.all(Array.from({ length: 100 }, (_, seq) => publish(1000 + seq, base + seq)));
    // the database answers nothing: ingest acknowledges the messages to the broker once the spool has them
    await waitFor('all acknowledged', async () => ((await metric(ingest, 'hatake_ingest_acked_total')) - ackedBefore >= 100 ? true : undefined), { timeoutMs: 20_000 });
    expect(await metric(ingest, 'hatake_ingest_spooled_total', { type: 'sample' })).toBeGreaterThanOrEqual(100);
    expect(await metric(ingest, 'hatake_ingest_spool_bytes')).toBeGreaterThan(0);
    await influxd.resume();
    await ingest.drained();
    expect(await stored(base, base + 200)).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
    expect(await metric(ingest, 'hatake_ingest_replayed_total', { type: 'sample' })).toBeGreaterThanOrEqual(100);
    expect(await metric(ingest, 'hatake_ingest_spool_bytes')).toBe(0);
  });
});
