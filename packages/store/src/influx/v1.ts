/**
 * Speaking InfluxDB's v1 HTTP API — `/write` and `/query`, which InfluxDB 1.x
 * serves natively and 2.x (v1 compatibility, DBRP mappings) and 3.x serve too.
 * Writes: writer.ts (through the client library's Node transport). Reads:
 * InfluxQL over `/query`.
 */
import type { InfluxConfig } from '@hatake/config';
import { StoreError } from '../errors.ts';

/** The Authorization header for the configured credentials: Basic (1.x users) or Token (2.x/3.x). */
export function authHeader(settings: Pick<InfluxConfig, 'username' | 'password' | 'token'>): Record<string, string> {
  if (settings.token) return { Authorization: `Token ${settings.token}` };
  if (settings.username) return { Authorization: `Basic ${Buffer.from(`${settings.username}:${settings.password ?? ''}`).toString('base64')}` };
  return {};
}

/** Whether a URL's host is this machine (localhost, 127.0.0.0/8, ::1). */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]' || host === '::1';
}

/**
 * Whether bodies to and from InfluxDB are gzipped (`store.influx.gzip`): `auto` only when it is on another machine —
 * on loopback compressing costs both sides CPU and saves nothing (fetch asks for gzipped answers unless told not to,
 * and influxd obliges: a day's track read took 240 ms gzipped, 145 ms plain).
 */
export function compresses(settings: Pick<InfluxConfig, 'url' | 'gzip'>): boolean {
  return settings.gzip === 'always' || (settings.gzip === 'auto' && !isLoopbackUrl(settings.url));
}

/** An InfluxQL string literal. */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** An InfluxQL identifier. */
export function ident(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export interface InfluxSeries {
  readonly name: string;
  readonly tags?: Record<string, string>;
  readonly columns: string[];
  readonly values: unknown[][];
}

interface QueryResponse {
  readonly results?: { readonly statement_id: number; readonly series?: InfluxSeries[]; readonly error?: string }[];
  readonly error?: string;
}

/** Runs InfluxQL statements; returns each statement's series. Times come back as epoch milliseconds. */
export async function influxQuery(settings: InfluxConfig, q: string, opts: { method?: 'GET' | 'POST'; db?: boolean } = {}): Promise<InfluxSeries[][]> {
  // (InfluxDB 1.x answers SELECT and SHOW over POST as over GET)
  const params = new URLSearchParams({ q, epoch: 'ms' });
  if (opts.db !== false) params.set('db', settings.database);
  // POST: device lists can make a query longer than a URL may be
  const method = opts.method ?? 'POST';
  const url = `${settings.url.replace(/\/$/, '')}/query${method === 'GET' ? `?${params.toString()}` : ''}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method,
      headers: { ...authHeader(settings), 'accept-encoding': compresses(settings) ? 'gzip' : 'identity', ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(method === 'POST' ? { body: params.toString() } : {}),
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    // the timeout covers the body too: a long answer can be cut off while it is read
    text = await res.text();
  } catch (err) {
    throw new StoreError('HATAKE_ERR_STORE_QUERY', `InfluxDB at ${settings.url} did not answer in full within ${settings.timeoutMs} ms: ${(err as Error).message}`, { cause: err });
  }
  let body: QueryResponse;
  try {
    body = JSON.parse(text) as QueryResponse;
  } catch {
    throw new StoreError('HATAKE_ERR_STORE_QUERY', `InfluxDB answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok || body.error) throw new StoreError('HATAKE_ERR_STORE_QUERY', `InfluxDB refused the query (${res.status}): ${body.error ?? 'no reason given'}`);
  return (body.results ?? []).map((r) => {
    if (r.error) throw new StoreError('HATAKE_ERR_STORE_QUERY', `InfluxDB refused statement ${r.statement_id}: ${r.error}`);
    return r.series ?? [];
  });
}

/** Rows of a series as objects (null values omitted). */
export function rowsOf(series: InfluxSeries): Record<string, unknown>[] {
  return series.values.map((values) => {
    const row: Record<string, unknown> = { ...series.tags };
    series.columns.forEach((c, i) => {
      const v = values[i];
      if (v !== null && v !== undefined) row[c] = v;
    });
    return row;
  });
}
