/**
 * The stored shape of each kind's samples, derived from the protocol's
 * schemas so the store and the wire cannot disagree: every sample field but
 * `t`, typed as the database needs it.
 */
import type { TSchema } from 'typebox';
import { plowFields, sampleBase, sensorFields, tractorFields, type DeviceKind } from '@hatake/protocol';
import { StoreError } from './errors.ts';

/** float: 64-bit float; int: 64-bit integer; string; bits: boolean[] stored as '0'/'1' text. */
export type FieldType = 'float' | 'int' | 'string' | 'bits';

export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
}

function typeOf(schema: TSchema): FieldType {
  const s = schema as unknown as { type?: string; enum?: unknown[]; items?: { type?: string } };
  if (s.enum) return 'string';
  if (s.type === 'integer') return 'int';
  if (s.type === 'number') return 'float';
  if (s.type === 'string') return 'string';
  if (s.type === 'array' && s.items?.type === 'boolean') return 'bits';
  throw new StoreError('HATAKE_ERR_STORE_SETUP', `no stored type for schema ${JSON.stringify(schema)}`);
}

function defs(fields: Record<string, TSchema>): FieldDef[] {
  return Object.entries(fields)
    .filter(([name]) => name !== 't')
    .map(([name, schema]) => ({ name, type: typeOf(schema) }));
}

const base = sampleBase as unknown as Record<string, TSchema>;

/** Stored fields per kind, `seq` first. */
export const SAMPLE_FIELDS: Readonly<Record<DeviceKind, readonly FieldDef[]>> = {
  tractor: defs({ ...base, ...(tractorFields as unknown as Record<string, TSchema>) }),
  plow: defs({ ...base, ...(plowFields as unknown as Record<string, TSchema>) }),
  sensor: defs({ ...base, ...(sensorFields as unknown as Record<string, TSchema>) }),
};

/** The stored fields a `fields` read selects: those of the kind that were asked for, in stored order; `seq` when none was (a row needs a column). */
export function fieldsToRead(kind: DeviceKind, asked: readonly string[]): string[] {
  const names = SAMPLE_FIELDS[kind].filter((f) => asked.includes(f.name)).map((f) => f.name);
  return names.length > 0 ? names : ['seq'];
}

/** Numeric fields (averaged when downsampling); the others keep their last value. */
export function isNumeric(f: FieldDef): boolean {
  return (f.type === 'float' || f.type === 'int') && f.name !== 'seq';
}

/** boolean[] → '1011'. */
export function bitsToText(bits: readonly boolean[]): string {
  return bits.map((b) => (b ? '1' : '0')).join('');
}

/** '1011' → boolean[]. */
export function textToBits(text: string): boolean[] {
  return [...text].map((c) => c === '1');
}

/**
 * The nanosecond key of a record: its device time in ms, plus a sub-millisecond
 * part that keeps distinct records of the same millisecond apart (a sample's
 * sequence number; a hash of an event's identity). The same record always
 * gets the same key, so writing it twice stores it once.
 */
export function nanoKey(tMs: number, discriminator: number): bigint {
  return BigInt(Math.trunc(tMs)) * 1_000_000n + BigInt(((discriminator % 1_000_000) + 1_000_000) % 1_000_000);
}

const PAD = ['', '0', '00', '000', '0000', '00000'];

/** {@link nanoKey} as line-protocol text, without BigInt arithmetic for the usual case (a positive ms time). */
export function nanoKeyText(tMs: number, discriminator: number): string {
  const t = Math.trunc(tMs);
  if (t <= 0 || !Number.isSafeInteger(t)) return nanoKey(tMs, discriminator).toString();
  const d = String(((discriminator % 1_000_000) + 1_000_000) % 1_000_000);
  return `${t}${PAD[6 - d.length]}${d}`;
}

/** A stable number from a string (FNV-1a). */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
