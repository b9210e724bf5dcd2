/**
 * A real Mosquitto broker (Debian's `mosquitto` package) for tests that need
 * an external MQTT broker: anonymous access on a free loopback port, so a
 * test can publish what hatake's own broker would refuse and see how the
 * services behind it cope.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './influxd.ts';
import { startProcess } from './processes.ts';

export interface Mosquitto {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export const MOSQUITTO = '/usr/sbin/mosquitto';

/** Starts mosquitto allowing anonymous clients on 127.0.0.1 only. */
export async function startMosquitto(): Promise<Mosquitto> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: install Debian's mosquitto package (apt-get install mosquitto)`);
  const dir = await mkdtemp(join(tmpdir(), 'hatake-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type information', 'max_packet_size 4194304', ''].join('\n'));
  const proc = await startProcess(MOSQUITTO, ['-c', conf], new RegExp(`(Opening ipv4 listen socket on port ${port}|running)`), { timeoutMs: 10_000 });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
