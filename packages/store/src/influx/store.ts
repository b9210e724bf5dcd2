/**
 * The `influx` adapter: InfluxDB over the v1 HTTP API (1.x, 2.x v1
 * compatibility, 3.x). One measurement per device kind (`tractor`, `plow`,
 * `sensor`) tagged with device, farm and field; `device_state`,
 * `device_event` and `command_audit` beside them. Times are nanosecond keys
 * (device ms + a sub-ms discriminator, see fields.ts) so a sample written
 * twice is stored once.
 */
import { setLogger } from '@influxdata/influxdb-client';
import type { InfluxConfig } from '@hatake/config';
import type { Logger } from '@hatake/runtime';
import type { DeviceKind } from '@hatake/protocol';
import { SAMPLE_FIELDS, fieldsToRead, isNumeric, textToBits } from '../fields.ts';
import { auditFromRow, eventFromRow, mergeLatest, type Row } from '../rows.ts';
import type { AuditQuery, AuditRecord, BucketRow, EventQuery, EventRecord, EventRow, LatestRow, SampleQuery, SampleRecord, SampleRow, StateRecord, TelemetryStore } from '../port.ts';
import {
  AUDIT_MEASUREMENT,
  EVENT_MEASUREMENT,
  KINDS,
  STATE_MEASUREMENT,
  auditLine,
  checkAll,
  checkAudit,
  checkEvent,
  checkSample,
  checkState,
  eventLine,
  sampleLine,
  stateLine,
} from '../records.ts';
import { ident, influxQuery, literal, rowsOf, type InfluxSeries } from './v1.ts';
import { DurableWriter } from './writer.ts';


function deviceFilter(devices: readonly string[] | undefined): string {
  if (!devices) return '';
  if (devices.length === 0) return ' AND false';
  return ` AND (${devices.map((d) => `"device" = ${literal(d)}`).join(' OR ')})`;
}

/** Farms (and farmless devices) as a tag condition: a missing tag compares equal to ''. */
function scopeFilter(scope: EventQuery['scope']): string {
  if (!scope) return '';
  const parts: string[] = [];
  if (scope.farms === '*') parts.push(`"farm" != ''`);
  else for (const f of scope.farms) parts.push(`"farm" = ${literal(f)}`);
  if (scope.farmless) parts.push(`"farm" = ''`);
  return parts.length === 0 ? ' AND false' : ` AND (${parts.join(' OR ')})`;
}

/** InfluxDB rows with their time (ms) under `t`, as the shared row mapping expects. */
function rowsWithT(series: InfluxSeries): Row[] {
  return rowsOf(series).map((r) => ({ ...r, t: r['time'] }));
}

/**
 * A series of raw samples as the port's rows in one pass, each row built once
 * straight from its columns (what `sampleFromRow` in rows.ts gives, without the
 * intermediate objects: a day's track is 86,400 rows).
 */
function samplesOf(kind: DeviceKind, series: InfluxSeries): SampleRow[] {
  const time = series.columns.indexOf('time');
  const cols: { readonly name: string; readonly at: number; readonly bits: boolean }[] = [];
  for (const f of SAMPLE_FIELDS[kind]) {
    const at = series.columns.indexOf(f.name);
    if (at >= 0) cols.push({ name: f.name, at, bits: f.type === 'bits' });
  }
  const values = series.values;
  const out = new Array<SampleRow>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as unknown[];
    const row: Record<string, unknown> = { t: v[time] };
    for (const c of cols) {
      const x = v[c.at];
      if (x !== null && x !== undefined) row[c.name] = c.bits ? textToBits(x as string) : x;
    }
    out[i] = row as SampleRow;
  }
  return out;
}

/** Raw reads over a window this long or longer are made as two queries at once. */
const PARALLEL_READ_MS = 2 * 3_600_000;
/** How many queries such a read is made of. */
const READ_PARTS = 2;

export class InfluxStore implements TelemetryStore {
  readonly adapter = 'influx' as const;
  private readonly settings: InfluxConfig;
  private readonly log: Logger;
  private readonly writer: DurableWriter;
  private readonly from: (measurement: string) => string;

  constructor(settings: InfluxConfig, deps: { logger: Logger }) {
    this.settings = settings;
    this.log = deps.logger.child({ component: 'store', adapter: 'influx' });
    this.writer = new DurableWriter(settings);
    this.from = (m) => `${ident(settings.database)}.${ident(settings.retentionPolicy)}.${ident(m)}`;
  }

  /** Counters of what InfluxDB confirmed, gave up and retried. */
  get counters(): DurableWriter['counters'] {
    return this.writer.counters;
  }

  /** Lines waiting for InfluxDB's confirmation. */
  get inFlight(): number {
    return this.writer.inFlight;
  }

  async start(): Promise<void> {
    const s = this.settings;
    if (s.createDatabase) {
      try {
        await influxQuery(s, `CREATE DATABASE ${ident(s.database)}`, { method: 'POST', db: false });
        const rps = (await influxQuery(s, `SHOW RETENTION POLICIES ON ${ident(s.database)}`))[0]?.[0];
        const exists = rps ? rowsOf(rps).some((r) => r['name'] === s.retentionPolicy) : false;
        if (!exists) {
          const duration = s.retentionDays === 0 ? 'INF' : `${s.retentionDays}d`;
          await influxQuery(s, `CREATE RETENTION POLICY ${ident(s.retentionPolicy)} ON ${ident(s.database)} DURATION ${duration} REPLICATION 1 DEFAULT`, { method: 'POST', db: false });
          this.log.info({ database: s.database, retentionPolicy: s.retentionPolicy, duration }, 'created retention policy');
        }
      } catch (err) {
        // without admin rights (or on 2.x/3.x) the database and policy must exist already
        this.log.warn({ err: { message: (err as Error).message }, database: s.database }, 'could not create database or retention policy; using them as they are');
      }
    }
    // the client library logs to the console by default; its failures are ours to report (DurableWriter)
    const libLog = this.log.child({ component: 'influxdb-client' });
    setLogger({ error: (message, err) => libLog.debug({ err: { message: (err as Error | undefined)?.message } }, message), warn: (message, err) => libLog.debug({ err: { message: (err as Error | undefined)?.message } }, message) });
    this.writer.open();
  }

  async stop(): Promise<void> {
    await this.writer.close();
  }

  async health(): Promise<string | undefined> {
    try {
      const res = await fetch(`${this.settings.url.replace(/\/$/, '')}/ping`, { signal: AbortSignal.timeout(2000) });
      return res.status === 204 || res.status === 200 ? undefined : `InfluxDB /ping answered ${res.status}`;
    } catch (err) {
      return `InfluxDB at ${this.settings.url} does not answer: ${(err as Error).message}`;
    }
  }

  /** Checks a batch whole, then writes its lines; resolves when InfluxDB has confirmed them. */
  private writeChecked<T>(records: readonly T[], check: (r: T) => void, line: (r: T) => string): Promise<void> {
    try {
      checkAll(records, check);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writer.write(records.map(line));
  }

  writeSamples(records: readonly SampleRecord[]): Promise<void> {
    return this.writeChecked(records, checkSample, sampleLine);
  }

  writeStates(records: readonly StateRecord[]): Promise<void> {
    return this.writeChecked(records, checkState, stateLine);
  }

  writeEvents(records: readonly EventRecord[]): Promise<void> {
    return this.writeChecked(records, checkEvent, eventLine);
  }

  writeAudit(records: readonly AuditRecord[]): Promise<void> {
    return this.writeChecked(records, checkAudit, auditLine);
  }

  async samples(q: SampleQuery): Promise<SampleRow[] | BucketRow[]> {
    const where = `WHERE "device" = ${literal(q.device)} AND time >= ${Math.trunc(q.from)}ms AND time < ${Math.trunc(q.to)}ms`;
    if (q.every === undefined) {
      const names = q.fields ? fieldsToRead(q.kind, q.fields).map(ident) : undefined;
      const select = names ? names.join(', ') : '*';
      const read = async (from: number, to: number): Promise<SampleRow[]> => {
        const w = `WHERE "device" = ${literal(q.device)} AND time >= ${Math.trunc(from)}ms AND time < ${Math.trunc(to)}ms`;
        const series = (await influxQuery(this.settings, `SELECT ${select} FROM ${this.from(q.kind)} ${w} ORDER BY time ASC LIMIT ${q.limit}`))[0] ?? [];
        return series.flatMap((one) => samplesOf(q.kind, one));
      };
      // a long window in parts at once: influxd answers each on a core of its own
      if (q.to - q.from < PARALLEL_READ_MS) return read(q.from, q.to);
      const step = (q.to - q.from) / READ_PARTS;
      const cuts = Array.from({ length: READ_PARTS + 1 }, (_, k) => (k === READ_PARTS ? q.to : Math.trunc(q.from + k * step)));
      const parts = await Promise.all(cuts.slice(1).map((to, k) => read(cuts[k]!, to)));
      const out: SampleRow[] = [];
      for (const part of parts) {
        for (const row of part) {
          if (out.length >= q.limit) return out;
          out.push(row);
        }
      }
      return out;
    }
    const fields = SAMPLE_FIELDS[q.kind].filter((f) => f.name !== 'seq');
    const select = [
      'count("seq") AS "n"',
      ...fields.map((f) => (isNumeric(f) ? `mean(${ident(f.name)}) AS ${ident(f.name)}` : `last(${ident(f.name)}) AS ${ident(f.name)}`)),
    ].join(', ');
    const series = (await influxQuery(this.settings, `SELECT ${select} FROM ${this.from(q.kind)} ${where} GROUP BY time(${Math.trunc(q.every)}ms) fill(none) LIMIT ${q.limit}`))[0] ?? [];
    // the bucket's fields as a raw sample's (seq is not selected), plus its count
    return series.flatMap((one) => {
      const n = one.columns.indexOf('n');
      return samplesOf(q.kind, one).map((row, i) => ({ ...row, n: (one.values[i] as unknown[])[n] }) as BucketRow);
    });
  }

  async latest(devices?: readonly string[]): Promise<LatestRow[]> {
    const filter = devices ? `WHERE true${deviceFilter(devices)} ` : '';
    const statements = [...KINDS.map((k) => `SELECT * FROM ${this.from(k)} ${filter}GROUP BY "device" ORDER BY time DESC LIMIT 1`), `SELECT * FROM ${this.from(STATE_MEASUREMENT)} ${filter}GROUP BY "device" ORDER BY time DESC LIMIT 1`];
    const results = await influxQuery(this.settings, statements.join('; '));
    const samples = KINDS.flatMap((kind, i) =>
      (results[i] ?? []).flatMap((series) => {
        const row = rowsWithT(series)[0];
        const device = series.tags?.['device'];
        return row && device ? [{ device, kind, row }] : [];
      }),
    );
    const states = (results[KINDS.length] ?? []).flatMap((series) => {
      const row = rowsWithT(series)[0];
      return row ? [row] : [];
    });
    return mergeLatest(samples, states);
  }

  async events(q: EventQuery): Promise<EventRow[]> {
    const series = (await influxQuery(this.settings, `SELECT * FROM ${this.from(EVENT_MEASUREMENT)} WHERE time >= ${Math.trunc(q.from)}ms AND time < ${Math.trunc(q.to)}ms${deviceFilter(q.devices)}${scopeFilter(q.scope)} ORDER BY time ASC LIMIT ${q.limit}`))[0] ?? [];
    return series.flatMap(rowsWithT).map(eventFromRow);
  }

  async audit(q: AuditQuery): Promise<AuditRecord[]> {
    let where = `WHERE time >= ${Math.trunc(q.from)}ms AND time < ${Math.trunc(q.to)}ms`;
    if (q.device !== undefined) where += ` AND "device" = ${literal(q.device)}`;
    if (q.commandId !== undefined) where += ` AND "command" = ${literal(q.commandId)}`;
    const series = (await influxQuery(this.settings, `SELECT * FROM ${this.from(AUDIT_MEASUREMENT)} ${where} ORDER BY time ASC LIMIT ${q.limit}`))[0] ?? [];
    return series.flatMap(rowsWithT).map(auditFromRow);
  }
}

