/** connectService (runtime) against the real broker: how ingest and the gateway log in, and come back after a broker restart. */
import { rm } from 'node:fs/promises';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBroker, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import { connectService, silentLogger } from '@hatake/runtime';
import { freePort, testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';

let dep: TestDeployment;
let broker: HatakeBroker;
let addr: BrokerAddresses;

beforeAll(async () => {
  dep = await testDeployment();
  broker = buildBroker(dep.config, { logger: silentLogger() });
  addr = await broker.start();
});

afterAll(async () => {
  await broker.stop();
});

const settings = { protocolVersion: 4, keepaliveSeconds: 30, reconnectMs: 100 };

describe('connectService', () => {
  it('rejects a refused login instead of reconnecting in the background', async () => {
    await expect(
      connectService({ url: addr.mqtt.url, clientId: 'ingest', username: 'ingest', password: 'wrong', clean: false, settings, log: silentLogger(), onMessage: () => undefined }),
    ).rejects.toThrow(/Bad username or password/);
  });

  it('connects a service account and hands it what it subscribed to', async () => {
    const got: string[] = [];
    const c = await connectService({
      url: addr.mqtt.url,
      clientId: 'ingest:svc-conn',
      username: 'ingest',
      password: dep.secrets['ingest'],
      clean: true,
      settings,
      log: silentLogger(),
      onMessage: (topic) => got.push(topic),
    });
    try {
      await c.subscribeAsync('hatake/v1/+/+/telemetry', { qos: 1 });
      const device = await mqtt.connectAsync(addr.mqtt.url, { clientId: 't1', username: 't1', password: dep.secrets['t1'], reconnectPeriod: 0 });
      await device.publishAsync('hatake/v1/tractor/t1/telemetry', '{}', { qos: 1 });
      await device.endAsync();
      await waitFor('the message', () => (got.length > 0 ? got : undefined));
      expect(got).toEqual(['hatake/v1/tractor/t1/telemetry']);
    } finally {
      await c.endAsync();
    }
  });

  it('comes back by itself after the broker was away (refusing connections meanwhile), and finds its session', async () => {
    // a fixed port, so it comes back where it was; sessions on disk (the default store) in the deployment's fresh data dir
    const d = await testDeployment({ env: { HATAKE_BROKER__PERSISTENCE__TYPE: 'level', HATAKE_BROKER__MQTT__PORT: String(await freePort()) } });
    const b = buildBroker(d.config, { logger: silentLogger() });
    const a = await b.start();
    const got: string[] = [];
    const attempts: number[] = [];
    const c = await connectService({
      url: a.mqtt.url,
      clientId: 'ingest:5',
      username: 'ingest',
      password: d.secrets['ingest'],
      clean: false,
      settings,
      log: silentLogger(),
      onMessage: (topic) => got.push(topic),
      onReconnect: (attempt) => attempts.push(attempt),
    });
    let sessionPresent: boolean | undefined;
    c.on('connect', (connack) => (sessionPresent = connack.sessionPresent));
    try {
      await c.subscribeAsync('hatake/v1/+/+/telemetry', { qos: 1 });
      await b.stop();
      // several attempts refused (nothing listens): the client keeps trying
      await waitFor('three refused attempts', () => (attempts.length >= 3 ? true : undefined));
      expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
      await b.start(); // the same port and store
      await waitFor('connected again', () => (c.connected ? true : undefined));
      expect(sessionPresent).toBe(true); // the broker kept its session on disk
      const device = await mqtt.connectAsync(a.mqtt.url, { clientId: 't1', username: 't1', password: d.secrets['t1'], reconnectPeriod: 0 });
      await device.publishAsync('hatake/v1/tractor/t1/telemetry', '{}', { qos: 1 });
      await device.endAsync();
      await waitFor('the message', () => (got.length > 0 ? got : undefined));
    } finally {
      await c.endAsync();
      await b.stop();
      await rm(d.config.deployment.dataDir, { recursive: true, force: true });
    }
  });
});
