/**
 * The whole stack in one test process, as the demo runs it: broker, ingest,
 * gateway, a store (real influxd or embedded), and the simulated fleet.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { WebSocket } from 'ws';
import { buildBroker, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import { buildFleet, type Fleet, type FleetOptions } from '@hatake/fleet';
import { buildGateway, type Gateway } from '@hatake/gateway';
import { buildIngest, type Ingest } from '@hatake/ingest';
import { silentLogger } from '@hatake/runtime';
import { createStore, type TelemetryStore } from '@hatake/store';
import { startInfluxd, testDeployment, waitFor, type Influxd, type TestDeployment } from '@hatake/testkit';

export interface Stack {
  readonly dep: TestDeployment;
  readonly broker: HatakeBroker;
  readonly addr: BrokerAddresses;
  readonly store: TelemetryStore;
  readonly ingest: Ingest;
  /** Ingest's ops address (`/metrics`, `/healthz`). */
  readonly ingestHttp: string;
  readonly gateway: Gateway;
  readonly api: string;
  readonly ws: string;
  readonly influxd: Influxd | undefined;
  fleet(opts?: Partial<FleetOptions>): Promise<Fleet>;
  token(user: string): Promise<string>;
  get(path: string, user: string): Promise<{ status: number; body: Record<string, unknown> }>;
  mqtt(user: string, clientId?: string): Promise<MqttClient>;
  live(user: string): Promise<{ ws: WebSocket; messages: Record<string, unknown>[] }>;
  stop(): Promise<void>;
}

/** Starts the stack over `adapter`; `env` adds configuration overrides, `overrides` replaces top-level sections of the test deployment. */
export async function startStack(adapter: 'influx' | 'embedded', opts: { env?: Record<string, string>; overrides?: Record<string, unknown> } = {}): Promise<Stack> {
  const influxd = adapter === 'influx' ? await startInfluxd() : undefined;
  const env: Record<string, string> = {
    HATAKE_INGEST__HTTP__PORT: '0',
    HATAKE_GATEWAY__HTTP__PORT: '0',
    HATAKE_INGEST__BATCH_MAX_MS: '100',
    HATAKE_STORE__ADAPTER: adapter,
    HATAKE_STORE__EMBEDDED__FILE: ':memory:',
    ...(influxd ? { HATAKE_STORE__INFLUX__URL: influxd.url, HATAKE_STORE__INFLUX__USERNAME: influxd.username, HATAKE_STORE__INFLUX__PASSWORD: influxd.password } : {}),
    ...opts.env,
  };
  const dep = await testDeployment({ env, ...(opts.overrides ? { overrides: opts.overrides } : {}) });
  const store = createStore(dep.config, { logger: silentLogger() });
  await store.start();
  const broker = buildBroker(dep.config, { logger: silentLogger() });
  const addr = await broker.start();
  const ingest = buildIngest(dep.config, { logger: silentLogger(), store, password: dep.secrets['ingest']!, mqttUrl: addr.mqtt.url });
  const ingestHttp = (await ingest.start()).http.url;
  const gateway = buildGateway(dep.config, { logger: silentLogger(), store, password: dep.secrets['gateway']!, mqttUrl: addr.mqtt.url });
  const { http } = await gateway.start();
  const fleets: Fleet[] = [];
  const clients: MqttClient[] = [];
  const sockets: WebSocket[] = [];
  const tokens: Record<string, string> = {};
  const token = async (user: string): Promise<string> => (tokens[user] ??= (await gateway.tokens.issue(user)).token);
  return {
    dep,
    broker,
    addr,
    store,
    ingest,
    ingestHttp,
    gateway,
    api: http.url,
    ws: http.ws,
    influxd,
    async fleet(opts = {}) {
      const fleet = buildFleet(dep.config, { secrets: { devices: dep.secrets, groups: { load: dep.secrets['load']! } }, logger: silentLogger(), url: addr.mqtt.url, sensorSpeedup: 600, ...opts });
      fleets.push(fleet);
      await fleet.start();
      return fleet;
    },
    token,
    async get(path, user) {
      const res = await fetch(`${http.url}${path}`, { headers: { authorization: `Bearer ${await token(user)}` } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async mqtt(user, clientId = user) {
      const c = await mqtt.connectAsync(addr.mqtt.url, { username: user, password: dep.secrets[user], clientId, protocolVersion: 4, reconnectPeriod: 0 });
      clients.push(c);
      return c;
    },
    async live(user) {
      const ws = new WebSocket(http.ws, ['hatake.v1', `bearer.${await token(user)}`]);
      sockets.push(ws);
      const messages: Record<string, unknown>[] = [];
      ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      await waitFor('hello', () => (messages.some((m) => m['type'] === 'hello') ? true : undefined));
      return { ws, messages };
    },
    async stop() {
      for (const s of sockets) s.close();
      await Promise.all(fleets.map((f) => f.stop()));
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await ingest.stop();
      await gateway.stop();
      await broker.stop();
      await store.stop();
      await influxd?.stop();
    },
  };
}
