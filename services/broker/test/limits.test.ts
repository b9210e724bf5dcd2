import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { FailureTracker } from '@hatake/auth';
import { FrameScanner, TokenBucket, buildBroker, type HatakeBroker } from '@hatake/broker';
import { exampleSensorSample, exampleWill, stateTopic, telemetryTopic } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { testDeployment, waitFor } from '@hatake/testkit';

describe('FrameScanner', () => {
  it('follows packets across chunk boundaries and flags the first oversized one', () => {
    const s = new FrameScanner(100);
    // PINGREQ (0 length), then a PUBLISH of remaining length 50 split in three chunks
    const publish = Buffer.concat([Buffer.from([0x30, 50]), Buffer.alloc(50, 1)]);
    expect(s.feed(Buffer.from([0xc0, 0x00]))).toBeUndefined();
    expect(s.feed(publish.subarray(0, 1))).toBeUndefined();
    expect(s.feed(publish.subarray(1, 20))).toBeUndefined();
    expect(s.feed(publish.subarray(20))).toBeUndefined();
    // remaining length 200 encoded in two bytes (0xc8 0x01)
    const err = s.feed(Buffer.from([0x30, 0xc8, 0x01]));
    expect(err).toMatchObject({ code: 'HATAKE_ERR_BROKER_PACKET_TOO_LARGE', size: 203 });
  });

  it('flags a remaining length longer than 4 bytes', () => {
    expect(new FrameScanner(1e9).feed(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))).toMatchObject({ code: 'HATAKE_ERR_BROKER_MALFORMED_PACKET' });
  });
});

describe('TokenBucket and FailureTracker', () => {
  it('delays beyond the burst in proportion to the deficit, and refills with time', () => {
    const b = new TokenBucket(10, 2, 0);
    expect(b.take(0)).toBe(0);
    expect(b.take(0)).toBe(0);
    expect(b.take(0)).toBeCloseTo(100);
    expect(b.take(0)).toBeCloseTo(200);
    expect(b.take(1000)).toBe(0); // 1 s later the bucket is full again
  });

  it('blocks a key after repeated failures, for a while, and only that key', () => {
    const f = new FailureTracker({ maxAttempts: 3, windowMs: 1000, blockMs: 5000 });
    expect(f.begin('ip|a', 0)).toBe(false);
    expect(f.begin('ip|a', 10)).toBe(false);
    expect(f.begin('ip|a', 20)).toBe(true);
    expect(f.blocked('ip|a', 100)).toBe(true);
    expect(f.blocked('ip|b', 100)).toBe(false);
    expect(f.blocked('ip|a', 5021)).toBe(false);
    // failures spread wider than the window never block
    const g = new FailureTracker({ maxAttempts: 2, windowMs: 100, blockMs: 5000 });
    g.begin('k', 0);
    expect(g.begin('k', 500)).toBe(false);
  });

  it('gives back attempts that succeed, lifting a block they caused', () => {
    const f = new FailureTracker({ maxAttempts: 2, windowMs: 1000, blockMs: 5000 });
    f.begin('k', 0);
    expect(f.begin('k', 1)).toBe(true);
    f.release('k');
    expect(f.blocked('k', 2)).toBe(false);
    // a thousand successful logins from one address never add up to a block
    const addr = new FailureTracker({ maxAttempts: 100, windowMs: 60_000, blockMs: 5000 });
    for (let i = 0; i < 1000; i++) {
      addr.begin('ip|*', i);
      addr.release('ip|*');
    }
    expect(addr.blocked('ip|*', 1000)).toBe(false);
  });
});

describe('broker limits', () => {
  let broker: HatakeBroker | undefined;
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
  });

  it('slows a device that publishes above its rate without losing a message', async () => {
    const dep = await testDeployment({ env: { HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '40', HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '5', HATAKE_LIMITS__MAX_THROTTLE_MS: '5000' } });
    broker = buildBroker(dep.config, { logger: silentLogger() });
    const addr = await broker.start();
    const ingest = await mqtt.connectAsync(addr.mqtt.url, { username: 'ingest', password: dep.secrets['ingest'], clientId: 'ingest', protocolVersion: 4, reconnectPeriod: 0 });
    const seqs: number[] = [];
    ingest.on('message', (_t, p) => seqs.push((JSON.parse(p.toString()) as { seq: number }).seq));
    await ingest.subscribeAsync('hatake/v1/+/+/telemetry', { qos: 1 });
    const s1 = await mqtt.connectAsync(addr.mqtt.url, { username: 's1', password: dep.secrets['s1'], clientId: 's1', protocolVersion: 4, reconnectPeriod: 0 });
    await Promise.all(Array.from({ length: 30 }, (_, seq) => s1.publishAsync(telemetryTopic('sensor', 's1'), JSON.stringify({ v: 1, ...exampleSensorSample({ seq }) }), { qos: 1 })));
    await waitFor('30 messages', () => (seqs.length === 30 ? seqs : undefined));
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const throttled = (await broker.metrics.throttled.get()).values[0]?.value ?? 0;
    expect(throttled).toBeGreaterThanOrEqual(20);
    expect(s1.connected).toBe(true);
    await Promise.all([s1.endAsync(), ingest.endAsync()]);
  });

  it('disconnects a device that floods far above its rate', async () => {
    const dep = await testDeployment({ env: { HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '1', HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '2', HATAKE_LIMITS__MAX_THROTTLE_MS: '1500' } });
    broker = buildBroker(dep.config, { logger: silentLogger() });
    const addr = await broker.start();
    const s1 = await mqtt.connectAsync(addr.mqtt.url, { username: 's1', password: dep.secrets['s1'], clientId: 's1', protocolVersion: 4, reconnectPeriod: 0 });
    const closed = new Promise<void>((resolve) => s1.once('close', () => resolve()));
    for (let seq = 0; seq < 10; seq++) s1.publish(telemetryTopic('sensor', 's1'), JSON.stringify({ v: 1, ...exampleSensorSample({ seq }) }), { qos: 0 });
    await closed;
    const refused = (await broker.metrics.publishRefused.get()).values.find((v) => v.labels['reason'] === 'rate_limited')?.value ?? 0;
    expect(refused).toBeGreaterThanOrEqual(1);
    s1.end(true);
  });

  it('publishes the last will of a device cut off for flooding', async () => {
    const dep = await testDeployment({ env: { HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '1', HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '2', HATAKE_LIMITS__MAX_THROTTLE_MS: '1500' } });
    broker = buildBroker(dep.config, { logger: silentLogger() });
    const addr = await broker.start();
    const watcher = await mqtt.connectAsync(addr.mqtt.url, { username: 'gateway', password: dep.secrets['gateway'], clientId: 'gateway', protocolVersion: 4, reconnectPeriod: 0 });
    const states: string[] = [];
    watcher.on('message', (_t, p) => states.push(p.toString()));
    await watcher.subscribeAsync(stateTopic('sensor', 's1'), { qos: 1 });
    const will = { topic: stateTopic('sensor', 's1'), payload: Buffer.from(JSON.stringify(exampleWill())), qos: 1 as const, retain: true };
    const s1 = await mqtt.connectAsync(addr.mqtt.url, { username: 's1', password: dep.secrets['s1'], clientId: 's1', protocolVersion: 4, reconnectPeriod: 0, will });
    for (let seq = 0; seq < 10; seq++) s1.publish(telemetryTopic('sensor', 's1'), JSON.stringify({ v: 1, ...exampleSensorSample({ seq }) }), { qos: 0 });
    await waitFor('the will', () => (states.some((s) => s.includes('connection_lost')) ? true : undefined));
    s1.end(true);
    await watcher.endAsync();
  });

  it('fails start() with a clear error when a port is taken, instead of crashing', async () => {
    const dep = await testDeployment();
    const first = buildBroker(dep.config, { logger: silentLogger() });
    const a = await first.start();
    try {
      const again = await testDeployment({ env: { HATAKE_BROKER__WS__PORT: String(a.ws!.port) } });
      broker = buildBroker(again.config, { logger: silentLogger() });
      await expect(broker.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await first.stop();
    }
  });

  it('cannot be raced: simultaneous wrong passwords are all counted before any is checked', async () => {
    const dep = await testDeployment({ env: { HATAKE_BROKER__AUTH_FAILURES__MAX_ATTEMPTS: '3' } });
    broker = buildBroker(dep.config, { logger: silentLogger() });
    const addr = await broker.start();
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, () =>
        mqtt.connectAsync(addr.mqtt.url, { username: 't1', password: 'wrong', clientId: 't1', protocolVersion: 4, reconnectPeriod: 0 }).then(
          () => 'connected',
          (e: Error) => e.message,
        ),
      ),
    );
    const checked = outcomes.filter((o) => /Bad username or password/.test(o)).length;
    expect(checked).toBeLessThanOrEqual(3);
    expect(outcomes.filter((o) => /Not authorized/.test(o)).length).toBeGreaterThanOrEqual(37);
  });

  it('blocks an address that tries many accounts', async () => {
    const dep = await testDeployment({ env: { HATAKE_BROKER__AUTH_FAILURES__MAX_ATTEMPTS: '2' } });
    broker = buildBroker(dep.config, { logger: silentLogger() });
    const addr = await broker.start();
    const attempt = (name: string, password: string) =>
      mqtt.connectAsync(addr.mqtt.url, { username: name, password, clientId: name, protocolVersion: 4, reconnectPeriod: 0 }).then(
        (c) => c.endAsync().then(() => 'ok'),
        (e: Error) => e.message,
      );
    // 2 × 10 failures spread over different (made-up) accounts
    for (let i = 0; i < 20; i++) await attempt(`guess${i}`, 'x');
    expect(await attempt('t1', dep.secrets['t1']!)).toMatch(/Not authorized/);
  });

  it('blocks repeated failed logins of one account from one address, then lets it back', async () => {
    let clock = 1_000_000;
    const dep = await testDeployment({ env: { HATAKE_BROKER__AUTH_FAILURES__MAX_ATTEMPTS: '3', HATAKE_BROKER__AUTH_FAILURES__BLOCK_SECONDS: '60' } });
    broker = buildBroker(dep.config, { logger: silentLogger(), now: () => clock });
    const addr = await broker.start();
    const attempt = (name: string, password: string) =>
      mqtt.connectAsync(addr.mqtt.url, { username: name, password, clientId: name, protocolVersion: 4, reconnectPeriod: 0 }).then(
        (c) => c.endAsync().then(() => 'ok'),
        (e: Error) => e.message,
      );
    for (let i = 0; i < 3; i++) expect(await attempt('t1', 'wrong')).toMatch(/Bad username or password/);
    // now even the right password is refused for this account from this address...
    expect(await attempt('t1', dep.secrets['t1']!)).toMatch(/Not authorized/);
    // ...while another account from the same address is unaffected
    expect(await attempt('t2', dep.secrets['t2']!)).toBe('ok');
    clock += 61_000;
    expect(await attempt('t1', dep.secrets['t1']!)).toBe('ok');
    const blocked = (await broker.metrics.connections.get()).values.find((v) => v.labels['reason'] === 'blocked')?.value ?? 0;
    expect(blocked).toBe(1);
  });
});
