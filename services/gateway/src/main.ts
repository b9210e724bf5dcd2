/**
 * `pnpm --filter @hatake/gateway start`: the gateway alone (production: one
 * or more per deployment). Needs the store (`HATAKE_STORE__ADAPTER=influx`
 * and its settings), its MQTT password in `HATAKE_GATEWAY__PASSWORD`, and a
 * shared `HATAKE_GATEWAY__AUTH__TOKEN_SECRET` when several run.
 */
import { fileURLToPath } from 'node:url';
import { ENV_CONFIG_FILE, loadConfig } from '@hatake/config';
import { createLogger, installShutdown } from '@hatake/runtime';
import { createStore } from '@hatake/store';
import { buildGateway } from './gateway.ts';

const defaultConfig = fileURLToPath(new URL('../../../config/hatake.yaml', import.meta.url));
const config = await loadConfig({ file: process.env[ENV_CONFIG_FILE] ?? defaultConfig, env: process.env }).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
const password = config.gateway.password;
if (!password) {
  process.stderr.write('the gateway needs its MQTT password: set HATAKE_GATEWAY__PASSWORD\n');
  process.exit(2);
}
const logger = createLogger({ name: 'gateway', level: config.log.level });
if (config.gateway.auth.tokenSecret === undefined) logger.warn('HATAKE_GATEWAY__AUTH__TOKEN_SECRET is not set: session tokens are signed with a random key, end with this process and are not accepted by other gateways');
const store = createStore(config, { logger });
await store.start();
const gateway = buildGateway(config, { logger, store, password });
const { http } = await gateway.start();
logger.info({ api: `${http.url}/api/v1`, ws: http.ws, openapi: `${http.url}/api/v1/openapi.json` }, 'ready');
installShutdown({
  logger,
  stop: async () => {
    await gateway.stop();
    await store.stop();
  },
});
