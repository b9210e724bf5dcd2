/**
 * The live stream: every validated MQTT message is serialised once and sent
 * to each WebSocket client whose user may see the device and whose filter
 * wants it.
 *
 * A slow client (more than `highWaterBytes` unsent) cannot grow the server's
 * memory: from then on it is kept only the latest telemetry message and state
 * per device and the last 100 events; the rest is counted. Once its socket has
 * drained below half the mark it gets a `dropped` summary, then what was kept.
 * A client more than 8 × the mark behind (unsent and kept together) is
 * disconnected with 1008.
 */

import { Compile } from 'typebox/compile';
import { WebSocket } from 'ws';
import { canSee } from '@hatake/auth';
import type { Config, UserDef } from '@hatake/config';
import type { DeviceKind } from '@hatake/protocol';
import type { Counter, Gauge, Logger } from '@hatake/runtime';
import { ClientMessage } from './schemas.ts';

export type LiveType = 'telemetry' | 'state' | 'event';

interface Filter {
  readonly devices?: ReadonlySet<string>;
  readonly kinds?: ReadonlySet<DeviceKind>;
  readonly farm?: string;
}

interface Client {
  readonly id: number;
  readonly user: UserDef;
  readonly socket: WebSocket;
  readonly visible: ReadonlySet<string>;
  filter: Filter;
  slow: boolean;
  readonly pendingTelemetry: Map<string, string>;
  readonly pendingState: Map<string, string>;
  pendingEvents: string[];
  /** Bytes held in the three pending stores. */
  pendingBytes: number;
  dropped: { since: number; telemetry: Record<string, number>; states: number; events: number };
  expiry: NodeJS.Timeout | undefined;
}

export interface LiveMetrics {
  readonly clients: Gauge;
  readonly sent: Counter<'type'>;
  readonly dropped: Counter<'type'>;
  readonly clientErrors: Counter<'reason'>;
}

const MAX_PENDING_EVENTS = 100;
const clientMessage = Compile(ClientMessage);

/** Close codes of the live stream (4000–4999 are the application's). */
export const CLOSE = { tokenExpired: 4001, serverStopping: 1001, tooSlow: 1008 } as const;

export class LiveHub {
  private readonly clients = new Set<Client>();
  private readonly farmOf: ReadonlyMap<string, string | undefined>;
  private readonly kindOf: ReadonlyMap<string, DeviceKind>;
  private readonly config: Config;
  private readonly metrics: LiveMetrics;
  private readonly log: Logger;
  private readonly highWater: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private nextId = 1;

  constructor(config: Config, metrics: LiveMetrics, log: Logger, opts: { highWaterBytes: number; now: () => number }) {
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
    this.timer = setInterval(() => this.drainSlow(), 50);
  }

  stop(): void {
    clearInterval(this.timer);
    for (const c of this.clients) {
      clearTimeout(c.expiry);
      c.socket.close(CLOSE.serverStopping, 'server stopping');
    }
    this.clients.clear();
    this.metrics.clients.set(0);
  }

  /** Takes a socket of a signed-in user; says hello with what it may see. */
  add(socket: WebSocket, user: UserDef, tokenExpiresAt: number, hello: (visible: readonly string[]) => object): void {
    const visible = new Set(this.config.devices.filter((d) => canSee(user, d)).map((d) => d.id));
    const client: Client = {
      id: this.nextId++,
      user,
      socket,
      visible,
      filter: {},
      slow: false,
      pendingTelemetry: new Map(),
      pendingState: new Map(),
      pendingEvents: [],
      pendingBytes: 0,
      dropped: { since: this.now(), telemetry: {}, states: 0, events: 0 },
      expiry: undefined,
    };
    // a session ends with its token
    client.expiry = setTimeout(() => socket.close(CLOSE.tokenExpired, 'token expired'), Math.max(0, Math.min(tokenExpiresAt - this.now(), 2 ** 31 - 1)));
    this.clients.add(client);
    this.metrics.clients.set(this.clients.size);
    socket.on('message', (data, isBinary) => this.onClientMessage(client, data, isBinary));
    socket.on('close', () => {
      clearTimeout(client.expiry);
      this.clients.delete(client);
      this.metrics.clients.set(this.clients.size);
    });
    socket.on('error', () => socket.terminate());
    this.send(client, JSON.stringify(hello([...visible])));
    this.log.info({ user: user.username, client: client.id, devices: visible.size }, 'live client connected');
  }

  /** Fans a serialised message out to every client that may and wants to see it. */
  publish(type: LiveType, device: string, json: string): void {
    const kind = this.kindOf.get(device);
    if (!kind) return;
    const farm = this.farmOf.get(device);
    for (const c of this.clients) {
      if (!c.visible.has(device)) continue;
      const f = c.filter;
      if (f.devices && !f.devices.has(device)) continue;
      if (f.kinds && !f.kinds.has(kind)) continue;
      if (f.farm !== undefined && f.farm !== farm) continue;
      this.deliver(c, type, device, json);
    }
  }

  /**
   * Past a hard limit (8 × the high-water mark, unsent plus kept) a client is
   * not slow but gone or hostile — one that sends pings and never reads, say:
   * it is disconnected (1008) rather than allowed to grow the server's memory.
   */
  private overLimit(c: Client): boolean {
    if (c.socket.bufferedAmount + c.pendingBytes <= this.highWater * 8) return false;
    this.metrics.clientErrors.inc({ reason: 'too_slow' });
    this.log.warn({ user: c.user.username, client: c.id, buffered: c.socket.bufferedAmount, kept: c.pendingBytes }, 'live client disconnected: too far behind');
    c.socket.close(CLOSE.tooSlow, 'too far behind');
    c.socket.terminate();
    return true;
  }

  private send(c: Client, json: string): void {
    if (c.socket.readyState === WebSocket.OPEN && !this.overLimit(c)) c.socket.send(json);
  }

  private deliver(c: Client, type: LiveType, device: string, json: string): void {
    if (c.socket.readyState !== WebSocket.OPEN) return;
    if (!c.slow && c.socket.bufferedAmount > this.highWater) {
      c.slow = true;
      c.dropped = { since: this.now(), telemetry: {}, states: 0, events: 0 };
      this.log.info({ user: c.user.username, client: c.id, buffered: c.socket.bufferedAmount }, 'slow live client: keeping only the latest per device');
    }
    if (!c.slow) {
      c.socket.send(json);
      this.metrics.sent.inc({ type });
      return;
    }
    switch (type) {
      case 'telemetry': {
        const old = c.pendingTelemetry.get(device);
        if (old !== undefined) {
          c.pendingBytes -= old.length;
          c.dropped.telemetry[device] = (c.dropped.telemetry[device] ?? 0) + 1;
          this.metrics.dropped.inc({ type });
        }
        c.pendingTelemetry.set(device, json);
        break;
      }
      case 'state': {
        const old = c.pendingState.get(device);
        if (old !== undefined) {
          c.pendingBytes -= old.length;
          c.dropped.states++;
          this.metrics.dropped.inc({ type });
        }
        c.pendingState.set(device, json);
        break;
      }
      case 'event':
        c.pendingEvents.push(json);
        if (c.pendingEvents.length > MAX_PENDING_EVENTS) {
          c.pendingBytes -= c.pendingEvents.shift()!.length;
          c.dropped.events++;
          this.metrics.dropped.inc({ type });
        }
    }
    c.pendingBytes += json.length;
    this.overLimit(c);
  }

  /** Slow clients that have caught up: say what was dropped, then send what was kept. */
  private drainSlow(): void {
    for (const c of this.clients) {
      if (!c.slow || c.socket.readyState !== WebSocket.OPEN || c.socket.bufferedAmount > this.highWater / 2) continue;
      const d = c.dropped;
      const total = Object.values(d.telemetry).reduce((a, b) => a + b, 0) + d.states + d.events;
      if (total > 0) this.send(c, JSON.stringify({ type: 'dropped', since: d.since, until: this.now(), telemetry: d.telemetry, states: d.states, events: d.events }));
      // what was kept is already counted in pendingBytes; send it without the limit check
      for (const json of [...c.pendingState.values(), ...c.pendingTelemetry.values(), ...c.pendingEvents]) c.socket.send(json);
      c.pendingState.clear();
      c.pendingTelemetry.clear();
      c.pendingEvents = [];
      c.pendingBytes = 0;
      c.slow = false;
    }
  }

  private refuse(c: Client, code: string, message: string): void {
    this.metrics.clientErrors.inc({ reason: code });
    this.send(c, JSON.stringify({ type: 'error', code, message }));
  }

  private onClientMessage(c: Client, data: unknown, isBinary: boolean): void {
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
    if (!clientMessage.Check(msg)) {
      const problems = clientMessage.Errors(msg).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`);
      this.refuse(c, 'HATAKE_ERR_GATEWAY_BAD_REQUEST', `not a message of the live protocol: ${problems.join('; ')}`);
      return;
    }
    const m = msg as ClientMessage;
    if (m.type === 'ping') {
      this.send(c, JSON.stringify({ type: 'pong', t: this.now() }));
      return;
    }
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
    this.send(c, JSON.stringify({ type: 'subscribed', devices: m.devices ?? null, kinds: m.kinds ?? null, farm: m.farm ?? null }));
  }
}

/** The schema of server → client messages, for the README and tests. */
export const SERVER_MESSAGE_TYPES = ['hello', 'telemetry', 'state', 'event', 'dropped', 'subscribed', 'pong', 'error'] as const;
