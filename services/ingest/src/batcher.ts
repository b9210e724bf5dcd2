/**
 * Batches records for the store: a write goes out when `maxRecords` are
 * waiting or the oldest has waited `maxMs`. One write at a time; while it is
 * in flight new records gather for the next. A failed write is retried with
 * back-off (1 s … 30 s) — nothing is dropped; a batch the store refuses (a
 * record it cannot store, or InfluxDB refusing part of it) is split in halves
 * until the refused records are found: they are set aside and reported, the
 * others written. Splitting costs about 2·log₂(n) writes per refused record.
 */
import type { Logger } from '@hatake/runtime';
import { StoreError, type EventRecord, type SampleRecord, type StateRecord, type TelemetryStore } from '@hatake/store';
import type { IngestMetrics } from './metrics.ts';

type Kind = 'sample' | 'state' | 'event';
type RecordOf<K extends Kind> = K extends 'sample' ? SampleRecord : K extends 'state' ? StateRecord : EventRecord;

interface Queue<K extends Kind> {
  readonly kind: K;
  items: RecordOf<K>[];
  /** When the oldest waiting record arrived. */
  since: number | undefined;
}

export interface BatcherOptions {
  readonly maxRecords: number;
  readonly maxMs: number;
  readonly now: () => number;
  /** Called with a record the store refused as invalid (not retried). */
  readonly onInvalid: (kind: Kind, record: SampleRecord | StateRecord | EventRecord, error: StoreError) => void;
}

export class Batcher {
  private readonly store: TelemetryStore;
  private readonly metrics: IngestMetrics;
  private readonly log: Logger;
  private readonly opts: BatcherOptions;
  private readonly queues: { sample: Queue<'sample'>; state: Queue<'state'>; event: Queue<'event'> } = {
    sample: { kind: 'sample', items: [], since: undefined },
    state: { kind: 'state', items: [], since: undefined },
    event: { kind: 'event', items: [], since: undefined },
  };
  private timer: NodeJS.Timeout | undefined;
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private inFlight = 0;
  private stopped = false;
  /** Set while the store is failing: why. */
  lastError: string | undefined;

  constructor(store: TelemetryStore, metrics: IngestMetrics, log: Logger, opts: BatcherOptions) {
    this.store = store;
    this.metrics = metrics;
    this.log = log;
    this.opts = opts;
  }

  /** Records received and not yet confirmed. */
  get depth(): number {
    return this.queues.sample.items.length + this.queues.state.items.length + this.queues.event.items.length + this.inFlight;
  }

  /** Age of the oldest record waiting, ms (0 when none). */
  oldestAge(): number {
    const times = Object.values(this.queues).map((q) => q.since).filter((t): t is number => t !== undefined);
    return times.length === 0 ? 0 : this.opts.now() - Math.min(...times);
  }

  add<K extends Kind>(kind: K, records: readonly RecordOf<K>[]): void {
    if (records.length === 0) return;
    const q = this.queues[kind] as unknown as Queue<K>;
    if (q.since === undefined) q.since = this.opts.now();
    q.items.push(...records);
    this.metrics.queueDepth.set(this.depth);
    if (this.depth >= this.opts.maxRecords) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.opts.maxMs);
  }

  /** Writes everything waiting now; resolves when it is stored (retrying as long as it takes, until stop). */
  async flush(): Promise<void> {
    while (this.depth > 0 && !this.stopped) {
      this.kick();
      await this.running;
    }
  }

  /** Stops retrying; records still waiting stay unwritten (the caller flushed first if it could). */
  halt(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
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

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      if (this.depth - this.inFlight > 0 && !this.stopped) this.timer ??= setTimeout(() => this.kick(), this.opts.maxMs);
    });
  }

  private async drain(): Promise<void> {
    for (const kind of ['sample', 'state', 'event'] as const) {
      const q = this.queues[kind] as unknown as Queue<Kind>;
      while (q.items.length > 0 && !this.stopped) {
        const batch = q.items.splice(0, this.opts.maxRecords);
        q.since = q.items.length > 0 ? this.opts.now() : undefined;
        this.inFlight += batch.length;
        try {
          await this.writeWithRetry(kind, batch);
        } finally {
          this.inFlight -= batch.length;
          this.metrics.queueDepth.set(this.depth);
        }
      }
    }
  }

  private write(kind: Kind, batch: readonly (SampleRecord | StateRecord | EventRecord)[]): Promise<void> {
    switch (kind) {
      case 'sample':
        return this.store.writeSamples(batch as SampleRecord[]);
      case 'state':
        return this.store.writeStates(batch as StateRecord[]);
      case 'event':
        return this.store.writeEvents(batch as EventRecord[]);
    }
  }

  private async writeWithRetry(kind: Kind, batch: (SampleRecord | StateRecord | EventRecord)[]): Promise<void> {
    for (;;) {
      const started = this.opts.now();
      try {
        await this.write(kind, batch);
        this.metrics.writeSeconds.observe({ type: kind }, (this.opts.now() - started) / 1000);
        this.metrics.batchSize.observe({ type: kind }, batch.length);
        this.metrics.stored.inc({ type: kind }, batch.length);
        if (this.failures > 0) this.log.info({ type: kind, afterFailures: this.failures }, 'store writes again');
        this.failures = 0;
        this.lastError = undefined;
        return;
      } catch (err) {
        if (err instanceof StoreError && (err.code === 'HATAKE_ERR_STORE_INVALID_RECORD' || err.code === 'HATAKE_ERR_STORE_REFUSED')) {
          // retrying the same batch cannot help: find the refused records by halves
          if (batch.length === 1) {
            this.opts.onInvalid(kind, batch[0]!, err);
            return;
          }
          const mid = batch.length >> 1;
          await this.writeWithRetry(kind, batch.slice(0, mid));
          await this.writeWithRetry(kind, batch.slice(mid));
          return;
        }
        this.failures++;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.metrics.writeFailures.inc({ type: kind });
        const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.failures - 1, 5));
        this.log.warn({ type: kind, records: batch.length, attempt: this.failures, retryInMs: delay, err: { message: this.lastError } }, 'store write failed; retrying');
        if (this.stopped) throw err;
        await this.sleep(delay);
        if (this.stopped) throw err;
      }
    }
  }
}
