/**
 * The gateway in a process of its own, configured from a JSON file a
 * benchmark wrote (its test deployment, the service password, the broker
 * URL): the same wiring as services/gateway/src/main.ts. Prints
 * `gateway ready <http url> <ws url>` when connected to the broker.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '@hatake/config';
import { buildGateway } from '@hatake/gateway';
import { createLogger, installShutdown } from '@hatake/runtime';
import { createStore } from '@hatake/store';

const { config, password, mqttUrl } = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as { config: Config; password: string; mqttUrl: string };
const logger = createLogger({ name: 'gateway', level: 'warn' });
const store = createStore(config, { logger });
await store.start();
const gateway = buildGateway(config, { logger, store, password, mqttUrl });
const { http } = await gateway.start();
process.stdout.write(`gateway ready ${http.url} ${http.ws}\n`);
installShutdown({
  logger,
  stop: async () => {
    await gateway.stop();
    await store.stop();
  },
});
