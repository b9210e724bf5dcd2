/**
 * The whole chain over a real broker (Mosquitto with hatake's accounts and
 * rights) and real command-line MQTT clients as the gateway: a simulated
 * tractor stops itself when the supervisor heartbeat is missing, stays
 * stopped when it returns, and runs again only on `resume`.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findField } from '@hatake/config';
import { HEARTBEAT_TOPIC, commandAckTopic, commandTopic, eventTopic, exampleCommand, exampleHeartbeat, stateTopic } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { Rng, SimDevice } from '@hatake/simkit';
import { mosquittoAccounts, run, startMosquitto, startProcess, testDeployment, waitFor, type Mosquitto, type TestDeployment } from '@hatake/testkit';
import { TractorModel } from '@hatake/tractor';

const LINK_LOSS_S = 1.5;

let dep: TestDeployment;
let mosquitto: Mosquitto;
let watcher: Awaited<ReturnType<typeof startProcess>>;
const cleanup: (() => Promise<unknown>)[] = [];

const login = (user: string, clientId: string): string[] => ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-u', user, '-P', dep.secrets[user]!, '-i', clientId];

/** What the gateway's watcher has received so far: `-v` prints "topic payload", one message a line. */
function received(topic: string): Record<string, unknown>[] {
  return [...watcher.output().matchAll(/^(hatake\/v1\/\S+) (\{.*\})$/gm)].filter((m) => m[1] === topic).map((m) => JSON.parse(m[2]!) as Record<string, unknown>);
}
const linkLost = (): Record<string, unknown>[] => received(eventTopic('tractor', 't1')).filter((e) => e['type'] === 'link_lost');

beforeAll(async () => {
  dep = await testDeployment();
  mosquitto = await startMosquitto({ accounts: mosquittoAccounts(dep) });
  cleanup.push(() => mosquitto.stop(), () => rm(dep.config.deployment.dataDir, { recursive: true, force: true }));
  watcher = await startProcess(
    'stdbuf',
    ['-oL', 'mosquitto_sub', ...login('gateway', 'gateway:watch'), '-d', '-q', '1', '-v', '-t', eventTopic('tractor', 't1'), '-t', commandAckTopic('tractor', 't1'), '-t', stateTopic('tractor', 't1')],
    /received SUBACK/,
  );
  cleanup.push(() => watcher.stop());
});

afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

describe('a simulated tractor under a supervisor, over MQTT', () => {
  it('stops itself without heartbeats, stays stopped when they return, and runs again only on resume', async () => {
    const t1 = dep.config.devices.find((d) => d.id === 't1')!;
    const field = findField(dep.config, t1.farm!, t1.field!)!;
    const model = new TractorModel({ field: field.boundary, spec: { ...t1.tractor!, linkLossSeconds: LINK_LOSS_S } }, new Rng(1, 't1'));
    const device = new SimDevice({ id: 't1', kind: 'tractor', password: dep.secrets['t1']!, mqtt: { url: mosquitto.url }, model, rng: new Rng(1, 't1/runtime'), logger: silentLogger() });
    cleanup.push(() => device.stop());
    await device.start();

    // no supervisor at all: it started in auto and stops by itself
    await waitFor('link_lost on the event topic', () => (linkLost().length === 1 ? true : undefined));
    expect(linkLost()[0]).toMatchObject({ severity: 'alarm', data: { cause: 'heartbeat_lost', seconds: LINK_LOSS_S } });
    await waitFor('the retained state saying stopped', () => (received(stateTopic('tractor', 't1')).at(-1)?.['mode'] === 'stopped' ? true : undefined));

    // the supervisor comes back and beats every 100 ms: heard, but the tractor stays stopped
    const beat = JSON.stringify(exampleHeartbeat({ t: Date.now(), source: 'gateway', interval: 100 }));
    const beater = await startProcess('stdbuf', ['-oL', 'mosquitto_pub', ...login('gateway', 'gateway:beat'), '-d', '-q', '0', '-t', HEARTBEAT_TOPIC, '-m', beat, '--repeat', '100000', '--repeat-delay', '0.1'], /received CONNACK/);
    cleanup.push(() => beater.stop());
    await waitFor('a second of heartbeats', () => (device.stats.heartbeats >= 10 ? true : undefined));
    expect(model.mode()).toBe('stopped');
    expect(model.truth()!.speed).toBe(0);

    // the operator resumes it: accepted, and it keeps running while the beats come, longer than the link-loss time
    const now = Date.now();
    const resume = exampleCommand({ id: 'c-resume', type: 'resume', issuedAt: now, expiresAt: now + 30_000 });
    const pub = await run('mosquitto_pub', [...login('gateway', 'gateway:cmd'), '-q', '1', '-t', commandTopic('tractor', 't1'), '-m', JSON.stringify(resume)]);
    expect(pub.code).toBe(0);
    await waitFor('the resume accepted', () => (received(commandAckTopic('tractor', 't1')).some((a) => a['id'] === 'c-resume' && a['status'] === 'accepted') ? true : undefined));
    const resumedAt = device.stats.samples;
    await waitFor('twice the link-loss time of running', () => (device.stats.samples >= resumedAt + (2 * LINK_LOSS_S) / 0.2 ? true : undefined));
    expect(model.mode()).toBe('auto');
    expect(model.truth()!.speed).toBeGreaterThan(0);
    expect(linkLost()).toHaveLength(1);

    // the supervisor goes away again: stopped again, implement raised
    await beater.stop();
    await waitFor('the second link_lost', () => (linkLost().length === 2 ? true : undefined));
    expect(model.mode()).toBe('stopped');
    expect(model.truth()!.implement).toBe('raised');
  });
});
