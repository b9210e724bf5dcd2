/**
 * `pnpm --filter @hatake/broker start`: the broker alone, configured by
 * `HATAKE_CONFIG` (default: the sample deployment) and `HATAKE_*` overrides.
 */
import { fileURLToPath } from 'node:url';
import { loadConfig, ENV_CONFIG_FILE } from '@hatake/config';
import { createLogger, installShutdown } from '@hatake/runtime';
import { buildBroker } from './broker.ts';
import { BrokerError } from './errors.ts';

const defaultConfig = fileURLToPath(new URL('../../../config/hatake.yaml', import.meta.url));
const config = await loadConfig({ file: process.env[ENV_CONFIG_FILE] ?? defaultConfig, env: process.env }).catch((err: unknown) => {
  process.stderr.write(`${String(err instanceof Error ? err.message : err)}\n`);
  process.exit(2);
});
const logger = createLogger({ name: 'broker', level: config.log.level });
const broker = buildBroker(config, { logger });
const addresses = await broker.start().catch((err: unknown) => {
  // a typed error (persistence directory locked or damaged) says what to do: no stack trace
  if (err instanceof BrokerError) logger.fatal({ code: err.code, reason: err.message }, 'broker cannot start');
  else logger.fatal({ err }, 'broker cannot start');
  process.exit(1);
});
logger.info({ mqtt: addresses.mqtt.url, ws: addresses.ws?.url, metrics: `${addresses.http.url}/metrics` }, 'ready');
installShutdown({ logger, stop: () => broker.stop() });
