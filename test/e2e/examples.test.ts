/**
 * The worked examples of "Running at scale" (config/examples/) are real: the cluster configuration loads
 * with hatake's own loader and becomes each instance through its environment; the Mosquitto ACL is the one
 * the tests run Mosquitto with; the example mosquitto.conf and farm bridge run on Debian's Mosquitto 2.0,
 * and the bridge carries a device's telemetry to the central broker's share group and a command back.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@hatake/config';
import { MOSQUITTO, MOSQUITTO_PASSWD, freePort, mosquittoAcl, run, startProcess, waitFor, type MosquittoAccount } from '@hatake/testkit';

const examples = resolve(dirname(fileURLToPath(import.meta.url)), '../../config/examples');
const cluster = join(examples, 'cluster.yaml');

/** What instance 2 of each service gets from its environment. */
const instance2 = {
  HATAKE_INGEST__CLIENT_ID: 'ingest:2',
  HATAKE_INGEST__SPOOL__DIR: 'spool/ingest-2',
  HATAKE_INGEST__PASSWORD: 'ingest-password',
  HATAKE_GATEWAY__CLIENT_ID: 'gateway:2',
  HATAKE_GATEWAY__PASSWORD: 'gateway-password',
  HATAKE_GATEWAY__AUTH__TOKEN_SECRET: 'a shared secret of at least thirty-two characters',
  HATAKE_STORE__INFLUX__TOKEN: 'influx-token',
};

describe('config/examples/cluster.yaml', () => {
  it("loads, and each instance's environment makes it that instance (MQTT 5, share group, own client id and spool, shared token key)", async () => {
    const c = await loadConfig({ file: cluster, env: instance2, requireCredentials: false });
    expect(c.mqtt).toMatchObject({ url: 'mqtts://mqtt.internal:8883', protocolVersion: 5 });
    expect(c.ingest).toMatchObject({ clientId: 'ingest:2', shareGroup: 'ingest', password: 'ingest-password', maxUnacked: 20_000, http: { host: '0.0.0.0', port: 9102 } });
    expect(resolve(c.deployment.dataDir, c.ingest.spool.dir)).toBe('/var/lib/hatake/spool/ingest-2');
    expect(c.gateway).toMatchObject({ clientId: 'gateway:2', http: { host: '0.0.0.0', trustProxy: true }, auth: { tokenSecret: instance2.HATAKE_GATEWAY__AUTH__TOKEN_SECRET } });
    expect(c.store).toMatchObject({ adapter: 'influx', influx: { database: 'hatake', retentionPolicy: 'hatake', createDatabase: false, token: 'influx-token' } });
    expect(c.devices.map((d) => d.id)).toEqual(['t-kita-1', 't-kuri-1', 'p-iwa-1', 's-kita-1', 's-kuri-1']);
    // the field and road files it points at are the sample deployment's
    expect(c.farms.flatMap((f) => f.fields.map((x) => x.id))).toEqual(['kita-1', 'kita-2', 'kuri-1', 'kuri-2']);
  });

  it('wants nothing but the password hashes that live outside it', async () => {
    const err = await loadConfig({ file: cluster, env: instance2 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.filter((i) => !/has no credential/.test(i.message))).toEqual([]);
  });
});

describe('config/examples/mosquitto', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it("hatake.acl is the ACL the tests run Mosquitto with, for the example's service accounts", async () => {
    const c = await loadConfig({ file: cluster, requireCredentials: false });
    const accounts = c.services.map((s) => ({ username: s.username, password: '', role: s.role }));
    expect(await readFile(join(examples, 'mosquitto/hatake.acl'), 'utf8')).toBe(mosquittoAcl(accounts));
  });

  /** Runs an example conf on Debian's Mosquitto, with its site-specific paths and TLS replaced by local ones. */
  async function runExample(file: string, accounts: readonly MosquittoAccount[], extraAcl: string, rewrite: (conf: string) => string): Promise<{ port: number; output: () => string }> {
    const dir = await mkdtemp(join(tmpdir(), 'hatake-example-mosq-'));
    const port = await freePort();
    await writeFile(join(dir, 'passwd'), accounts.map((a) => `${a.username}:${a.password}\n`).join(''), { mode: 0o600 });
    execFileSync(MOSQUITTO_PASSWD, ['-U', join(dir, 'passwd')]);
    await writeFile(join(dir, 'acl'), readFileSync(join(examples, 'mosquitto/hatake.acl'), 'utf8') + extraAcl, { mode: 0o600 });
    const conf = rewrite(await readFile(join(examples, file), 'utf8'))
      .replace(/^listener \d+$/m, `listener ${port} 127.0.0.1`)
      .replace(/^(certfile|keyfile|cafile|bridge_cafile) .*\n/gm, '')
      .replace(/^password_file .*$/m, `password_file ${join(dir, 'passwd')}`)
      .replace(/^acl_file .*$/m, `acl_file ${join(dir, 'acl')}`)
      .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`);
    await writeFile(join(dir, 'mosquitto.conf'), `${conf}log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n`);
    // started as root, Mosquitto reads its files as user mosquitto
    if (process.getuid?.() === 0) {
      const [, , uid, gid] = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('mosquitto:'))!.split(':');
      for (const f of ['', 'passwd', 'acl', 'mosquitto.conf']) await chown(join(dir, f), Number(uid), Number(gid));
    }
    const proc = await startProcess(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], /mosquitto version \S+ running/, { timeoutMs: 10_000 });
    cleanup.push(async () => {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    });
    return { port, output: proc.output };
  }

  it("mosquitto.conf and bridge-farm.conf run on Debian's Mosquitto 2.0: a farm device's telemetry reaches the central share group, a command comes back", async () => {
    const pw = (u: string): string => `pw-${u}`;
    const central = await runExample(
      'mosquitto/mosquitto.conf',
      ['ingest', 'gateway', 'bridge-kitamura'].map((u) => ({ username: u, password: pw(u), role: 'device' as const })),
      // the bridge account publishes the farm's device topics and reads their commands (README, "Mosquitto bridges")
      ['user bridge-kitamura', 'topic write $SYS/broker/connection/bridge-kitamura/state', 'topic write hatake/v1/+/+/telemetry', 'topic write hatake/v1/+/+/state', 'topic write hatake/v1/+/+/event', 'topic write hatake/v1/+/+/cmd/ack', 'topic read hatake/v1/+/+/cmd', 'topic read hatake/v1/supervisor/heartbeat', ''].join('\n'),
      (conf) => conf,
    );
    const farm = await runExample(
      'mosquitto/bridge-farm.conf',
      [{ username: 't-kita-1', password: pw('t-kita-1'), role: 'device' }],
      '',
      (conf) => conf.replace(/^address .*$/m, `address 127.0.0.1:${central.port}`).replace(/^remote_password .*$/m, `remote_password ${pw('bridge-kitamura')}`),
    );
    await waitFor('the bridge to log in at the central broker', () => (central.output().includes("as bridge-kitamura") ? true : undefined), { timeoutMs: 10_000 });
    const login = (port: number, user: string, id = user): string[] => ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5', '-u', user, '-P', pw(user), '-i', id];
    // ingest on the central broker, in its share group; the device's command subscription on the farm broker
    const ingest = await startProcess('stdbuf', ['-oL', 'mosquitto_sub', ...login(central.port, 'ingest', 'ingest:1'), '-d', '-q', '1', '-v', '-t', '$share/ingest/hatake/v1/+/+/telemetry'], /received SUBACK/);
    cleanup.push(() => ingest.stop());
    const device = await startProcess('stdbuf', ['-oL', 'mosquitto_sub', ...login(farm.port, 't-kita-1', 't-kita-1:cmd'), '-d', '-q', '1', '-v', '-t', 'hatake/v1/tractor/t-kita-1/cmd'], /received SUBACK/);
    cleanup.push(() => device.stop());
    await waitFor(
      'telemetry through the bridge',
      async () => {
        await run('mosquitto_pub', [...login(farm.port, 't-kita-1'), '-q', '1', '-t', 'hatake/v1/tractor/t-kita-1/telemetry', '-m', 'sample']);
        return ingest.output().includes('hatake/v1/tractor/t-kita-1/telemetry sample') ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nfarm broker:\n${farm.output()}\ncentral broker:\n${central.output()}`);
    });
    await waitFor(
      'a command back through the bridge',
      async () => {
        await run('mosquitto_pub', [...login(central.port, 'gateway', 'gateway:1'), '-q', '1', '-t', 'hatake/v1/tractor/t-kita-1/cmd', '-m', 'pause']);
        return device.output().includes('hatake/v1/tractor/t-kita-1/cmd pause') ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    // and the farm broker still holds its devices to their own topics
    const forged = await run('mosquitto_pub', [...login(farm.port, 't-kita-1'), '-q', '1', '-t', 'hatake/v1/tractor/t-kuri-1/telemetry', '-m', 'forged']);
    expect(forged.stderr).toMatch(/not authori[sz]ed/i);
  });
});
