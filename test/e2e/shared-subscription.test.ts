/**
 * Scale-out: two ingest instances (`ingest:1`, `ingest:2`) share the telemetry through an MQTT 5 shared
 * subscription (`$share/ingest/…`) on a real external broker — Debian's Mosquitto with hatake's accounts and
 * ACL — and write to one real influxd, each through its own store client and its own spool. Simulated devices
 * publish samples with distinct (device, seq) at QoS 1.
 *
 * InfluxDB stores a point written twice once, so the store alone cannot show a duplicate: each instance's
 * `received` counter does (the broker handed a message to both, or to one twice). The store shows what was
 * lost: the exact set of (device, seq) is queried back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '@hatake/config';
import { buildIngest, type Ingest } from '@hatake/ingest';
import { examplePlowSample, exampleSensorSample, exampleTractorSample, telemetryTopic, type DeviceKind } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { createStore, type TelemetryStore } from '@hatake/store';
import { mosquittoAccounts, startInfluxd, startMosquitto, testDeployment, waitFor, type Influxd, type Mosquitto, type TestDeployment } from '@hatake/testkit';

interface Instance {
  readonly name: string;
  readonly ingest: Ingest;
  readonly store: TelemetryStore;
  stopped: boolean;
}

interface Device {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly client: MqttClient;
}

const sample = (kind: DeviceKind, seq: number, t: number): Record<string, unknown> => {
  const s = kind === 'tractor' ? exampleTractorSample({ seq, t }) : kind === 'plow' ? examplePlowSample({ seq, t }) : exampleSensorSample({ seq, t });
  return { v: 1, ...s };
};

/** Messages an instance counted as received on `telemetry`. */
async function receivedTelemetry(ingest: Ingest): Promise<number> {
  return (await ingest.metrics.received.get()).values.filter((v) => v.labels['channel'] === 'telemetry').reduce((s, v) => s + v.value, 0);
}

describe('two ingest instances behind Mosquitto with a shared subscription', () => {
  let dep: TestDeployment;
  let dataDir: string;
  let influxd: Influxd;
  let mosq: Mosquitto;
  let devices: Device[];
  const instances: Instance[] = [];

  /** ingest:<n> with its own client id, spool and store client; MQTT 5, share group "ingest". */
  const startInstance = async (n: number): Promise<Instance> => {
    const config: Config = {
      ...dep.config,
      ingest: { ...dep.config.ingest, clientId: `ingest:${n}`, spool: { ...dep.config.ingest.spool, dir: `spool-${n}` } },
    };
    const store = createStore(config, { logger: silentLogger() });
    await store.start();
    const ingest = buildIngest(config, { logger: silentLogger(), store, password: dep.secrets['ingest']!, mqttUrl: mosq.url });
    await ingest.start();
    const inst: Instance = { name: `ingest:${n}`, ingest, store, stopped: false };
    instances.push(inst);
    return inst;
  };
  const stopInstance = async (inst: Instance): Promise<void> => {
    if (inst.stopped) return;
    inst.stopped = true;
    await inst.ingest.stop();
    await inst.store.stop();
  };

  /** Every device publishes samples `from`..`to`-1 (1 sample per message, QoS 1, 20 in flight each); resolves when the broker acknowledged them all. */
  const publish = async (t0: number, from: number, to: number): Promise<void> => {
    await Promise.all(
      devices.map(async (d) => {
        const topic = telemetryTopic(d.kind, d.id);
        for (let i = from; i < to; i += 20) {
          const seqs = Array.from({ length: Math.min(20, to - i) }, (_, k) => i + k);
          await Promise.all(seqs.map((seq) => d.client.publishAsync(topic, JSON.stringify(sample(d.kind, seq, t0 + seq * 10)), { qos: 1 })));
        }
      }),
    );
  };

  /** What influxd holds for these devices in [t0, t0 + 1 h), as sorted "device/seq" keys. */
  const storedKeys = async (t0: number): Promise<string[]> => {
    const keys: string[] = [];
    for (const kind of ['tractor', 'plow', 'sensor'] as const) {
      const answer = (await influxd.query(`SELECT "seq" FROM "hatake"."hatake"."${kind}" WHERE time >= ${t0}ms AND time < ${t0 + 3_600_000}ms GROUP BY "device"`, 'hatake')) as {
        results: { series?: { tags: { device: string }; values: [string, number][] }[]; error?: string }[];
      };
      const result = answer.results[0];
      if (result?.error) throw new Error(result.error);
      for (const s of result?.series ?? []) for (const [, seq] of s.values) keys.push(`${s.tags.device}/${seq}`);
    }
    return keys.sort();
  };
  const expectedKeys = (count: number): string[] => devices.flatMap((d) => Array.from({ length: count }, (_, seq) => `${d.id}/${seq}`)).sort();

  const waitStored = async (t0: number, total: number): Promise<string[]> => {
    let keys: string[] = [];
    await waitFor(
      `influxd to hold ${total} samples`,
      async () => {
        await Promise.all(instances.filter((i) => !i.stopped).map((i) => i.ingest.flush()));
        keys = await storedKeys(t0);
        return keys.length >= total ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    return keys;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hatake-scaleout-'));
    influxd = await startInfluxd();
    dep = await testDeployment({
      env: {
        HATAKE_MQTT__PROTOCOL_VERSION: '5',
        HATAKE_INGEST__SHARE_GROUP: 'ingest',
        HATAKE_INGEST__HTTP__PORT: '0',
        HATAKE_INGEST__BATCH_MAX_MS: '50',
        HATAKE_STORE__ADAPTER: 'influx',
        HATAKE_STORE__INFLUX__URL: influxd.url,
        HATAKE_STORE__INFLUX__USERNAME: influxd.username,
        HATAKE_STORE__INFLUX__PASSWORD: influxd.password,
      },
      overrides: { deployment: { name: 'scale-out', dataDir } },
    });
    mosq = await startMosquitto({ accounts: mosquittoAccounts(dep) });
    // every device of the test deployment: 2 tractors, a plow, 2 sensors and 20 load sensors
    devices = await Promise.all(
      dep.config.devices.map(async (d) => ({
        id: d.id,
        kind: d.kind,
        client: await mqtt.connectAsync(mosq.url, { username: d.id, password: dep.secrets[d.group ?? d.id], clientId: d.id, protocolVersion: 5, reconnectPeriod: 0 }),
      })),
    );
  });
  afterAll(async () => {
    await Promise.all((devices ?? []).map((d) => d.client.endAsync(true)));
    for (const i of instances) await stopInstance(i).catch(() => undefined);
    await mosq?.stop();
    await influxd?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('the union of what they store is every sample, none received twice, and both take a share', async () => {
    const [a, b] = [await startInstance(1), await startInstance(2)];
    const t0 = Date.now() - 3 * 3_600_000;
    const per = 200;
    const total = devices.length * per;
    await publish(t0, 0, per);
    await waitFor(`${total} messages received`, async () => ((await receivedTelemetry(a.ingest)) + (await receivedTelemetry(b.ingest)) >= total ? true : undefined), { timeoutMs: 30_000 });
    const keys = await waitStored(t0, total);
    const [ra, rb] = [await receivedTelemetry(a.ingest), await receivedTelemetry(b.ingest)];
    // a message handed to both instances, or to one twice, would make the sum larger
    expect({ [a.name]: ra, [b.name]: rb, sum: ra + rb }).toEqual({ [a.name]: ra, [b.name]: rb, sum: total });
    // both got a real share (Mosquitto hands a group's messages out round-robin)
    expect(ra, `${a.name} received ${ra} of ${total}`).toBeGreaterThanOrEqual(total * 0.25);
    expect(rb, `${b.name} received ${rb} of ${total}`).toBeGreaterThanOrEqual(total * 0.25);
    expect(keys).toEqual(expectedKeys(per));
    await stopInstance(a);
    await stopInstance(b);
  }, 90_000);

  it('one instance stopped mid-run: the other takes over, nothing lost', async () => {
    const [a, b] = [await startInstance(3), await startInstance(4)];
    const t0 = Date.now() - 2 * 3_600_000;
    const per = 300;
    const total = devices.length * per;
    // the first third with both instances; b stops while the second third is being published; a alone for the rest
    await publish(t0, 0, 100);
    await Promise.all([publish(t0, 100, 200), stopInstance(b)]);
    const rbAtStop = await receivedTelemetry(b.ingest);
    await publish(t0, 200, per);
    await waitFor(`${total} messages received`, async () => ((await receivedTelemetry(a.ingest)) + rbAtStop >= total ? true : undefined), { timeoutMs: 20_000 }).catch(() => undefined);
    const keys = await waitStored(t0, total).catch(() => storedKeys(t0));
    const ra = await receivedTelemetry(a.ingest);
    const missing = expectedKeys(per).filter((k) => !keys.includes(k));
    expect(missing, `lost ${missing.length} of ${total} (first: ${missing.slice(0, 5).join(', ')}); ${a.name} received ${ra}, ${b.name} ${rbAtStop} before it stopped`).toEqual([]);
    expect(keys).toEqual(expectedKeys(per));
    expect(rbAtStop, `${b.name} took a share before it stopped`).toBeGreaterThan(0);
    // after the stop everything went to a: it received at least the last third, and nothing twice overall
    expect(ra).toBeGreaterThanOrEqual(devices.length * (per - 200));
    expect(ra + rbAtStop).toBe(total);
    await stopInstance(a);
  }, 90_000);
});
