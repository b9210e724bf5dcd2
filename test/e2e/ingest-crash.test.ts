/**
 * Ingest killed with SIGKILL — under load, and in the middle of replaying its
 * spool — and started again: every sample the broker acknowledged to its
 * device is stored exactly once. Real processes: influxd, and ingest as a
 * process of its own (test/e2e/bin/ingest-process.ts); the broker runs in the
 * test (it stays up, keeping ingest's persistent session).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBroker, type HatakeBroker } from '@hatake/broker';
import { exampleSensorSample } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { InfluxStore } from '@hatake/store';
import { startInfluxd, startProcess, testDeployment, waitFor, type Influxd, type TestDeployment } from '@hatake/testkit';
import { scrape } from './scrape.ts';

const CHILD = fileURLToPath(new URL('./bin/ingest-process.ts', import.meta.url));
const DEVICES = ['s1', 's2'] as const;

type Child = Awaited<ReturnType<typeof startProcess>> & { metricsUrl: string };

describe('ingest killed with SIGKILL', () => {
  let influxd: Influxd;
  let dep: TestDeployment;
  let broker: HatakeBroker;
  let store: InfluxStore;
  let childConfig: string;
  const devices: MqttClient[] = [];
  /** seqs the broker acknowledged, per device */
  const acked: Record<string, Set<number>> = { s1: new Set(), s2: new Set() };
  const t0 = Date.now() - 3_600_000;

  /** children still running, stopped after the tests whatever happened */
  const running = new Set<Child>();
  const startChild = async (): Promise<Child> => {
    const proc = await startProcess(process.execPath, ['--conditions=@hatake/source', '--import', 'tsx', CHILD, childConfig], /ingest ready \S+/, { timeoutMs: 30_000 });
    const url = /ingest ready (\S+)/.exec(proc.output())![1]!;
    const child: Child = Object.assign(proc, { metricsUrl: `${url}/metrics` });
    running.add(child);
    return child;
  };

  /** Each device publishes seqs [from, to) at QoS 1, 20 in flight; resolves when the broker acknowledged them all. */
  const publish = (from: number, to: number): Promise<void> =>
    Promise.all(
      devices.map(async (c, d) => {
        const id = DEVICES[d]!;
        for (let i = from; i < to; i += 20) {
          await Promise.all(
            Array.from({ length: Math.min(20, to - i) }, async (_, k) => {
              const seq = i + k;
              await c.publishAsync(`hatake/v1/sensor/${id}/telemetry`, JSON.stringify({ v: 1, ...exampleSensorSample({ seq, t: t0 + seq * 10 }) }), { qos: 1 });
              acked[id]!.add(seq);
            }),
          );
        }
      }),
    ).then(() => undefined);

  const storedSeqs = async (id: string): Promise<number[]> =>
    (await store.samples({ kind: 'sensor', device: id, from: t0 - 1, to: t0 + 10_000_000, limit: 1_000_000 })).map((r) => r.seq as number);

  /** Waits until the store holds every acknowledged sample; checks none is there twice and nothing else is. */
  const expectExactlyOnce = async (): Promise<void> => {
    for (const id of DEVICES) {
      const want = [...acked[id]!].sort((a, b) => a - b);
      await waitFor(`${id}: all ${want.length} acknowledged samples stored`, async () => ((await storedSeqs(id)).length >= want.length ? true : undefined), { timeoutMs: 60_000 });
      const got = await storedSeqs(id);
      expect(got.length).toBe(new Set(got).size);
      expect(got.sort((a, b) => a - b)).toEqual(want);
    }
  };

  beforeAll(async () => {
    influxd = await startInfluxd();
    dep = await testDeployment({
      env: {
        HATAKE_STORE__ADAPTER: 'influx',
        HATAKE_STORE__INFLUX__URL: influxd.url,
        HATAKE_STORE__INFLUX__USERNAME: influxd.username,
        HATAKE_STORE__INFLUX__PASSWORD: influxd.password,
        HATAKE_STORE__INFLUX__MAX_RETRIES: '1',
        HATAKE_STORE__INFLUX__TIMEOUT_MS: '2000',
        HATAKE_INGEST__HTTP__PORT: '0',
        HATAKE_INGEST__BATCH_MAX_MS: '50',
        // small batches: a replay of the spool takes many writes, so a kill lands in the middle of it
        HATAKE_INGEST__BATCH_MAX_SAMPLES: '100',
        HATAKE_INGEST__SPOOL__AFTER_MS: '500',
        HATAKE_MQTT__RECONNECT_MS: '200',
        HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '100000',
        HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '100000',
      },
    });
    broker = buildBroker(dep.config, { logger: silentLogger() });
    const addr = await broker.start();
    childConfig = join(await mkdtemp(join(tmpdir(), 'hatake-ingest-child-')), 'ingest.json');
    await writeFile(childConfig, JSON.stringify({ config: dep.config, password: dep.secrets['ingest'], mqttUrl: addr.mqtt.url }), { mode: 0o600 });
    store = new InfluxStore({ ...dep.config.store.influx }, { logger: silentLogger() });
    await store.start();
    for (const id of DEVICES) devices.push(await mqtt.connectAsync(addr.mqtt.url, { username: id, password: dep.secrets[id], clientId: id, protocolVersion: 4, reconnectPeriod: 0 }));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...running].map((c) => c.stop('SIGKILL')));
    await Promise.all(devices.map((c) => c.endAsync(true)));
    await store?.stop();
    await broker?.stop();
    await influxd?.stop();
  });

  it('under load: what the broker held for it arrives after the restart, nothing lost, nothing twice', async () => {
    let child = await startChild();
    const load = publish(0, 3000);
    await waitFor('some samples stored', async () => ((await scrape(child.metricsUrl, 'hatake_ingest_stored_total')) >= 500 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
    const result = await child.stop('SIGKILL');
    expect(result.signal).toBe('SIGKILL');
    // the devices keep publishing while ingest is dead: the broker keeps it for ingest's persistent session
    await publish(3000, 3500);
    child = await startChild();
    await load;
    await expectExactlyOnce();
    await child.stop('SIGTERM');
  }, 120_000);

  it('in the middle of replaying its spool: the replay starts over and stores every sample once', async () => {
    let child = await startChild();
    await influxd.pause();
    // the database is away: ingest spools and acknowledges
    await publish(10_000, 12_000);
    await waitFor('everything spooled', async () => ((await scrape(child.metricsUrl, 'hatake_ingest_spooled_total')) >= 4000 ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
    // everything received is acknowledged (/healthz refreshes the sampled gauges)
    await waitFor('all acknowledged', async () => {
      await fetch(child.metricsUrl.replace('/metrics', '/healthz'));
      return (await scrape(child.metricsUrl, 'hatake_ingest_unacked_messages')) === 0 ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    await child.stop('SIGKILL');
    await influxd.resume();
    child = await startChild();
    // kill it again as soon as the replay has stored something, while spool files remain
    await waitFor('replay under way', async () => ((await scrape(child.metricsUrl, 'hatake_ingest_replayed_total')) > 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 5 });
    const filesLeft = await scrape(child.metricsUrl, 'hatake_ingest_spool_files');
    await child.stop('SIGKILL');
    expect(filesLeft).toBeGreaterThan(0);
    child = await startChild();
    await expectExactlyOnce();
    await waitFor('spool empty', async () => ((await scrape(child.metricsUrl, 'hatake_ingest_spool_bytes')) === 0 ? true : undefined), { timeoutMs: 30_000 });
    await child.stop('SIGTERM');
  }, 120_000);
});
