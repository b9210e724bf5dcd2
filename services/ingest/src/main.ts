/**
 * `pnpm --filter @hatake/ingest start`: ingest alone (production: one per
 * process). Needs the store (`HATAKE_STORE__ADAPTER=influx` and its URL,
 * database, credentials) and its MQTT password in `HATAKE_INGEST__PASSWORD`.
 */
import { fileURLToPath } from 'node:url';
import { ENV_CONFIG_FILE, loadConfig } from '@hatake/config';
import { createLogger, installShutdown } from '@hatake/runtime';
import { createStore } from '@hatake/store';
import { buildIngest } from './ingest.ts';

const defaultConfig = fileURLToPath(new URL('../../../config/hatake.yaml', import.meta.url));
const config = await loadConfig({ file: process.env[ENV_CONFIG_FILE] ?? defaultConfig, env: process.env }).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
const password = config.ingest.password;
if (!password) {
  process.stderr.write('ingest needs its MQTT password: set HATAKE_INGEST__PASSWORD\n');
  process.exit(2);
}
const logger = createLogger({ name: 'ingest', level: config.log.level });
const store = createStore(config, { logger });
await store.start();
const ingest = buildIngest(config, { logger, store, password });
const { http } = await ingest.start();
logger.info({ metrics: `${http.url}/metrics`, store: store.adapter }, 'ready');
installShutdown({
  logger,
  stop: async () => {
    await ingest.stop();
    await store.stop();
  },
});
