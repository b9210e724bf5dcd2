/**
 * The demo stack in one process on embedded defaults: the broker and the
 * simulated fleet of the sample deployment (ingest, gateway and dashboard
 * join here as they are built). Credentials are generated at first start.
 */
import { buildBroker, type BrokerAddresses } from '@hatake/broker';
import { ensureDemoCredentials, loadConfig, type Config, type DemoSecrets } from '@hatake/config';
import { buildFleet, type Fleet } from '@hatake/fleet';
import type { Logger } from '@hatake/runtime';

export interface DemoOptions {
  readonly configFile: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** Password hashing cost for generated credentials (tests lower it). */
  readonly cost?: { ln: number; r: number; p: number };
}

export interface Demo {
  readonly config: Config;
  readonly secrets: DemoSecrets;
  readonly secretsPath: string;
  readonly created: readonly string[];
  readonly addresses: BrokerAddresses;
  readonly fleet: Fleet;
  stop(): Promise<void>;
}

export const CLI_ERRORS = {
  HATAKE_ERR_DEMO_START: 'the demo could not start (a port in use, most often); the message says what to change',
} as const;

export class DemoError extends Error {
  readonly code: keyof typeof CLI_ERRORS = 'HATAKE_ERR_DEMO_START';
}

/** Starts the demo; resolves once the broker listens and every simulated device has connected. */
export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const draft = await loadConfig({ file: opts.configFile, env: opts.env, requireCredentials: false });
  const generated = await ensureDemoCredentials(draft, opts.cost ? { cost: opts.cost } : {});
  // the same configuration, now with every principal's hash
  const config = await loadConfig({ file: opts.configFile, env: opts.env, credentials: generated.credentials });
  const broker = buildBroker(config, { logger: opts.logger });
  let addresses: BrokerAddresses;
  try {
    addresses = await broker.start();
  } catch (err) {
    await broker.stop().catch(() => undefined);
    const e = err as NodeJS.ErrnoException & { port?: number };
    if (e.code === 'EADDRINUSE') {
      throw new DemoError(`a port the broker needs is in use (${e.message.replace(/^listen /, '')}): another MQTT broker may be running; pick free ports with HATAKE_BROKER__MQTT__PORT, HATAKE_BROKER__WS__PORT and HATAKE_BROKER__HTTP__PORT`);
    }
    throw err;
  }
  const fleet = buildFleet(config, { secrets: generated.secrets, logger: opts.logger, url: addresses.mqtt.url });
  await fleet.start();
  return {
    config,
    secrets: generated.secrets,
    secretsPath: generated.secretsPath,
    created: generated.created,
    addresses,
    fleet,
    async stop() {
      await fleet.stop();
      await broker.stop();
    },
  };
}

/** The text printed when the demo is up: where to connect and with which credentials. */
export function demoBanner(demo: Demo): string {
  const { config, addresses, secrets } = demo;
  const named = config.devices.filter((d) => d.group === undefined);
  const count = (k: string): number => named.filter((d) => d.kind === k).length;
  const host = addresses.mqtt.host;
  const lines = [
    '',
    `hatake demo: ${config.deployment.name}`,
    '',
    `  MQTT              ${addresses.mqtt.url}`,
    ...(addresses.ws ? [`  MQTT/WebSocket    ${addresses.ws.url}`] : []),
    `  Broker metrics    ${addresses.http.url}/metrics   health: ${addresses.http.url}/healthz`,
    '',
    `  Simulated fleet   ${count('tractor')} tractors, ${count('plow')} plows, ${count('sensor')} field sensors (seed ${config.simulation.seed})`,
    '',
    '  Watch the fleet (with the ingest service account):',
    `    mosquitto_sub -h ${host} -p ${addresses.mqtt.port} -V mqttv311 -i ingest:watch -u ingest -P '${secrets.services['ingest'] ?? ''}' -t 'hatake/v1/+/+/telemetry' -t 'hatake/v1/+/+/state' -v`,
    '',
    `  Demo credentials (generated at first start, kept in ${demo.secretsPath}, mode 0600):`,
    ...config.users.map((u) => `    user     ${u.username.padEnd(14)} ${secrets.users[u.username] ?? ''}   (${u.roles.join(', ')}${u.farms.length ? `; farms ${u.farms.join(', ')}` : ''})`),
    ...config.services.map((s) => `    service  ${s.username.padEnd(14)} ${secrets.services[s.username] ?? ''}`),
    ...named.map((d) => `    device   ${d.id.padEnd(14)} ${secrets.devices[d.id] ?? ''}   (${d.kind})`),
    ...config.deviceGroups.map((g) => `    group    ${`${g.prefix}-*`.padEnd(14)} ${secrets.groups[g.prefix] ?? ''}   (${g.count} synthetic ${g.kind}s for load)`),
    '',
    '  Ctrl-C stops everything.',
    '',
  ];
  return lines.join('\n');
}
