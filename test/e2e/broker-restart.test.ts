/**
 * The broker restarts under a running system: the broker is a process of its
 * own (services/broker/src/main.ts, the sample deployment, its session store
 * in a temporary data directory, fixed ports so it comes back where it was);
 * ingest, the gateway, the embedded store and four simulated devices run in
 * the test. Stopped (SIGTERM) and killed (SIGKILL), then started again on the
 * same ports and directory: every device and both services reconnect by
 * themselves, retained states survive, and what was queued for ingest's
 * persistent session while ingest was away is all stored.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoCredentials, loadConfig, type Config, type DemoSecrets } from '@hatake/config';
import { buildFleet, type Fleet } from '@hatake/fleet';
import { buildGateway, type Gateway } from '@hatake/gateway';
import { buildIngest, type Ingest } from '@hatake/ingest';
import { exampleState, exampleTractorSample, stateTopic, telemetryTopic, type DeviceKind } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { createStore, type TelemetryStore } from '@hatake/store';
import { freePort, run, startProcess, waitFor } from '@hatake/testkit';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SAMPLE_CONFIG = join(ROOT, 'config', 'hatake.yaml');
const BROKER_MAIN = join(ROOT, 'services', 'broker', 'src', 'main.ts');
/** The running fleet: a tractor, a plow and two field stations of the sample deployment. */
const FLEET = ['t-kita-1', 'p-iwa-1', 's-kita-1', 's-kuri-1'] as const;
/** A configured device that is not running: what the broker says about it can only come from its store. */
const MARKER = { id: 't-kuri-2', kind: 'tractor' } as const;
const T_FROM = Date.now() - 3_600_000;
const T_TO = Date.now() + 3_600_000;

type BrokerProcess = Awaited<ReturnType<typeof startProcess>>;

describe('the broker restarts under a running system', () => {
  let env: Record<string, string>;
  let dataDir: string;
  let config: Config;
  let secrets: DemoSecrets;
  let metricsUrl: string;
  let broker: BrokerProcess | undefined;
  let store: TelemetryStore;
  let ingest: Ingest | undefined;
  let gateway: Gateway;
  let gatewayUrl: string;
  let fleet: Fleet;
  const clients: MqttClient[] = [];

  const brokerArgs = (): string[] => ['--conditions=@hatake/source', '--import', 'tsx', BROKER_MAIN];
  const startBroker = (): Promise<BrokerProcess> =>
    // startProcess inherits this process's environment; env(1) adds the deployment's
    startProcess('/usr/bin/env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, ...brokerArgs()], /"msg":"ready"/, { timeoutMs: 30_000 });

  const startIngest = async (): Promise<Ingest> => {
    const i = buildIngest(config, { logger: silentLogger(), store, password: secrets.services['ingest']! });
    await i.start();
    return i;
  };

  /** Connected clients by principal type, from the broker's /metrics. */
  const brokerClients = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(metricsUrl)).text();
    return Object.fromEntries([...text.matchAll(/^hatake_broker_clients\{type="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
  };

  const storedSeqs = async (kind: DeviceKind, device: string): Promise<Set<number>> =>
    new Set((await store.samples({ kind, device, from: T_FROM, to: T_TO, limit: 1_000_000 })).map((r) => (r as { seq: number }).seq));

  /** Waits until the store holds seq 0 … n-1 of the device. */
  const waitStored = async (kind: DeviceKind, device: string, n: number): Promise<void> => {
    await waitFor(
      `${device}: seq 0…${n - 1} stored`,
      async () => {
        await ingest?.flush();
        const seqs = await storedSeqs(kind, device);
        return Array.from({ length: n }, (_, i) => i).every((s) => seqs.has(s)) ? true : undefined;
      },
      { timeoutMs: 20_000 },
    );
  };

  /** The retained state of every one of `ids`, as a fresh subscriber gets it. */
  const retainedStates = async (ids: readonly string[]): Promise<Record<string, Record<string, unknown>>> => {
    const got: Record<string, Record<string, unknown>> = {};
    const sub = await mqtt.connectAsync(config.mqtt.url, { username: 'gateway', password: secrets.services['gateway'], clientId: `gateway:${Math.random().toString(36).slice(2)}`, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(sub);
    sub.on('message', (topic, payload) => {
      got[topic.split('/')[3]!] = JSON.parse(payload.toString()) as Record<string, unknown>;
    });
    await sub.subscribeAsync('hatake/v1/+/+/state', { qos: 1 });
    await waitFor(`retained states of ${ids.join(', ')}`, () => (ids.every((id) => got[id]) ? true : undefined));
    await sub.endAsync();
    return got;
  };

  /** Publishes the marker device's retained state (and `telemetry` QoS 1 messages), then leaves with DISCONNECT: no will. */
  const marker = async (firmware: string, telemetry = 0): Promise<void> => {
    const c = await mqtt.connectAsync(config.mqtt.url, { username: MARKER.id, password: secrets.devices[MARKER.id], clientId: MARKER.id, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(c);
    await c.publishAsync(stateTopic(MARKER.kind, MARKER.id), JSON.stringify(exampleState({ t: Date.now(), firmware })), { qos: 1, retain: true });
    for (let seq = 0; seq < telemetry; seq++) {
      await c.publishAsync(telemetryTopic(MARKER.kind, MARKER.id), JSON.stringify({ v: 1, ...exampleTractorSample({ seq, t: Date.now() - 60_000 + seq }) }), { qos: 1 });
    }
    await c.endAsync();
  };

  /** waitFor, with what was seen when it timed out. */
  const waitSeeing = <T>(what: string, check: () => T | undefined | Promise<T | undefined>, seen: () => unknown, timeoutMs = 20_000): Promise<T> =>
    waitFor(what, check, { timeoutMs }).catch((err: Error) => {
      throw new Error(`${err.message}; seen: ${JSON.stringify(seen())}`);
    });
  const deviceStats = (): unknown => fleet.devices.map((d) => ({ id: d.id, connected: d.connected, ...d.stats }));
  /** MQTT messages the gateway has taken in (what it streams live), by channel. */
  const gatewayIntake = async (channel: 'telemetry' | 'state'): Promise<number> => (await gateway.metrics.mqttMessages.get()).values.find((v) => v.labels['channel'] === channel)?.value ?? 0;
  const gatewayHealth = async (): Promise<number> => (await fetch(`${gatewayUrl}/healthz`)).status;
  const everyDevice = (check: (d: Fleet['devices'][number]) => boolean): true | undefined => (fleet.devices.every(check) ? true : undefined);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hatake-broker-restart-'));
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    env = {
      HATAKE_CONFIG: SAMPLE_CONFIG,
      HATAKE_DEPLOYMENT__DATA_DIR: dataDir,
      HATAKE_CREDENTIALS_FILE: join(dataDir, 'credentials.json'),
      HATAKE_BROKER__PERSISTENCE__TYPE: 'level',
      HATAKE_BROKER__MQTT__PORT: String(mqttPort),
      HATAKE_BROKER__HTTP__PORT: String(httpPort),
      HATAKE_BROKER__WS__ENABLED: 'false',
      HATAKE_MQTT__URL: `mqtt://127.0.0.1:${mqttPort}`,
      HATAKE_MQTT__RECONNECT_MS: '100',
      HATAKE_STORE__ADAPTER: 'embedded',
      HATAKE_STORE__EMBEDDED__FILE: ':memory:',
      HATAKE_INGEST__HTTP__PORT: '0',
      HATAKE_INGEST__BATCH_MAX_MS: '100',
      HATAKE_GATEWAY__HTTP__PORT: '0',
    };
    metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
    // the sample deployment with its own demo credentials (cheap hashes: a test)
    const draft = await loadConfig({ file: SAMPLE_CONFIG, env, requireCredentials: false });
    secrets = (await ensureDemoCredentials(draft, { cost: { ln: 10, r: 8, p: 1 } })).secrets;
    config = await loadConfig({ file: SAMPLE_CONFIG, env });
    broker = await startBroker();
    store = createStore(config, { logger: silentLogger() });
    await store.start();
    ingest = await startIngest();
    gateway = buildGateway(config, { logger: silentLogger(), store, password: secrets.services['gateway']! });
    const { http } = await gateway.start();
    gatewayUrl = http.url;
    fleet = buildFleet(config, { secrets: { devices: secrets.devices, groups: secrets.groups }, logger: silentLogger(), only: FLEET, sensorSpeedup: 600 });
    await fleet.start();
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await ingest?.stop();
    await gateway?.stop();
    await broker?.stop('SIGTERM');
    await store?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('stopped: everyone reconnects; retained states and what was queued for ingest while it was away are all there; a second broker on the directory is refused', async () => {
    // all running: every device's telemetry reaches the store, and the gateway
    for (const d of fleet.devices) await waitStored(d.kind, d.id, 2);
    await waitFor('the gateway taking telemetry in', async () => ((await gatewayIntake('telemetry')) > 0 ? true : undefined));
    await marker('kept-by-a-graceful-stop');

    // ingest goes away; its persistent session queues: 40 messages of the marker device, and the fleet's
    await ingest!.stop();
    ingest = undefined;
    await marker('kept-by-a-graceful-stop', 40);

    const stopped = await broker!.stop('SIGTERM');
    broker = undefined;
    expect(stopped.code).toBe(0);
    await waitSeeing('devices retrying', () => everyDevice((d) => !d.connected && d.stats.reconnects >= 1), deviceStats);
    await waitFor('the gateway notices', async () => ((await gatewayHealth()) === 503 ? true : undefined));

    broker = await startBroker();
    // while it runs, a second broker on the same directory (it would also find the ports taken, but the store comes first)
    const second = run(process.execPath, brokerArgs(), { env, timeoutMs: 30_000 });
    const intake = { telemetry: await gatewayIntake('telemetry'), state: await gatewayIntake('state') };
    await waitSeeing('every device back', () => everyDevice((d) => d.connected && d.stats.connects >= 2), deviceStats);
    await waitFor('the gateway back', async () => ((await gatewayHealth()) === 200 ? true : undefined), { timeoutMs: 20_000 });
    // what the gateway streams live flows again: each device's state (published on reconnect) and telemetry
    await waitFor('states and telemetry at the gateway again', async () =>
      (await gatewayIntake('state')) >= intake.state + FLEET.length && (await gatewayIntake('telemetry')) > intake.telemetry + FLEET.length ? true : undefined,
    );

    // ingest comes back to its session: the 40 queued messages are stored, and nothing the fleet sampled is missing
    ingest = await startIngest();
    await waitStored(MARKER.kind, MARKER.id, 40);
    expect([...(await storedSeqs(MARKER.kind, MARKER.id))].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    for (const d of fleet.devices) await waitStored(d.kind, d.id, d.stats.samples);

    await waitFor('4 devices and 2 services connected', async () => {
      const c = await brokerClients();
      return c['device'] === FLEET.length && c['service'] === 2 ? true : undefined;
    });
    const states = await retainedStates([...FLEET, MARKER.id]);
    expect(states[MARKER.id]).toMatchObject({ online: true, firmware: 'kept-by-a-graceful-stop' });
    for (const id of FLEET) expect(states[id], id).toMatchObject({ online: true });

    // the second broker was refused with a typed error: no stack trace, exit status 1
    const refused = await second;
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('HATAKE_ERR_BROKER_PERSISTENCE_LOCKED');
    expect(refused.stdout + refused.stderr).not.toMatch(/^\s+at /m);
  }, 60_000);

  it('killed: everyone reconnects, and retained states survive', async () => {
    await marker('kept-by-a-kill');
    // read back from the store before the kill, so it is on disk
    expect((await retainedStates([MARKER.id]))[MARKER.id]).toMatchObject({ firmware: 'kept-by-a-kill' });

    const reconnectsBefore = (await ingest!.metrics.reconnects.get()).values[0]?.value ?? 0;
    const connectsBefore = Object.fromEntries(fleet.devices.map((d) => [d.id, d.stats.connects]));
    const killed = await broker!.stop('SIGKILL');
    broker = undefined;
    expect(killed.signal).toBe('SIGKILL');
    await waitSeeing('devices retrying', () => everyDevice((d) => !d.connected), deviceStats);
    await waitFor('ingest retrying', async () => (((await ingest!.metrics.reconnects.get()).values[0]?.value ?? 0) > reconnectsBefore ? true : undefined));

    broker = await startBroker();
    const intake = { telemetry: await gatewayIntake('telemetry'), state: await gatewayIntake('state') };
    const produced = Object.fromEntries(fleet.devices.map((d) => [d.id, d.stats.samples]));
    await waitSeeing('every device back', () => everyDevice((d) => d.connected && d.stats.connects > connectsBefore[d.id]!), deviceStats);
    await waitFor('the gateway back', async () => ((await gatewayHealth()) === 200 ? true : undefined), { timeoutMs: 20_000 });
    await waitFor('states and telemetry at the gateway again', async () =>
      (await gatewayIntake('state')) >= intake.state + FLEET.length && (await gatewayIntake('telemetry')) > intake.telemetry + FLEET.length ? true : undefined,
    );
    // ingest, still running, stores what each device samples after the kill
    for (const d of fleet.devices) {
      await waitFor(
        `${d.id}: samples from after the kill stored`,
        async () => {
          await ingest!.flush();
          return Math.max(...(await storedSeqs(d.kind, d.id))) >= produced[d.id]! ? true : undefined;
        },
        { timeoutMs: 20_000 },
      );
    }
    await waitFor('4 devices and 2 services connected', async () => {
      const c = await brokerClients();
      return c['device'] === FLEET.length && c['service'] === 2 ? true : undefined;
    });
    const states = await retainedStates([...FLEET, MARKER.id]);
    expect(states[MARKER.id]).toMatchObject({ online: true, firmware: 'kept-by-a-kill' });
    for (const id of FLEET) expect(states[id], id).toMatchObject({ online: true });
  }, 60_000);
});
