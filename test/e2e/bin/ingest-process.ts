/**
 * Ingest as a process of its own, for tests that kill it: the same wiring as
 * services/ingest/src/main.ts (store, ingest, shutdown on signals), but the
 * configuration comes from a JSON file a test wrote (its test deployment,
 * the service password, the broker URL), since a test deployment has no YAML
 * file. Prints `ingest ready <ops url>` when subscribed.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '@hatake/config';
import { buildIngest } from '@hatake/ingest';
import { createLogger, installShutdown } from '@hatake/runtime';
import { createStore } from '@hatake/store';

const { config, password, mqttUrl } = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as { config: Config; password: string; mqttUrl: string };
const logger = createLogger({ name: 'ingest', level: 'warn' });
const store = createStore(config, { logger });
await store.start();
const ingest = buildIngest(config, { logger, store, password, mqttUrl });
const { http } = await ingest.start();
process.stdout.write(`ingest ready ${http.url}\n`);
installShutdown({
  logger,
  stop: async () => {
    await ingest.stop();
    await store.stop();
  },
});
