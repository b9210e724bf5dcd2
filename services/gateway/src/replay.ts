/**
 * Replay over the live stream: a recorded time window of chosen devices, sent
 * to one WebSocket client as the live stream sends it (`telemetry` messages of
 * the same shape, marked with `replay: <session id>`), at the pace of device
 * time × speed.
 *
 * A session runs a virtual clock: its position advances by speed × the real
 * time elapsed; pause freezes it, seek moves it, a speed change keeps it. A
 * sample is sent once the position has reached its device time. The window
 * is read from the store a chunk at a time (10 minutes of device time, every
 * device's samples of the chunk merged by time), the next chunk as soon as
 * the position enters the last one read: a session holds at most two chunks,
 * however long the window. When the store is slower than the replay, the
 * clock waits at the edge of what has been read (as a video player buffers);
 * when the client reads slower than the replay, so does the clock — nothing
 * is dropped, unlike live data (a replay can always be slowed down).
 */
import type { DeviceKind } from '@hatake/protocol';
import type { Counter, Gauge, Logger } from '@hatake/runtime';
import type { SampleRow, TelemetryStore } from '@hatake/store';
import { GatewayError, type GatewayErrorCode } from './errors.ts';
import { REPLAY_SPEED, type ReplayControlMessage, type ReplayMessage } from './schemas.ts';
import { parseTime } from './time.ts';

/** Timers of replay sessions: the global ones, or a fake clock's in tests. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The global timers. */
export const REAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

export interface ReplayMetrics {
  readonly replaySessions: Gauge;
  readonly replaySamples: Counter;
}

/** Device time read from the store at a time, per session. */
export const REPLAY_CHUNK_MS = 10 * 60_000;
/** Most rows one device's chunk may have (a chunk with more is cut short at its last full millisecond). */
export const REPLAY_CHUNK_ROWS = 20_000;
/** Most consecutive samples of one device in one message. */
const MAX_SAMPLES_PER_MESSAGE = 100;
/** How soon a session held back by a slow client tries again. */
const RETRY_MS = 50;
/** Times the stores can hold (as for REST: InfluxDB's nanosecond timestamps end in 2262). */
const LATEST = Date.UTC(2200, 0, 1);

export type ReplayPhase = 'playing' | 'paused' | 'ended';
/** Why a session ended: its window was played to the end, the client stopped it or started another, the store failed, or the socket closed. */
export type ReplayEnd = 'completed' | 'stopped' | 'replaced' | 'failed' | 'closed';

/** A device a session replays, with what its live messages carry. */
export interface ReplayDevice {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly farm?: string;
}

/** Where a session's messages go: one client's stream, in order with its live messages. */
export interface ReplaySink {
  /** A message of the session's own (`replay_state`, `error`). */
  send(message: object): void;
  /** A replayed telemetry message (JSON text). */
  sendTelemetry(json: string): void;
  /** Bytes the client has not taken yet. */
  backlog(): number;
  /** The session has ended (it sends nothing more). */
  ended(session: ReplaySession): void;
}

export interface ReplayOptions {
  readonly store: Pick<TelemetryStore, 'samples'>;
  readonly now: () => number;
  readonly timers: Timers;
  readonly metrics: ReplayMetrics;
  readonly log: Logger;
  /** Above this backlog the session waits for the client. */
  readonly highWaterBytes: number;
  readonly chunkMs?: number;
  readonly chunkRows?: number;
}

/** Field-level reasons for the replay messages' fields, in place of the schema validator's. */
export const REPLAY_FIELD_PROBLEMS: Readonly<Record<string, (got: unknown) => string>> = {
  '/speed': (got) => `speed must be a number from ${REPLAY_SPEED.min} to ${REPLAY_SPEED.max} (times device time; got ${shown(got)})`,
  '/from': (got) => `from must be a time: epoch ms or ISO 8601 with a zone (got ${shown(got)})`,
  '/to': (got) => `to must be a time: epoch ms or ISO 8601 with a zone (got ${shown(got)})`,
  '/t': (got) => `t must be a time: epoch ms or ISO 8601 with a zone (got ${shown(got)})`,
};

function shown(v: unknown): string {
  return (JSON.stringify(v) ?? String(v)).slice(0, 40);
}

function timeOf(name: string, v: number | string): number {
  const t = parseTime(name, String(v));
  if (t < 0 || t > LATEST) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `${name} is outside the times hatake stores (1970-01-01 to 2200-01-01)`);
  return t;
}

/** A refusal: the error code and the reason given to the client. */
export interface ReplayRefusal {
  readonly code: GatewayErrorCode;
  readonly message: string;
}

/**
 * Checks a `replay` request against the user's scope and the window limit:
 * every device must exist (else NOT_FOUND) and be the user's to see (else
 * FORBIDDEN); from < to, at most `maxRangeDays` apart. A `to` after now is
 * taken as now: a replay plays what has been recorded (a chunk read ahead of
 * the recording would miss what came later).
 */
export function checkReplay(
  m: ReplayMessage,
  deviceOf: (id: string) => ReplayDevice | undefined,
  visible: ReadonlySet<string>,
  limits: { readonly maxRangeDays: number; readonly now: number },
): { devices: ReplayDevice[]; from: number; to: number } | ReplayRefusal {
  const unknown = m.devices.filter((id) => deviceOf(id) === undefined);
  if (unknown.length > 0) return { code: 'HATAKE_ERR_GATEWAY_NOT_FOUND', message: `no such device: ${unknown.slice(0, 10).join(', ')}` };
  const hidden = m.devices.filter((id) => !visible.has(id));
  if (hidden.length > 0) return { code: 'HATAKE_ERR_GATEWAY_FORBIDDEN', message: `not yours to see: ${hidden.slice(0, 10).join(', ')}` };
  let from: number;
  let to: number;
  try {
    from = timeOf('from', m.from);
    to = timeOf('to', m.to);
  } catch (err) {
    return { code: 'HATAKE_ERR_GATEWAY_BAD_REQUEST', message: (err as Error).message };
  }
  if (from >= to) return { code: 'HATAKE_ERR_GATEWAY_BAD_REQUEST', message: 'from must be before to' };
  const { maxRangeDays } = limits;
  if (to - from > maxRangeDays * 86_400_000) return { code: 'HATAKE_ERR_GATEWAY_BAD_REQUEST', message: `the window is longer than ${maxRangeDays} days (gateway.api.maxRangeDays): replay less at a time` };
  if (from >= limits.now) return { code: 'HATAKE_ERR_GATEWAY_BAD_REQUEST', message: 'from must be in the past: a replay plays what has been recorded' };
  return { devices: m.devices.map((id) => deviceOf(id)!), from, to: Math.min(to, limits.now) };
}

interface Entry {
  readonly device: ReplayDevice;
  readonly sample: SampleRow;
}

/** One client's replay; see the module comment. */
export class ReplaySession {
  readonly id: string;
  readonly devices: readonly ReplayDevice[];
  readonly from: number;
  readonly to: number;
  private speed: number;
  private readonly sink: ReplaySink;
  private readonly opts: ReplayOptions;
  private readonly chunkMs: number;
  private readonly chunkRows: number;
  private phase: ReplayPhase = 'paused';
  /** The virtual clock: at real time `anchorReal` it read `anchorPos`. */
  private anchorPos: number;
  private anchorReal = 0;
  /** The clock waits for the store at `anchorPos` (the edge of what has been read). */
  private stalled = false;
  /** The clock waits for the client at `anchorPos` (the next sample to send). */
  private held = false;
  /** Samples read and not yet sent, oldest first, from `head` on. */
  private queue: Entry[] = [];
  private head = 0;
  /** Samples before this device time have been read (or sent). */
  private loadedTo: number;
  private loading = false;
  /** Bumped by seek and end: reads begun before are discarded. */
  private generation = 0;
  private timer: unknown;

  constructor(id: string, devices: readonly ReplayDevice[], window: { from: number; to: number }, speed: number, sink: ReplaySink, opts: ReplayOptions) {
    this.id = id;
    this.devices = devices;
    this.from = window.from;
    this.to = window.to;
    this.speed = speed;
    this.sink = sink;
    this.opts = opts;
    this.chunkMs = opts.chunkMs ?? REPLAY_CHUNK_MS;
    this.chunkRows = opts.chunkRows ?? REPLAY_CHUNK_ROWS;
    this.anchorPos = window.from;
    this.loadedTo = window.from;
  }

  get ended(): boolean {
    return this.phase === 'ended';
  }

  /** Starts playing from `from`: says so, and reads the first chunk. */
  start(): void {
    this.opts.metrics.replaySessions.inc();
    this.phase = 'playing';
    this.anchorReal = this.opts.now();
    this.sink.send(this.state());
    this.read();
    this.pump();
  }

  /**
   * Applies a `replay_control` (other than stop, which the caller turns into
   * {@link end}) and answers with the new state; or says what is wrong with it.
   */
  control(m: ReplayControlMessage): string | undefined {
    if (m.t !== undefined && m.action !== 'seek') return `t is only for seek (got it with ${m.action})`;
    if (m.speed !== undefined && m.action !== 'speed') return `speed is only for the speed action (got it with ${m.action})`;
    const now = this.opts.now();
    switch (m.action) {
      case 'pause':
        if (this.phase === 'playing') {
          this.anchorPos = this.position();
          this.stalled = false;
          this.held = false;
          this.phase = 'paused';
        }
        break;
      case 'resume':
        if (this.phase === 'paused') {
          this.anchorReal = now;
          this.phase = 'playing';
        }
        break;
      case 'speed':
        if (m.speed === undefined) return `the speed action needs speed, from ${REPLAY_SPEED.min} to ${REPLAY_SPEED.max}`;
        this.anchorPos = this.position();
        this.anchorReal = now;
        this.speed = m.speed;
        break;
      case 'seek': {
        if (m.t === undefined) return `seek needs t, a time within the replay's window (${this.from} to ${this.to})`;
        let t: number;
        try {
          t = timeOf('t', m.t);
        } catch (err) {
          return (err as Error).message;
        }
        if (t < this.from || t > this.to) return `t must be within the replay's window (${this.from} to ${this.to}; got ${t})`;
        // what was read is dropped and read again from t (forwards or backwards alike)
        this.generation++;
        this.queue = [];
        this.head = 0;
        this.loadedTo = t;
        this.loading = false;
        this.anchorPos = t;
        this.anchorReal = now;
        this.stalled = false;
        this.held = false;
        this.read();
        break;
      }
      case 'stop':
        this.end('stopped');
        return undefined;
    }
    this.sink.send(this.state());
    this.pump();
    return undefined;
  }

  /** Ends the session (timers cleared, what was read dropped); tells the client unless its socket is gone. */
  end(reason: ReplayEnd, notify = true): void {
    if (this.phase === 'ended') return;
    const at = reason === 'completed' ? this.to : this.position();
    this.phase = 'ended';
    this.anchorPos = at;
    this.generation++;
    this.opts.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.head = 0;
    this.opts.metrics.replaySessions.dec();
    this.opts.log.info({ replay: this.id, reason, t: at }, 'replay ended');
    if (notify) this.sink.send({ ...this.state(), reason });
    this.sink.ended(this);
  }

  /** The `replay_state` message. */
  state(): { type: 'replay_state'; id: string; state: ReplayPhase; t: number; speed: number; from: number; to: number; devices: string[] } {
    return { type: 'replay_state', id: this.id, state: this.phase, t: Math.floor(this.position()), speed: this.speed, from: this.from, to: this.to, devices: this.devices.map((d) => d.id) };
  }

  /** The virtual clock's reading (device time, ms). */
  private position(): number {
    if (this.phase !== 'playing' || this.stalled || this.held) return this.anchorPos;
    return Math.min(this.to, this.anchorPos + (this.opts.now() - this.anchorReal) * this.speed);
  }

  /** Sends what is due, reads ahead, ends at the end, and sets the timer for what comes next. */
  private pump(): void {
    this.opts.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.phase !== 'playing') return;
    if (this.held) {
      if (this.sink.backlog() > this.opts.highWaterBytes) {
        this.timer = this.opts.timers.setTimeout(() => this.pump(), RETRY_MS);
        return;
      }
      this.held = false;
      this.anchorReal = this.opts.now();
    }
    let pos = this.position();
    if (!this.sendDue(pos)) {
      // the client is behind: the clock waits at the next sample to send, and the session looks again soon
      this.anchorPos = Math.min(pos, this.queue[this.head]!.sample.t);
      this.held = true;
      this.timer = this.opts.timers.setTimeout(() => this.pump(), RETRY_MS);
      return;
    }
    if (this.loadedTo < this.to && pos >= this.loadedTo) {
      // at the edge of what has been read: the clock waits for the store (the read's end pumps again)
      this.anchorPos = this.loadedTo;
      this.stalled = true;
      pos = this.loadedTo;
    }
    if (!this.loading && this.loadedTo < this.to && this.loadedTo - pos <= this.chunkMs) this.read();
    if (this.head >= this.queue.length && this.loadedTo >= this.to && pos >= this.to) {
      this.end('completed');
      return;
    }
    if (this.stalled) return;
    // the next moment something happens: a sample is due, the next read should start, the edge of what was read, the end
    let target = this.to;
    const next = this.queue[this.head];
    if (next !== undefined) target = Math.min(target, next.sample.t);
    if (this.loadedTo < this.to) target = Math.min(target, this.loading || this.loadedTo - this.chunkMs <= pos ? this.loadedTo : this.loadedTo - this.chunkMs);
    // whole milliseconds, at least one: a timer never fires early, so the target has been reached when it does
    const delay = Math.min(Math.max(1, Math.ceil((target - pos) / this.speed)), 2 ** 31 - 1);
    this.timer = this.opts.timers.setTimeout(() => this.pump(), delay);
  }

  /** Sends every sample due at `pos`, a run of one device's samples per message; false when the client is too far behind to take more now. */
  private sendDue(pos: number): boolean {
    const q = this.queue;
    while (this.head < q.length && q[this.head]!.sample.t <= pos) {
      if (this.sink.backlog() > this.opts.highWaterBytes) return false;
      const { device } = q[this.head]!;
      const samples: SampleRow[] = [];
      while (this.head < q.length && samples.length < MAX_SAMPLES_PER_MESSAGE && q[this.head]!.device === device && q[this.head]!.sample.t <= pos) samples.push(q[this.head++]!.sample);
      // the live message's shape (gateway.ts), marked as this session's
      this.sink.sendTelemetry(JSON.stringify({ type: 'telemetry', device: device.id, kind: device.kind, ...(device.farm !== undefined ? { farm: device.farm } : {}), samples, replay: this.id }));
      this.opts.metrics.replaySamples.inc(samples.length);
    }
    if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  /** Reads the next chunk of every device, from `loadedTo`. */
  private read(): void {
    const generation = this.generation;
    const from = this.loadedTo;
    const to = Math.min(from + this.chunkMs, this.to);
    this.loading = true;
    Promise.all(this.devices.map((d) => this.opts.store.samples({ kind: d.kind, device: d.id, from, to, limit: this.chunkRows }) as Promise<SampleRow[]>))
      .then(
        // a read begun before a seek or the end is of no use
        (rows) => {
          if (generation === this.generation) this.loaded(from, to, rows);
        },
        (err: unknown) => {
          if (generation === this.generation) this.failed(err);
        },
      )
      .catch((err: unknown) => this.opts.log.error({ err, replay: this.id }, 'replay failed'));
  }

  /** A chunk's rows, per device: merged by time into the queue. */
  private loaded(from: number, to: number, rows: readonly SampleRow[][]): void {
    // a device with a full page may have more: the chunk ends before its last millisecond, read again next time
    let end = to;
    for (const r of rows) if (r.length >= this.chunkRows) end = Math.min(end, r.at(-1)!.t);
    if (end <= from) {
      end = from + 1;
      this.opts.log.warn({ replay: this.id, t: from }, 'replay: a device has more samples in one millisecond than a chunk holds; some are skipped');
    }
    const entries: Entry[] = [];
    rows.forEach((r, i) => {
      const device = this.devices[i]!;
      for (const sample of r) if (sample.t < end) entries.push({ device, sample });
    });
    // a stable sort: each device's order, and the devices' order within a millisecond, are kept
    entries.sort((a, b) => a.sample.t - b.sample.t);
    this.queue = this.queue.slice(this.head).concat(entries);
    this.head = 0;
    this.loadedTo = end;
    this.loading = false;
    if (this.stalled) {
      this.stalled = false;
      this.anchorReal = this.opts.now();
    }
    this.pump();
  }

  private failed(err: unknown): void {
    this.opts.log.error({ err, replay: this.id }, 'replay: the store did not answer');
    this.sink.send({ type: 'error', code: 'HATAKE_ERR_GATEWAY_UNAVAILABLE', message: 'the store did not answer: the replay ended', replay: this.id });
    this.end('failed');
  }
}
