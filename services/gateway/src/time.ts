/**
 * Time parameters of the REST API.
 */
import { GatewayError } from './errors.ts';

/** ISO 8601 (with a zone) or epoch milliseconds → ms. */
export function parseTime(name: string, value: string): number {
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t)) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `${name} is not a time (ISO 8601 with a zone, e.g. 2026-11-23T10:00:00Z, or epoch milliseconds)`);
  return t;
}

/** Times the stores can hold (InfluxDB's nanosecond timestamps end in 2262). */
const EARLIEST = 0;
const LATEST = Date.UTC(2200, 0, 1);

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** '10s' → 10000. */
export function parseDuration(value: string): number {
  const m = /^([1-9]\d{0,9})(ms|s|m|h|d)$/.exec(value);
  if (!m) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `every must be a duration like 500ms, 10s, 5m, 1h, 1d (got ${JSON.stringify(value.slice(0, 20))})`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** Resolves and checks a [from, to) window: from < to, within `maxRangeDays`. */
export function timeWindow(q: { from?: string; to?: string }, now: number, defaults: { rangeMinutes: number; maxRangeDays: number }): { from: number; to: number } {
  const problems: string[] = [];
  let to = now;
  let from: number | undefined;
  try {
    if (q.to !== undefined) to = parseTime('to', q.to);
  } catch (err) {
    problems.push((err as Error).message);
  }
  try {
    if (q.from !== undefined) from = parseTime('from', q.from);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length > 0) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', problems.join('; '), problems);
  from ??= to - defaults.rangeMinutes * 60_000;
  for (const [name, t] of [['from', from], ['to', to]] as const) {
    if (t < EARLIEST || t > LATEST) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `${name} is outside the times hatake stores (1970-01-01 to 2200-01-01)`);
  }
  if (from >= to) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', 'from must be before to');
  if (to - from > defaults.maxRangeDays * 86_400_000) {
    throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `the range is longer than ${defaults.maxRangeDays} days: ask for less, or page with from/to`);
  }
  return { from, to };
}
