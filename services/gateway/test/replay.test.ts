/**
 * Replay over the live stream, with a real broker, a real store (embedded),
 * a real gateway and real WebSocket clients; only the replay's clock is fake
 * (a manual clock drives `now` and the replay timers).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildBroker, type BrokerAddresses, type HatakeBroker } from '@hatake/broker';
import { ReplaySession, buildGateway, createGatewayMetrics, type Gateway, type Timers } from '@hatake/gateway';
import { examplePlowSample, exampleTractorSample, type PlowSample } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore, InfluxStore, type BucketRow, type SampleQuery, type SampleRecord, type SampleRow } from '@hatake/store';
import { influxSettingsFor, startInfluxd, testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';

/** A clock that moves only when told: `advance` fires the timers that fall due, in order, each at its time. */
class ManualClock implements Timers {
  t = Date.now();
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  readonly now = (): number => this.t;

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

/** The embedded store, noting each read of samples and how many are under way (to see that replays read in chunks). */
class ObservedStore extends EmbeddedStore {
  readonly observed: { q: SampleQuery; at: number }[] = [];
  reading = 0;
  clock: ManualClock | undefined;
  override async samples(q: SampleQuery): Promise<SampleRow[] | BucketRow[]> {
    this.observed.push({ q, at: this.clock?.now() ?? 0 });
    this.reading++;
    try {
      return await super.samples(q);
    } finally {
      this.reading--;
    }
  }
}

const T0 = Date.UTC(2026, 0, 15, 5, 0, 0);
/** The long window: three plows, 30 minutes at 1 Hz each, interleaved. */
const T1 = Date.UTC(2026, 0, 16, 4, 0, 0);
const LONG_MIN = 30;
const OFFSET: Record<string, number> = { p1: 0, p2: 333, p3: 667 };
const longWindow = (): SampleRecord[] =>
  ['p1', 'p2', 'p3'].flatMap((device) => Array.from({ length: LONG_MIN * 60 }, (_, i) => ({ kind: 'plow' as const, device, sample: examplePlowSample({ seq: 10_000 + i, t: T1 + i * 1000 + OFFSET[device]! }) })));
const longExpected = (): { device: string; seq: number; t: number }[] =>
  Array.from({ length: LONG_MIN * 60 }, (_, i) => ['p1', 'p2', 'p3'].map((d) => ({ device: d, seq: 10_000 + i, t: T1 + i * 1000 + OFFSET[d]! }))).flat();

let dep: TestDeployment;
let broker: HatakeBroker;
let addr: BrokerAddresses;
let store: ObservedStore;
let clock: ManualClock;
let gateway: Gateway;
let wsUrl: string;
const devices: MqttClient[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  // the test deployment's devices, and two more plows
  const overrides = {
    devices: [
      { id: 't1', kind: 'tractor', name: 'Tractor 1', farm: 'north', field: 'n1', tractor: { workingWidth: 12 } },
      { id: 't2', kind: 'tractor', name: 'Tractor 2', farm: 'south', field: 's1', tractor: { workingWidth: 8 } },
      { id: 'p1', kind: 'plow', name: 'Plow 1', route: ['ra', 'rb', 'rc'], assigned: ['rb', 'rc'] },
      { id: 'p2', kind: 'plow', name: 'Plow 2', route: ['ra', 'rb'] },
      { id: 'p3', kind: 'plow', name: 'Plow 3', route: ['rb', 'rc'] },
      { id: 's1', kind: 'sensor', name: 'Sensor 1', farm: 'north', field: 'n1' },
      { id: 's2', kind: 'sensor', name: 'Sensor 2', farm: 'south', field: 's1' },
    ],
  };
  dep = await testDeployment({ overrides, env: { HATAKE_GATEWAY__HTTP__PORT: '0', HATAKE_GATEWAY__API__MAX_RANGE_DAYS: '2' } });
  broker = buildBroker(dep.config, { logger: silentLogger() });
  addr = await broker.start();
  store = new ObservedStore(':memory:', { logger: silentLogger() });
  await store.start();
  // p1: one minute at 1 Hz
  await store.writeSamples(Array.from({ length: 60 }, (_, seq) => ({ kind: 'plow' as const, device: 'p1', sample: examplePlowSample({ seq, t: T0 + seq * 1000, spread: seq }) })));
  // three plows, half an hour each
  await store.writeSamples(longWindow());
  await store.writeSamples([
    { kind: 'tractor', device: 't1', farm: 'north', field: 'n1', sample: exampleTractorSample({ seq: 0, t: T0 }) },
    { kind: 'tractor', device: 't2', farm: 'south', field: 's1', sample: exampleTractorSample({ seq: 0, t: T0 }) },
  ]);
  clock = new ManualClock();
  store.clock = clock;
  gateway = buildGateway(dep.config, { logger: silentLogger(), store, password: dep.secrets['gateway']!, mqttUrl: addr.mqtt.url, now: clock.now, timers: clock });
  wsUrl = (await gateway.start()).http.ws;
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await Promise.all(devices.map((d) => d.endAsync()));
  await gateway.stop();
  await store.stop();
  await broker.stop();
});

type Message = Record<string, unknown>;

interface Live {
  readonly ws: WebSocket;
  readonly got: Message[];
  send(m: object): void;
  /** The first message of `type` (matching `pred`) at or after index `from`. */
  next(type: string, pred?: (m: Message) => boolean, from?: number): Promise<Message>;
  /** Resolves once everything the gateway sent before now has arrived (a ping's pong comes after it). */
  sync(): Promise<void>;
  /** The replayed samples received so far, in order. */
  replayed(): { device: string; seq: number; t: number }[];
}

async function live(user: string, g: Gateway = gateway, url = wsUrl): Promise<Live> {
  const { token } = await g.tokens.issue(user, clock.now());
  const ws = new WebSocket(url, ['hatake.v1', `bearer.${token}`]);
  sockets.push(ws);
  const got: Message[] = [];
  ws.on('message', (d) => got.push(JSON.parse(String(d)) as Message));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = (type: string, pred: (m: Message) => boolean = () => true, from = 0): Promise<Message> =>
    waitFor(`a ${type} message`, () => got.slice(from).find((m) => m['type'] === type && pred(m)));
  const l: Live = {
    ws,
    got,
    send: (m) => ws.send(JSON.stringify(m)),
    next,
    sync: async () => {
      const from = got.length;
      ws.send('{"type":"ping"}');
      await next('pong', () => true, from);
    },
    replayed: () =>
      got.filter((m) => m['type'] === 'telemetry' && m['replay'] !== undefined).flatMap((m) => (m['samples'] as { seq: number; t: number }[]).map((s) => ({ device: m['device'] as string, seq: s.seq, t: s.t }))),
  };
  await l.next('hello');
  return l;
}

async function device(id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(addr.mqtt.url, { username: id, password: dep.secrets[id], clientId: id, protocolVersion: 4, reconnectPeriod: 0 });
  devices.push(c);
  return c;
}

const value = async (metric: { get(): Promise<{ values: { labels: Partial<Record<string, string | number>>; value: number }[] }> }, labels: Record<string, string> = {}): Promise<number> =>
  (await metric.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);

const seqs = (c: Live): number[] => c.replayed().map((s) => s.seq);
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('replay', () => {
  it("replays a plow's recorded window: every sample in order, marked, at 60× a minute in a second of the clock", async () => {
    const c = await live('crew');
    const samplesBefore = await value(gateway.metrics.replaySamples);
    c.send({ type: 'replay', id: 'morning', devices: ['p1'], from: T0, to: T0 + 60_000, speed: 60 });
    expect(await c.next('replay_state')).toEqual({ type: 'replay_state', id: 'morning', state: 'playing', t: T0, speed: 60, from: T0, to: T0 + 60_000, devices: ['p1'] });
    expect(await value(gateway.metrics.replaySessions)).toBe(1);
    // the first sample is due at once (the clock starts when the store has answered)
    await waitFor('the first sample', () => (seqs(c).length > 0 ? true : undefined));
    expect(seqs(c)).toEqual([0]);
    clock.advance(500);
    await c.sync();
    expect(seqs(c)).toEqual(range(0, 30));
    clock.advance(499);
    await c.sync();
    expect(seqs(c)).toEqual(range(0, 59));
    expect(c.got.some((m) => m['type'] === 'replay_state' && m['state'] === 'ended')).toBe(false);
    clock.advance(1);
    expect(await c.next('replay_state', (m) => m['state'] === 'ended')).toEqual({ type: 'replay_state', id: 'morning', state: 'ended', reason: 'completed', t: T0 + 60_000, speed: 60, from: T0, to: T0 + 60_000, devices: ['p1'] });
    const messages = c.got.filter((m) => m['type'] === 'telemetry');
    for (const m of messages) {
      expect(Object.keys(m).sort()).toEqual(['device', 'kind', 'replay', 'samples', 'type']);
      expect(m).toMatchObject({ device: 'p1', kind: 'plow', replay: 'morning' });
    }
    expect(c.replayed().map((s) => s.t)).toEqual(range(0, 59).map((i) => T0 + i * 1000));
    expect((messages[7]!['samples'] as PlowSample[])[0]).toEqual(examplePlowSample({ seq: 7, t: T0 + 7000, spread: 7 }));
    expect((await value(gateway.metrics.replaySamples)) - samplesBefore).toBe(60);
    expect(await value(gateway.metrics.replaySessions)).toBe(0);
    c.ws.close();
  });

  it('pauses, resumes, seeks forwards and back, and changes speed keeping its place', async () => {
    const c = await live('crew');
    c.send({ type: 'replay', devices: ['p1'], from: T0, to: new Date(T0 + 60_000).toISOString(), speed: 10 });
    const started = await c.next('replay_state');
    const id = started['id'] as string;
    expect(id).toMatch(/^r\d+$/);
    await waitFor('the first sample', () => (seqs(c).length > 0 ? true : undefined));
    clock.advance(1000);
    await c.sync();
    expect(seqs(c)).toEqual(range(0, 10));

    let from = c.got.length;
    c.send({ type: 'replay_control', action: 'pause' });
    expect(await c.next('replay_state', () => true, from)).toMatchObject({ id, state: 'paused', t: T0 + 10_000, speed: 10 });
    clock.advance(10_000);
    await c.sync();
    expect(seqs(c)).toEqual(range(0, 10));

    from = c.got.length;
    c.send({ type: 'replay_control', action: 'resume' });
    expect(await c.next('replay_state', () => true, from)).toMatchObject({ state: 'playing', t: T0 + 10_000 });
    clock.advance(500);
    await c.sync();
    expect(seqs(c)).toEqual(range(0, 15));

    from = c.got.length;
    c.send({ type: 'replay_control', action: 'seek', t: new Date(T0 + 40_000).toISOString() });
    expect(await c.next('replay_state', () => true, from)).toMatchObject({ state: 'playing', t: T0 + 40_000, speed: 10 });
    await waitFor('the sample at the new place', () => (seqs(c).includes(40) ? true : undefined));
    clock.advance(200);
    await c.sync();
    expect(seqs(c)).toEqual([...range(0, 15), 40, 41, 42]);

    from = c.got.length;
    c.send({ type: 'replay_control', action: 'seek', t: T0 + 5000 });
    expect(await c.next('replay_state', () => true, from)).toMatchObject({ state: 'playing', t: T0 + 5000 });
    await waitFor('the sample at the earlier place', () => (seqs(c).at(-1) === 5 ? true : undefined));

    from = c.got.length;
    c.send({ type: 'replay_control', action: 'speed', speed: 60 });
    expect(await c.next('replay_state', () => true, from)).toMatchObject({ state: 'playing', t: T0 + 5000, speed: 60 });
    clock.advance(500);
    await c.sync();
    expect(seqs(c)).toEqual([...range(0, 15), 40, 41, 42, ...range(5, 35)]);
    clock.advance(500);
    expect(await c.next('replay_state', (m) => m['state'] === 'ended')).toMatchObject({ id, reason: 'completed', t: T0 + 60_000 });
    expect(seqs(c)).toEqual([...range(0, 15), 40, 41, 42, ...range(5, 59)]);
    c.ws.close();
  });

  it('stops on request, is replaced by a new replay, and ends with its socket', async () => {
    const c = await live('admin');
    c.send({ type: 'replay', id: 'one', devices: ['p1'], from: T0, to: T0 + 60_000, speed: 1 });
    await c.next('replay_state', (m) => m['id'] === 'one');
    c.send({ type: 'replay', id: 'two', devices: ['p1', 't1'], from: T0, to: T0 + 60_000, speed: 1 });
    expect(await c.next('replay_state', (m) => m['id'] === 'one' && m['state'] === 'ended')).toMatchObject({ reason: 'replaced' });
    await c.next('replay_state', (m) => m['id'] === 'two');
    expect(await value(gateway.metrics.replaySessions)).toBe(1);
    // a seek while paused stays paused, at its new place
    c.send({ type: 'replay_control', action: 'pause' });
    await c.next('replay_state', (m) => m['id'] === 'two' && m['state'] === 'paused');
    c.send({ type: 'replay_control', action: 'seek', t: T0 + 30_000 });
    expect(await c.next('replay_state', (m) => m['t'] === T0 + 30_000)).toMatchObject({ id: 'two', state: 'paused' });
    c.send({ type: 'replay_control', action: 'stop' });
    expect(await c.next('replay_state', (m) => m['id'] === 'two' && m['state'] === 'ended')).toMatchObject({ reason: 'stopped' });
    expect(await value(gateway.metrics.replaySessions)).toBe(0);
    c.send({ type: 'replay_control', action: 'pause' });
    expect(await c.next('error')).toMatchObject({ code: 'HATAKE_ERR_GATEWAY_BAD_REQUEST', message: 'no replay to control: start one with {"type":"replay", …}' });

    c.send({ type: 'replay', id: 'three', devices: ['p1'], from: T0, to: T0 + 60_000, speed: 1 });
    await c.next('replay_state', (m) => m['id'] === 'three');
    expect(await value(gateway.metrics.replaySessions)).toBe(1);
    c.ws.close();
    await waitFor('the session gone with its socket', async () => ((await value(gateway.metrics.replaySessions)) === 0 ? true : undefined));
  });

  it('sends replayed telemetry in the shape of live telemetry, while the live stream goes on', async () => {
    const c = await live('crew');
    const p1 = await device('p1');
    const t = T0 - 3_600_000;
    const sample = examplePlowSample({ seq: 500, t, blade: 'up', spread: 0 });
    await p1.publishAsync('hatake/v1/plow/p1/telemetry', JSON.stringify({ v: 1, ...sample }), { qos: 1 });
    const liveMessage = await c.next('telemetry', (m) => (m['samples'] as { seq: number }[])[0]!.seq === 500);
    // as ingest would store it
    await store.writeSamples([{ kind: 'plow', device: 'p1', sample }]);
    c.send({ type: 'replay', id: 'shape', devices: ['p1'], from: t, to: t + 10_000, speed: 1 });
    const replayed = await c.next('telemetry', (m) => m['replay'] === 'shape');
    const { replay, ...rest } = replayed;
    expect(replay).toBe('shape');
    expect(rest).toEqual(liveMessage);
    expect(liveMessage['replay']).toBeUndefined();
    // live messages keep coming, unmarked, during the replay
    await p1.publishAsync('hatake/v1/plow/p1/telemetry', JSON.stringify({ v: 1, ...examplePlowSample({ seq: 501, t: Date.now() }) }), { qos: 1 });
    expect(await c.next('telemetry', (m) => (m['samples'] as { seq: number }[])[0]!.seq === 501)).not.toHaveProperty('replay');
    expect(c.got.filter((m) => m['type'] === 'replay_state').at(-1)).toMatchObject({ id: 'shape', state: 'playing' });
    clock.advance(10_000);
    await c.next('replay_state', (m) => m['state'] === 'ended');
    c.ws.close();
  });

  it('reads a long window a chunk at a time, merging the devices by time', async () => {
    const c = await live('crew');
    const readsBefore = store.observed.length;
    c.send({ type: 'replay', id: 'long', devices: ['p1', 'p2', 'p3'], from: T1, to: T1 + LONG_MIN * 60_000, speed: 60 });
    await c.next('replay_state', (m) => m['id'] === 'long');
    await waitFor('the first sample', () => (c.replayed().length > 0 ? true : undefined));
    const startedAt = clock.now();
    // a second of the clock (a minute of device time) at a time, each time once the store has answered what it was asked
    for (let s = 1; s <= LONG_MIN; s++) {
      await waitFor('the store to answer', () => (store.reading === 0 ? true : undefined));
      clock.advance(1000);
      await c.sync();
      if (s < LONG_MIN) expect(c.replayed().at(-1)!.t).toBe(T1 + s * 60_000 + OFFSET['p1']!);
    }
    // the store kept up: half an hour at 60× took half a minute, across the chunks
    expect(await c.next('replay_state', (m) => m['state'] === 'ended')).toMatchObject({ id: 'long', reason: 'completed' });
    expect(c.replayed()).toEqual(longExpected());
    const reads = store.observed.slice(readsBefore);
    // three chunks of ten minutes, each read for every device
    expect(reads.map((r) => [r.q.device, r.q.from - T1, r.q.to - T1])).toEqual([0, 10, 20].flatMap((m) => ['p1', 'p2', 'p3'].map((d) => [d, m * 60_000, (m + 10) * 60_000])));
    // the first two at once; the last only when the replay reached the second (ten seconds of the clock at 60×), not up front
    expect(reads.map((r) => r.at - startedAt)).toEqual([0, 0, 0, 0, 0, 0, 10_000, 10_000, 10_000]);
    c.ws.close();
  });
});

/** Replays the long window at 60×, five seconds of the clock (five minutes of device time) at a time, to its end. */
async function replayLong(c: Live): Promise<{ device: string; seq: number; t: number }[]> {
  c.send({ type: 'replay', id: 'long', devices: ['p1', 'p2', 'p3'], from: T1, to: T1 + LONG_MIN * 60_000, speed: 60 });
  await c.next('replay_state', (m) => m['id'] === 'long');
  await waitFor(
    'the end of the long replay',
    () => {
      if (c.got.some((m) => m['type'] === 'replay_state' && m['state'] === 'ended')) return true;
      clock.advance(5000);
      return undefined;
    },
    { timeoutMs: 20_000 },
  );
  return c.replayed();
}

describe('replay from InfluxDB', () => {
  it('plays the long window from a real influxd the same way', async () => {
    const influxd = await startInfluxd();
    const influx = new InfluxStore(
      influxSettingsFor(influxd, { database: 'hatake_replay', maxRetries: 3, maxRetryTimeMs: 10_000, timeoutMs: 5000 }),
      { logger: silentLogger() },
    );
    const g = buildGateway(dep.config, { logger: silentLogger(), store: influx, password: 'unused', mqttUrl: 'mqtt://127.0.0.1:1', now: clock.now, timers: clock });
    try {
      await influx.start();
      await influx.writeSamples(longWindow());
      await g.app.listen({ host: '127.0.0.1', port: 0 });
      const c = await live('crew', g, `ws://127.0.0.1:${(g.app.server.address() as { port: number }).port}/ws`);
      expect(await replayLong(c)).toEqual(longExpected());
      c.ws.close();
    } finally {
      await g.app.close();
      await influx.stop();
      await influxd.stop();
    }
  });
});

describe('replay scope', () => {
  it("lets a farm's viewer replay its own tractor and not another farm's, and road crews plows only", async () => {
    const north = await live('view-north');
    north.send({ type: 'replay', devices: ['t2'], from: T0, to: T0 + 60_000, speed: 1 });
    expect(await north.next('error')).toEqual({ type: 'error', code: 'HATAKE_ERR_GATEWAY_FORBIDDEN', message: 'not yours to see: t2' });
    north.send({ type: 'replay', devices: ['t1', 't2', 'p1'], from: T0, to: T0 + 60_000, speed: 1 });
    expect(await north.next('error', (m) => m['message'] !== 'not yours to see: t2')).toMatchObject({ code: 'HATAKE_ERR_GATEWAY_FORBIDDEN', message: 'not yours to see: t2, p1' });
    north.send({ type: 'replay', devices: ['ghost'], from: T0, to: T0 + 60_000, speed: 1 });
    expect(await north.next('error', (m) => m['code'] === 'HATAKE_ERR_GATEWAY_NOT_FOUND')).toMatchObject({ message: 'no such device: ghost' });
    north.send({ type: 'replay', id: 'mine', devices: ['t1'], from: T0, to: T0 + 60_000, speed: 1 });
    await north.next('replay_state', (m) => m['id'] === 'mine');
    const t1 = await north.next('telemetry', (m) => m['replay'] === 'mine');
    expect(t1).toMatchObject({ device: 't1', kind: 'tractor', farm: 'north' });
    expect(north.got.some((m) => m['type'] === 'telemetry' && m['device'] !== 't1')).toBe(false);
    north.ws.close();

    const crew = await live('crew');
    crew.send({ type: 'replay', devices: ['t1'], from: T0, to: T0 + 60_000, speed: 1 });
    expect(await crew.next('error')).toMatchObject({ code: 'HATAKE_ERR_GATEWAY_FORBIDDEN', message: 'not yours to see: t1' });
    crew.send({ type: 'replay', id: 'plows', devices: ['p1', 'p2'], from: T0, to: T0 + 60_000, speed: 1 });
    expect(await crew.next('replay_state')).toMatchObject({ id: 'plows', state: 'playing' });
    crew.ws.close();
  });
});

describe('replay pace', () => {
  it('ends a window reaching into the future now: a replay plays what has been recorded', async () => {
    const c = await live('crew');
    c.send({ type: 'replay', devices: ['p1'], from: clock.now() - 60_000, to: clock.now() + 3_600_000, speed: 1 });
    expect(await c.next('replay_state')).toMatchObject({ state: 'playing', from: clock.now() - 60_000, to: clock.now() });
    c.ws.close();
  });

  it('waits for a client that reads slower than the replay, and drops nothing', async () => {
    const metrics = createGatewayMetrics();
    const sent: Message[] = [];
    let backlog = 0;
    let ended = false;
    const session = new ReplaySession(
      'slow',
      [{ id: 'p1', kind: 'plow' }],
      { from: T0, to: T0 + 60_000 },
      60,
      { send: (m) => sent.push(m as Message), sendTelemetry: (json) => sent.push(JSON.parse(json) as Message), backlog: () => backlog, ended: () => (ended = true) },
      { store, now: clock.now, timers: clock, metrics, log: silentLogger(), highWaterBytes: 1000 },
    );
    const samples = (): number[] => sent.filter((m) => m['type'] === 'telemetry').flatMap((m) => (m['samples'] as { seq: number }[]).map((x) => x.seq));
    session.start();
    await waitFor('the first sample', () => (samples().length > 0 ? true : undefined));
    backlog = 1001;
    clock.advance(2000);
    // the clock waits at the next sample to send
    expect(samples()).toEqual([0]);
    expect(session.state()).toMatchObject({ state: 'playing', t: T0 + 1000 });
    backlog = 0;
    clock.advance(50);
    expect(samples()[1]).toBe(1);
    clock.advance(1000);
    expect(samples()).toEqual(range(0, 59));
    expect(ended).toBe(true);
    expect(sent.at(-1)).toMatchObject({ type: 'replay_state', state: 'ended', reason: 'completed' });
    expect(await value(metrics.replaySamples)).toBe(60);
  });
});

describe('bad replay messages', () => {
  const ok = { type: 'replay', devices: ['p1'], from: T0, to: T0 + 60_000, speed: 1 };
  it.each([
    ['a speed of 0', { ...ok, speed: 0 }, 'not a valid replay message of the live protocol: speed must be a number from 1 to 60 (times device time; got 0)'],
    ['a speed over 60', { ...ok, speed: 120 }, 'speed must be a number from 1 to 60 (times device time; got 120)'],
    ['no speed', { type: 'replay', devices: ['p1'], from: T0, to: T0 + 1000 }, 'must have required properties speed'],
    ['a from that is not a time', { ...ok, from: 'yesterday' }, 'from must be a time: epoch ms or ISO 8601 with a zone (got "yesterday")'],
    ['an impossible date', { ...ok, to: '2026-13-45T99:00:00Z' }, 'to is not a time'],
    ['from after to', { ...ok, from: T0 + 1000, to: T0 }, 'from must be before to'],
    ['an empty window', { ...ok, from: T0, to: T0 }, 'from must be before to'],
    ['a window over the limit', { ...ok, to: T0 + 3 * 86_400_000 }, 'the window is longer than 2 days (gateway.api.maxRangeDays)'],
    ['a window in the future', { ...ok, from: Date.now() + 3_600_000, to: Date.now() + 7_200_000 }, 'from must be in the past: a replay plays what has been recorded'],
    ['no devices', { ...ok, devices: [] }, '/devices must not have fewer than 1 items'],
    ['a device twice', { ...ok, devices: ['p1', 'p1'] }, '/devices must not have duplicate items'],
    ['an unknown field', { ...ok, loop: true }, 'must not have additional properties'],
  ])('refuses a replay with %s, saying why, and counts it', async (_name, message, reason) => {
    const c = await live('crew');
    const before = await value(gateway.metrics.clientErrors, { reason: 'HATAKE_ERR_GATEWAY_BAD_REQUEST' });
    c.send(message);
    const err = await c.next('error');
    expect(err['code']).toBe('HATAKE_ERR_GATEWAY_BAD_REQUEST');
    expect(String(err['message'])).toContain(reason);
    expect(await value(gateway.metrics.clientErrors, { reason: 'HATAKE_ERR_GATEWAY_BAD_REQUEST' })).toBe(before + 1);
    expect(c.got.some((m) => m['type'] === 'replay_state')).toBe(false);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });

  it.each([
    ['seek without t', { action: 'seek' }, 'seek needs t, a time within the replay'],
    ['seek outside the window', { action: 'seek', t: T0 + 120_000 }, "t must be within the replay's window"],
    ['seek to a time that is not one', { action: 'seek', t: 'later' }, 't must be a time: epoch ms or ISO 8601 with a zone (got "later")'],
    ['speed without speed', { action: 'speed' }, 'the speed action needs speed, from 1 to 60'],
    ['a speed of 61', { action: 'speed', speed: 61 }, 'speed must be a number from 1 to 60'],
    ['t with pause', { action: 'pause', t: T0 }, 't is only for seek (got it with pause)'],
    ['an unknown action', { action: 'rewind' }, '/action must be equal to one of the allowed values'],
  ])('refuses a replay_control with %s, saying why, and keeps the replay', async (_name, control, reason) => {
    const c = await live('crew');
    c.send({ ...ok, id: 'kept' });
    await c.next('replay_state');
    const before = await value(gateway.metrics.clientErrors, { reason: 'HATAKE_ERR_GATEWAY_BAD_REQUEST' });
    c.send({ type: 'replay_control', ...control });
    const err = await c.next('error');
    expect(err['code']).toBe('HATAKE_ERR_GATEWAY_BAD_REQUEST');
    expect(String(err['message'])).toContain(reason);
    expect(await value(gateway.metrics.clientErrors, { reason: 'HATAKE_ERR_GATEWAY_BAD_REQUEST' })).toBe(before + 1);
    // the replay is untouched: a pause answers with its state
    const from = c.got.length;
    c.send({ type: 'replay_control', action: 'pause' });
    expect(await c.next('replay_state', () => true, from)).toMatchObject({ id: 'kept', state: 'paused', t: T0 });
    c.ws.close();
  });

  it('ends a replay whose store does not answer, saying so', async () => {
    const broken = new EmbeddedStore(':memory:', { logger: silentLogger() });
    await broken.start();
    await broken.stop();
    const g = buildGateway(dep.config, { logger: silentLogger(), store: broken, password: 'unused', mqttUrl: 'mqtt://127.0.0.1:1', now: clock.now, timers: clock });
    await g.app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { token } = await g.tokens.issue('crew', clock.now());
      const ws = new WebSocket(`ws://127.0.0.1:${(g.app.server.address() as { port: number }).port}/ws`, ['hatake.v1', `bearer.${token}`]);
      sockets.push(ws);
      const got: Message[] = [];
      ws.on('message', (d) => got.push(JSON.parse(String(d)) as Message));
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ ...ok, id: 'lost' }));
      const ended = await waitFor('the end', () => got.find((m) => m['type'] === 'replay_state' && m['state'] === 'ended'));
      expect(ended).toMatchObject({ id: 'lost', reason: 'failed' });
      expect(got.find((m) => m['type'] === 'error')).toEqual({ type: 'error', code: 'HATAKE_ERR_GATEWAY_UNAVAILABLE', message: 'the store did not answer: the replay ended', replay: 'lost' });
      expect(await value(g.metrics.replaySessions)).toBe(0);
      ws.close();
    } finally {
      await g.app.close();
    }
  });
});
