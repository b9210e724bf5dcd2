/**
 * hatake's embedded broker in a process of its own, configured from a JSON
 * file a benchmark wrote (its test deployment). Prints `broker ready <url>`.
 */
import { readFile } from 'node:fs/promises';
import { buildBroker } from '@hatake/broker';
import type { Config } from '@hatake/config';
import { createLogger, installShutdown } from '@hatake/runtime';

const { config } = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as { config: Config };
const logger = createLogger({ name: 'broker', level: 'warn' });
const broker = buildBroker(config, { logger });
const addr = await broker.start();
process.stdout.write(`broker ready ${addr.mqtt.url}\n`);
installShutdown({ logger, stop: () => broker.stop() });
