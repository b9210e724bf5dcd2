/**
 * From validated records to durable ones. Records gather into batches per
 * type (samples, states, events); a batch closes at `maxRecords` records,
 * `maxBytes` of message payload, or when its oldest has waited `maxMs`.
 *
 * A closed batch goes to the store directly, with up to `concurrency` writes
 * in flight. It is durable when the store confirms it — or when it has been
 * appended to the write-ahead spool: a batch the store fails, or has not
 * confirmed within `spoolAfterMs`, is spooled (the write in flight may still
 * land; writing twice changes nothing). After a failed write the pipeline
 * sends new batches straight to the spool until the store takes a replayed
 * one again; a replay loop feeds the spool back to the store oldest first,
 * one batch at a time, with back-off (1 s … 30 s) while the store fails,
 * interleaved with live batches once it works. When the spool is full,
 * batches wait in memory (their messages unacknowledged, so the broker holds
 * what follows) and the alarm is raised until there is room again.
 *
 * A batch the store refuses (a record it cannot store, InfluxDB refusing part
 * of it) is split in halves until the refused records are found; those go to
 * `onInvalid` (dead letters), the rest is stored. Each batch carries the
 * acknowledgement tokens of the messages whose records it holds; they are
 * settled when it is durable.
 */
import { settledWithin, type Logger } from '@hatake/runtime';
import { StoreError, type EventRecord, type SampleRecord, type StateRecord, type TelemetryStore } from '@hatake/store';
import type { AckToken } from './acks.ts';
import { IngestError } from './errors.ts';
import type { IngestMetrics } from './metrics.ts';
import type { Spool, SpoolSegment } from './spool.ts';

export type RecordKind = 'sample' | 'state' | 'event';
export type AnyRecord = SampleRecord | StateRecord | EventRecord;

interface Batch {
  readonly kind: RecordKind;
  records: AnyRecord[];
  tokens: AckToken[];
  /** Messages in it that need no acknowledgement (QoS 0): a batch with any cannot be dropped for redelivery. */
  loose: number;
  bytes: number;
  /** When its first record arrived. */
  readonly since: number;
  /** When it closed (ready to write). */
  closedAt: number;
  /** When its store write started (0: not yet). */
  startedAt: number;
  durable: boolean;
  spooling: boolean;
}

export interface PipelineOptions {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly maxMs: number;
  readonly concurrency: number;
  readonly spoolAfterMs: number;
  readonly now: () => number;
  /** A record the store refused as invalid (not retried). */
  readonly onInvalid: (kind: RecordKind, record: AnyRecord, error: StoreError) => void;
  /** Tokens of a batch now durable. */
  readonly settle: (tokens: readonly AckToken[]) => void;
  /** Whether a token belongs to a connection that is gone (the broker will redeliver its message). */
  readonly stale: (token: AckToken) => boolean;
}

const KINDS = ['sample', 'state', 'event'] as const;
const refused = (err: unknown): err is StoreError => err instanceof StoreError && (err.code === 'HATAKE_ERR_STORE_INVALID_RECORD' || err.code === 'HATAKE_ERR_STORE_REFUSED');
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class Pipeline {
  private readonly store: TelemetryStore;
  private readonly spool: Spool;
  private readonly metrics: IngestMetrics;
  private readonly log: Logger;
  private readonly opts: PipelineOptions;
  private readonly open: Record<RecordKind, Batch | undefined> = { sample: undefined, state: undefined, event: undefined };
  /** Closed, waiting for a write slot. */
  private readonly ready: Batch[] = [];
  /** Written or being spooled, not yet durable. */
  private readonly inFlight = new Set<Batch>();
  /** Could not be spooled (full, or disk errors): retried as room appears. */
  private held: Batch[] = [];
  private writing = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private replaying: Promise<void> | undefined;
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private stopped = false;
  private records = 0;
  private readonly idleWaiters: (() => void)[] = [];
  /** 'direct': batches go to the store; 'spool': the store failed, batches go to the spool until a replayed one is stored. */
  mode: 'direct' | 'spool' = 'direct';
  /** Why the store last failed, while it fails. */
  storeError: string | undefined;
  /** Why the spool last failed (other than being full), while it fails. */
  spoolError: string | undefined;
  /** Set while batches wait because the spool is full. */
  spoolFullSince: number | undefined;

  constructor(store: TelemetryStore, spool: Spool, metrics: IngestMetrics, log: Logger, opts: PipelineOptions) {
    this.store = store;
    this.spool = spool;
    this.metrics = metrics;
    this.log = log;
    this.opts = opts;
  }

  /** Starts the replay loop and the timer that spools slow writes. */
  start(): void {
    this.ticker = setInterval(() => this.tick(), Math.max(10, Math.min(250, this.opts.spoolAfterMs / 4)));
    this.ticker.unref();
    this.replaying = this.replayLoop().catch((err: unknown) => this.log.error({ err: { message: message(err) } }, 'spool replay stopped'));
    this.gauge();
  }

  /** Records received and not yet durable. */
  get depth(): number {
    return this.records;
  }

  /** Age of the oldest record not yet durable, ms. */
  oldestAge(): number {
    let oldest = Infinity;
    for (const k of KINDS) oldest = Math.min(oldest, this.open[k]?.since ?? Infinity);
    for (const b of this.ready) oldest = Math.min(oldest, b.since);
    for (const b of this.inFlight) if (!b.durable) oldest = Math.min(oldest, b.since);
    for (const b of this.held) oldest = Math.min(oldest, b.since);
    return oldest === Infinity ? 0 : this.opts.now() - oldest;
  }

  /** Adds one message's records; `token` is settled when they are durable. */
  add(kind: RecordKind, records: readonly AnyRecord[], bytes: number, token: AckToken | undefined): void {
    let b = this.open[kind];
    if (!b) {
      b = { kind, records: [], tokens: [], loose: 0, bytes: 0, since: this.opts.now(), closedAt: 0, startedAt: 0, durable: false, spooling: false };
      this.open[kind] = b;
    }
    for (const r of records) b.records.push(r);
    if (token) b.tokens.push(token);
    else b.loose++;
    b.bytes += bytes;
    this.records += records.length;
    if (b.records.length >= this.opts.maxRecords || b.bytes >= this.opts.maxBytes) this.close(kind);
    else this.timer ??= setTimeout(() => this.closeAll(), this.opts.maxMs);
  }

  private closeAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const k of KINDS) this.close(k);
  }

  private close(kind: RecordKind): void {
    const b = this.open[kind];
    if (!b) return;
    this.open[kind] = undefined;
    b.closedAt = this.opts.now();
    this.ready.push(b);
    if (!KINDS.some((k) => this.open[k])) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.pump();
  }

  private pump(): void {
    while (this.ready.length > 0 && !this.stopped) {
      if (this.mode === 'spool' || this.held.length > 0) {
        // keep the order: nothing overtakes what waits for the spool
        const b = this.ready.shift()!;
        if (this.held.length > 0) this.held.push(b);
        else void this.toSpool(b);
        continue;
      }
      if (this.writing >= this.opts.concurrency) return;
      void this.toStore(this.ready.shift()!);
    }
  }

  private async write(kind: RecordKind, records: readonly AnyRecord[]): Promise<void> {
    switch (kind) {
      case 'sample':
        return this.store.writeSamples(records as SampleRecord[]);
      case 'state':
        return this.store.writeStates(records as StateRecord[]);
      case 'event':
        return this.store.writeEvents(records as EventRecord[]);
    }
  }

  /** Writes records, finding refused ones by halves; throws what is not a refusal (the store is failing). */
  private async writeSplitting(kind: RecordKind, records: readonly AnyRecord[]): Promise<void> {
    const started = this.opts.now();
    try {
      await this.write(kind, records);
      this.metrics.writeSeconds.observe({ type: kind }, (this.opts.now() - started) / 1000);
      this.metrics.batchSize.observe({ type: kind }, records.length);
      this.metrics.stored.inc({ type: kind }, records.length);
    } catch (err) {
      if (!refused(err)) throw err;
      if (records.length === 1) {
        this.opts.onInvalid(kind, records[0]!, err);
        return;
      }
      const mid = records.length >> 1;
      await this.writeSplitting(kind, records.slice(0, mid));
      await this.writeSplitting(kind, records.slice(mid));
    }
  }

  private async toStore(b: Batch): Promise<void> {
    b.startedAt = this.opts.now();
    this.writing++;
    this.inFlight.add(b);
    try {
      await this.writeSplitting(b.kind, b.records);
      this.storeWorks();
      this.durable(b);
    } catch (err) {
      this.storeFails(err);
      if (!b.durable) void this.toSpool(b);
    } finally {
      this.writing--;
      this.pump();
    }
  }

  private storeWorks(): void {
    if (this.storeError !== undefined) this.log.info({ after: this.storeError }, 'the store writes again');
    this.storeError = undefined;
  }

  private storeFails(err: unknown): void {
    this.metrics.writeFailures.inc();
    if (this.mode === 'direct' || this.storeError === undefined) this.log.warn({ err: { message: message(err) }, spool: true }, 'store write failed; spooling batches until it takes them again');
    this.storeError = message(err);
    this.mode = 'spool';
    this.wakeReplay();
  }

  private async toSpool(b: Batch): Promise<void> {
    if (b.durable || b.spooling) return;
    b.spooling = true;
    this.inFlight.add(b);
    const payload = Buffer.from(JSON.stringify({ k: b.kind, r: b.records }));
    try {
      await this.spool.append(payload);
      this.metrics.spooled.inc({ type: b.kind }, b.records.length);
      this.spoolError = undefined;
      if (this.spoolFullSince !== undefined && this.held.length === 0) this.spoolRoomAgain();
      this.durable(b);
      this.wakeReplay();
    } catch (err) {
      b.spooling = false;
      this.inFlight.delete(b);
      if (err instanceof IngestError && err.code === 'HATAKE_ERR_INGEST_SPOOL_FULL') {
        if (this.spoolFullSince === undefined) {
          this.spoolFullSince = this.opts.now();
          this.metrics.spoolFull.set(1);
          this.log.error({ code: err.code, bytes: this.spool.bytes }, 'ALARM: spool full; acknowledgements stop, the broker holds new messages until the store takes the backlog');
        }
      } else if (this.spoolError === undefined) {
        this.spoolError = message(err);
        this.log.error({ err: { message: this.spoolError } }, 'spool write failed; batches wait in memory, unacknowledged');
      }
      if (!b.durable) this.held.push(b);
    }
    this.gauge();
  }

  private spoolRoomAgain(): void {
    this.log.warn({ fullForMs: this.opts.now() - (this.spoolFullSince ?? this.opts.now()) }, 'spool has room again; acknowledging');
    this.spoolFullSince = undefined;
    this.metrics.spoolFull.set(0);
  }

  private durable(b: Batch): void {
    this.inFlight.delete(b);
    if (b.durable) return;
    b.durable = true;
    this.records -= b.records.length;
    this.opts.settle(b.tokens);
    this.gauge();
    if (this.records === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Every so often: spool the batches of a store that has stopped answering — a write unconfirmed after
   * `spoolAfterMs`, and then the batches queued behind it — and retry held ones. Batches that merely wait for
   * a write slot while the store answers are not spooled: a store at its capacity is back-pressure (the
   * acknowledgement window fills and the broker holds the rest), and spooling would only add work.
   */
  private tick(): void {
    const now = this.opts.now();
    let stuck = false;
    for (const b of this.inFlight) {
      if (b.durable || b.spooling || b.startedAt === 0 || now - b.startedAt < this.opts.spoolAfterMs) continue;
      stuck = true;
      void this.toSpool(b);
    }
    if (stuck) while (this.ready.length > 0 && now - this.ready[0]!.closedAt >= this.opts.spoolAfterMs) void this.toSpool(this.ready.shift()!);
    if (this.held.length > 0) {
      const held = this.held;
      this.held = [];
      for (const b of held) {
        if (b.durable) continue;
        if (b.loose === 0 && b.tokens.length > 0 && b.tokens.every(this.opts.stale)) {
          // its connection is gone and the broker redelivers every one of its messages: keeping it would only grow memory
          this.records -= b.records.length;
          this.metrics.redeliveryDropped.inc(b.records.length);
          continue;
        }
        if (this.mode === 'direct' && this.writing < this.opts.concurrency) void this.toStore(b);
        else if (this.spool.hasRoomFor(b.bytes)) void this.toSpool(b);
        else this.held.push(b);
      }
      if (this.held.length === 0 && this.spoolFullSince !== undefined) this.spoolRoomAgain();
    }
    this.gauge();
  }

  private gauge(): void {
    this.metrics.queueDepth.set(this.records);
    this.metrics.spoolBytes.set(this.spool.bytes);
    this.metrics.spoolFiles.set(this.spool.files);
  }

  private wakeReplay(): void {
    if (this.sleeping) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.wake();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.sleeping = undefined;
        resolve();
      };
      this.sleeping = { timer: setTimeout(wake, ms), wake };
    });
  }

  private async replayLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let seg: SpoolSegment | undefined;
      try {
        seg = await this.spool.take();
      } catch (err) {
        this.spoolError = message(err);
        this.log.error({ err: { message: this.spoolError } }, 'spool cannot be read; retrying');
        await this.sleep(5000);
        continue;
      }
      if (!seg) {
        // nothing spooled: wait for the next append (or a timeout, in case an append raced this check)
        await Promise.race([this.spool.changed(), this.sleep(1000)]);
        continue;
      }
      for (let i = 0; i < seg.frames.length && !this.stopped; ) {
        let frame: { k: RecordKind; r: AnyRecord[] };
        try {
          frame = JSON.parse(seg.frames[i]!.toString('utf8')) as { k: RecordKind; r: AnyRecord[] };
          if (!KINDS.includes(frame.k) || !Array.isArray(frame.r)) throw new Error('not a spooled batch');
        } catch (err) {
          this.log.error({ err: { message: message(err) }, file: seg.seq, frame: i }, 'spool frame passed its checksum but is not a batch; skipped');
          i++;
          continue;
        }
        try {
          await this.writeSplitting(frame.k, frame.r);
          failures = 0;
          this.metrics.replayed.inc({ type: frame.k }, frame.r.length);
          this.storeWorks();
          if (this.mode === 'spool') {
            this.mode = 'direct';
            this.log.info({ spoolBytes: this.spool.bytes }, 'store takes batches again: live batches go to it directly, the spool is replayed behind them');
            this.pump();
          }
          i++;
        } catch (err) {
          failures++;
          if (this.mode === 'direct') this.storeFails(err);
          this.storeError = message(err);
          await this.sleep(Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5)));
        }
      }
      if (!this.stopped) await this.spool.done(seg);
      this.gauge();
    }
  }

  /** Resolves when every record added so far is durable (stored or spooled), or after `timeoutMs`; true when it is. */
  async flush(timeoutMs = Infinity): Promise<boolean> {
    this.closeAll();
    if (this.records === 0) return true;
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (!Number.isFinite(timeoutMs)) {
      await idle;
      return true;
    }
    return settledWithin(idle, timeoutMs);
  }

  /** Resolves when the spool is empty and nothing is pending (tests, benchmarks). */
  async drained(): Promise<void> {
    await this.flush();
    while (this.spool.bytes > 0 || this.spool.files > 0) await Promise.race([this.spool.changed(), new Promise((r) => setTimeout(r, 50))]);
  }

  /** Stops the loops; what is not durable stays unacknowledged (the broker redelivers it). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.wakeReplay();
    await this.replaying;
  }
}
