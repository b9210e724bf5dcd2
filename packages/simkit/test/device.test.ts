/**
 * The device runtime against the real broker: commands are validated,
 * expired ones refused, each id executed and acknowledged once, and
 * completion acknowledged; valid heartbeats reach the model; the command
 * faults (ignore-commands, ack-delay) and drift; a device outlives a broker
 * restart.
 */
import { rm } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBroker, type HatakeBroker } from '@hatake/broker';
import { HEARTBEAT_TOPIC, commandAckTopic, commandTopic, exampleCommand, exampleHeartbeat, telemetryTopic, type Command, type CommandAck } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { EventQueue, Rng, SimDevice, type CommandOutcome, type DeviceModel, type Faults, type SampleBody } from '@hatake/simkit';
import { freePort, testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';

/** A sensor model that records the commands it is asked to carry out. */
class RecordingModel implements DeviceModel<'sensor'> {
  readonly kind = 'sensor' as const;
  readonly periodMs = 50;
  readonly executed: string[] = [];
  readonly heartbeats: number[] = [];
  readonly drifts: number[] = [];
  private readonly events = new EventQueue();
  private stepsSinceCommand = 0;
  step(): SampleBody<'sensor'> {
    this.stepsSinceCommand++;
    return { fix: 'none', soilMoisture: 20 };
  }
  drainEvents() {
    return this.events.drain();
  }
  gnssDropout(): void {}
  command(cmd: Command): CommandOutcome {
    this.executed.push(cmd.id);
    this.stepsSinceCommand = 0;
    return cmd.type === 'resume' ? { status: 'rejected', reason: 'nothing to resume' } : { status: 'accepted', done: () => this.stepsSinceCommand >= 3 };
  }
  heartbeat(simTimeMs: number): void {
    this.heartbeats.push(simTimeMs);
  }
  lateralDrift(metresPerSecond: number): void {
    this.drifts.push(metresPerSecond);
  }
}

let dep: TestDeployment;
let broker: HatakeBroker;
let gateway: MqttClient;
let device: SimDevice<'sensor'>;
let model: RecordingModel;
let brokerUrl: string;
const acks: CommandAck[] = [];
/** Telemetry sequence numbers seen, by device. */
const telemetrySeqs = new Map<string, number[]>();

beforeAll(async () => {
  dep = await testDeployment();
  broker = buildBroker(dep.config, { logger: silentLogger() });
  const addr = await broker.start();
  brokerUrl = addr.mqtt.url;
  model = new RecordingModel();
  device = new SimDevice({ id: 's1', kind: 'sensor', password: dep.secrets['s1']!, mqtt: { url: addr.mqtt.url }, model, rng: new Rng(1), logger: silentLogger() });
  await device.start();
  gateway = await mqtt.connectAsync(addr.mqtt.url, { username: 'gateway', password: dep.secrets['gateway'], clientId: 'gateway:test', protocolVersion: 4, reconnectPeriod: 0 });
  gateway.on('message', (topic, p) => {
    const body = JSON.parse(p.toString()) as Record<string, unknown>;
    if (topic.endsWith('/cmd/ack')) acks.push(body as unknown as CommandAck);
    else if (topic.endsWith('/telemetry')) {
      const id = topic.split('/')[3]!;
      telemetrySeqs.set(id, [...(telemetrySeqs.get(id) ?? []), body['seq'] as number]);
    }
  });
  await gateway.subscribeAsync([commandAckTopic('sensor', 's1'), commandAckTopic('sensor', 's2'), telemetryTopic('sensor', 's2')], { qos: 1 });
  await waitFor('device subscribed', () => (device.connected ? true : undefined));
});

afterAll(async () => {
  await device.stop();
  await gateway.endAsync();
  await broker.stop();
});

const send = (cmd: unknown, to = 's1'): Promise<unknown> => gateway.publishAsync(commandTopic('sensor', to), JSON.stringify(cmd), { qos: 1 });
const acksOf = (id: string): string[] => acks.filter((a) => a.id === id).map((a) => a.status + (a.reason ? `: ${a.reason}` : ''));
const valid = (id: string, ms = 30_000): Command => exampleCommand({ id, issuedAt: Date.now(), expiresAt: Date.now() + ms });

/** Runs a second device, s2, with these faults for the length of `body`. */
async function withFaultyDevice(faults: Faults, body: (s2: SimDevice<'sensor'>, model: RecordingModel) => Promise<void>): Promise<void> {
  const model = new RecordingModel();
  telemetrySeqs.delete('s2'); // sequence numbers start over with each run
  const s2 = new SimDevice({ id: 's2', kind: 'sensor', password: dep.secrets['s2']!, mqtt: { url: brokerUrl }, model, rng: new Rng(7), logger: silentLogger(), faults });
  try {
    await s2.start();
    await waitFor('s2 subscribed', () => (s2.connected ? true : undefined));
    await body(s2, model);
  } finally {
    await s2.stop();
  }
}

describe('a simulated device receiving commands', () => {
  it('accepts, then reports completion', async () => {
    const now = Date.now();
    await send(exampleCommand({ id: 'c-ok', issuedAt: now, expiresAt: now + 30_000 }));
    await waitFor('completed', () => (acksOf('c-ok').length === 2 ? true : undefined));
    expect(acksOf('c-ok')).toEqual(['accepted', 'completed']);
  });

  it('refuses an expired command without executing it', async () => {
    const now = Date.now();
    await send(exampleCommand({ id: 'c-old', issuedAt: now - 60_000, expiresAt: now - 30_000 }));
    await waitFor('rejection', () => (acksOf('c-old').length === 1 ? true : undefined));
    expect(acksOf('c-old')[0]).toMatch(/^rejected: expired \d+ s ago$/);
    expect(model.executed).not.toContain('c-old');
  });

  it('executes a repeated id once', async () => {
    const now = Date.now();
    const cmd = exampleCommand({ id: 'c-dup', issuedAt: now, expiresAt: now + 30_000 });
    await send(cmd);
    await send(cmd);
    await send(exampleCommand({ id: 'c-after', issuedAt: now, expiresAt: now + 30_000 }));
    // the marker follows the duplicate on the same topic, so once it is answered the duplicate has been seen
    await waitFor('the marker command and the first answer', () => (acksOf('c-after').length === 2 && acksOf('c-dup').length === 2 ? true : undefined));
    expect(model.executed.filter((id) => id === 'c-dup')).toHaveLength(1);
    expect(acksOf('c-dup')).toEqual(['accepted', 'completed']);
  });

  it('rejects an invalid command with the reason, and one the model refuses', async () => {
    await send({ ...exampleCommand({ id: 'c-bad' }), type: 'self_destruct' });
    const now = Date.now();
    await send(exampleCommand({ id: 'c-no', type: 'resume', issuedAt: now, expiresAt: now + 30_000 }));
    await waitFor('both answers', () => (acksOf('c-bad').length === 1 && acksOf('c-no').length === 1 ? true : undefined));
    expect(acksOf('c-bad')[0]).toMatch(/^rejected: invalid command: \/type must be one of/);
    expect(acksOf('c-no')).toEqual(['rejected: nothing to resume']);
    expect(model.executed).not.toContain('c-bad');
  });

  it('acks an id once: an invalid message repeating an answered id, or an invalid one sent twice, gets no second answer', async () => {
    await send(valid('c-once'));
    await waitFor('c-once completed', () => (acksOf('c-once').length === 2 ? true : undefined));
    await send({ ...valid('c-once'), type: 'self_destruct' });
    const bad = { ...valid('c-bad-twice'), type: 'self_destruct' };
    await send(bad);
    await send(bad);
    await send(valid('c-marker'));
    await waitFor('the marker command', () => (acksOf('c-marker').length === 2 ? true : undefined));
    expect(acksOf('c-once')).toEqual(['accepted', 'completed']);
    expect(acksOf('c-bad-twice')).toHaveLength(1);
    expect(model.executed.filter((id) => id === 'c-once')).toHaveLength(1);
  });

  it('hands valid supervisor heartbeats to the model and drops invalid ones', async () => {
    const before = model.heartbeats.length;
    await gateway.publishAsync(HEARTBEAT_TOPIC, '{}', { qos: 1 });
    await gateway.publishAsync(HEARTBEAT_TOPIC, JSON.stringify({ ...exampleHeartbeat({ t: Date.now() }), watchers: -1 }), { qos: 1 });
    await gateway.publishAsync(HEARTBEAT_TOPIC, JSON.stringify(exampleHeartbeat({ t: Date.now() })), { qos: 1 });
    // same publisher, same QoS: the broker keeps the order, so the invalid ones came first
    await waitFor('the valid beat', () => (model.heartbeats.length > before ? true : undefined));
    expect(model.heartbeats.length - before).toBe(1);
    expect(device.stats.heartbeats).toBe(model.heartbeats.length);
    // stamped with the simulated time of the last step: a whole number of periods after the start
    const at = model.heartbeats[model.heartbeats.length - 1]!;
    expect(at).toBeLessThanOrEqual(Date.now());
    expect(Number.isInteger(at)).toBe(true);
  });

  it('ignores garbage without an id, and keeps working', async () => {
    await gateway.publishAsync(commandTopic('sensor', 's1'), 'not json', { qos: 1 });
    const now = Date.now();
    await send(exampleCommand({ id: 'c-later', issuedAt: now, expiresAt: now + 30_000 }));
    await waitFor('later command', () => (acksOf('c-later').length === 2 ? true : undefined));
    expect(device.connected).toBe(true);
  });
});

describe('command faults', () => {
  it('ignore-commands: receives commands, never executes or acknowledges them, still hears the supervisor', async () => {
    await withFaultyDevice({ ignoreCommands: true }, async (s2, m) => {
      await send(valid('c-ign-1'), 's2');
      await send({ ...valid('c-ign-2'), type: 'self_destruct' }, 's2');
      await gateway.publishAsync(HEARTBEAT_TOPIC, JSON.stringify(exampleHeartbeat({ t: Date.now() })), { qos: 1 });
      await waitFor('both commands received', () => (s2.stats.commandsIgnored === 2 ? true : undefined));
      await waitFor('the heartbeat', () => (m.heartbeats.length === 1 ? true : undefined));
      // an answer would have left before any telemetry sampled afterwards: wait for such telemetry
      const after = s2.stats.samples;
      await waitFor('telemetry sampled after the commands', () => ((telemetrySeqs.get('s2') ?? []).some((seq) => seq >= after) ? true : undefined));
      expect(acksOf('c-ign-1')).toEqual([]);
      expect(acksOf('c-ign-2')).toEqual([]);
      expect(m.executed).toEqual([]);
      expect(s2.stats.acks).toBe(0);
    });
  });

  it('ack-delay: executes and answers that much later, with every check (expiry, duplicates) made then', async () => {
    await withFaultyDevice({ ackDelayMs: 300 }, async (s2, m) => {
      const sentAt = Date.now();
      const cmd = valid('c-slow');
      await send(cmd, 's2');
      await send(cmd, 's2'); // a duplicate while the first still waits
      await send(valid('c-stale', 100), 's2'); // valid on arrival, expired by the time it is handled
      await waitFor('all three held back', () => (s2.stats.commandsDelayed === 3 ? true : undefined));
      expect(m.executed).toEqual([]);
      let acceptedAt = 0;
      await waitFor('the late acceptance', () => {
        if (acksOf('c-slow').length === 0) return undefined;
        acceptedAt = Date.now();
        return true;
      });
      expect(acceptedAt - sentAt).toBeGreaterThanOrEqual(290);
      await waitFor('completion and the stale answer', () => (acksOf('c-slow').length === 2 && acksOf('c-stale').length === 1 ? true : undefined));
      expect(acksOf('c-slow')).toEqual(['accepted', 'completed']);
      expect(acksOf('c-stale')[0]).toMatch(/^rejected: expired \d+ s ago$/);
      expect(m.executed).toEqual(['c-slow']);
    });
  });

  it('drift: hands the rate to a model that moves when the device starts', async () => {
    await withFaultyDevice({ driftMps: -0.25 }, async (_s2, m) => {
      expect(m.drifts).toEqual([-0.25]);
    });
  });
});

describe('a simulated device without a broker', () => {
  it('starts anyway, keeps sampling into its backlog, and stops cleanly', async () => {
    const lonely = new SimDevice({ id: 's2', kind: 'sensor', password: 'x', mqtt: { url: 'mqtt://127.0.0.1:1', reconnectMs: 60_000 }, model: new RecordingModel(), rng: new Rng(2), logger: silentLogger() });
    await lonely.start();
    expect(lonely.connected).toBe(false);
    await waitFor('a few samples', () => (lonely.stats.samples >= 3 ? true : undefined));
    expect(lonely.stats.messages).toBe(0);
    await lonely.stop();
  });
});

describe('a simulated device whose broker restarts', () => {
  it('counts its attempts, comes back by itself, and sends what it sampled meanwhile, without a gap', async () => {
    // a broker on a fixed port that keeps sessions on disk, so the watcher misses nothing while it reconnects too
    const port = await freePort();
    const d = await testDeployment({ env: { HATAKE_BROKER__PERSISTENCE__TYPE: 'level', HATAKE_BROKER__MQTT__PORT: String(port) } });
    const b = buildBroker(d.config, { logger: silentLogger() });
    const addr = await b.start();
    const seqs = new Set<number>();
    const watcher = mqtt.connect(addr.mqtt.url, { username: 'ingest', password: d.secrets['ingest'], clientId: 'ingest:7', clean: false, protocolVersion: 4, reconnectPeriod: 100 });
    watcher.on('message', (_t, p) => {
      const m = JSON.parse(p.toString()) as { seq?: number; samples?: { seq: number }[] };
      for (const sample of m.samples ?? [m]) seqs.add(sample.seq!); // the backlog comes in batches
    });
    await new Promise((resolve, reject) => {
      watcher.once('connect', resolve);
      watcher.once('error', reject);
    });
    await watcher.subscribeAsync('hatake/v1/sensor/s2/telemetry', { qos: 1 });
    const s2 = new SimDevice({ id: 's2', kind: 'sensor', password: d.secrets['s2']!, mqtt: { url: addr.mqtt.url, reconnectMs: 100, reconnectMaxMs: 400 }, model: new RecordingModel(), rng: new Rng(3), reconnectRng: new Rng(4), logger: silentLogger() });
    try {
      await s2.start();
      await waitFor('a few samples delivered', () => (seqs.size >= 3 ? true : undefined));
      await b.stop();
      await waitFor('several attempts while the broker is away', () => (s2.stats.reconnects >= 3 ? true : undefined));
      expect(s2.connected).toBe(false);
      const sampledWhileAway = s2.stats.samples;
      await b.start(); // the same port and directory
      await waitFor('the device back', () => (s2.stats.connects === 2 && s2.connected ? true : undefined));
      await waitFor('everything it sampled while away', () => (seqs.size >= sampledWhileAway ? true : undefined));
      expect(Math.max(...seqs) + 1).toBe(seqs.size); // seq 0 … n-1, none missing
    } finally {
      await s2.stop();
      await watcher.endAsync(true);
      await b.stop();
      await rm(d.config.deployment.dataDir, { recursive: true, force: true });
    }
  });
});
