/**
 * Knowing what InfluxDB has really stored. Each `write(lines)` is one request
 * (or one per `batchSize` lines) to the v1 `/write` endpoint through the
 * client library's own Node transport (keep-alive, gzip above
 * `gzipThreshold` as `gzip` says, timeouts), and it resolves only when InfluxDB answered
 * 2xx for every one of them — no library-side buffer in between whose
 * failures nobody hears of (shared/STACK.md). Callers batch and run writes
 * concurrently themselves (ingest's pipeline).
 *
 * A 4xx other than 429 rejects at once with `HATAKE_ERR_STORE_REFUSED`
 * (retrying cannot help: bad credentials, a "partial write" of points outside
 * the retention policy); network errors, timeouts, 429 and 5xx are retried
 * `maxRetries` times with back-off (200 ms doubling, within `maxRetryTimeMs`),
 * then reject with `HATAKE_ERR_STORE_WRITE`.
 */
import { HttpError, InfluxDB, type Transport } from '@influxdata/influxdb-client';
import type { InfluxConfig } from '@hatake/config';
import { StoreError } from '../errors.ts';
import { authHeader, compresses } from './v1.ts';

export interface WriterCounters {
  /** Lines confirmed stored. */
  confirmed: number;
  /** Lines given up. */
  failed: number;
  /** Failed attempts that were retried. */
  retries: number;
}

type WriterSettings = Pick<InfluxConfig, 'url' | 'database' | 'retentionPolicy' | 'username' | 'password' | 'token' | 'timeoutMs' | 'batchSize' | 'maxRetries' | 'maxRetryTimeMs' | 'gzip' | 'gzipThreshold'>;

/** The body size above which writes are gzipped; undefined: never (the transport's own convention). */
export function gzipThresholdFor(settings: Pick<WriterSettings, 'url' | 'gzip' | 'gzipThreshold'>): number | undefined {
  return compresses(settings) ? settings.gzipThreshold : undefined;
}

export class DurableWriter {
  readonly counters: WriterCounters = { confirmed: 0, failed: 0, retries: 0 };
  private readonly settings: WriterSettings;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly gzipThreshold: number | undefined;
  private transport: Transport | undefined;
  private lines = 0;
  private readonly aborts = new Set<AbortController>();

  constructor(settings: WriterSettings) {
    this.settings = settings;
    const q = new URLSearchParams({ db: settings.database, rp: settings.retentionPolicy, precision: 'ns' });
    this.path = `/write?${q.toString()}`;
    this.headers = { ...authHeader(settings), 'content-type': 'text/plain; charset=utf-8' };
    this.gzipThreshold = gzipThresholdFor(settings);
  }

  /** Opens the HTTP transport. */
  open(): void {
    this.transport = new InfluxDB({ url: this.settings.url, timeout: this.settings.timeoutMs }).transport;
  }

  /** Writes lines; resolves once InfluxDB has confirmed them all. */
  async write(lines: readonly string[]): Promise<void> {
    if (!this.transport) throw new StoreError('HATAKE_ERR_STORE_CLOSED', 'the store is not started');
    if (lines.length === 0) return;
    const size = this.settings.batchSize;
    const chunks: (readonly string[])[] = [];
    for (let i = 0; i < lines.length; i += size) chunks.push(lines.length <= size ? lines : lines.slice(i, i + size));
    await Promise.all(chunks.map((c) => this.post(c)));
  }

  private async post(lines: readonly string[]): Promise<void> {
    const body = lines.join('\n');
    const started = Date.now();
    const abort = new AbortController();
    this.aborts.add(abort);
    this.lines += lines.length;
    try {
      for (let attempt = 0; ; attempt++) {
        const transport = this.transport;
        if (!transport) throw new StoreError('HATAKE_ERR_STORE_CLOSED', 'the store was stopped before InfluxDB confirmed the write');
        try {
          await transport.request(this.path, body, { method: 'POST', headers: this.headers, ...(this.gzipThreshold !== undefined ? { gzipThreshold: this.gzipThreshold } : {}), signal: abort.signal });
          this.counters.confirmed += lines.length;
          return;
        } catch (err) {
          if (abort.signal.aborted) throw new StoreError('HATAKE_ERR_STORE_CLOSED', 'the store was stopped before InfluxDB confirmed the write', { cause: err });
          const status = err instanceof HttpError ? err.statusCode : undefined;
          const reason = err instanceof HttpError ? `${err.statusCode} ${err.body || err.message}` : (err as Error).message;
          if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
            this.counters.failed += lines.length;
            throw new StoreError('HATAKE_ERR_STORE_REFUSED', `InfluxDB refused ${lines.length} line(s): ${reason}`.slice(0, 1000), { cause: err });
          }
          const delay = 200 * 2 ** attempt;
          if (attempt >= this.settings.maxRetries || Date.now() + delay - started > this.settings.maxRetryTimeMs) {
            this.counters.failed += lines.length;
            throw new StoreError('HATAKE_ERR_STORE_WRITE', `InfluxDB did not store ${lines.length} line(s) after ${attempt + 1} attempt(s): ${reason}`.slice(0, 1000), { cause: err });
          }
          this.counters.retries++;
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    } finally {
      this.lines -= lines.length;
      this.aborts.delete(abort);
    }
  }

  /** Lines written and not yet confirmed or given up. */
  get inFlight(): number {
    return this.lines;
  }

  /** Stops: requests in flight are abandoned and rejected. */
  async close(): Promise<void> {
    this.transport = undefined;
    for (const a of this.aborts) a.abort();
  }
}
