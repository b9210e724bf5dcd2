/**
 * The TelemetryStore port: what ingest writes and the gateway reads, whatever
 * the database. Both adapters pass one contract suite (test/contract.ts).
 */
import type { DeviceEvent, DeviceKind, DeviceState, TelemetryOf } from '@hatake/protocol';

/** A validated sample with the tags ingest adds from the configuration. */
export interface SampleRecord<K extends DeviceKind = DeviceKind> {
  readonly kind: K;
  readonly device: string;
  readonly farm?: string;
  readonly field?: string;
  readonly sample: TelemetryOf<K>;
}

/** A state message; `t` is its device time, or the receive time for a last will (which has none). */
export interface StateRecord {
  readonly kind: DeviceKind;
  readonly device: string;
  readonly farm?: string;
  readonly t: number;
  readonly state: DeviceState;
}

export interface EventRecord {
  readonly kind: DeviceKind;
  readonly device: string;
  readonly farm?: string;
  readonly event: DeviceEvent;
}

export const AUDIT_STATUSES = ['sent', 'accepted', 'rejected', 'completed', 'failed', 'expired', 'timed_out'] as const;
export type AuditStatus = (typeof AUDIT_STATUSES)[number];

/** One step in a command's life: who, what, when, outcome. */
export interface AuditRecord {
  readonly t: number;
  readonly commandId: string;
  readonly device: string;
  readonly kind: DeviceKind;
  readonly issuer: string;
  readonly type: string;
  readonly status: AuditStatus;
  readonly reason?: string;
  readonly latencyMs?: number;
}

/** A stored sample as read back: device time, sequence number and the fields it had (a `fields` read: only those asked for). */
export type SampleRow = { readonly t: number; readonly seq?: number } & Readonly<Record<string, number | string | boolean[] | undefined>>;

/** A downsampled bucket: start time, sample count, numeric means and the last value of other fields. */
export type BucketRow = { readonly t: number; readonly n: number } & Readonly<Record<string, number | string | boolean[] | undefined>>;

export interface SampleQuery {
  readonly kind: DeviceKind;
  readonly device: string;
  /** Inclusive, ms. */
  readonly from: number;
  /** Exclusive, ms. */
  readonly to: number;
  /** Bucket width in ms; absent for raw samples. */
  readonly every?: number;
  /** Most rows returned (oldest first); a full page means there may be more. */
  readonly limit: number;
  /** Raw samples only: just these fields besides `t` (`seq` only when listed), when a reader needs a few columns of many rows (a day's track); names a kind does not have are ignored. Rows of one millisecond still come in `seq` order. */
  readonly fields?: readonly string[];
}

export interface LatestRow {
  readonly device: string;
  readonly kind: DeviceKind;
  readonly state?: { readonly t: number } & DeviceState;
  readonly sample?: SampleRow;
}

export interface EventQuery {
  /** Only these devices. */
  readonly devices?: readonly string[];
  /** Or by farm, without listing devices: these farms (`'*'`: any farm), and/or the devices that have no farm. */
  readonly scope?: { readonly farms: readonly string[] | '*'; readonly farmless: boolean };
  readonly from: number;
  readonly to: number;
  readonly limit: number;
}

export type EventRow = { readonly device: string; readonly kind: DeviceKind } & DeviceEvent;

export interface AuditQuery {
  readonly device?: string;
  readonly commandId?: string;
  readonly from: number;
  readonly to: number;
  readonly limit: number;
}

export interface TelemetryStore {
  /** Which adapter this is. */
  readonly adapter: 'influx' | 'embedded';
  /** Opens the database (creating database, retention policy, tables as needed). */
  start(): Promise<void>;
  /** Writes whatever is pending and closes. */
  stop(): Promise<void>;
  /**
   * Writes samples; resolves only once the database has confirmed every one.
   * Writing the same sample (device, t, seq) again changes nothing.
   */
  writeSamples(records: readonly SampleRecord[]): Promise<void>;
  writeStates(records: readonly StateRecord[]): Promise<void>;
  writeEvents(records: readonly EventRecord[]): Promise<void>;
  writeAudit(records: readonly AuditRecord[]): Promise<void>;
  /** One device's samples in [from, to), raw or downsampled, oldest first. */
  samples(q: SampleQuery): Promise<SampleRow[] | BucketRow[]>;
  /** The last state and the last sample of each device (of the given ones). */
  latest(devices?: readonly string[]): Promise<LatestRow[]>;
  events(q: EventQuery): Promise<EventRow[]>;
  audit(q: AuditQuery): Promise<AuditRecord[]>;
  /** Undefined when the database answers, else why not. */
  health(): Promise<string | undefined>;
}
