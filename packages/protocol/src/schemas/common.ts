/**
 * Building blocks shared by every message schema.
 *
 * Every numeric field carries its `unit` and range in the schema itself, so the
 * field table in the package README is generated from here and cannot drift
 * (test/readme.test.ts keeps them in step).
 */
import Type from 'typebox';
import { ID_PATTERN } from '../ids.ts';

/** The schema version every message carries as `v`. */
export const SCHEMA_VERSION = 1;
/** Versions this build understands. */
export const SUPPORTED_VERSIONS: readonly number[] = [SCHEMA_VERSION];

/** Device time window accepted on the wire: a clock outside it is not set or is broken. */
export const DEVICE_TIME_MIN_MS = Date.UTC(2020, 0, 1);
export const DEVICE_TIME_MAX_MS = Date.UTC(2100, 0, 1);

/** GNSS fix quality, worst to best (NMEA GGA quality 0, 1, 2, 5, 4). */
export const FIX_TYPES = ['none', 'gps', 'dgps', 'rtk_float', 'rtk_fixed'] as const;
export type FixType = (typeof FIX_TYPES)[number];

/** Upper bound on samples in one batched telemetry message, whatever the configured limit. */
export const PROTOCOL_MAX_BATCH = 10_000;

interface FieldDoc {
  readonly description: string;
  readonly unit?: string;
}

/** A finite number in [min, max] with a unit. */
export function num(min: number, max: number, doc: FieldDoc): ReturnType<typeof Type.Number> {
  return Type.Number({ minimum: min, maximum: max, ...doc });
}

/** An integer in [min, max] with a unit. */
export function int(min: number, max: number, doc: FieldDoc): ReturnType<typeof Type.Integer> {
  return Type.Integer({ minimum: min, maximum: max, ...doc });
}

/** The schema version field. */
export const version = Type.Literal(SCHEMA_VERSION, { description: 'schema version of this message' });

/** A hatake identifier (device, user, service, command). */
export function id(description: string): ReturnType<typeof Type.String> {
  return Type.String({ pattern: ID_PATTERN, description });
}

/** Printable text without control characters, bounded. */
export function text(maxLength: number, description: string): ReturnType<typeof Type.String> {
  return Type.String({ minLength: 1, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description });
}

/** Device time in ms since the Unix epoch. */
export function deviceTime(description = 'device time'): ReturnType<typeof Type.Integer> {
  return int(DEVICE_TIME_MIN_MS, DEVICE_TIME_MAX_MS, { description, unit: 'ms since 1970-01-01 UTC' });
}

/** The fields every telemetry sample has, whatever its kind. */
export const sampleBase = {
  t: deviceTime('device time of the sample'),
  seq: int(0, Number.MAX_SAFE_INTEGER, { description: 'per-device sequence number, increasing by 1 per sample; restarts at 0 when the device reboots' }),
  fix: Type.Enum(FIX_TYPES, { description: 'GNSS fix quality' }),
  lat: Type.Optional(num(-90, 90, { description: 'WGS84 latitude; required unless fix is none', unit: 'deg' })),
  lon: Type.Optional(num(-180, 180, { description: 'WGS84 longitude; required unless fix is none', unit: 'deg' })),
  alt: Type.Optional(num(-500, 9000, { description: 'altitude above the WGS84 ellipsoid; required unless fix is none', unit: 'm' })),
  hdop: Type.Optional(num(0, 99.9, { description: 'horizontal dilution of precision; required unless fix is none', unit: '1' })),
  sats: Type.Optional(int(0, 128, { description: 'satellites used in the fix', unit: 'count' })),
  speed: Type.Optional(num(0, 100, { description: 'ground speed; required unless fix is none', unit: 'm/s' })),
  heading: Type.Optional(num(0, 360, { description: 'course over ground, clockwise from true north; required unless fix is none', unit: 'deg' })),
} as const;

/** Position fields a sample must carry whenever it has a fix. */
export const POSITION_FIELDS = ['lat', 'lon', 'alt', 'hdop', 'speed', 'heading'] as const;
