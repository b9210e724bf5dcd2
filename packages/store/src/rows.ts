/**
 * Rows as both databases give them back (time as `t` in ms, absent values
 * omitted), turned into the port's records — one mapping for both adapters.
 */
import type { DeviceKind } from '@hatake/protocol';
import { SAMPLE_FIELDS, textToBits } from './fields.ts';
import type { AuditRecord, EventRow, LatestRow, SampleRow } from './port.ts';

export type Row = Readonly<Record<string, unknown>>;

/** A stored sample: `t` and every field the kind has (bits back to booleans). */
export function sampleFromRow(kind: DeviceKind, row: Row): SampleRow {
  const out: Record<string, unknown> = { t: row['t'] };
  for (const f of SAMPLE_FIELDS[kind]) {
    const v = row[f.name];
    if (v === undefined) continue;
    out[f.name] = f.type === 'bits' ? textToBits(String(v)) : v;
  }
  return out as SampleRow;
}

/** A stored state. */
export function stateFromRow(row: Row): NonNullable<LatestRow['state']> {
  return {
    t: row['t'] as number,
    v: 1,
    online: row['online'] as boolean,
    ...(row['mode'] !== undefined ? { mode: row['mode'] } : {}),
    ...(row['firmware'] !== undefined ? { firmware: row['firmware'] } : {}),
    ...(row['reason'] !== undefined ? { reason: row['reason'] } : {}),
  } as NonNullable<LatestRow['state']>;
}

/** A stored event. */
export function eventFromRow(row: Row): EventRow {
  return {
    device: row['device'] as string,
    kind: row['kind'] as DeviceKind,
    v: 1,
    t: row['t'] as number,
    type: row['type'],
    severity: row['severity'],
    ...(row['message'] ? { message: row['message'] } : {}),
    ...(row['seq'] !== undefined ? { seq: row['seq'] } : {}),
    ...(row['lat'] !== undefined ? { lat: row['lat'], lon: row['lon'] } : {}),
    ...(row['data'] !== undefined ? { data: JSON.parse(row['data'] as string) } : {}),
  } as EventRow;
}

/** A stored audit entry. */
export function auditFromRow(row: Row): AuditRecord {
  return {
    t: row['t'] as number,
    commandId: row['command'] as string,
    device: row['device'] as string,
    kind: row['kind'] as DeviceKind,
    issuer: row['issuer'] as string,
    type: row['type'] as string,
    status: row['status'] as AuditRecord['status'],
    ...(row['reason'] !== undefined ? { reason: row['reason'] as string } : {}),
    ...(row['latency_ms'] !== undefined ? { latencyMs: row['latency_ms'] as number } : {}),
  };
}

/** Merges last samples and last states into one row per device, sorted by id. */
export function mergeLatest(samples: readonly { device: string; kind: DeviceKind; row: Row }[], states: readonly Row[]): LatestRow[] {
  const out = new Map<string, { device: string; kind: DeviceKind; state?: LatestRow['state']; sample?: SampleRow }>();
  for (const s of samples) out.set(s.device, { device: s.device, kind: s.kind, sample: sampleFromRow(s.kind, s.row) });
  for (const r of states) {
    const device = r['device'] as string;
    const kind = (r['kind'] as DeviceKind | undefined) ?? out.get(device)?.kind;
    if (!kind) continue;
    out.set(device, { ...(out.get(device) ?? { device, kind }), state: stateFromRow(r) });
  }
  return [...out.values()].sort((a, b) => a.device.localeCompare(b.device));
}
