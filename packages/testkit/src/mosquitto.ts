/**
 * A real Mosquitto broker (Debian's `mosquitto` package, 2.0) for tests that
 * need an external MQTT broker, on a free loopback port, in one of two modes:
 *
 * - anonymous (the default): anyone may do anything, so a test can publish
 *   what hatake's own broker would refuse and see how the services cope;
 * - `accounts`: `allow_anonymous false`, a password file made with
 *   `mosquitto_passwd -U`, and an ACL file giving every account the rights
 *   hatake's embedded broker gives it (services/broker/src/acl.ts) — the
 *   configuration an operator writes for an external broker.
 *
 * With `persistenceDir`, sessions, queued QoS 1 messages and retained
 * messages survive `restart()`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEAD_LETTER_FILTER, DEVICE_CHANNELS, DEVICE_OUTBOUND_CHANNELS, HEARTBEAT_TOPIC, deadLetterTopic, deviceChannelFilter } from '@hatake/protocol';
import type { TestDeployment } from './deployment.ts';
import { freePort } from './influxd.ts';
import { startProcess } from './processes.ts';

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

/** One MQTT login: a device (username = device id), or a service account with its role. */
export interface MosquittoAccount {
  readonly username: string;
  readonly password: string;
  readonly role: 'device' | 'ingest' | 'gateway';
}

export interface MosquittoOptions {
  /** Turns authentication on: only these accounts may connect, each with hatake's rights (see {@link mosquittoAcl}). */
  readonly accounts?: readonly MosquittoAccount[];
  /** Keep sessions, queued messages and retained messages on disk here (kept by `stop()`; the caller owns it). */
  readonly persistenceDir?: string;
  /**
   * QoS 1 messages the broker sends a client before it waits for PUBACKs (`max_inflight_messages`, default here
   * 20,000). Ingest acknowledges a message only once it is durable, so a batch can only fill as far as this
   * window: with Mosquitto's own default of 20 and a 200 ms batch, one ingest instance would take about
   * 100 messages a second. 20,000 matches ingest's own bound (`ingest.maxUnacked`), so the broker never
   * throttles ingest before ingest throttles itself. An MQTT 5 client replaces it with the Receive Maximum of
   * its CONNECT (Mosquitto honours the client's value).
   */
  readonly maxInflightMessages?: number;
  /**
   * QoS 1 messages queued per client beyond those in flight (`max_queued_messages`, default here 1,000,000).
   * Above it Mosquitto *silently drops* messages: its own default of 1,000 would lose telemetry after a few
   * seconds of an ingest restart. Bounded (rather than 0, unlimited) so a session nobody returns to cannot
   * eat the broker's memory; `persistent_client_expiration` removes those in production.
   */
  readonly maxQueuedMessages?: number;
}

export interface Mosquitto {
  readonly url: string;
  readonly port: number;
  /** The mosquitto.conf it runs with (and, in auth mode, the ACL file), for docs and debugging. */
  readonly files: { readonly conf: string; readonly acl?: string };
  /** Its process id while it runs, e.g. for `cpuSeconds`. */
  readonly pid: number | undefined;
  /** What the broker logged so far. */
  output(): string;
  /** Stops it (SIGTERM writes the persistence file) and starts it again on the same port with the same files. */
  restart(): Promise<void>;
  /** SIGTERM, then removes its temporary files (never `persistenceDir`). */
  stop(): Promise<void>;
}

/** The accounts of a test deployment: every device (group members with their group's password) and both services. */
export function mosquittoAccounts(dep: TestDeployment): MosquittoAccount[] {
  const out: MosquittoAccount[] = [];
  for (const d of dep.config.devices) {
    const password = dep.secrets[d.group ?? d.id];
    if (password !== undefined) out.push({ username: d.id, password, role: 'device' });
  }
  for (const s of dep.config.services) {
    const password = dep.secrets[s.username];
    if (password !== undefined) out.push({ username: s.username, password, role: s.role });
  }
  return out;
}

/**
 * An ACL file (mosquitto.conf `acl_file`) with the embedded broker's rights: devices publish only on their own
 * topics and read their commands and the heartbeat (`%u` is the MQTT username, which is the device id); each
 * service account gets its role's filters. Anything not listed is denied, `$SYS` included.
 *
 * What Mosquitto cannot say, and hatake handles elsewhere: the kind level is `+`, so a device could publish under
 * another kind with its own id (ingest dead-letters it: the device is configured as another kind); retain is not
 * limited to `state`; shared-subscription group names are not checked. The same file serves VerneMQ's `vmq_acl`.
 */
export function mosquittoAcl(accounts: readonly MosquittoAccount[]): string {
  // no comments and no empty lines: VerneMQ's vmq_acl reads the same format but refuses empty lines between entries
  const lines = [...DEVICE_OUTBOUND_CHANNELS.map((c) => `pattern write hatake/v1/+/%u/${c}`), 'pattern read hatake/v1/+/%u/cmd', `pattern read ${HEARTBEAT_TOPIC}`];
  const services = [...new Map(accounts.filter((a) => a.role !== 'device').map((a) => [a.username, a])).values()];
  for (const s of services) {
    lines.push(`user ${s.username}`);
    // a $share/<group>/<filter> subscription is checked against <filter>
    for (const c of DEVICE_CHANNELS) lines.push(`topic read ${deviceChannelFilter(c)}`);
    if (s.role === 'ingest') lines.push(`topic write ${deadLetterTopic(s.username)}`);
    else lines.push(`topic read ${DEAD_LETTER_FILTER}`, `topic write ${deviceChannelFilter('cmd')}`, `topic write ${HEARTBEAT_TOPIC}`);
  }
  return `${lines.join('\n')}\n`;
}

/** uid and gid of the `mosquitto` user, which the broker switches to when started as root. */
function mosquittoUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('mosquitto:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Gives a directory tree to `owner` (Mosquitto reads its password and ACL files after dropping root). */
async function giveTo(dir: string, owner: { uid: number; gid: number } | undefined): Promise<void> {
  if (!owner) return;
  await chown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await giveTo(p, owner);
    else await chown(p, owner.uid, owner.gid);
  }
}

/** Starts mosquitto on 127.0.0.1: anonymous by default, or with hatake's accounts and rights. */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: install Debian's mosquitto package (apt-get install mosquitto)`);
  const dir = await mkdtemp(join(tmpdir(), 'hatake-mosquitto-'));
  const port = await freePort();
  const owner = mosquittoUser();
  const conf = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'max_packet_size 4194304',
    `max_inflight_messages ${opts.maxInflightMessages ?? 20_000}`,
    `max_queued_messages ${opts.maxQueuedMessages ?? 1_000_000}`,
  ];
  let acl: string | undefined;
  if (opts.accounts) {
    if (!existsSync(MOSQUITTO_PASSWD)) throw new Error(`${MOSQUITTO_PASSWD} is missing: install Debian's mosquitto package`);
    const passwd = join(dir, 'passwd');
    // plaintext first, then hashed in place (-U): one process for every account
    await writeFile(passwd, opts.accounts.map((a) => `${a.username}:${a.password}\n`).join(''), { mode: 0o600 });
    execFileSync(MOSQUITTO_PASSWD, ['-U', passwd], { stdio: 'pipe' });
    acl = mosquittoAcl(opts.accounts);
    await writeFile(join(dir, 'acl'), acl, { mode: 0o600 });
    lines.push('allow_anonymous false', `password_file ${passwd}`, `acl_file ${join(dir, 'acl')}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (opts.persistenceDir) {
    await mkdir(opts.persistenceDir, { recursive: true });
    await giveTo(opts.persistenceDir, owner);
    lines.push('persistence true', `persistence_location ${opts.persistenceDir.endsWith('/') ? opts.persistenceDir : `${opts.persistenceDir}/`}`, 'autosave_interval 60');
  } else {
    lines.push('persistence false');
  }
  await writeFile(conf, `${lines.join('\n')}\n`);
  await giveTo(dir, owner);
  await chmod(dir, 0o700);
  // a broken password or ACL file makes it exit before this line, and startProcess reports its output
  const launch = (): ReturnType<typeof startProcess> => startProcess(MOSQUITTO, ['-c', conf], /mosquitto version \S+ running/, { timeoutMs: 10_000 });
  let proc: Awaited<ReturnType<typeof startProcess>> | undefined = await launch();
  let earlier = '';
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    files: { conf: await readFile(conf, 'utf8'), ...(acl !== undefined ? { acl } : {}) },
    output: () => earlier + (proc?.output() ?? ''),
    get pid() {
      return proc?.pid;
    },
    async restart() {
      if (proc) {
        await proc.stop();
        earlier += proc.output();
      }
      proc = await launch();
    },
    async stop() {
      await proc?.stop();
      proc = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

