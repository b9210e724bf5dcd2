/**
 * The MQTT side of a simulated device: connects with its own credentials and
 * last will, publishes its retained state, telemetry (single or batched),
 * events and command acknowledgements, obeys commands, hands valid
 * supervisor heartbeats to its model, keeps a bounded backlog while offline
 * and sends it when the link returns, and injects the faults it was given.
 * It speaks only MQTT.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  Decoder,
  HEARTBEAT_TOPIC,
  SCHEMA_VERSION,
  commandAckTopic,
  commandTopic,
  eventTopic,
  parseTopic,
  stateTopic,
  telemetryTopic,
  typedPublisher,
  type AckStatus,
  type Command,
  type DeviceKind,
  type DeviceState,
  type CommandAck,
  type DeviceEvent,
  type PayloadOf,
  type Topic,
  type TypedPublish,
} from '@hatake/protocol';
import { Backoff, reconnectWithBackoff, settledWithin, type Logger } from '@hatake/runtime';
import { malformedPayload, pickMalformed, type Faults } from './faults.ts';
import type { DeviceModel, ModelEvent, SampleBody } from './model.ts';
import type { Rng } from './rng.ts';

export interface MqttEndpoint {
  readonly url: string;
  readonly protocolVersion?: 4 | 5;
  readonly keepaliveSeconds?: number;
  /** First reconnect delay; later ones double (with jitter) up to `reconnectMaxMs`. */
  readonly reconnectMs?: number;
  readonly reconnectMaxMs?: number;
}

export interface SimDeviceOptions<K extends DeviceKind> {
  readonly id: string;
  readonly kind: K;
  readonly password: string;
  readonly mqtt: MqttEndpoint;
  readonly model: DeviceModel<K>;
  /** Randomness for faults and jitter (the model has its own stream). */
  readonly rng: Rng;
  /** Randomness for reconnect delays (default Math.random); apart from `rng`, so network timing never shifts the faults. */
  readonly reconnectRng?: Rng;
  readonly logger: Logger;
  readonly faults?: Faults;
  /** Samples per telemetry message (1 = one sample per message). */
  readonly batch?: number;
  readonly qos?: 0 | 1;
  readonly firmware?: string;
  /** Simulated seconds per real second (sensors run faster than life). */
  readonly speedup?: number;
  /** Samples (and events) kept while offline; the oldest go first beyond it. */
  readonly backlogLimit?: number;
  /** Largest batch sent when flushing the backlog. */
  readonly maxBatch?: number;
  /** Size of an `oversized` fault message, bytes. */
  readonly oversizeBytes?: number;
  /** Real-time clock (fake in tests). */
  readonly now?: () => number;
}

export interface SimDeviceStats {
  samples: number;
  messages: number;
  events: number;
  acks: number;
  droppedOffline: number;
  malformedSent: number;
  oversizedSent: number;
  linkDrops: number;
  refusedConnects: number;
  connects: number;
  /** Reconnect attempts after a lost link or a refusal. */
  reconnects: number;
  publishErrors: number;
  /** Valid supervisor heartbeats handed to the model (invalid ones are dropped, uncounted here). */
  heartbeats: number;
  /** Command messages dropped unread by the `ignore-commands` fault. */
  commandsIgnored: number;
  /** Command messages held back by the `ack-delay` fault. */
  commandsDelayed: number;
}

type Body = Record<string, unknown>;

/** CONNACK codes of a refused login: MQTT 3.1.1 (2 id, 4 credentials, 5 not authorized) and MQTT 5 (133, 134, 135). */
const REFUSAL_CODES = new Set([2, 4, 5, 133, 134, 135]);

/** All counters at zero. */
export function emptyStats(): SimDeviceStats {
  return { samples: 0, messages: 0, events: 0, acks: 0, droppedOffline: 0, malformedSent: 0, oversizedSent: 0, linkDrops: 0, refusedConnects: 0, connects: 0, reconnects: 0, publishErrors: 0, heartbeats: 0, commandsIgnored: 0, commandsDelayed: 0 };
}

export class SimDevice<K extends DeviceKind> {
  readonly id: string;
  readonly kind: K;
  readonly stats: SimDeviceStats = emptyStats();
  private readonly opts: SimDeviceOptions<K>;
  private readonly log: Logger;
  private readonly decoder = new Decoder();
  private client: MqttClient | undefined;
  private publish: TypedPublish | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private started = 0;
  private n = 0;
  private seq = 0;
  private pending: Body[] = [];
  private backlog: Body[] = [];
  private eventBacklog: DeviceEvent[] = [];
  private lastMode: string | undefined;
  private readonly seenCommands = new Set<string>();
  private readonly running: { id: string; done: () => boolean; failed?: (() => string | undefined) | undefined }[] = [];
  /** Command messages waiting out the `ack-delay` fault. */
  private readonly delayed = new Set<NodeJS.Timeout>();
  private linkDownUntil = 0;
  private refusals = 0;
  /** After a refused login: firmware waits 1, 2, 4 … 60 s (mqtt.js itself does not retry a refusal). */
  private readonly refusalBackoff: Backoff;
  private stopping = false;

  constructor(opts: SimDeviceOptions<K>) {
    this.opts = opts;
    this.id = opts.id;
    this.kind = opts.kind;
    this.log = opts.logger.child({ device: opts.id });
    this.refusalBackoff = new Backoff({ initialMs: 1000, maxMs: 60_000, ...this.random() });
  }

  private random(): { random?: () => number } {
    const rng = this.opts.reconnectRng;
    return rng ? { random: () => rng.next() } : {};
  }

  private get now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Simulated period between samples, real milliseconds. */
  private get realPeriodMs(): number {
    return this.opts.model.periodMs / (this.opts.speedup ?? 1);
  }

  /** Device clock (with skew) at step n. */
  private deviceTime(n: number): number {
    return Math.round(this.started + n * this.realPeriodMs + (this.opts.faults?.clockSkewMs ?? 0));
  }

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Connects and starts producing samples. Resolves once the first connection attempt has an answer. */
  async start(): Promise<void> {
    this.started = this.now;
    this.lastMode = this.opts.model.mode?.();
    const drift = this.opts.faults?.driftMps;
    if (drift !== undefined) {
      if (this.opts.model.lateralDrift) this.opts.model.lateralDrift(drift);
      else this.log.warn({ kind: this.kind }, 'fault drift: this kind of device does not drift; ignored');
    }
    const firstAnswer = this.connect();
    this.schedule();
    await firstAnswer;
  }

  private clientOptions(): IClientOptions {
    const will: DeviceState = { v: SCHEMA_VERSION, online: false, reason: 'connection_lost' };
    return {
      clientId: this.id,
      username: this.id,
      password: this.opts.faults?.wrongCredentials ? `${this.opts.password}-wrong` : this.opts.password,
      protocolVersion: this.opts.mqtt.protocolVersion ?? 4,
      keepalive: this.opts.mqtt.keepaliveSeconds ?? 30,
      reconnectPeriod: this.opts.mqtt.reconnectMs ?? 1000,
      connectTimeout: 10_000,
      clean: true,
      will: { topic: stateTopic(this.kind, this.id), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
    };
  }

  private connect(): Promise<void> {
    const client = mqtt.connect(this.opts.mqtt.url, this.clientOptions());
    this.client = client;
    this.publish = typedPublisher(client);
    // back off after a lost link (a broker restart: every device at once); during a simulated outage, wait it out
    reconnectWithBackoff(client, {
      initialMs: this.opts.mqtt.reconnectMs ?? 1000,
      ...(this.opts.mqtt.reconnectMaxMs !== undefined ? { maxMs: this.opts.mqtt.reconnectMaxMs } : {}),
      ...this.random(),
      minDelayMs: () => this.linkDownUntil - this.now,
      onReconnect: () => {
        this.stats.reconnects++;
      },
    });
    return new Promise((resolve) => {
      client.once('connect', () => resolve());
      client.on('connect', () => this.onConnect());
      client.on('message', (topic, payload) => this.onMessage(topic, payload));
      // the first answer may also be no answer: the broker is not there (yet); mqtt.js keeps retrying
      client.once('offline', () => resolve());
      client.on('error', (err: Error & { code?: number }) => {
        if (typeof err.code === 'number' && REFUSAL_CODES.has(err.code)) {
          this.stats.refusedConnects++;
          this.refusals++;
          resolve();
          this.log.warn({ reason: err.message, attempt: this.refusals }, 'broker refused the connection');
          const backoff = this.refusalBackoff.next();
          clearTimeout(this.retryTimer);
          if (!this.stopping) this.retryTimer = setTimeout(() => !this.stopping && client.reconnect(), backoff);
        } else {
          resolve();
          this.log.debug({ err: { message: err.message } }, 'mqtt error');
        }
      });
    });
  }

  private onConnect(): void {
    this.stats.connects++;
    this.refusals = 0;
    this.refusalBackoff.reset();
    const client = this.client;
    if (!client) return;
    this.log.info({ connects: this.stats.connects }, 'connected');
    client.subscribe([commandTopic(this.kind, this.id), HEARTBEAT_TOPIC], { qos: 1 }, (err) => {
      if (err) this.log.warn({ err: { message: err.message } }, 'subscribe failed');
    });
    this.sendState();
    this.flushBacklog();
  }

  private sendState(reason?: 'shutdown'): Promise<void> {
    const mode = this.opts.model.mode?.();
    const state: DeviceState = reason
      ? { v: SCHEMA_VERSION, online: false, t: this.deviceTime(this.n), reason }
      : { v: SCHEMA_VERSION, online: true, t: this.deviceTime(this.n), firmware: this.opts.firmware ?? 'hatake-sim/0.1.0', ...(mode ? { mode } : {}) };
    return this.send(stateTopic(this.kind as DeviceKind, this.id), state);
  }

  /** Publishes a typed message; a failed acknowledgement is counted, not thrown (mqtt.js resends QoS 1 on reconnect). */
  private send<T extends Topic>(topic: T, payload: PayloadOf<T>, qos?: 0 | 1): Promise<void> {
    if (!this.publish) return Promise.resolve();
    return this.publish(topic, payload, qos === undefined ? undefined : { qos }).catch((err: Error) => {
      this.stats.publishErrors++;
      this.log.debug({ err: { message: err.message }, topic }, 'publish not acknowledged');
    });
  }

  private sendRaw(topic: string, payload: string | Buffer): void {
    this.client?.publish(topic, payload, { qos: 0 });
  }

  private schedule(): void {
    const next = this.started + (this.n + 1) * this.realPeriodMs;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - this.now));
  }

  private tick(): void {
    const due = Math.floor((this.now - this.started) / this.realPeriodMs);
    // catch up after a stall, but never spiral: at most 50 steps per timer
    for (let k = 0; this.n < due && k < 50; k++) this.stepOnce();
    if (!this.stopping) this.schedule();
  }

  /** One model step: sample, events, faults, commands. Exposed for tests with fake clocks. */
  stepOnce(): void {
    const model = this.opts.model;
    const dtS = model.periodMs / 1000;
    this.n++;
    const simTime = this.started + this.n * model.periodMs;
    this.injectFaults(dtS);
    const body = model.step(dtS, simTime);
    const t = this.deviceTime(this.n);
    const sample: Body = { t, seq: this.seq++, ...(body as SampleBody<K>) };
    this.stats.samples++;
    this.queueSample(sample);
    for (const e of model.drainEvents()) this.queueEvent(e, t);
    const mode = model.mode?.();
    if (mode !== this.lastMode) {
      this.lastMode = mode;
      if (this.connected) void this.sendState();
    }
    // in the order they were accepted, so answers that fall due together go out in that order
    let kept = 0;
    for (const r of this.running) {
      const failure = r.failed?.();
      if (failure !== undefined) this.ack(r.id, 'failed', failure.slice(0, 256));
      else if (r.done()) this.ack(r.id, 'completed');
      else this.running[kept++] = r;
    }
    this.running.length = kept;
  }

  private injectFaults(dtS: number): void {
    const f = this.opts.faults;
    if (!f) return;
    const rng = this.opts.rng;
    if (f.gnssDropout && rng.chance(dtS / f.gnssDropout.everyS)) this.opts.model.gnssDropout(f.gnssDropout.durationS);
    if (f.linkDrop && this.connected && rng.chance(dtS / f.linkDrop.everyS)) {
      const realMs = (f.linkDrop.durationS * 1000) / (this.opts.speedup ?? 1);
      this.linkDownUntil = this.now + realMs;
      this.stats.linkDrops++;
      this.log.info({ seconds: f.linkDrop.durationS }, 'fault: link drop');
      // no reconnect attempt before linkDownUntil (the back-off's floor)
      this.client?.stream.destroy();
    }
  }

  private telemetryMessage(samples: Body[]): Body {
    return samples.length === 1 ? { v: SCHEMA_VERSION, ...samples[0] } : { v: SCHEMA_VERSION, samples };
  }

  private queueSample(sample: Body): void {
    if (!this.connected || this.backlog.length > 0) {
      this.backlog.push(sample);
      if (this.backlog.length > (this.opts.backlogLimit ?? 20_000)) {
        this.backlog.shift();
        this.stats.droppedOffline++;
      }
      if (this.connected) this.flushBacklog();
      return;
    }
    this.pending.push(sample);
    if (this.pending.length >= (this.opts.batch ?? 1)) {
      const samples = this.pending;
      this.pending = [];
      this.sendTelemetry(samples);
    }
  }

  private sendTelemetry(samples: Body[]): void {
    const topic = telemetryTopic(this.kind as DeviceKind, this.id);
    // The samples come from this device's model, typed SampleBody<K>; the kind of the topic is the same K.
    const message = this.telemetryMessage(samples) as PayloadOf<typeof topic>;
    this.stats.messages++;
    void this.send(topic, message, this.opts.qos ?? 1);
    const f = this.opts.faults;
    if (!f) return;
    const rng = this.opts.rng;
    if (f.malformed && rng.chance(f.malformed)) {
      this.stats.malformedSent++;
      this.sendRaw(topic, malformedPayload(pickMalformed(rng), { v: SCHEMA_VERSION, ...samples[samples.length - 1] }));
    }
    if (f.oversized && rng.chance(f.oversized)) {
      this.stats.oversizedSent++;
      this.sendRaw(topic, JSON.stringify({ v: SCHEMA_VERSION, pad: 'x'.repeat(this.opts.oversizeBytes ?? 300 * 1024) }));
    }
  }

  private flushBacklog(): void {
    if (!this.connected) return;
    const max = this.opts.maxBatch ?? 500;
    if (this.pending.length > 0) {
      this.backlog.unshift(...this.pending);
      this.pending = [];
    }
    while (this.backlog.length > 0) this.sendTelemetry(this.backlog.splice(0, max));
    for (const e of this.eventBacklog.splice(0)) {
      this.stats.events++;
      void this.send(eventTopic(this.kind as DeviceKind, this.id), e);
    }
  }

  private queueEvent(e: ModelEvent, t: number): void {
    const body: DeviceEvent = { v: SCHEMA_VERSION, t, seq: Math.max(0, this.seq - 1), ...e, ...(e.data ? { data: { ...e.data } } : {}) };
    if (!this.connected) {
      this.eventBacklog.push(body);
      if (this.eventBacklog.length > 1000) {
        this.eventBacklog.shift();
        this.stats.droppedOffline++;
      }
      return;
    }
    this.stats.events++;
    void this.send(eventTopic(this.kind as DeviceKind, this.id), body);
  }

  private ack(id: string, status: AckStatus, reason?: string): void {
    this.stats.acks++;
    const ack: CommandAck = { v: SCHEMA_VERSION, id, t: this.deviceTime(this.n), status, ...(reason ? { reason } : {}) };
    void this.send(commandAckTopic(this.kind as DeviceKind, this.id), ack);
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic === HEARTBEAT_TOPIC) {
      this.onHeartbeat(topic, payload);
      return;
    }
    const f = this.opts.faults;
    if (f?.ignoreCommands) {
      this.stats.commandsIgnored++;
      this.log.debug({ topic }, 'fault: command ignored');
      return;
    }
    if (f?.ackDelayMs) {
      // slow firmware: the message waits in its queue, then goes through every check as if it had just arrived
      this.stats.commandsDelayed++;
      const timer = setTimeout(() => {
        this.delayed.delete(timer);
        if (!this.stopping) this.onCommandMessage(topic, payload);
      }, f.ackDelayMs);
      this.delayed.add(timer);
      return;
    }
    this.onCommandMessage(topic, payload);
  }

  /** Only a valid heartbeat counts: a supervisor that sends garbage is not supervising. */
  private onHeartbeat(topic: string, payload: Buffer): void {
    const result = this.decoder.decode(topic, payload);
    if (!result.ok || result.value.channel !== 'heartbeat') {
      this.log.debug({ reasons: result.ok ? [] : result.reasons.slice(0, 3) }, 'invalid heartbeat ignored');
      return;
    }
    this.stats.heartbeats++;
    this.opts.model.heartbeat?.(this.started + this.n * this.opts.model.periodMs);
  }

  private onCommandMessage(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (!parsed.ok) return;
    const result = this.decoder.decode(topic, payload);
    if (!result.ok) {
      let id: unknown;
      try {
        id = (JSON.parse(payload.toString()) as { id?: unknown }).id;
      } catch {
        id = undefined;
      }
      this.log.warn({ reasons: result.reasons.slice(0, 3) }, 'invalid command refused');
      // an id answered before (valid or not) is not answered again
      if (typeof id === 'string' && /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(id) && this.firstSight(id)) this.ack(id, 'rejected', `invalid command: ${result.reasons[0]?.path} ${result.reasons[0]?.message}`.slice(0, 256));
      return;
    }
    if (result.value.channel !== 'cmd') return;
    this.handleCommand(result.value.message);
  }

  /** True the first time an id is seen (the last 1,000 ids are remembered). */
  private firstSight(id: string): boolean {
    if (this.seenCommands.has(id)) {
      this.log.info({ id }, 'duplicate command id ignored');
      return false;
    }
    this.seenCommands.add(id);
    if (this.seenCommands.size > 1000) this.seenCommands.delete(this.seenCommands.values().next().value!);
    return true;
  }

  private handleCommand(cmd: Command): void {
    if (!this.firstSight(cmd.id)) return;
    const deviceNow = this.deviceTime(this.n);
    if (cmd.expiresAt <= deviceNow) {
      this.ack(cmd.id, 'rejected', `expired ${Math.round((deviceNow - cmd.expiresAt) / 1000)} s ago`);
      return;
    }
    const outcome = this.opts.model.command?.(cmd) ?? { status: 'rejected' as const, reason: `a ${this.kind} does not take commands` };
    this.ack(cmd.id, outcome.status, outcome.reason);
    if (outcome.status === 'accepted' && outcome.done) this.running.push({ id: cmd.id, done: outcome.done, failed: outcome.failed });
  }

  /** Publishes `online: false` (shutdown), disconnects and stops producing. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      this.flushBacklog();
      const sent = this.sendState('shutdown');
      // a goodbye that fails still fails stop(), as before; one that takes too long is given up
      if (await settledWithin(sent, 2000)) await sent;
    }
    await client.endAsync(!client.connected);
  }
}

/** The options object type for a device of any kind. */
export type AnySimDevice = SimDevice<DeviceKind>;
