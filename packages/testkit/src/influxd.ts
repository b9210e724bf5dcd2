/**
 * A real `influxd` (Debian's `influxdb` package, 1.6) for tests: its own
 * temporary directories, HTTP and RPC on free loopback ports, auth on, an
 * admin user; stopped (and its files removed) by `stop()`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { influxDefaults, type InfluxConfig } from '@hatake/config';
import { startProcess } from './processes.ts';
import { waitFor } from './wait.ts';

export interface Influxd {
  readonly url: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  /** Its process id while it runs (undefined while paused), e.g. for `cpuSeconds`. */
  readonly pid: number | undefined;
  /** SIGTERM (or SIGKILL with `kill`), then remove its files unless `keepData`. */
  stop(opts?: { kill?: boolean; keepData?: boolean }): Promise<void>;
  /** Stops it (keeping its data), for a test of the database being away. */
  pause(opts?: { kill?: boolean }): Promise<void>;
  /** Starts it again after `pause()`, on the same port with the same data. */
  resume(): Promise<void>;
  /** SIGSTOP: it keeps its connections and answers nothing (a hung database); `thaw()` lets it go on. */
  freeze(): void;
  thaw(): void;
  /** Runs InfluxQL as the admin; returns the parsed JSON answer. */
  query(q: string, db?: string): Promise<unknown>;
}

/** The store's settings for a test influxd: the configuration's defaults, its address and admin, and `over`. */
export function influxSettingsFor(influxd: Pick<Influxd, 'url' | 'username' | 'password'>, over: Partial<InfluxConfig> = {}): InfluxConfig {
  return { ...influxDefaults(), url: influxd.url, username: influxd.username, password: influxd.password, ...over };
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const INFLUXD = '/usr/bin/influxd';

/** Starts influxd with authentication on and an admin user. */
export async function startInfluxd(opts: { dataDir?: string } = {}): Promise<Influxd> {
  if (!existsSync(INFLUXD)) throw new Error(`${INFLUXD} is missing: install Debian's influxdb package (apt-get install influxdb)`);
  const dir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'hatake-influxd-')));
  const [http, rpc] = [await freePort(), await freePort()];
  const conf = join(dir, 'influxdb.conf');
  await writeFile(
    conf,
    [
      'reporting-disabled = true',
      `bind-address = "127.0.0.1:${rpc}"`,
      '[meta]',
      `  dir = "${join(dir, 'meta')}"`,
      '[data]',
      `  dir = "${join(dir, 'data')}"`,
      `  wal-dir = "${join(dir, 'wal')}"`,
      '  query-log-enabled = false',
      '[http]',
      `  bind-address = "127.0.0.1:${http}"`,
      '  auth-enabled = true',
      '  log-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '[continuous_queries]',
      '  enabled = false',
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${http}`;
  const launch = async (): Promise<Awaited<ReturnType<typeof startProcess>>> => {
    const p = await startProcess(INFLUXD, ['run', '-config', conf], /Listening on HTTP/, { timeoutMs: 20_000 });
    await waitFor('influxd /ping', async () => {
      try {
        return (await fetch(`${url}/ping`)).status === 204 ? true : undefined;
      } catch {
        return undefined;
      }
    });
    return p;
  };
  let proc: Awaited<ReturnType<typeof startProcess>> | undefined = await launch();
  const username = 'admin';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const post = async (q: string, auth: boolean, db?: string): Promise<unknown> => {
    const body = new URLSearchParams({ q, ...(db ? { db } : {}) });
    const res = await fetch(`${url}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` } : {}) },
      body,
    });
    return res.json();
  };
  // with auth on, influxd accepts the first admin user without credentials
  await post(`CREATE USER "${username}" WITH PASSWORD '${password}' WITH ALL PRIVILEGES`, false);
  return {
    url,
    port: http,
    username,
    password,
    get pid() {
      return proc?.pid;
    },
    query: (q, db) => post(q, true, db),
    async stop(stopOpts = {}) {
      await proc?.stop(stopOpts.kill ? 'SIGKILL' : 'SIGTERM');
      proc = undefined;
      if (!stopOpts.keepData && !opts.dataDir) await rm(dir, { recursive: true, force: true });
    },
    async pause(pauseOpts = {}) {
      await proc?.stop(pauseOpts.kill ? 'SIGKILL' : 'SIGTERM');
      proc = undefined;
    },
    async resume() {
      proc ??= await launch();
    },
    freeze() {
      if (proc) process.kill(proc.pid, 'SIGSTOP');
    },
    thaw() {
      if (proc) process.kill(proc.pid, 'SIGCONT');
    },
  };
}
