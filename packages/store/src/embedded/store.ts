/**
 * The `embedded` adapter: one DuckDB file in the data directory — the
 * zero-setup default for one farm. The same data model as InfluxDB (a table
 * per device kind plus states, events and the command audit), keyed by
 * (device, ts) with the same nanosecond keys, written with INSERT OR REPLACE
 * so a record written twice is stored once, as in InfluxDB.
 *
 * DuckDB allows one process to open a file for writing, so the embedded store
 * serves ingest and gateway running in one process (the demo); separate
 * processes need the `influx` adapter.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type { DeviceKind } from '@hatake/protocol';
import type { Logger } from '@hatake/runtime';
import { StoreError } from '../errors.ts';
import { SAMPLE_FIELDS, bitsToText, fieldsToRead, isNumeric, type FieldType } from '../fields.ts';
import { auditFromRow, eventFromRow, mergeLatest, sampleFromRow } from '../rows.ts';
import type { AuditQuery, AuditRecord, BucketRow, EventQuery, EventRecord, EventRow, LatestRow, SampleQuery, SampleRecord, SampleRow, StateRecord, TelemetryStore } from '../port.ts';
import {
  AUDIT_MEASUREMENT,
  EVENT_MEASUREMENT,
  KINDS,
  STATE_MEASUREMENT,
  auditKey,
  checkAll,
  checkAudit,
  checkEvent,
  checkSample,
  checkState,
  eventKey,
  stateKey,
} from '../records.ts';
import { nanoKey } from '../fields.ts';

type Sql = 'BIGINT' | 'DOUBLE' | 'VARCHAR' | 'BOOLEAN';
interface Column {
  readonly name: string;
  readonly sql: Sql;
}

const SQL_OF: Record<FieldType, Sql> = { float: 'DOUBLE', int: 'BIGINT', string: 'VARCHAR', bits: 'VARCHAR' };
const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

const KEY: Column[] = [
  { name: 'ts', sql: 'BIGINT' },
  { name: 'device', sql: 'VARCHAR' },
];

const TABLES: Readonly<Record<string, readonly Column[]>> = {
  ...Object.fromEntries(KINDS.map((k) => [k, [...KEY, { name: 'farm', sql: 'VARCHAR' }, { name: 'field', sql: 'VARCHAR' }, ...SAMPLE_FIELDS[k].map((f) => ({ name: f.name, sql: SQL_OF[f.type] }))]])),
  [STATE_MEASUREMENT]: [...KEY, ...(['kind', 'farm'] as const).map((name) => ({ name, sql: 'VARCHAR' as const })), { name: 'online', sql: 'BOOLEAN' }, ...(['mode', 'firmware', 'reason'] as const).map((name) => ({ name, sql: 'VARCHAR' as const }))],
  [EVENT_MEASUREMENT]: [
    ...KEY,
    ...(['kind', 'farm', 'type', 'severity', 'message'] as const).map((name) => ({ name, sql: 'VARCHAR' as const })),
    { name: 'seq', sql: 'BIGINT' },
    { name: 'lat', sql: 'DOUBLE' },
    { name: 'lon', sql: 'DOUBLE' },
    { name: 'data', sql: 'VARCHAR' },
  ],
  [AUDIT_MEASUREMENT]: [...KEY, ...(['kind', 'status', 'command', 'issuer', 'type', 'reason'] as const).map((name) => ({ name, sql: 'VARCHAR' as const })), { name: 'latency_ms', sql: 'DOUBLE' }],
};

type Row = Record<string, unknown>;

function append(a: DuckDBAppender, col: Column, v: unknown): void {
  if (v === undefined || v === null) {
    a.appendNull();
    return;
  }
  switch (col.sql) {
    case 'BIGINT':
      a.appendBigInt(typeof v === 'bigint' ? v : BigInt(Math.trunc(v as number)));
      break;
    case 'DOUBLE':
      a.appendDouble(v as number);
      break;
    case 'BOOLEAN':
      a.appendBoolean(v as boolean);
      break;
    case 'VARCHAR':
      a.appendVarchar(v as string);
  }
}

/** DuckDB values to plain JSON-able JS (BIGINT → number, NULL → absent). */
function plain(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === 'bigint' ? Number(v) : v;
  }
  return out;
}


/** Serialises work on one DuckDB connection. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export class EmbeddedStore implements TelemetryStore {
  readonly adapter = 'embedded' as const;
  private readonly path: string;
  private readonly log: Logger;
  private instance: DuckDBInstance | undefined;
  private writer: DuckDBConnection | undefined;
  private reader: DuckDBConnection | undefined;
  private closing = false;
  private readonly writes = new Serial();
  private readonly reads = new Serial();

  /** `path` is a file, or ':memory:' for tests. */
  constructor(path: string, deps: { logger: Logger }) {
    this.path = path;
    this.log = deps.logger.child({ component: 'store', adapter: 'embedded' });
  }

  async start(): Promise<void> {
    try {
      if (this.path !== ':memory:') await mkdir(dirname(this.path), { recursive: true });
      this.instance = await DuckDBInstance.create(this.path);
      this.writer = await this.instance.connect();
      this.reader = await this.instance.connect();
      for (const [table, cols] of Object.entries(TABLES)) {
        const defs = cols.map((c) => `${q(c.name)} ${c.sql}${c.name === 'ts' || c.name === 'device' ? ' NOT NULL' : ''}`).join(', ');
        await this.writer.run(`CREATE TABLE IF NOT EXISTS ${q(table)} (${defs}, PRIMARY KEY (device, ts))`);
        await this.writer.run(`CREATE OR REPLACE TEMP TABLE ${q(`stage_${table}`)} AS SELECT * FROM ${q(table)} LIMIT 0`);
      }
    } catch (err) {
      throw new StoreError('HATAKE_ERR_STORE_SETUP', `cannot open the embedded store at ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    this.log.info({ path: this.path }, 'embedded store open');
  }

  async stop(): Promise<void> {
    const writer = this.writer;
    if (!writer || this.closing) return;
    // from here on, new work is refused as closed rather than failing on a closed connection
    this.closing = true;
    await this.writes.run(async () => {
      await writer.run('CHECKPOINT').catch(() => undefined);
    });
    await this.reads.run(async () => undefined);
    this.writer = undefined;
    this.reader?.closeSync();
    this.reader = undefined;
    writer.closeSync();
    this.instance?.closeSync();
    this.instance = undefined;
    this.closing = false;
  }

  async health(): Promise<string | undefined> {
    return this.writer ? undefined : 'embedded store is closed';
  }

  private connections(): { writer: DuckDBConnection; reader: DuckDBConnection } {
    if (!this.writer || !this.reader || this.closing) throw new StoreError('HATAKE_ERR_STORE_CLOSED', 'the store is not started');
    return { writer: this.writer, reader: this.reader };
  }

  /** Appends rows to the table's staging table and merges them in, in one transaction. */
  private write(table: string, rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    let writer: DuckDBConnection;
    try {
      writer = this.connections().writer;
    } catch (err) {
      return Promise.reject(err);
    }
    const cols = TABLES[table]!;
    const stage = `stage_${table}`;
    return this.writes.run(async () => {
      try {
        const a = await writer.createAppender(stage, 'main', 'temp');
        for (const row of rows) {
          for (const c of cols) append(a, c, row[c.name]);
          a.endRow();
        }
        a.closeSync();
        await writer.run('BEGIN TRANSACTION');
        // of one key written twice in a batch the last wins, as in InfluxDB
        await writer.run(`INSERT OR REPLACE INTO ${q(table)} SELECT * EXCLUDE (r) FROM (SELECT *, row_number() OVER (PARTITION BY device, ts ORDER BY rowid DESC) AS r FROM temp.${q(stage)}) WHERE r = 1`);
        await writer.run('COMMIT');
      } catch (err) {
        await writer.run('ROLLBACK').catch(() => undefined);
        throw new StoreError('HATAKE_ERR_STORE_WRITE', `embedded store write to ${table} failed: ${(err as Error).message}`, { cause: err });
      } finally {
        await writer.run(`DELETE FROM temp.${q(stage)}`).catch(() => undefined);
      }
    });
  }

  async writeSamples(records: readonly SampleRecord[]): Promise<void> {
    checkAll(records, checkSample);
    const byKind = new Map<DeviceKind, Row[]>();
    for (const r of records) {
      const s = r.sample as unknown as Row;
      const row: Row = { ...s, ts: nanoKey(s['t'] as number, s['seq'] as number), device: r.device, farm: r.farm, field: r.field };
      for (const f of SAMPLE_FIELDS[r.kind]) if (f.type === 'bits' && Array.isArray(s[f.name])) row[f.name] = bitsToText(s[f.name] as boolean[]);
      const list = byKind.get(r.kind);
      if (list) list.push(row);
      else byKind.set(r.kind, [row]);
    }
    for (const [kind, rows] of byKind) await this.write(kind, rows);
  }

  async writeStates(records: readonly StateRecord[]): Promise<void> {
    checkAll(records, checkState);
    await this.write(
      STATE_MEASUREMENT,
      records.map((r) => ({ ts: stateKey(r), device: r.device, kind: r.kind, farm: r.farm, online: r.state.online, mode: r.state.mode, firmware: r.state.firmware, reason: r.state.reason })),
    );
  }

  async writeEvents(records: readonly EventRecord[]): Promise<void> {
    checkAll(records, checkEvent);
    await this.write(
      EVENT_MEASUREMENT,
      records.map((r) => ({
        ts: eventKey(r),
        device: r.device,
        kind: r.kind,
        farm: r.farm,
        type: r.event.type,
        severity: r.event.severity,
        message: r.event.message ?? '',
        seq: r.event.seq,
        lat: r.event.lat,
        lon: r.event.lon,
        data: r.event.data === undefined ? undefined : JSON.stringify(r.event.data),
      })),
    );
  }

  async writeAudit(records: readonly AuditRecord[]): Promise<void> {
    checkAll(records, checkAudit);
    await this.write(
      AUDIT_MEASUREMENT,
      records.map((r) => ({ ts: auditKey(r), device: r.device, kind: r.kind, status: r.status, command: r.commandId, issuer: r.issuer, type: r.type, reason: r.reason, latency_ms: r.latencyMs })),
    );
  }

  private async select(sql: string, params: Record<string, string | number | bigint>): Promise<Row[]> {
    const { reader } = this.connections();
    return this.reads.run(async () => {
      try {
        const result = await reader.runAndReadAll(sql, params);
        return result.getRowObjectsJS().map((r) => plain(r as Row));
      } catch (err) {
        throw new StoreError('HATAKE_ERR_STORE_QUERY', `embedded store query failed: ${(err as Error).message}`, { cause: err });
      }
    });
  }

  async samples(query: SampleQuery): Promise<SampleRow[] | BucketRow[]> {
    const params = { device: query.device, from: BigInt(Math.trunc(query.from)) * 1_000_000n, to: BigInt(Math.trunc(query.to)) * 1_000_000n, limit: Math.trunc(query.limit) };
    const where = 'WHERE device = $device AND ts >= $from AND ts < $to';
    if (query.every === undefined) {
      const columns = query.fields ? fieldsToRead(query.kind, query.fields).map(q).join(', ') : '*';
      const rows = await this.select(`SELECT ts // 1000000 AS t, ${columns} FROM ${q(query.kind)} ${where} ORDER BY ts LIMIT $limit`, params);
      return rows.map((r) => sampleFromRow(query.kind, r));
    }
    const every = BigInt(Math.trunc(query.every));
    const fields = SAMPLE_FIELDS[query.kind].filter((f) => f.name !== 'seq');
    const select = fields.map((f) => (isNumeric(f) ? `avg(${q(f.name)}) AS ${q(f.name)}` : `arg_max(${q(f.name)}, ts) FILTER (WHERE ${q(f.name)} IS NOT NULL) AS ${q(f.name)}`)).join(', ');
    const rows = await this.select(
      `SELECT ((ts // 1000000) // ${every}) * ${every} AS t, count(*) AS n, ${select} FROM ${q(query.kind)} ${where} GROUP BY 1 ORDER BY 1 LIMIT $limit`,
      params,
    );
    return rows.map((r) => {
      const row = sampleFromRow(query.kind, r) as Row;
      return { ...row, n: r['n'] } as BucketRow;
    });
  }

  async latest(devices?: readonly string[]): Promise<LatestRow[]> {
    if (devices && devices.length === 0) return [];
    const filter = devices ? `WHERE device IN (SELECT unnest(string_split($devices, chr(31))))` : '';
    const params: Record<string, string> = devices ? { devices: devices.join('\u001f') } : {};
    const samples: { device: string; kind: DeviceKind; row: Row }[] = [];
    for (const kind of KINDS) {
      const rows = await this.select(`SELECT ts // 1000000 AS t, * FROM ${q(kind)} ${filter} QUALIFY row_number() OVER (PARTITION BY device ORDER BY ts DESC) = 1`, params);
      for (const row of rows) samples.push({ device: row['device'] as string, kind, row });
    }
    const states = await this.select(`SELECT ts // 1000000 AS t, * FROM ${q(STATE_MEASUREMENT)} ${filter} QUALIFY row_number() OVER (PARTITION BY device ORDER BY ts DESC) = 1`, params);
    return mergeLatest(samples, states);
  }

  async events(query: EventQuery): Promise<EventRow[]> {
    if (query.devices && query.devices.length === 0) return [];
    let filter = query.devices ? ' AND device IN (SELECT unnest(string_split($devices, chr(31))))' : '';
    const params: Record<string, string | number | bigint> = { from: BigInt(Math.trunc(query.from)) * 1_000_000n, to: BigInt(Math.trunc(query.to)) * 1_000_000n, limit: Math.trunc(query.limit) };
    if (query.devices) params['devices'] = query.devices.join('\u001f');
    if (query.scope) {
      const parts: string[] = [];
      if (query.scope.farms === '*') parts.push('farm IS NOT NULL');
      else if (query.scope.farms.length > 0) {
        parts.push('farm IN (SELECT unnest(string_split($farms, chr(31))))');
        params['farms'] = query.scope.farms.join('\u001f');
      }
      if (query.scope.farmless) parts.push('farm IS NULL');
      filter += parts.length === 0 ? ' AND false' : ` AND (${parts.join(' OR ')})`;
    }
    const rows = await this.select(`SELECT ts // 1000000 AS t, * FROM ${q(EVENT_MEASUREMENT)} WHERE ts >= $from AND ts < $to${filter} ORDER BY ts LIMIT $limit`, params);
    return rows.map(eventFromRow);
  }

  async audit(query: AuditQuery): Promise<AuditRecord[]> {
    let where = 'WHERE ts >= $from AND ts < $to';
    const params: Record<string, string | number | bigint> = { from: BigInt(Math.trunc(query.from)) * 1_000_000n, to: BigInt(Math.trunc(query.to)) * 1_000_000n, limit: Math.trunc(query.limit) };
    if (query.device !== undefined) {
      where += ' AND device = $device';
      params['device'] = query.device;
    }
    if (query.commandId !== undefined) {
      where += ' AND command = $command';
      params['command'] = query.commandId;
    }
    const rows = await this.select(`SELECT ts // 1000000 AS t, * FROM ${q(AUDIT_MEASUREMENT)} ${where} ORDER BY ts LIMIT $limit`, params);
    return rows.map(auditFromRow);
  }
}
