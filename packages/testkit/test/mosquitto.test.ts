/**
 * The Mosquitto fixture, checked with Mosquitto's own command-line clients: hatake's accounts and rights in
 * auth mode, a share group split between two subscribers, sessions kept across a restart, and the anonymous
 * mode other tests rely on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mosquittoAccounts, mosquittoAcl, run, startMosquitto, startProcess, testDeployment, waitFor, type Mosquitto, type TestDeployment } from '@hatake/testkit';

describe('Mosquitto with hatake accounts and rights', () => {
  let dep: TestDeployment;
  let mosq: Mosquitto;
  let persist: string;
  const login = (user: string, clientId = user): string[] => ['-h', '127.0.0.1', '-p', String(mosq.port), '-V', 'mqttv5', '-u', user, '-P', dep.secrets[user]!, '-i', clientId];
  const stoppers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    dep = await testDeployment();
    persist = await mkdtemp(join(tmpdir(), 'hatake-mosq-persist-'));
    mosq = await startMosquitto({ accounts: mosquittoAccounts(dep), persistenceDir: persist });
  });
  afterAll(async () => {
    for (const stop of stoppers) await stop();
    await mosq?.stop();
    await rm(persist, { recursive: true, force: true });
  });

  it('writes an ACL with the embedded broker rights, and a QoS 1 window and queue sized for ingest', () => {
    const acl = mosquittoAcl(mosquittoAccounts(dep));
    expect(acl).toContain('pattern write hatake/v1/+/%u/telemetry\n');
    expect(acl).toContain('pattern read hatake/v1/+/%u/cmd\n');
    expect(acl).toMatch(/user ingest\ntopic read hatake\/v1\/\+\/\+\/telemetry\n[\s\S]*topic write hatake\/v1\/deadletter\/ingest\n/);
    expect(acl).toMatch(/user gateway\n[\s\S]*topic read hatake\/v1\/deadletter\/\+\ntopic write hatake\/v1\/\+\/\+\/cmd\n/);
    expect(mosq.files.acl).toBe(acl);
    expect(mosq.files.conf).toMatch(/^allow_anonymous false$/m);
    expect(mosq.files.conf).toMatch(/^max_inflight_messages 20000$/m);
    expect(mosq.files.conf).toMatch(/^max_queued_messages 1000000$/m);
  });

  it('refuses anonymous clients and wrong passwords', async () => {
    const anon = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-t', 'x', '-m', 'y']);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toMatch(/not authori[sz]ed/i);
    const wrong = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-u', 't1', '-P', 'wrong', '-t', 'hatake/v1/tractor/t1/telemetry', '-m', 'y']);
    expect(wrong.code).not.toBe(0);
  });

  it("lets a device publish only its own topics, and splits them between a share group's members", async () => {
    const subs = await Promise.all(
      // stdbuf: line-buffered, so the SUBACK line arrives while it runs
      ['ingest:1', 'ingest:2'].map((id) => startProcess('stdbuf', ['-oL', 'mosquitto_sub', ...login('ingest', id), '-d', '-q', '1', '-v', '-t', '$share/ingest/hatake/v1/+/+/telemetry'], /received SUBACK/)),
    );
    for (const s of subs) stoppers.push(() => s.stop());
    const payloads = Array.from({ length: 10 }, (_, i) => `m${i}`);
    const pub = await run('mosquitto_pub', [...login('t1'), '-q', '1', '-t', 'hatake/v1/tractor/t1/telemetry', '-l'], { input: `${payloads.join('\n')}\n` });
    expect(pub.code).toBe(0);
    // another device's topic: MQTT 5 PUBACK "not authorized", never delivered
    const forged = await run('mosquitto_pub', [...login('t1'), '-q', '1', '-t', 'hatake/v1/tractor/t2/telemetry', '-m', 'forged']);
    expect(forged.stderr).toMatch(/not authori[sz]ed/i);
    const received = (i: number): string[] => [...subs[i]!.output().matchAll(/^hatake\/v1\/tractor\/t1\/telemetry (m\d+)$/gm)].map((m) => m[1]!);
    await waitFor('all 10 messages', () => (received(0).length + received(1).length === 10 ? true : undefined));
    expect([...received(0), ...received(1)].sort()).toEqual([...payloads].sort());
    // Mosquitto hands a share group's messages out round-robin
    expect(received(0)).toHaveLength(5);
    expect(subs.some((s) => s.output().includes('forged'))).toBe(false);
  });

  it('keeps a persistent session and what was queued for it across a broker restart', async () => {
    const session = [...login('ingest', 'ingest:7'), '-c', '-x', '3600', '-q', '1', '-v', '-t', 'hatake/v1/+/+/event'];
    const first = await run('mosquitto_sub', [...session, '-W', '1']);
    expect(first.stderr).not.toMatch(/error/i);
    const pub = await run('mosquitto_pub', [...login('s1'), '-q', '1', '-t', 'hatake/v1/sensor/s1/event', '-m', 'while away']);
    expect(pub.code).toBe(0);
    await mosq.restart();
    const back = await run('mosquitto_sub', [...session, '-C', '1', '-W', '5']);
    expect(back.stdout).toBe('hatake/v1/sensor/s1/event while away\n');
  });
});

describe('Mosquitto without accounts', () => {
  it('still lets anyone publish anything (tests of what hatake would refuse)', async () => {
    const mosq = await startMosquitto();
    try {
      const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq.port), '-q', '1', '-t', 'anything/at/all', '-m', 'x']);
      expect(r.code).toBe(0);
      expect(mosq.files.conf).toMatch(/^allow_anonymous true$/m);
    } finally {
      await mosq.stop();
    }
  });
});
