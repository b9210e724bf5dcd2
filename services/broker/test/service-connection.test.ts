/** connectService (runtime) against the real broker: how ingest and the gateway log in. */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBroker, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import { connectService, silentLogger } from '@hatake/runtime';
import { testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';

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
});
