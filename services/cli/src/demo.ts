/**
 * The demo stack in one process on embedded defaults: the broker, ingest and
 * the gateway over the embedded store (a DuckDB file in the data folder), and
 * the simulated fleet of the sample deployment. Credentials are generated at
 * first start; stopping writes everything received before leaving.
 */
import { buildBroker, type BrokerAddresses } from '@hatake/broker';
import { ensureDemoCredentials, loadConfig, type Config, type DemoSecrets } from '@hatake/config';
import { buildFleet, type Fleet } from '@hatake/fleet';
import { fileURLToPath } from 'node:url';
import { buildGateway, type Gateway } from '@hatake/gateway';
import { buildPrescriptionService } from '@hatake/prescription';
import { buildIngest } from '@hatake/ingest';
import type { Logger } from '@hatake/runtime';
import { createStore, type TelemetryStore } from '@hatake/store';

export interface DemoOptions {
  readonly configFile: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** Password hashing cost for generated credentials (tests lower it). */
  readonly cost?: { ln: number; r: number; p: number };
  /** Users to print a ready session token for. */
  readonly tokensFor?: readonly string[];
}

export interface DemoAddresses extends BrokerAddresses {
  readonly gateway: { readonly url: string; readonly ws: string };
  readonly ingest: { readonly url: string };
  readonly prescription: { readonly url: string };
}

export interface Demo {
  readonly config: Config;
  readonly secrets: DemoSecrets;
  readonly secretsPath: string;
  readonly created: readonly string[];
  readonly addresses: DemoAddresses;
  readonly fleet: Fleet;
  readonly store: TelemetryStore;
  /** The gateway (tests reach its live stream's sockets through `gateway.app`). */
  readonly gateway: Gateway;
  /** Session tokens issued at start, by user. */
  readonly tokens: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export const CLI_ERRORS = {
  HATAKE_ERR_DEMO_START: 'the demo could not start (a port in use, most often); the message says what to change',
} as const;

export class DemoError extends Error {
  readonly code: keyof typeof CLI_ERRORS = 'HATAKE_ERR_DEMO_START';
}

function portInUse(err: unknown): DemoError | undefined {
  const e = err as NodeJS.ErrnoException;
  if (e.code !== 'EADDRINUSE') return undefined;
  return new DemoError(
    `a port the demo needs is in use (${e.message.replace(/^listen /, '')}): another broker or server may be running; pick free ports with HATAKE_BROKER__MQTT__PORT, HATAKE_BROKER__WS__PORT, HATAKE_BROKER__HTTP__PORT, HATAKE_INGEST__HTTP__PORT, HATAKE_GATEWAY__HTTP__PORT, HATAKE_PRESCRIPTION__PORT`,
  );
}

/** Starts the demo; resolves once every service listens and every simulated device has connected. */
export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const draft = await loadConfig({ file: opts.configFile, env: opts.env, requireCredentials: false });
  const generated = await ensureDemoCredentials(draft, opts.cost ? { cost: opts.cost } : {});
  // the same configuration, now with every principal's hash
  const config = await loadConfig({ file: opts.configFile, env: opts.env, credentials: generated.credentials });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of [...stops].reverse()) await stop().catch((err: unknown) => opts.logger.error({ err }, 'stopping failed'));
    stops.length = 0;
  };
  try {
    const store = createStore(config, { logger: opts.logger });
    await store.start();
    stops.push(() => store.stop());
    const broker = buildBroker(config, { logger: opts.logger });
    stops.push(() => broker.stop());
    const brokerAddr = await broker.start();
    const services = generated.secrets.services;
    const ingest = buildIngest(config, { logger: opts.logger, store, password: services[config.ingest.username] ?? '', mqttUrl: brokerAddr.mqtt.url });
    stops.push(() => ingest.stop());
    const ingestAddr = await ingest.start();
    // the dashboard's Prescriptions view calls the prescription service (another port) straight from the browser:
    // the gateway tells the page its URL, the service allows the gateway's origin (CORS) and no other
    const prescriptionLink: { url?: string } = {};
    const gateway = buildGateway(config, { logger: opts.logger, store, password: services[config.gateway.username] ?? '', mqttUrl: brokerAddr.mqtt.url, prescriptionUrl: () => prescriptionLink.url, samplesDir: SAMPLES });
    stops.push(() => gateway.stop());
    const gatewayAddr = await gateway.start();
    // prescriptions sign in with the gateway's tokens
    const prescription = buildPrescriptionService(config, { logger: opts.logger, tokens: gateway.tokens, corsOrigins: [...(config.prescription.corsOrigins ?? []), new URL(gatewayAddr.http.url).origin] });
    stops.push(() => prescription.stop());
    const prescriptionAddr = await prescription.start();
    prescriptionLink.url = prescriptionAddr.url;
    const fleet = buildFleet(config, { secrets: generated.secrets, logger: opts.logger, url: brokerAddr.mqtt.url });
    // the fleet stops first (devices say goodbye), then ingest writes what it has
    stops.push(async () => {
      await fleet.stop();
      // the devices' goodbyes (offline states) are on their way through the broker: let ingest read them first
      await ingest.quiet(300, 3000);
    });
    await fleet.start();
    const tokens: Record<string, string> = {};
    for (const u of opts.tokensFor ?? []) if (config.users.some((x) => x.username === u)) tokens[u] = (await gateway.tokens.issue(u)).token;
    return {
      config,
      secrets: generated.secrets,
      secretsPath: generated.secretsPath,
      created: generated.created,
      addresses: { ...brokerAddr, gateway: { url: gatewayAddr.http.url, ws: gatewayAddr.http.ws }, ingest: { url: ingestAddr.http.url }, prescription: { url: prescriptionAddr.url } },
      fleet,
      store,
      gateway,
      tokens,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw portInUse(err) ?? err;
  }
}

/** The sample rasters and field (Iwamizawa) a prescription can be tried with. */
const SAMPLES = fileURLToPath(new URL('../../../packages/vrt/test/fixtures/in', import.meta.url));

/** The text printed when the demo is up: where to connect and with which credentials. */
export function demoBanner(demo: Demo): string {
  const { config, addresses, secrets } = demo;
  const named = config.devices.filter((d) => d.group === undefined);
  const count = (k: string): number => named.filter((d) => d.kind === k).length;
  const host = addresses.mqtt.host;
  const token = demo.tokens['admin'] ?? Object.values(demo.tokens)[0];
  const lines = [
    '',
    `hatake demo: ${config.deployment.name}`,
    '',
    `  Dashboard         ${addresses.gateway.url}/   (sign in with a demo user below: operators command, viewers watch)`,
    `  REST API          ${addresses.gateway.url}/api/v1   (OpenAPI: ${addresses.gateway.url}/api/v1/openapi.json)`,
    `  Live WebSocket    ${addresses.gateway.ws}   (subprotocols "hatake.v1" and "bearer.<token>")`,
    `  MQTT              ${addresses.mqtt.url}`,
    ...(addresses.ws ? [`  MQTT/WebSocket    ${addresses.ws.url}`] : []),
    `  Prescriptions     ${addresses.prescription.url}/api/v1/prescriptions   (agronomist; or offline: pnpm hatake prescription --help)`,
    `  Metrics, health   ${addresses.http.url}/metrics (broker)  ${addresses.ingest.url}/metrics (ingest)  ${addresses.gateway.url}/metrics (gateway)  ${addresses.prescription.url}/metrics (prescriptions), each with /healthz`,
    `  Store             ${config.store.adapter === 'embedded' ? `embedded DuckDB file ${config.deployment.dataDir}/${config.store.embedded.file}` : `InfluxDB ${config.store.influx.url}, database ${config.store.influx.database}`}`,
    '',
    `  Simulated fleet   ${count('tractor')} tractors, ${count('plow')} plows, ${count('sensor')} field sensors (seed ${config.simulation.seed})`,
    '',
    '  Try it:',
    ...(token
      ? [
          `    curl -s -H 'Authorization: Bearer ${token}' ${addresses.gateway.url}/api/v1/devices`,
          `    curl -s -H 'Authorization: Bearer ${token}' '${addresses.gateway.url}/api/v1/devices/t-kita-1/telemetry?every=10s'`,
        ]
      : []),
    `    curl -s -X POST -H 'content-type: application/json' -d '{"username":"viewer","password":"${secrets.users['viewer'] ?? '…'}"}' ${addresses.gateway.url}/api/v1/auth/login`,
    `    curl -s -H 'Authorization: Bearer ${demo.tokens['agronomist'] ?? '<agronomist token>'}' -F farm=kitamura ${['yield', 'moisture', 'ndvi', 'organic'].map((l) => `-F ${l}=@${SAMPLES}/${l}.tif`).join(' ')} -F field=@${SAMPLES}/field.geojson ${addresses.prescription.url}/api/v1/prescriptions`,
    `    mosquitto_sub -h ${host} -p ${addresses.mqtt.port} -V mqttv311 -i ingest:watch -u ingest -P '${secrets.services['ingest'] ?? ''}' -t 'hatake/v1/+/+/telemetry' -v`,
    '',
    ...(Object.keys(demo.tokens).length > 0
      ? ['  Session tokens (valid until the demo stops or they expire):', ...Object.entries(demo.tokens).map(([u, t]) => `    ${u.padEnd(14)} ${t}`), '']
      : []),
    `  Demo credentials (generated at first start, kept in ${demo.secretsPath}, mode 0600):`,
    ...config.users.map((u) => `    user     ${u.username.padEnd(14)} ${secrets.users[u.username] ?? ''}   (${u.roles.join(', ')}${u.farms.length ? `; farms ${u.farms.join(', ')}` : ''})`),
    ...config.services.map((s) => `    service  ${s.username.padEnd(14)} ${secrets.services[s.username] ?? ''}`),
    ...named.map((d) => `    device   ${d.id.padEnd(14)} ${secrets.devices[d.id] ?? ''}   (${d.kind})`),
    ...config.deviceGroups.map((g) => `    group    ${`${g.prefix}-*`.padEnd(14)} ${secrets.groups[g.prefix] ?? ''}   (${g.count} synthetic ${g.kind}s for load)`),
    '',
    '  Ctrl-C stops everything (what was received is written first).',
    '',
  ];
  return lines.join('\n');
}
