/**
 * A simulated fleet in a process of its own (the machines are not the
 * backend's computer): configured from a JSON file a benchmark wrote (its
 * test deployment, the group passwords, the broker URL, how many synthetic
 * members of which kinds). Prints `fleet ready <devices>` when connected.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '@hatake/config';
import { buildFleet } from '@hatake/fleet';
import type { DeviceKind } from '@hatake/protocol';
import { createLogger, installShutdown } from '@hatake/runtime';

const { config, mqttUrl, groups, synthetic, kinds } = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as { config: Config; mqttUrl: string; groups: Record<string, string>; synthetic: number; kinds: DeviceKind[] };
const logger = createLogger({ name: 'fleet', level: 'warn' });
const fleet = buildFleet(config, { secrets: { devices: {}, groups }, logger, url: mqttUrl, synthetic, kinds });
await fleet.start();
process.stdout.write(`fleet ready ${fleet.devices.length}\n`);
installShutdown({ logger, stop: () => fleet.stop() });
