/**
 * The live stream: every validated MQTT message is serialised, encoded and
 * framed once, and the same bytes go to each WebSocket client whose user may
 * see the device and whose filter wants it.
 *
 * Writes are gathered into rounds: what the MQTT messages since the last round
 * give a client goes out in one socket write (one system call per client per
 * round, not per message — the system calls were the gateway's main cost).
 * Rounds are at least {@link FLUSH_GAP_MS} apart; after a quiet spell a
 * message goes out at once. Clients that get every message of a round share
 * one buffer with the round's frames joined once.
 *
 * A client may ask for at most `maxRate` telemetry messages per second per
 * device (see {@link DeviceRateLimiter}): the latest wins, nothing queues.
 *
 * A slow client (more than `highWaterBytes` unsent) cannot grow the server's
 * memory: from then on it is kept only the latest telemetry message and state
 * per device and the last 100 events; the rest is counted. Once its socket has
 * drained below half the mark it gets a `dropped` summary, then what was kept.
 * A client more than 8 × the mark behind (unsent and kept together) is
 * disconnected with 1008.
 *
 * A client may also replay a recorded window (see replay.ts): the replayed
 * telemetry goes into the same stream, in order with the live messages.
 */

import type { Duplex } from 'node:stream';
import { Compile } from 'typebox/compile';
import { WebSocket } from 'ws';
import { canSee } from '@hatake/auth';
import type { Config, UserDef } from '@hatake/config';
import type { DeviceKind } from '@hatake/protocol';
import type { Counter, Gauge, Logger } from '@hatake/runtime';
import type { TelemetryStore } from '@hatake/store';
import { textFrame } from './frame.ts';
import { DeviceRateLimiter, OFFER } from './rate.ts';
import { REPLAY_FIELD_PROBLEMS, ReplaySession, checkReplay, type ReplayMetrics, type Timers } from './replay.ts';
import { CommandMessage, EstopAllMessage, LeaseMessage, MAX_RATE, PingMessage, ReplayControlMessage, ReplayMessage, SubscribeMessage } from './schemas.ts';

export type LiveType = 'telemetry' | 'state' | 'event' | 'command' | 'lease' | 'alarm';

/** A live client's request the hub does not handle itself (commands, leases), with a way to answer it. */
export type LiveAction = (user: UserDef, message: CommandMessage | LeaseMessage | EstopAllMessage, reply: (message: object) => void) => void;

interface Filter {
  readonly devices?: ReadonlySet<string>;
  readonly kinds?: ReadonlySet<DeviceKind>;
  readonly farm?: string;
}

interface Dropped {
  since: number;
  telemetry: Record<string, number>;
  states: number;
  events: number;
}

class LiveClient {
  readonly id: number;
  readonly user: UserDef;
  readonly socket: WebSocket;
  /** The socket's byte stream, written directly with frames built once (see {@link textFrame}). */
  readonly stream: Duplex;
  readonly visible: ReadonlySet<string>;
  filter: Filter = {};
  limiter: DeviceRateLimiter<Buffer> | undefined;
  /** This connection's replay, while one is playing or paused. */
  replay: ReplaySession | undefined;
  slow = false;
  readonly pendingTelemetry = new Map<string, Buffer>();
  readonly pendingState = new Map<string, Buffer>();
  pendingEvents: Buffer[] = [];
  /** Bytes held in the three pending stores. */
  pendingBytes = 0;
  dropped: Dropped;
  expiry: NodeJS.Timeout | undefined;
  /** Frames for this round's write. */
  batch: Buffer[] = [];
  batchBytes = 0;
  /** Every frame of the batch is one of the hub's frames of this round (so, at full length, the batch is the round's). */
  batchIsRound = true;

  constructor(id: number, user: UserDef, socket: WebSocket, stream: Duplex, visible: ReadonlySet<string>, now: number) {
    this.id = id;
    this.user = user;
    this.socket = socket;
    this.stream = stream;
    this.visible = visible;
    this.dropped = { since: now, telemetry: {}, states: 0, events: 0 };
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Bytes written and not yet taken by the kernel, plus this round's. */
  get unsent(): number {
    return this.stream.writableLength + this.batchBytes;
  }
}

export interface LiveMetrics extends ReplayMetrics {
  readonly clients: Gauge;
  readonly sent: Counter<'type'>;
  readonly dropped: Counter<'type'>;
  readonly throttled: Counter;
  readonly clientErrors: Counter<'reason'>;
}

const MAX_PENDING_EVENTS = 100;

/**
 * Least time between two write rounds, and at least as long as the last round
 * took (so writing never takes more than half the thread). A round costs a
 * system call per client with something to send — that, not JSON, was most of
 * the gateway's time — so a round gathers what 5 ms bring: it adds at most
 * 5 ms, and after a quiet spell the next message still goes out at once.
 * Measured with 100 clients at 3,000 msg/s (test/bench/live.ts): 2 ms kept
 * the thread ~97 % busy, 5 ms ~80 %, with a lower median latency.
 */
export const FLUSH_GAP_MS = 5;

/** One validator per client message type: errors name the problems of the type the client meant. */
const handlers = {
  subscribe: Compile(SubscribeMessage),
  ping: Compile(PingMessage),
  command: Compile(CommandMessage),
  lease: Compile(LeaseMessage),
  estop_all: Compile(EstopAllMessage),
  replay: Compile(ReplayMessage),
  replay_control: Compile(ReplayControlMessage),
} as const;
type ClientMessageType = keyof typeof handlers;

const maxRateProblem = (got: unknown): string =>
  `maxRate must be a number of messages per second per device, from ${MAX_RATE.min} to ${MAX_RATE.max} (got ${(JSON.stringify(got) ?? String(got)).slice(0, 40)})`;

/** Reasons that say more than the validator's, by field. */
const FIELD_PROBLEMS: Readonly<Record<string, (got: unknown) => string>> = { '/maxRate': maxRateProblem, ...REPLAY_FIELD_PROBLEMS };

/** Close codes of the live stream (4000–4999 are the application's). */
export const CLOSE = { tokenExpired: 4001, serverStopping: 1001, tooSlow: 1008 } as const;

/** The byte stream under a `ws` socket: the frames of the live stream are written to it directly. */
function streamOf(socket: WebSocket): Duplex {
  // `_socket` is ws's own (private) handle on the connection; ws itself writes every frame to it synchronously
  const stream = (socket as unknown as { _socket?: Duplex })._socket;
  if (stream === undefined || typeof stream.write !== 'function') throw new Error('ws no longer exposes its socket: the live stream cannot write pre-built frames');
  if (socket.extensions !== '') throw new Error(`a WebSocket extension was negotiated (${socket.extensions}): pre-built frames would be wrong`);
  return stream;
}

/** What replays read and how they keep time; without it, the hub refuses replays. */
export interface LiveReplayOptions {
  readonly store: Pick<TelemetryStore, 'samples'>;
  readonly timers: Timers;
}

export class LiveHub {
  private readonly clients = new Set<LiveClient>();
  private readonly farmOf: ReadonlyMap<string, string | undefined>;
  private readonly kindOf: ReadonlyMap<string, DeviceKind>;
  private readonly config: Config;
  private readonly metrics: LiveMetrics;
  private readonly log: Logger;
  private readonly highWater: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private nextId = 1;
  /** Frames published this round, in order; clients with a batch to write. */
  private round: Buffer[] = [];
  private writers: LiveClient[] = [];
  private flushSoon: NodeJS.Immediate | undefined;
  private flushLater: NodeJS.Timeout | undefined;
  /** No write round before then (performance.now()): see {@link FLUSH_GAP_MS}. */
  private nextFlush = 0;
  private readonly flushGapMs: number;
  private sweeps = 0;
  private readonly replay: LiveReplayOptions | undefined;
  private nextReplay = 1;

  constructor(config: Config, metrics: LiveMetrics, log: Logger, opts: { highWaterBytes: number; now: () => number; flushGapMs?: number; replay?: LiveReplayOptions }) {
    this.flushGapMs = opts.flushGapMs ?? FLUSH_GAP_MS;
    this.replay = opts.replay;
    this.config = config;
    this.metrics = metrics;
    this.log = log;
    this.highWater = opts.highWaterBytes;
    this.now = opts.now;
    this.farmOf = new Map(config.devices.map((d) => [d.id, d.farm]));
    this.kindOf = new Map(config.devices.map((d) => [d.id, d.kind]));
  }

  get size(): number {
    return this.clients.size;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), 50);
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
    for (const c of this.clients) {
      this.forget(c);
      c.socket.close(CLOSE.serverStopping, 'server stopping');
    }
    this.clients.clear();
    this.metrics.clients.set(0);
  }

  /** Commands, leases and fleet stops from live clients (the gateway's command center). */
  onAction: LiveAction | undefined;
  /** A live client's ping: its user is still there (renews their leases). */
  onActivity: ((user: UserDef) => void) | undefined;

  /** How many live sessions `username` has open. */
  sessionsOf(username: string): number {
    let n = 0;
    for (const c of this.clients) if (c.open && c.user.username === username) n++;
    return n;
  }

  /** The users with a live session open now. */
  *users(): Iterable<UserDef> {
    for (const c of this.clients) if (c.open) yield c.user;
  }

  /** Takes a socket of a signed-in user; says hello with what it may see. */
  add(socket: WebSocket, user: UserDef, tokenExpiresAt: number, hello: (visible: readonly string[]) => object): void {
    const visible = new Set(this.config.devices.filter((d) => canSee(user, d)).map((d) => d.id));
    const client = new LiveClient(this.nextId++, user, socket, streamOf(socket), visible, this.now());
    // a session ends with its token
    client.expiry = setTimeout(() => socket.close(CLOSE.tokenExpired, 'token expired'), Math.max(0, Math.min(tokenExpiresAt - this.now(), 2 ** 31 - 1)));
    this.clients.add(client);
    this.metrics.clients.set(this.clients.size);
    socket.on('message', (data, isBinary) => this.onClientMessage(client, data, isBinary));
    socket.on('close', () => {
      this.forget(client);
      this.clients.delete(client);
      this.metrics.clients.set(this.clients.size);
    });
    socket.on('error', () => socket.terminate());
    this.send(client, hello([...visible]));
    this.log.info({ user: user.username, client: client.id, devices: visible.size }, 'live client connected');
  }

  /** Fans a serialised message out to every client that may and wants to see it; framed once, only if one does. */
  publish(type: LiveType, device: string, json: string): void {
    const kind = this.kindOf.get(device);
    if (!kind) return;
    const farm = this.farmOf.get(device);
    let frame: Buffer | undefined;
    let sent = 0;
    for (const c of this.clients) {
      if (!c.visible.has(device)) continue;
      const f = c.filter;
      if (f.devices && !f.devices.has(device)) continue;
      if (f.kinds && !f.kinds.has(kind)) continue;
      if (f.farm !== undefined && f.farm !== farm) continue;
      if (!c.open) continue;
      if (frame === undefined) {
        frame = textFrame(json);
        this.round.push(frame);
        this.scheduleFlush();
      }
      if (type === 'telemetry' && c.limiter !== undefined) {
        const offer = c.limiter.offer(device, frame);
        if (offer === OFFER.superseded) this.metrics.throttled.inc();
        if (offer !== OFFER.now) continue;
      }
      if (this.deliver(c, type, device, frame, true)) sent++;
    }
    if (sent > 0) this.metrics.sent.inc({ type }, sent);
  }

  /** Clients' timers and what the hub holds for them go with them. */
  private forget(c: LiveClient): void {
    clearTimeout(c.expiry);
    c.limiter?.clear();
    c.replay?.end('closed', false);
  }

  /**
   * Past a hard limit (8 × the high-water mark, unsent plus kept) a client is
   * not slow but gone or hostile — one that sends pings and never reads, say:
   * it is disconnected (1008) rather than allowed to grow the server's memory.
   */
  private overLimit(c: LiveClient): boolean {
    if (c.unsent + c.pendingBytes <= this.highWater * 8) return false;
    this.metrics.clientErrors.inc({ reason: 'too_slow' });
    this.log.warn({ user: c.user.username, client: c.id, buffered: c.unsent, kept: c.pendingBytes }, 'live client disconnected: too far behind');
    c.socket.close(CLOSE.tooSlow, 'too far behind');
    c.socket.terminate();
    return true;
  }

  /** A message of this client's own (hello, pong, an error…), in order with the stream. */
  private send(c: LiveClient, message: object): void {
    if (c.open && !this.overLimit(c)) this.enqueue(c, textFrame(JSON.stringify(message)), false);
  }

  /** Adds a frame to the client's write of this round. */
  private enqueue(c: LiveClient, frame: Buffer, ofRound: boolean): void {
    if (c.batch.length === 0) this.writers.push(c);
    c.batch.push(frame);
    c.batchBytes += frame.length;
    if (!ofRound) c.batchIsRound = false;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushSoon !== undefined || this.flushLater !== undefined) return;
    const wait = this.nextFlush - performance.now();
    if (wait >= 1) this.flushLater = setTimeout(() => this.flush(), wait);
    else this.flushSoon = setImmediate(() => this.flush());
  }

  /** Writes each client's batch in one go; clients that get the whole round share one buffer. */
  private flush(): void {
    clearImmediate(this.flushSoon);
    clearTimeout(this.flushLater);
    this.flushSoon = undefined;
    this.flushLater = undefined;
    const started = performance.now();
    const round = this.round;
    const writers = this.writers;
    this.round = [];
    this.writers = [];
    let joined: Buffer | undefined;
    for (const c of writers) {
      const { batch, batchBytes } = c;
      const whole = c.batchIsRound && batch.length === round.length;
      c.batch = [];
      c.batchBytes = 0;
      c.batchIsRound = true;
      if (!c.open || c.stream.destroyed) continue;
      c.stream.write(batch.length === 1 ? batch[0]! : whole ? (joined ??= Buffer.concat(round)) : Buffer.concat(batch, batchBytes));
    }
    const ended = performance.now();
    this.nextFlush = ended + Math.max(this.flushGapMs, ended - started);
  }

  /** Sends, or — to a slow client — keeps the latest per device. True when sent. */
  private deliver(c: LiveClient, type: LiveType, device: string, frame: Buffer, ofRound: boolean): boolean {
    if (!c.slow && c.unsent > this.highWater) {
      c.slow = true;
      c.dropped = { since: this.now(), telemetry: {}, states: 0, events: 0 };
      this.log.info({ user: c.user.username, client: c.id, buffered: c.unsent }, 'slow live client: keeping only the latest per device');
    }
    if (!c.slow) {
      this.enqueue(c, frame, ofRound);
      return true;
    }
    switch (type) {
      case 'telemetry': {
        const old = c.pendingTelemetry.get(device);
        if (old !== undefined) {
          c.pendingBytes -= old.length;
          c.dropped.telemetry[device] = (c.dropped.telemetry[device] ?? 0) + 1;
          this.metrics.dropped.inc({ type });
        }
        c.pendingTelemetry.set(device, frame);
        break;
      }
      case 'state': {
        const old = c.pendingState.get(device);
        if (old !== undefined) {
          c.pendingBytes -= old.length;
          c.dropped.states++;
          this.metrics.dropped.inc({ type });
        }
        c.pendingState.set(device, frame);
        break;
      }
      default:
        // events, command updates, leases and alarms: each one matters, the last 100 are kept
        c.pendingEvents.push(frame);
        if (c.pendingEvents.length > MAX_PENDING_EVENTS) {
          c.pendingBytes -= c.pendingEvents.shift()!.length;
          c.dropped.events++;
          this.metrics.dropped.inc({ type });
        }
    }
    c.pendingBytes += frame.length;
    this.overLimit(c);
    return false;
  }

  /** Every 50 ms: slow clients that caught up; every 5 s: rate gates that are idle. */
  private tick(): void {
    this.drainSlow();
    if (++this.sweeps % 100 === 0) for (const c of this.clients) c.limiter?.sweep();
  }

  /** Slow clients that have caught up: say what was dropped, then send what was kept. */
  private drainSlow(): void {
    for (const c of this.clients) {
      if (!c.slow || !c.open || c.unsent > this.highWater / 2) continue;
      const d = c.dropped;
      const total = Object.values(d.telemetry).reduce((a, b) => a + b, 0) + d.states + d.events;
      if (total > 0) this.send(c, { type: 'dropped', since: d.since, until: this.now(), telemetry: d.telemetry, states: d.states, events: d.events });
      // what was kept is already counted in pendingBytes; send it without the limit check
      for (const frame of [...c.pendingState.values(), ...c.pendingTelemetry.values(), ...c.pendingEvents]) this.enqueue(c, frame, false);
      for (const [type, n] of [['state', c.pendingState.size], ['telemetry', c.pendingTelemetry.size], ['event', c.pendingEvents.length]] as const) if (n > 0) this.metrics.sent.inc({ type }, n);
      c.pendingState.clear();
      c.pendingTelemetry.clear();
      c.pendingEvents = [];
      c.pendingBytes = 0;
      c.slow = false;
    }
  }

  private refuse(c: LiveClient, code: string, message: string): void {
    this.metrics.clientErrors.inc({ reason: code });
    this.send(c, { type: 'error', code, message });
  }

  private onClientMessage(c: LiveClient, data: unknown, isBinary: boolean): void {
    if (isBinary) {
      this.refuse(c, 'HATAKE_ERR_GATEWAY_BAD_REQUEST', 'messages are JSON text');
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(String(data));
    } catch {
      this.refuse(c, 'HATAKE_ERR_GATEWAY_BAD_REQUEST', 'not valid JSON');
      return;
    }
    const type = typeof msg === 'object' && msg !== null && 'type' in msg ? (msg as { type: unknown }).type : undefined;
    if (typeof type !== 'string' || !Object.hasOwn(handlers, type)) {
      this.refuse(c, 'HATAKE_ERR_GATEWAY_BAD_REQUEST', `not a message of the live protocol: type must be one of ${Object.keys(handlers).join(', ')}`);
      return;
    }
    const validator = handlers[type as ClientMessageType];
    if (!validator.Check(msg)) {
      const problems = new Set(
        validator.Errors(msg).map((e) => {
          const problem = FIELD_PROBLEMS[e.instancePath];
          return problem ? problem((msg as Record<string, unknown>)[e.instancePath.slice(1)]) : `${e.instancePath || '/'} ${e.message}`;
        }),
      );
      this.refuse(c, 'HATAKE_ERR_GATEWAY_BAD_REQUEST', `not a valid ${type} message of the live protocol: ${[...problems].slice(0, 5).join('; ')}`);
      return;
    }
    if (type === 'ping') {
      this.onActivity?.(c.user);
      this.send(c, { type: 'pong', t: this.now() });
    } else if (type === 'subscribe') this.subscribe(c, msg as SubscribeMessage);
    else if (type === 'replay') this.startReplay(c, msg as ReplayMessage);
    else if (type === 'replay_control') this.controlReplay(c, msg as ReplayControlMessage);
    else if (this.onAction) this.onAction(c.user, msg as CommandMessage | LeaseMessage | EstopAllMessage, (reply) => this.send(c, reply));
    else this.refuse(c, 'HATAKE_ERR_GATEWAY_BAD_REQUEST', `${type} is not taken by this gateway`);
  }

  private subscribe(c: LiveClient, m: SubscribeMessage): void {
    const unknown = (m.devices ?? []).filter((d) => !this.kindOf.has(d));
    const hidden = (m.devices ?? []).filter((d) => this.kindOf.has(d) && !c.visible.has(d));
    if (unknown.length > 0) {
      this.refuse(c, 'HATAKE_ERR_GATEWAY_NOT_FOUND', `no such device: ${unknown.slice(0, 10).join(', ')}`);
      return;
    }
    if (hidden.length > 0 || (m.farm !== undefined && ![...c.visible].some((d) => this.farmOf.get(d) === m.farm))) {
      this.refuse(c, 'HATAKE_ERR_GATEWAY_FORBIDDEN', hidden.length > 0 ? `not yours to see: ${hidden.slice(0, 10).join(', ')}` : `not yours to see: farm ${m.farm}`);
      return;
    }
    c.filter = {
      ...(m.devices ? { devices: new Set(m.devices) } : {}),
      ...(m.kinds ? { kinds: new Set(m.kinds) } : {}),
      ...(m.farm !== undefined ? { farm: m.farm } : {}),
    };
    // a new subscription starts afresh: what the old one held back is not sent
    c.limiter?.clear();
    c.limiter = m.maxRate === undefined ? undefined : new DeviceRateLimiter<Buffer>(m.maxRate, (device, frame) => this.release(c, device, frame), this.now);
    this.send(c, { type: 'subscribed', devices: m.devices ?? null, kinds: m.kinds ?? null, farm: m.farm ?? null, maxRate: m.maxRate ?? null });
  }

  /** Starts this client's replay (replacing the one it had), once its devices and window pass. */
  private startReplay(c: LiveClient, m: ReplayMessage): void {
    if (this.replay === undefined) {
      this.refuse(c, 'HATAKE_ERR_GATEWAY_BAD_REQUEST', 'replay is not taken by this gateway');
      return;
    }
    const deviceOf = (id: string) => {
      const kind = this.kindOf.get(id);
      const farm = this.farmOf.get(id);
      return kind === undefined ? undefined : { id, kind, ...(farm !== undefined ? { farm } : {}) };
    };
    const checked = checkReplay(m, deviceOf, c.visible, { maxRangeDays: this.config.gateway.api.maxRangeDays, now: this.now() });
    if ('code' in checked) {
      this.refuse(c, checked.code, checked.message);
      return;
    }
    c.replay?.end('replaced');
    const session = new ReplaySession(
      m.id ?? `r${this.nextReplay++}`,
      checked.devices,
      checked,
      m.speed,
      {
        send: (message) => this.send(c, message),
        // replayed frames wait for the client (the session holds back above the mark), so they bypass the slow-client keep
        sendTelemetry: (json) => {
          if (c.open) this.enqueue(c, textFrame(json), false);
        },
        // a slow client catches up on live data first
        backlog: () => (c.slow ? Number.POSITIVE_INFINITY : c.unsent),
        ended: (s) => {
          if (c.replay === s) c.replay = undefined;
        },
      },
      { ...this.replay, now: this.now, metrics: this.metrics, log: this.log, highWaterBytes: this.highWater },
    );
    c.replay = session;
    this.log.info({ user: c.user.username, client: c.id, replay: session.id, devices: checked.devices.length, from: checked.from, to: checked.to, speed: m.speed }, 'replay started');
    session.start();
  }

  private controlReplay(c: LiveClient, m: ReplayControlMessage): void {
    if (c.replay === undefined) {
      this.refuse(c, 'HATAKE_ERR_GATEWAY_BAD_REQUEST', 'no replay to control: start one with {"type":"replay", …}');
      return;
    }
    const problem = c.replay.control(m);
    if (problem !== undefined) this.refuse(c, 'HATAKE_ERR_GATEWAY_BAD_REQUEST', `not a valid replay_control message of the live protocol: ${problem}`);
  }

  /** A telemetry message a client's `maxRate` held back, now due. */
  private release(c: LiveClient, device: string, frame: Buffer): void {
    if (c.open && this.deliver(c, 'telemetry', device, frame, false)) this.metrics.sent.inc({ type: 'telemetry' });
  }
}

/** The schema of server → client messages, for the README and tests. */
export const SERVER_MESSAGE_TYPES = ['hello', 'telemetry', 'state', 'event', 'command', 'armed', 'lease', 'alarm', 'dropped', 'subscribed', 'replay_state', 'pong', 'error'] as const;
