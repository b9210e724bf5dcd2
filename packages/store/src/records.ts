/**
 * What both adapters check before writing, and the InfluxDB line protocol.
 *
 * Tags (device, farm, field, kind, …) are escaped (`,` `=` and space) or,
 * when they cannot be represented faithfully (control characters, a
 * backslash, which InfluxDB 1.x cannot round-trip in a tag), refused; string
 * fields are quoted with `"` and `\` escaped; non-finite numbers are refused.
 */
import { escape } from '@influxdata/influxdb-client';
import type { DeviceKind } from '@hatake/protocol';
import { StoreError } from './errors.ts';
import { SAMPLE_FIELDS, bitsToText, nanoKey, nanoKeyText, stableHash, type FieldDef } from './fields.ts';
import type { AuditRecord, EventRecord, SampleRecord, StateRecord } from './port.ts';

// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Measurement (InfluxDB) and table (DuckDB) names. */
export const STATE_MEASUREMENT = 'device_state';
export const EVENT_MEASUREMENT = 'device_event';
export const AUDIT_MEASUREMENT = 'command_audit';

function invalid(what: string): StoreError {
  return new StoreError('HATAKE_ERR_STORE_INVALID_RECORD', what);
}

/** Checks a tag value: any text but control characters and backslashes, 1–256 characters. */
export function checkTag(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) throw invalid(`${name} must be 1 to 256 characters`);
  if (CONTROL.test(value)) throw invalid(`${name} contains a control character`);
  if (value.includes('\\')) throw invalid(`${name} contains a backslash, which InfluxDB cannot store faithfully in a tag`);
}

/** Checks a string field value. */
export function checkText(name: string, value: string): void {
  if (value.length > 64 * 1024) throw invalid(`${name} is longer than 64 KiB`);
  if (CONTROL.test(value)) throw invalid(`${name} contains a control character`);
}

function checkNumber(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${name} must be a finite number`);
}

/**
 * Tag values already found good (device, farm and field ids repeat on every sample of a fleet): checked once,
 * not per sample. Bounded; cleared when full.
 */
const goodTags = new Set<string>();
function checkTagOnce(name: string, value: string): void {
  if (goodTags.has(value)) return;
  checkTag(name, value);
  if (goodTags.size >= 100_000) goodTags.clear();
  goodTags.add(value);
}

/** Validates sample values against their stored types (both adapters call this before writing anything). */
export function checkSample(r: SampleRecord): void {
  checkTagOnce('device', r.device);
  if (r.farm !== undefined) checkTagOnce('farm', r.farm);
  if (r.field !== undefined) checkTagOnce('field', r.field);
  const s = r.sample as unknown as Record<string, unknown>;
  checkNumber('t', s['t']);
  for (const f of SAMPLE_FIELDS[r.kind]) {
    const v = s[f.name];
    if (v === undefined) {
      if (f.name === 'seq') throw invalid('seq is required');
      continue;
    }
    if (f.type === 'float' || f.type === 'int') checkNumber(f.name, v);
    else if (f.type === 'string') {
      if (typeof v !== 'string') throw invalid(`${f.name} must be a string`);
      checkText(f.name, v);
    } else if (!Array.isArray(v) || v.some((b) => typeof b !== 'boolean')) throw invalid(`${f.name} must be a list of booleans`);
  }
}

/** `name=` of each field, made once. */
const FIELD_PREFIX: Readonly<Record<string, string>> = Object.fromEntries(Object.values(SAMPLE_FIELDS).flatMap((fs) => fs.map((f) => [f.name, `${f.name}=`])));

/** A field's value as line protocol (after `name=`). */
function fieldValue(f: FieldDef, v: unknown): string {
  switch (f.type) {
    case 'int':
      return Math.trunc(v as number) + 'i';
    case 'float':
      return String(v as number);
    case 'string':
      return escape.quoted(v as string);
    case 'bits':
      return escape.quoted(bitsToText(v as boolean[]));
  }
}

function tags(pairs: readonly (readonly [string, string | undefined])[]): string {
  return pairs.filter(([, v]) => v !== undefined).map(([k, v]) => `,${k}=${escape.tag(v!)}`).join('');
}

/** Measurement and tags of a device's samples, made once per device (a hot path: every sample of a busy fleet). */
interface Series {
  readonly kind: DeviceKind;
  readonly farm: string | undefined;
  readonly field: string | undefined;
  readonly text: string;
}
const sampleSeries = new Map<string, Series>();
function sampleSeriesOf(r: SampleRecord): string {
  const known = sampleSeries.get(r.device);
  if (known !== undefined && known.kind === r.kind && known.farm === r.farm && known.field === r.field) return known.text;
  const text = `${r.kind}${tags([['device', r.device], ['farm', r.farm], ['field', r.field]])}`;
  if (sampleSeries.size >= 100_000) sampleSeries.clear();
  sampleSeries.set(r.device, { kind: r.kind, farm: r.farm, field: r.field, text });
  return text;
}

/** A sample as a line; its timestamp is the {@link nanoKey} of (t, seq). */
export function sampleLine(r: SampleRecord): string {
  const s = r.sample as unknown as Record<string, unknown>;
  let line = sampleSeriesOf(r);
  let sep = ' ';
  for (const f of SAMPLE_FIELDS[r.kind]) {
    const v = s[f.name];
    if (v === undefined) continue;
    line += sep + FIELD_PREFIX[f.name]! + fieldValue(f, v);
    sep = ',';
  }
  return line + ' ' + nanoKeyText(s['t'] as number, s['seq'] as number);
}

/** Key of a state: one per device per millisecond. */
export function stateKey(r: StateRecord): bigint {
  return nanoKey(r.t, 0);
}

export function checkState(r: StateRecord): void {
  checkTag('device', r.device);
  if (r.farm !== undefined) checkTag('farm', r.farm);
  checkNumber('t', r.t);
  for (const k of ['mode', 'firmware', 'reason'] as const) {
    const v = r.state[k];
    if (v !== undefined) checkText(k, v);
  }
}

export function stateLine(r: StateRecord): string {
  const st = r.state;
  const fields = [`online=${st.online ? 'true' : 'false'}`];
  if (st.mode !== undefined) fields.push(`mode=${escape.quoted(st.mode)}`);
  if (st.firmware !== undefined) fields.push(`firmware=${escape.quoted(st.firmware)}`);
  if (st.reason !== undefined) fields.push(`reason=${escape.quoted(st.reason)}`);
  return `${STATE_MEASUREMENT}${tags([['device', r.device], ['kind', r.kind], ['farm', r.farm]])} ${fields.join(',')} ${stateKey(r)}`;
}

/** Key of an event: its time plus a hash of what it is, so distinct events of one millisecond do not overwrite each other. */
export function eventKey(r: EventRecord): bigint {
  const e = r.event;
  return nanoKey(e.t, stableHash(`${e.type}|${e.severity}|${e.message ?? ''}|${e.seq ?? ''}`));
}

export function checkEvent(r: EventRecord): void {
  checkTag('device', r.device);
  if (r.farm !== undefined) checkTag('farm', r.farm);
  checkNumber('t', r.event.t);
  if (r.event.message !== undefined) checkText('message', r.event.message);
  for (const [k, v] of Object.entries(r.event.data ?? {})) {
    checkText('data key', k);
    if (typeof v === 'number') checkNumber(`data.${k}`, v);
    if (typeof v === 'string') checkText(`data.${k}`, v);
  }
}

export function eventLine(r: EventRecord): string {
  const e = r.event;
  const fields = [`message=${escape.quoted(e.message ?? '')}`];
  if (e.seq !== undefined) fields.push(`seq=${Math.trunc(e.seq)}i`);
  if (e.lat !== undefined && e.lon !== undefined) fields.push(`lat=${e.lat}`, `lon=${e.lon}`);
  if (e.data !== undefined) fields.push(`data=${escape.quoted(JSON.stringify(e.data))}`);
  return `${EVENT_MEASUREMENT}${tags([['device', r.device], ['kind', r.kind], ['farm', r.farm], ['type', e.type], ['severity', e.severity]])} ${fields.join(',')} ${eventKey(r)}`;
}

/** Key of an audit entry: one per command and status. */
export function auditKey(r: AuditRecord): bigint {
  return nanoKey(r.t, stableHash(`${r.commandId}|${r.status}`));
}

export function checkAudit(r: AuditRecord): void {
  checkTag('device', r.device);
  checkTag('status', r.status);
  checkNumber('t', r.t);
  checkText('commandId', r.commandId);
  checkText('issuer', r.issuer);
  checkText('type', r.type);
  if (r.reason !== undefined) checkText('reason', r.reason);
  if (r.latencyMs !== undefined) checkNumber('latencyMs', r.latencyMs);
}

export function auditLine(r: AuditRecord): string {
  const fields = [`command=${escape.quoted(r.commandId)}`, `issuer=${escape.quoted(r.issuer)}`, `type=${escape.quoted(r.type)}`];
  if (r.reason !== undefined) fields.push(`reason=${escape.quoted(r.reason)}`);
  if (r.latencyMs !== undefined) fields.push(`latency_ms=${r.latencyMs}`);
  return `${AUDIT_MEASUREMENT}${tags([['device', r.device], ['kind', r.kind], ['status', r.status]])} ${fields.join(',')} ${auditKey(r)}`;
}

/** Checks every record first: a batch is written whole or not at all. */
export function checkAll<T>(records: readonly T[], check: (r: T) => void): void {
  records.forEach((r, i) => {
    try {
      check(r);
    } catch (err) {
      if (err instanceof StoreError) throw new StoreError(err.code, `record ${i}: ${err.message}`);
      throw err;
    }
  });
}

/** The kinds, for iterating tables and measurements. */
export const KINDS: readonly DeviceKind[] = ['tractor', 'plow', 'sensor'];
