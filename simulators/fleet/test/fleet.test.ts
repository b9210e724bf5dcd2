/**
 * The simulated fleet against the real broker, watched by a real MQTT client:
 * every kind publishes valid telemetry and retained state, and each fault
 * behaves as a real device's would.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildBroker, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import { buildFleet, type Fleet, type FleetOptions } from '@hatake/fleet';
import { Decoder, parseTopic, type DecodeResult } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { selectDevices } from '@hatake/simkit';
import { testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';

let dep: TestDeployment;
let broker: HatakeBroker;
let addr: BrokerAddresses;
let watcher: MqttClient;
let fleet: Fleet | undefined;
const decoder = new Decoder();

interface Seen {
  readonly topic: string;
  readonly payload: Buffer;
  readonly result: DecodeResult;
}
let seen: Seen[] = [];

beforeAll(async () => {
  dep = await testDeployment();
  broker = buildBroker(dep.config, { logger: silentLogger() });
  addr = await broker.start();
  watcher = await mqtt.connectAsync(addr.mqtt.url, { username: 'ingest', password: dep.secrets['ingest'], clientId: 'ingest:watch', protocolVersion: 4, reconnectPeriod: 0 });
  watcher.on('message', (topic, payload) => seen.push({ topic, payload, result: decoder.decode(topic, payload) }));
  await watcher.subscribeAsync(['hatake/v1/+/+/telemetry', 'hatake/v1/+/+/state', 'hatake/v1/+/+/event'], { qos: 1 });
});

afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
  seen = [];
});

afterAll(async () => {
  await watcher.endAsync();
  await broker.stop();
});

function start(opts: Partial<FleetOptions>): Promise<void> {
  fleet = buildFleet(dep.config, {
    secrets: { devices: dep.secrets, groups: { load: dep.secrets['load']! } },
    logger: silentLogger(),
    url: addr.mqtt.url,
    sensorSpeedup: 600,
    ...opts,
  });
  return fleet.start();
}

const telemetryOf = (id: string): Seen[] => seen.filter((s) => s.topic.endsWith(`/${id}/telemetry`));
const seqsOf = (id: string): number[] =>
  telemetryOf(id).flatMap((s) => (s.result.ok && s.result.value.channel === 'telemetry' ? s.result.value.samples.map((x) => x.seq) : []));
const statesOf = (id: string): { online: boolean; reason?: string }[] =>
  seen.filter((s) => s.topic.endsWith(`/${id}/state`)).map((s) => JSON.parse(s.payload.toString()) as { online: boolean; reason?: string });

/** True when the distinct sequence numbers are exactly 0..max. */
function contiguous(seqs: number[]): boolean {
  const set = new Set(seqs);
  const max = Math.max(...seqs);
  return set.size === max + 1 && [...set].every((s) => s >= 0 && s <= max);
}

describe('the simulated fleet', () => {
  it('publishes valid telemetry of every kind, and a retained online state', async () => {
    await start({});
    const ids = ['t1', 't2', 'p1', 's1', 's2'];
    await waitFor('telemetry from every device', () => (ids.every((id) => telemetryOf(id).length >= 3) ? true : undefined), { timeoutMs: 15_000 });
    const bad = seen.filter((s) => !s.result.ok);
    expect(bad.map((s) => ({ topic: s.topic, reasons: s.result.ok ? [] : s.result.reasons }))).toEqual([]);
    for (const id of ids) {
      expect(statesOf(id)[0]).toMatchObject({ online: true });
      expect(contiguous(seqsOf(id))).toBe(true);
    }
    const kinds = new Set(seen.map((s) => parseTopic(s.topic)).flatMap((p) => (p.ok && p.topic.type === 'device' ? [p.topic.kind] : [])));
    expect(kinds).toEqual(new Set(['tractor', 'plow', 'sensor']));
    // a tractor reports at 5 Hz: its samples are 200 ms apart in device time
    const t1 = telemetryOf('t1').flatMap((s) => (s.result.ok && s.result.value.channel === 'telemetry' ? s.result.value.samples.map((x) => x.t) : []));
    expect(t1[1]! - t1[0]!).toBe(200);
    // stopping says goodbye: the retained state turns offline (shutdown), not a lost link
    await fleet!.stop();
    fleet = undefined;
    await waitFor('shutdown state', () => (statesOf('p1').some((s) => !s.online) ? true : undefined));
    expect(statesOf('p1').at(-1)).toMatchObject({ online: false, reason: 'shutdown' });
  });

  it('link drop: the will says offline, the device returns, and its backlog arrives without a gap', async () => {
    await start({ only: ['t1'], faults: { linkDrop: { everyS: 1.5, durationS: 1 } } });
    await waitFor('offline then online again', () => {
      const states = statesOf('t1');
      const lost = states.findIndex((s) => !s.online && s.reason === 'connection_lost');
      return lost >= 0 && states.slice(lost + 1).some((s) => s.online) ? true : undefined;
    }, { timeoutMs: 20_000 });
    const dev = fleet!.devices[0]!;
    expect(dev.stats.linkDrops).toBeGreaterThanOrEqual(1);
    // stop (which sends what is left), then everything produced must have arrived: seq 0..n-1, no hole
    await fleet!.stop();
    fleet = undefined;
    const produced = dev.stats.samples;
    await waitFor('every sample produced', () => (new Set(seqsOf('t1')).size === produced ? true : undefined), { timeoutMs: 20_000 });
    expect(contiguous(seqsOf('t1'))).toBe(true);
    expect(Math.max(...seqsOf('t1'))).toBe(produced - 1);
    expect(dev.stats.droppedOffline).toBe(0);
    // the backlog came batched
    expect(telemetryOf('t1').some((s) => s.result.ok && s.result.value.channel === 'telemetry' && s.result.value.batched)).toBe(true);
  });

  it('malformed and oversized messages are refused by validation while good ones keep flowing', async () => {
    await start({ only: ['t2'], faults: { malformed: 0.3, oversized: 0.1 } });
    await waitFor('bad messages', () => (seen.filter((s) => !s.result.ok).length >= 6 && seen.some((s) => !s.result.ok && s.result.reasons[0]?.code === 'size') ? true : undefined), { timeoutMs: 20_000 });
    const codes = new Set(seen.flatMap((s) => (s.result.ok ? [] : [s.result.reasons[0]!.code])));
    expect(codes.has('size')).toBe(true);
    expect([...codes].some((c) => ['json', 'type', 'range', 'required', 'unknown_field'].includes(c))).toBe(true);
    expect(contiguous(seqsOf('t2'))).toBe(true);
    expect(fleet!.devices[0]!.stats.malformedSent).toBeGreaterThan(0);
  });

  it('wrong credentials are refused by the broker, counted, and retried', async () => {
    const before = (await broker.metrics.connections.get()).values.find((v) => v.labels['reason'] === 'bad_credentials')?.value ?? 0;
    await start({ only: ['s2'], faults: { wrongCredentials: true } });
    const dev = fleet!.devices[0]!;
    expect(dev.connected).toBe(false);
    expect(dev.stats.refusedConnects).toBe(1);
    const after = (await broker.metrics.connections.get()).values.find((v) => v.labels['reason'] === 'bad_credentials')?.value ?? 0;
    expect(after).toBe(before + 1);
    await waitFor('a retry', () => (dev.stats.refusedConnects >= 2 ? true : undefined), { timeoutMs: 10_000 });
    expect(telemetryOf('s2')).toEqual([]);
  });

  it('GNSS dropout: samples without a position, still valid', async () => {
    await start({ only: ['p1'], faults: { gnssDropout: { everyS: 1, durationS: 3 } } });
    await waitFor('a sample without fix', () => (telemetryOf('p1').some((s) => JSON.parse(s.payload.toString()).fix === 'none') ? true : undefined), { timeoutMs: 20_000 });
    const none = telemetryOf('p1').map((s) => JSON.parse(s.payload.toString()) as Record<string, unknown>).find((p) => p['fix'] === 'none')!;
    expect(none['lat']).toBeUndefined();
    expect(telemetryOf('p1').every((s) => s.result.ok)).toBe(true);
  });

  it('clock skew: device time runs ahead, and validation against the receive time catches it', async () => {
    await start({ only: ['s1'], faults: { clockSkewMs: 3_600_000 } });
    await waitFor('sensor samples', () => (telemetryOf('s1').length >= 2 ? true : undefined), { timeoutMs: 10_000 });
    const s = telemetryOf('s1')[0]!;
    const t = (JSON.parse(s.payload.toString()) as { t: number }).t;
    expect(t - Date.now()).toBeGreaterThan(3_500_000);
    const checked = decoder.decode(s.topic, s.payload, { now: Date.now() });
    expect(checked.ok ? 'accepted' : checked.reasons[0]?.code).toBe('rule');
  });

  it('runs synthetic devices from the configured groups for load', async () => {
    expect(selectDevices(dep.config, { synthetic: 10 }).map((d) => d.id)).toEqual(Array.from({ length: 10 }, (_, i) => `load-${String(i + 1).padStart(4, '0')}`));
    await start({ synthetic: 10, batch: 2 });
    await waitFor('every synthetic device', () => (fleet!.devices.every((d) => telemetryOf(d.id).length >= 1) ? true : undefined), { timeoutMs: 15_000 });
    expect(seen.filter((s) => s.topic.includes('/load-')).every((s) => s.result.ok)).toBe(true);
    expect(fleet!.stats()).toMatchObject({ devices: 10, connected: 10 });
  });
});
