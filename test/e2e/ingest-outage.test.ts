/**
 * The database away under load, and the spool full: real influxd, the whole
 * stack in the test process (broker, ingest, gateway), devices publishing at
 * a steady rate, a WebSocket client watching live.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleSensorSample } from '@hatake/protocol';
import { waitFor } from '@hatake/testkit';
import { startStack, type Stack } from './stack.ts';

const metric = async (stack: Stack, name: string): Promise<number> => {
  const m = await stack.ingest.metrics.registry.getSingleMetric(name)?.get();
  return m?.values.reduce((s, v) => s + v.value, 0) ?? 0;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const LIMITS = { HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '100000', HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '100000' };
const DEVICES = ['s1', 's2'] as const;

/** Devices publishing one QoS 1 sample every `everyMs` each, counting what the broker acknowledged. */
function steadyLoad(clients: MqttClient[], t0: number, everyMs: number) {
  const acked: Record<string, number[]> = { s1: [], s2: [] };
  let seq = 0;
  let failures = 0;
  const timer = setInterval(() => {
    const s = seq++;
    clients.forEach((c, d) => {
      const id = DEVICES[d]!;
      c.publishAsync(`hatake/v1/sensor/${id}/telemetry`, JSON.stringify({ v: 1, ...exampleSensorSample({ seq: s, t: t0 + s * 10 }) }), { qos: 1 }).then(
        () => void acked[id]!.push(s),
        () => failures++,
      );
    });
  }, everyMs);
  return {
    acked,
    get published() {
      return seq;
    },
    get failures() {
      return failures;
    },
    stop: () => clearInterval(timer),
  };
}

describe('InfluxDB stopped for 30 s under load', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('influx', { env: { ...LIMITS, HATAKE_STORE__INFLUX__MAX_RETRIES: '1', HATAKE_STORE__INFLUX__TIMEOUT_MS: '2000' } });
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('stores every sample published meanwhile exactly once, and the live stream never stops', async () => {
    const t0 = Date.now() - 600_000;
    const watcher = await stack.live('admin');
    watcher.ws.send(JSON.stringify({ type: 'subscribe', devices: ['s1'] }));
    await waitFor('subscribed', () => (watcher.messages.some((m) => m['type'] === 'subscribed') ? true : undefined));
    const liveSeqs = (): number[] =>
      watcher.messages.filter((m) => m['type'] === 'telemetry' && m['device'] === 's1').flatMap((m) => (m['samples'] as { seq: number }[]).map((x) => x.seq));
    const clients = await Promise.all(DEVICES.map((id) => stack.mqtt(id)));
    const load = steadyLoad(clients, t0, 20);
    await sleep(3000);
    await stack.influxd!.pause();
    const pausedAt = load.published;
    // through the outage, every ~10 s: the live stream has everything published up to a moment ago
    for (let i = 0; i < 3; i++) {
      await sleep(i < 2 ? 10_000 : 9_000);
      const upTo = load.published - 25;
      await waitFor(`live stream has s1 up to ${upTo}`, () => (new Set(liveSeqs()).size >= upTo ? true : undefined), { timeoutMs: 5000 });
    }
    const outage = load.published - pausedAt;
    expect(await metric(stack, 'hatake_ingest_spooled_total')).toBeGreaterThan(0);
    await stack.influxd!.resume();
    await sleep(2000);
    load.stop();
    await sleep(500);
    expect(load.failures).toBe(0);
    expect(outage).toBeGreaterThan(1000);
    for (const id of DEVICES) {
      const want = [...load.acked[id]!].sort((a, b) => a - b);
      expect(want).toEqual(Array.from({ length: load.published }, (_, i) => i));
      const stored = async (): Promise<number[]> => (await stack.store.samples({ kind: 'sensor', device: id, from: t0, to: t0 + 10_000_000, limit: 1_000_000 })).map((r) => r.seq as number);
      await waitFor(`${id}: every sample stored`, async () => ((await stored()).length >= want.length ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
      const got = await stored();
      expect(got.length).toBe(new Set(got).size);
      expect(got.sort((a, b) => a - b)).toEqual(want);
    }
    // the live stream had every sample of s1, once, in order
    await waitFor('live stream complete', () => (liveSeqs().length >= load.published ? true : undefined));
    expect(liveSeqs()).toEqual(Array.from({ length: load.published }, (_, i) => i));
    await waitFor('spool replayed', async () => ((await metric(stack, 'hatake_ingest_spool_bytes')) === 0 ? true : undefined), { timeoutMs: 30_000 });
    expect(await metric(stack, 'hatake_ingest_replayed_total')).toBeGreaterThan(0);
  }, 120_000);
});

describe('spool full', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('influx', {
      env: {
        ...LIMITS,
        HATAKE_STORE__INFLUX__MAX_RETRIES: '0',
        HATAKE_STORE__INFLUX__TIMEOUT_MS: '1000',
        HATAKE_INGEST__SPOOL__MAX_BYTES: String(64 * 1024),
        HATAKE_INGEST__SPOOL__SEGMENT_BYTES: String(16 * 1024),
        HATAKE_INGEST__SPOOL__AFTER_MS: '200',
        HATAKE_INGEST__MAX_UNACKED: '300',
        HATAKE_INGEST__BATCH_MAX_SAMPLES: '50',
      },
    });
  }, 60_000);
  afterAll(async () => stack?.stop());

  const health = async (): Promise<{ status: number; body: { failing?: Record<string, string> } }> => {
    const res = await fetch(`${stack.ingestHttp}/healthz`);
    return { status: res.status, body: (await res.json()) as { failing?: Record<string, string> } };
  };

  it('stops acknowledging and raises the alarm, drops nothing, and drains when the database returns', async () => {
    const t0 = Date.now() - 600_000;
    const s1 = await stack.mqtt('s1');
    await stack.influxd!.pause();
    const total = 2000;
    // the broker acknowledges every one to the device and keeps what ingest does not take
    for (let i = 0; i < total; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => s1.publishAsync('hatake/v1/sensor/s1/telemetry', JSON.stringify({ v: 1, ...exampleSensorSample({ seq: i + k, t: t0 + (i + k) * 10 }) }), { qos: 1 })));
    }
    await waitFor('spool full alarm', async () => ((await metric(stack, 'hatake_ingest_spool_full')) === 1 ? true : undefined), { timeoutMs: 30_000 });
    const h = await health();
    expect(h.status).toBe(503);
    expect(h.body.failing?.['spool']).toMatch(/spool full/);
    // acknowledgements have stopped: held messages stay unacknowledged, and ingest has stopped reading
    await waitFor('reading paused', async () => ((await metric(stack, 'hatake_ingest_reading_paused')) === 1 ? true : undefined), { timeoutMs: 10_000 });
    const ackedAtFull = await metric(stack, 'hatake_ingest_acked_total');
    await sleep(1500);
    await fetch(`${stack.ingestHttp}/healthz`); // refreshes the sampled gauges
    expect(await metric(stack, 'hatake_ingest_acked_total')).toBe(ackedAtFull);
    expect(await metric(stack, 'hatake_ingest_unacked_messages')).toBeGreaterThanOrEqual(300);
    expect(await metric(stack, 'hatake_ingest_received_total')).toBeLessThan(total);
    expect(await metric(stack, 'hatake_ingest_spool_bytes')).toBeLessThanOrEqual(64 * 1024);
    // the database returns: the spool drains, reading resumes, everything is stored once
    await stack.influxd!.resume();
    const stored = async (): Promise<number[]> => (await stack.store.samples({ kind: 'sensor', device: 's1', from: t0, to: t0 + 10_000_000, limit: 1_000_000 })).map((r) => r.seq as number);
    await waitFor('every sample stored', async () => ((await stored()).length >= total ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    const got = await stored();
    expect(got.length).toBe(new Set(got).size);
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
    await waitFor('alarm cleared and healthy', async () => ((await health()).status === 200 ? true : undefined), { timeoutMs: 30_000 });
    expect(await metric(stack, 'hatake_ingest_spool_full')).toBe(0);
    expect(await metric(stack, 'hatake_ingest_acked_total')).toBeGreaterThanOrEqual(total);
  }, 120_000);
});
