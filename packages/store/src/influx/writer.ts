/**
 * Knowing what InfluxDB has really stored. The library's WriteApi batches,
 * retries and gzips, but sends full batches without waiting and reports
 * earlier failures to nobody (shared/STACK.md); its callbacks are the only
 * truth. `DurableWriter.write(lines)` resolves when `writeSuccess` has
 * confirmed every one of its lines, and rejects when any of them is given up
 * (a refused request, retries or retry time exhausted, or pushed out of the
 * retry buffer).
 */
import { HttpError, type WriteApi, type WriteOptions } from '@influxdata/influxdb-client';
import { StoreError } from '../errors.ts';

interface Waiter {
  remaining: number;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
}

export interface WriterCounters {
  /** Lines confirmed stored. */
  confirmed: number;
  /** Lines given up. */
  failed: number;
  /** Failed attempts that will be retried. */
  retries: number;
}

export class DurableWriter {
  readonly counters: WriterCounters = { confirmed: 0, failed: 0, retries: 0 };
  private readonly pending = new Map<string, Waiter[]>();
  private readonly maxRetries: number;
  private api: WriteApi | undefined;

  constructor(maxRetries: number) {
    this.maxRetries = maxRetries;
  }

  /** The callbacks to give the WriteApi when creating it. */
  callbacks(): Pick<WriteOptions, 'writeSuccess' | 'writeFailed' | 'writeRetrySkipped'> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the library calls these with its own `this`
    const self = this;
    return {
      writeSuccess(lines) {
        self.counters.confirmed += lines.length;
        self.settle(lines);
      },
      writeFailed(error, lines, attempt) {
        // the library gives lines up when InfluxDB refuses them (4xx but 429), after its last retry,
        // or when their retry time is over (it reports that as this message); anything else is retried
        const refused = error instanceof HttpError && error.statusCode < 429;
        if (refused) {
          self.counters.failed += lines.length;
          self.settle(lines, new StoreError('HATAKE_ERR_STORE_REFUSED', `InfluxDB refused ${lines.length} line(s): ${error.message}`.slice(0, 1000), { cause: error }));
        } else if (attempt > self.maxRetries || error.message === 'Max retry time exceeded.') {
          self.counters.failed += lines.length;
          self.settle(lines, new StoreError('HATAKE_ERR_STORE_WRITE', `InfluxDB did not store ${lines.length} line(s) after ${attempt} attempt(s): ${error.message}`, { cause: error }));
        } else self.counters.retries++;
      },
      writeRetrySkipped(entry) {
        self.counters.failed += entry.lines.length;
        self.settle(entry.lines, new StoreError('HATAKE_ERR_STORE_WRITE', `InfluxDB retry buffer full: ${entry.lines.length} line(s) given up`));
      },
    };
  }

  /** Binds the WriteApi made with {@link callbacks}. */
  attach(api: WriteApi): void {
    this.api = api;
  }

  /** Writes lines; resolves once InfluxDB has confirmed them all. */
  write(lines: readonly string[]): Promise<void> {
    const api = this.api;
    if (!api) return Promise.reject(new StoreError('HATAKE_ERR_STORE_CLOSED', 'the store is not started'));
    if (lines.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { remaining: lines.length, settled: false, resolve, reject };
      for (const line of lines) {
        const list = this.pending.get(line);
        if (list) list.push(waiter);
        else this.pending.set(line, [waiter]);
      }
      api.writeRecords(lines as string[]);
      // send now rather than at the next flush interval; completion is reported through the callbacks
      api.flush().catch(() => undefined);
    });
  }

  private settle(lines: readonly string[], error?: Error): void {
    for (const line of lines) {
      const list = this.pending.get(line);
      const waiter = list?.shift();
      if (list && list.length === 0) this.pending.delete(line);
      if (!waiter || waiter.settled) continue;
      if (error) {
        waiter.settled = true;
        waiter.reject(error);
      } else if (--waiter.remaining === 0) {
        waiter.settled = true;
        waiter.resolve();
      }
    }
  }

  /** Lines written and not yet confirmed or given up. */
  get inFlight(): number {
    let n = 0;
    for (const list of this.pending.values()) n += list.length;
    return n;
  }

  /** Flushes and closes the WriteApi; anything still unconfirmed is rejected. */
  async close(): Promise<void> {
    const api = this.api;
    this.api = undefined;
    if (api) await api.close().catch(() => undefined);
    const error = new StoreError('HATAKE_ERR_STORE_CLOSED', 'the store was stopped before InfluxDB confirmed the write');
    for (const [line, list] of this.pending) {
      for (const w of list) {
        if (!w.settled) {
          w.settled = true;
          w.reject(error);
        }
      }
      this.pending.delete(line);
    }
  }
}
