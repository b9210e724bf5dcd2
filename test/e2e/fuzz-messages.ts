/**
 * Fuzz traffic for the ingest pipeline, all from one seed: good telemetry
 * (including odd but valid encodings: BOM, padding to exactly the size limit,
 * `"v":1.0`, escaped keys, range bounds), good events and states with hostile
 * but valid text, and bad messages of many families, each carrying the reason
 * codes its dead letter may start with: random bytes and printable garbage,
 * token soup, bit flips, truncated JSON, JSON syntax errors, NaN/Infinity
 * literals, 1e999, non-objects, missing or wrong `v`, one field broken (out of
 * range, wrong type, NaN as a string, non-integer, enum, text too long or with
 * control characters, missing, unknown, duplicate key), batches with one bad
 * sample, batch structure and size, future device time, rules (position
 * without fix data, sensor without measurement, lat without lon, online with
 * a reason), another kind's sample, another channel's message, prototype
 * pollution keys, more unknown fields than reasons are listed, invalid UTF-8,
 * UTF-16, empty and oversized payloads, deep nesting, huge strings; a few at
 * QoS 0 or retained. Every message is on its device's own topics: the broker
 * refuses any other topic before ingest sees it (the broker's own tests cover
 * that), and with exact topic rights no topic oddity gets through.
 *
 * Also the device side of the run (`runFuzzDevices`, in a child process of
 * the test): publishing the plan and matching the dead letters to it.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  DEAD_LETTER_FILTER,
  DEVICE_TIME_MAX_MS,
  DEVICE_TIME_MIN_MS,
  EVENT_TYPES,
  FIX_TYPES,
  OFFLINE_REASONS,
  SENSOR_MEASUREMENTS,
  SEVERITIES,
  TRACTOR_MODES,
  eventTopic,
  stateTopic,
  telemetryTopic,
  type DeviceKind,
  type ReasonCode,
} from '@hatake/protocol';
import { Rng } from '@hatake/simkit';
import mqtt from 'mqtt';

/** A device the fuzz publishes as. */
export interface FuzzDevice {
  readonly id: string;
  readonly kind: DeviceKind;
}

export type FuzzChannel = 'telemetry' | 'state' | 'event';

interface Outgoing {
  readonly device: string;
  readonly channel: FuzzChannel;
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  /** What made it (a family of bad messages, or the encoding variant of a good one). */
  readonly family: string;
}

/** A message ingest must refuse: exactly one dead letter, whose first reason is one of `expect`. */
export interface BadMessage extends Outgoing {
  readonly bad: true;
  readonly expect: readonly ReasonCode[];
}

/** A message ingest must store. */
export interface GoodMessage extends Outgoing {
  readonly bad: false;
  /** Telemetry: the samples in it, as sent. */
  readonly samples: readonly Record<string, unknown>[];
  /** Event or state: the message as sent. */
  readonly message?: Record<string, unknown>;
}

export type FuzzMessage = BadMessage | GoodMessage;

export interface FuzzOptions {
  readonly seed: number;
  readonly devices: readonly FuzzDevice[];
  /** Bad messages in all. */
  readonly badMessages: number;
  /** Good telemetry samples in all (spread over the devices, in singles and batches). */
  readonly goodSamples: number;
  readonly goodEvents: number;
  readonly goodStates: number;
  /** Device time of the first good sample; everything sent but the future-dated family lies in [t0, t0 + 1 h). */
  readonly t0: number;
  /** Receive time, roughly: device times beyond now + skew are refused. */
  readonly now: number;
  readonly maxPayloadBytes: number;
  readonly maxBatchSamples: number;
  readonly maxFutureSkewMs: number;
  /** Largest MQTT packet the broker reads: oversized payloads stay below it, so they reach ingest. */
  readonly maxPacketBytes: number;
}

export interface FuzzPlan {
  /** Per device, its messages in publish order, good and bad mixed. */
  readonly streams: ReadonlyMap<string, readonly FuzzMessage[]>;
  readonly bad: readonly BadMessage[];
  readonly good: readonly GoodMessage[];
  /** The family of the bad message that carried each bad sequence number (per device) and device time: to name what was stored by mistake. */
  readonly badSeqFamily: Readonly<Record<string, Readonly<Record<number, string>>>>;
  readonly badTimeFamily: Readonly<Record<number, string>>;
}

/** Bad messages' sequence numbers start here, far from the good ones (0 … goodSamples). */
export const BAD_SEQ_BASE = 1_000_000_000;

/** The key a dead letter is matched by: topic (as cut by ingest), payload size and the first KiB of the payload. */
export function letterKey(topic: string, size: number, head: Uint8Array): string {
  return createHash('sha1').update(topic.slice(0, 512)).update('\n').update(String(size)).update('\n').update(head.subarray(0, 1024)).digest('base64');
}

// ── field specifications (what a valid value is, and so how to break it) ─────────────────────────

type Spec =
  | { readonly type: 'num'; readonly min: number; readonly max: number; readonly int?: boolean }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'bool' }
  | { readonly type: 'text'; readonly max: number }
  | { readonly type: 'bools'; readonly max: number }
  | { readonly type: 'data' };

/** always: required; fix: required unless fix is none; never: optional. */
interface Field {
  readonly name: string;
  readonly spec: Spec;
  readonly need: 'always' | 'fix' | 'never';
}

const num = (name: string, min: number, max: number, need: Field['need'] = 'always'): Field => ({ name, spec: { type: 'num', min, max }, need });
const int = (name: string, min: number, max: number, need: Field['need'] = 'always'): Field => ({ name, spec: { type: 'num', min, max, int: true }, need });
const oneOf = (name: string, values: readonly string[], need: Field['need'] = 'always'): Field => ({ name, spec: { type: 'enum', values }, need });

const SAMPLE_BASE: readonly Field[] = [
  int('t', DEVICE_TIME_MIN_MS, DEVICE_TIME_MAX_MS),
  int('seq', 0, Number.MAX_SAFE_INTEGER),
  oneOf('fix', FIX_TYPES),
  num('lat', -90, 90, 'fix'),
  num('lon', -180, 180, 'fix'),
  num('alt', -500, 9000, 'fix'),
  num('hdop', 0, 99.9, 'fix'),
  int('sats', 0, 128, 'never'),
  num('speed', 0, 100, 'fix'),
  num('heading', 0, 360, 'fix'),
];
const KIND_FIELDS: Record<DeviceKind, readonly Field[]> = {
  tractor: [
    oneOf('mode', TRACTOR_MODES),
    num('rpm', 0, 5000),
    num('fuel', 0, 100),
    oneOf('implement', ['raised', 'lowered']),
    { name: 'sections', spec: { type: 'bools', max: 64 }, need: 'never' },
    num('rate', 0, 5000),
    num('rssi', -150, 0, 'never'),
    num('rtt', 0, 60_000, 'never'),
  ],
  plow: [oneOf('blade', ['up', 'down']), num('spread', 0, 200), oneOf('material', ['none', 'salt', 'sand', 'brine', 'salt_sand']), num('width', 0.5, 12)],
  sensor: [
    num('soilMoisture', 0, 100, 'never'),
    num('soilTemp', -40, 60, 'never'),
    num('airTemp', -60, 60, 'never'),
    num('humidity', 0, 100, 'never'),
    num('rain', 0, 500, 'never'),
    num('wind', 0, 75, 'never'),
    num('solar', 0, 1500, 'never'),
    num('battery', 0, 30, 'never'),
  ],
};
const STATE_FIELDS: readonly Field[] = [
  { name: 'online', spec: { type: 'bool' }, need: 'always' },
  int('t', DEVICE_TIME_MIN_MS, DEVICE_TIME_MAX_MS, 'never'),
  oneOf('mode', TRACTOR_MODES, 'never'),
  { name: 'firmware', spec: { type: 'text', max: 64 }, need: 'never' },
];
const EVENT_FIELDS: readonly Field[] = [
  int('t', DEVICE_TIME_MIN_MS, DEVICE_TIME_MAX_MS),
  int('seq', 0, Number.MAX_SAFE_INTEGER, 'never'),
  oneOf('type', EVENT_TYPES),
  oneOf('severity', SEVERITIES),
  { name: 'message', spec: { type: 'text', max: 256 }, need: 'never' },
  num('lat', -90, 90, 'never'),
  num('lon', -180, 180, 'never'),
  { name: 'data', spec: { type: 'data' }, need: 'never' },
];

/** Hostile text that is still valid: no control characters, within length. */
const HOSTILE_VALID_TEXT = [
  'a,b=c d',
  'quote " and backslash \\ and \\n literal',
  "'; DROP MEASUREMENT tractor; --",
  '" OR 1=1 --',
  '${jndi:ldap://x/a}',
  '$(reboot)',
  '`rm -rf /`',
  '<script>alert(1)</script>',
  '%s%s%n%x',
  '{{7*7}}',
  '../../etc/passwd',
  'hatake/v1/+/#',
  '\u202eevil\u202c',
  'zero\u200bwidth\ufeff',
  'line\u2028separator\u2029',
  '田んぼ 🚜🌾 トラクター',
  'ﾊﾝｶｸ ｶﾅ',
  '\u00a0nbsp',
  'x'.repeat(256),
  '\\',
  '"',
  '=',
  ',',
  ' ',
];
/** Control characters a text field must refuse. */
const CONTROL_TEXT = ['\u0000', '\n', '\r\n', '\t', '\u001b[2J\u001b[31m', '\u0007', '\u007f', '\b', '\u001f', 'ok\u0000hidden'];
/** Keys a closed message must refuse, among them prototype-pollution keys. */
const UNKNOWN_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'V', ' v', 'lat ', 'LAT', '', '$where', '$gt', '𝓿', '\u0000', '\u001b[31m', 'a/b', '~0', 'x'.repeat(300), 'data', 'online', 'device', 'kind', 'farm'];

/** A key that is not a field of the message `p` (another message's field names are unknown here). */
function unknownKey(d: Draw, p: Pairs): string {
  const known = new Set(['v', 'samples', ...p.map(([k]) => k), ...(p.some(([k]) => k === 'online') ? ['t', 'mode', 'firmware', 'reason'] : []), ...(p.some(([k]) => k === 'severity') ? ['data', 'message', 'lat', 'lon', 'seq'] : [])]);
  return d.pick(UNKNOWN_KEYS.filter((k) => !known.has(k)));
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────────

type Pairs = [key: string, raw: string][];

const render = (p: Pairs): string => `{${p.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
const toPairs = (o: Record<string, unknown>): Pairs => Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [k, JSON.stringify(v)]);
const setRaw = (p: Pairs, key: string, raw: string): Pairs => (p.some(([k]) => k === key) ? p.map(([k, v]) => [k, k === key ? raw : v]) : [...p, [key, raw]]);
const without = (p: Pairs, key: string): Pairs => p.filter(([k]) => k !== key);

class Draw {
  readonly rng: Rng;
  constructor(rng: Rng) {
    this.rng = rng;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.rng.int(0, xs.length - 1)]!;
  }
  /** Uniform in [min, max], with the bounds themselves now and then. */
  value(min: number, max: number, int = false): number {
    const r = this.rng.next();
    if (r < 0.03) return min;
    if (r < 0.06) return max;
    const v = this.rng.uniform(min, max);
    return int ? Math.floor(v) : Math.round(v * 1e6) / 1e6;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.rng.int(0, 255);
    return b;
  }
  printable(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.rng.int(0x20, 0x7e));
    return s;
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.rng.int(0, i);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }
}

/** A valid sample of `kind`, values drawn over their whole ranges (bounds included). */
function validSample(d: Draw, kind: DeviceKind, seq: number, t: number): Record<string, unknown> {
  const fix = d.rng.chance(0.1) ? 'none' : d.pick(FIX_TYPES.filter((f) => f !== 'none'));
  const s: Record<string, unknown> = { t, seq, fix };
  for (const f of SAMPLE_BASE.slice(3)) {
    if (f.spec.type !== 'num') continue;
    const present = f.need === 'fix' ? fix !== 'none' || d.rng.chance(0.3) : d.rng.chance(0.5);
    if (present) s[f.name] = d.value(f.spec.min, f.spec.max, f.spec.int);
  }
  for (const f of KIND_FIELDS[kind]) {
    if (f.need === 'never' && !d.rng.chance(0.6)) continue;
    if (f.spec.type === 'num') s[f.name] = d.value(f.spec.min, f.spec.max, f.spec.int);
    else if (f.spec.type === 'enum') s[f.name] = d.pick(f.spec.values);
    else if (f.spec.type === 'bools') s[f.name] = Array.from({ length: d.rng.int(1, f.spec.max) }, () => d.rng.chance(0.5));
  }
  if (kind === 'sensor' && !SENSOR_MEASUREMENTS.some((m) => s[m] !== undefined)) s[d.pick(SENSOR_MEASUREMENTS)] = 1;
  return s;
}

function validState(d: Draw, t: number): Record<string, unknown> {
  const online = d.rng.chance(0.7);
  return {
    v: 1,
    online,
    t,
    ...(d.rng.chance(0.5) ? { mode: d.pick(TRACTOR_MODES) } : {}),
    ...(d.rng.chance(0.8) ? { firmware: d.pick(HOSTILE_VALID_TEXT).slice(0, 64) } : {}),
    ...(!online && d.rng.chance(0.7) ? { reason: d.pick(OFFLINE_REASONS) } : {}),
  };
}

function validEvent(d: Draw, t: number): Record<string, unknown> {
  const e: Record<string, unknown> = { v: 1, t, type: d.pick(EVENT_TYPES), severity: d.pick(SEVERITIES) };
  if (d.rng.chance(0.5)) e['seq'] = d.rng.int(0, 1000);
  if (d.rng.chance(0.9)) e['message'] = d.pick(HOSTILE_VALID_TEXT);
  if (d.rng.chance(0.5)) {
    e['lat'] = d.value(-90, 90);
    e['lon'] = d.value(-180, 180);
  }
  if (d.rng.chance(0.7)) {
    const data: Record<string, unknown> = {};
    const n = d.rng.int(0, 16);
    for (let i = 0; i < n; i++) {
      const key = `${d.pick(['k', 'fuel', 'Obstacle', 'x_y', 'a'])}${i}`;
      const r = d.rng.next();
      // data string values follow the text rule (no control characters; a broken value with them is a bad message)
      data[key] = r < 0.3 ? d.value(-1e9, 1e9) : r < 0.5 ? d.rng.chance(0.5) : d.pick(HOSTILE_VALID_TEXT).slice(0, 128);
    }
    e['data'] = data;
  }
  return e;
}

// ── breaking one value ────────────────────────────────────────────────────────────────────────────

interface Broken {
  readonly raw: string;
  readonly expect: readonly ReasonCode[];
  readonly how: string;
}

const WRONG_TYPES = ['true', 'false', 'null', '[]', '{}', '[1]', '{"$gt":0}', '"42"', '"NaN"', '"Infinity"', '"-Infinity"', '"1e999"', '""', '"0x10"'];

/** A raw JSON value that is certainly invalid for `spec`, and the first reason code it earns. */
function breakValue(d: Draw, f: Field): Broken {
  const spec = f.spec;
  switch (spec.type) {
    case 'num': {
      const r = d.rng.int(0, 9);
      const span = Math.max(1, Math.abs(spec.max - spec.min));
      if (r <= 1) {
        const above = d.rng.chance(0.5);
        const delta = d.pick(spec.int ? [1, 2, 1000, span] : [1e-6 * Math.max(1, Math.abs(above ? spec.max : spec.min)), 1, span, 1e300]);
        const v = above ? spec.max + delta : spec.min - delta;
        return { raw: JSON.stringify(v), expect: ['range'], how: above ? 'above range' : 'below range' };
      }
      if (r === 2) return { raw: d.pick(['1e308', '-1e308', '1.7976931348623157e308']), expect: ['range'], how: 'huge magnitude' };
      if (r === 3) return { raw: d.pick(['1e999', '-1e999', `1${'0'.repeat(400)}`, `-${'9'.repeat(330)}`]), expect: ['type'], how: 'non-finite (1e999)' };
      if (r === 4) return { raw: d.pick(['NaN', 'Infinity', '-Infinity']), expect: ['json'], how: 'NaN/Infinity literal' };
      if (r === 5 && spec.int) return { raw: `${Math.floor(d.value(spec.min, Math.min(spec.max - 1, 1e15)))}.5`, expect: ['type'], how: 'not an integer' };
      return { raw: d.pick(WRONG_TYPES), expect: ['type'], how: 'wrong type' };
    }
    case 'enum': {
      const r = d.rng.int(0, 5);
      const real = d.pick(spec.values);
      if (r === 0) return { raw: JSON.stringify(real.toUpperCase()), expect: ['enum'], how: 'enum case' };
      if (r === 1) return { raw: JSON.stringify(` ${real}`), expect: ['enum'], how: 'enum padded' };
      if (r === 2) return { raw: JSON.stringify(`${real}${d.pick(CONTROL_TEXT)}`), expect: ['enum'], how: 'enum with control characters' };
      if (r === 3) return { raw: JSON.stringify(d.pick(HOSTILE_VALID_TEXT)), expect: ['enum'], how: 'enum hostile' };
      if (r === 4) return { raw: JSON.stringify('x'.repeat(d.rng.int(1000, 20_000))), expect: ['enum'], how: 'enum huge' };
      return { raw: d.pick(['1', '0', 'true', 'null', '[]', '{}', `[${JSON.stringify(real)}]`]), expect: ['enum'], how: 'enum wrong type' };
    }
    case 'bool':
      return { raw: d.pick(['"true"', '"yes"', '1', '0', 'null', '[]', '{}', '"false"']), expect: ['type'], how: 'not a boolean' };
    case 'text': {
      const r = d.rng.int(0, 4);
      if (r === 0) return { raw: JSON.stringify('y'.repeat(spec.max + d.rng.int(1, 5000))), expect: ['format'], how: 'text too long' };
      if (r === 1) return { raw: JSON.stringify(''), expect: ['format'], how: 'text empty' };
      if (r === 2) return { raw: JSON.stringify(`${d.pick(HOSTILE_VALID_TEXT).slice(0, 20)}${d.pick(CONTROL_TEXT)}x`), expect: ['format'], how: 'text with control characters' };
      if (r === 3) return { raw: JSON.stringify('z'.repeat(d.rng.int(20_000, 120_000))), expect: ['format'], how: 'text huge' };
      return { raw: d.pick(['1', 'null', 'true', '[]', '{}', '["a"]']), expect: ['type'], how: 'text wrong type' };
    }
    case 'bools': {
      const r = d.rng.int(0, 3);
      if (r === 0) return { raw: '[]', expect: ['range'], how: 'empty list' };
      if (r === 1) return { raw: JSON.stringify(Array.from({ length: spec.max + d.rng.int(1, 500) }, () => true)), expect: ['range'], how: 'list too long' };
      if (r === 2) return { raw: d.pick(['[1]', '["true"]', '[null]', '[true,0]', '[[true]]']), expect: ['type'], how: 'list of non-booleans' };
      return { raw: d.pick(['"1111"', '{}', 'true', '1', 'null']), expect: ['type'], how: 'not a list' };
    }
    case 'data': {
      const r = d.rng.int(0, 5);
      if (r === 0) return { raw: JSON.stringify(Object.fromEntries(Array.from({ length: d.rng.int(17, 40) }, (_, i) => [`k${i}`, i]))), expect: ['range'], how: 'data too many keys' };
      if (r === 1) return { raw: `{${JSON.stringify(d.pick(['__proto__', '1abc', '_x', 'a b', 'a-b', '', 'k'.repeat(33), 'ключ', '$where']))}:1}`, expect: ['unknown_field'], how: 'data bad key' };
      if (r === 2) return { raw: d.pick(['{"a":{"b":1}}', '{"a":[1]}', '{"a":null}', '{"a":1e999}']), expect: ['type'], how: 'data bad value' };
      if (r === 3) return { raw: JSON.stringify({ a: 'v'.repeat(d.rng.int(129, 4000)) }), expect: ['type'], how: 'data string too long' };
      if (r === 4) return { raw: `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`, expect: ['type'], how: 'data deep nesting' };
      return { raw: d.pick(['[]', '"x"', '1', 'null', 'true']), expect: ['type'], how: 'data not an object' };
    }
  }
}

// ── bad message families ──────────────────────────────────────────────────────────────────────────

interface Ctx {
  readonly d: Draw;
  readonly device: FuzzDevice;
  readonly opts: FuzzOptions;
  /** A fresh bad sequence number and device time (never a good one's). */
  nextBad(): { seq: number; t: number };
}

interface Made {
  readonly channel: FuzzChannel;
  readonly payload: Buffer | string;
  readonly expect: readonly ReasonCode[];
  readonly qos?: 0 | 1;
  readonly retain?: boolean;
  readonly how?: string;
}

interface Family {
  readonly name: string;
  /** Relative frequency; the expensive (large) families are rare. */
  readonly weight: number;
  make(c: Ctx): Made;
}

const fieldsOf = (kind: DeviceKind): readonly Field[] => [...SAMPLE_BASE, ...KIND_FIELDS[kind]];

function badSamplePairs(c: Ctx): Pairs {
  const { seq, t } = c.nextBad();
  return toPairs(validSample(c.d, c.device.kind, seq, t));
}
function singlePairs(c: Ctx): Pairs {
  return [['v', '1'], ...badSamplePairs(c)];
}
function anyValidPairs(c: Ctx): { channel: FuzzChannel; pairs: Pairs } {
  const channel = c.d.pick(['telemetry', 'telemetry', 'state', 'event'] as const);
  const { t } = c.nextBad();
  if (channel === 'telemetry') return { channel, pairs: singlePairs(c) };
  return { channel, pairs: toPairs(channel === 'state' ? validState(c.d, t) : validEvent(c.d, t)) };
}

/** One field of a sample (single or in a batch), broken one way. */
function mutateSample(c: Ctx, p: Pairs): { pairs: Pairs; expect: readonly ReasonCode[]; how: string } {
  const fields = fieldsOf(c.device.kind);
  const r = c.d.rng.int(0, 9);
  if (r <= 5) {
    const f = c.d.pick(fields);
    const b = breakValue(c.d, f);
    return { pairs: setRaw(p, f.name, b.raw), expect: b.expect, how: `${f.name}: ${b.how}` };
  }
  if (r <= 7) {
    // a required field missing: required by the schema, or by the position rule when there is a fix
    const f = c.d.pick(fields.filter((x) => x.need !== 'never'));
    let q = p;
    if (f.need === 'fix') {
      q = setRaw(q, 'fix', '"gps"');
      for (const pf of SAMPLE_BASE.filter((x) => x.need === 'fix')) if (!q.some(([k]) => k === pf.name)) q = setRaw(q, pf.name, '1');
    }
    return { pairs: without(q, f.name), expect: [f.need === 'fix' ? 'rule' : 'required'], how: `${f.name} missing` };
  }
  if (r === 8) {
    const key = unknownKey(c.d, p);
    const value = key === '__proto__' || key === 'constructor' ? c.d.pick(['{"polluted":true}', '{"prototype":{"polluted":true}}', '{"toString":1}']) : c.d.pick(['1', '"x"', 'null', '{}']);
    return { pairs: [...p, [key, value]], expect: ['unknown_field'], how: `unknown field ${JSON.stringify(key.slice(0, 12))}` };
  }
  // duplicate key, the last one bad (JSON.parse keeps the last)
  const f = c.d.pick(fields);
  const b = breakValue(c.d, f);
  return { pairs: [...p, [f.name, b.raw]], expect: b.expect, how: `duplicate ${f.name}: ${b.how}` };
}

const INVALID_UTF8 = [[0xff], [0xfe], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xbf], [0xe9], [0xc3, 0x28], [0xe2, 0x28, 0xa1]];

const JSON_SYNTAX: readonly ((s: string) => string)[] = [
  (s) => `${s}x`,
  (s) => `${s}}`,
  (s) => s + s,
  (s) => `${s.slice(0, -1)},}`,
  (s) => `${s.slice(0, -1)}/* comment */}`,
  (s) => `// comment\n${s}`,
  (s) => s.replace(/"/g, "'"),
  (s) => s.replace(/"([A-Za-z]+)":/, '$1:'),
  (s) => s.replace(/:(\d)/, ':0x$1'),
  (s) => s.replace(/:(\d)/, ':0$1'),
  (s) => s.replace(/:(\d)/, ':+$1'),
  (s) => s.replace(/:(\d+)\.(\d)/, ':.$2'),
  (s) => s.replace(/:(\d+)([,}])/, ':$1.$2'),
  (s) => s.replace(/":"/, '":"\u0001'),
  (s) => s.replace(/":"/, '":"\\x41'),
  (s) => s.replace(/":"/, '":"\\uZZ12'),
  (s) => s.replace(/:/, '::'),
  (s) => s.replace(/,/, ',,'),
  (s) => `\ufeff\ufeff${s}`,
  (s) => `${s.slice(0, -1)}\u0000}`,
  (s) => `[${s}`,
  (s) => `${s.slice(0, -1)}`,
  (s) => s.replace(/"$/, ''),
  (s) => s.replace('true', 'True').replace('false', 'FALSE').replace('null', 'None').replace(/\d/, 'undefined'),
];

/** Offsets of the quotes, braces and colons that delimit keys and values (not those inside strings). */
function structuralBytes(b: Buffer): number[] {
  const out: number[] = [];
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) {
        inString = false;
        out.push(i);
      }
    } else if (c === 0x22) {
      inString = true;
      out.push(i);
    } else if (c === 0x7b || c === 0x7d || c === 0x3a) out.push(i);
  }
  return out;
}

const FAMILIES: readonly Family[] = [
  {
    name: 'random bytes',
    weight: 8,
    make: (c) => ({ channel: c.d.pick(['telemetry', 'state', 'event'] as const), payload: c.d.bytes(c.d.rng.chance(0.02) ? c.d.rng.int(1024, 32_768) : c.d.rng.int(1, 300)), expect: ['encoding', 'json', 'type', 'required', 'version'] }),
  },
  {
    name: 'random printable',
    weight: 4,
    make: (c) => ({ channel: c.d.pick(['telemetry', 'state', 'event'] as const), payload: c.d.printable(c.d.rng.int(1, 400)), expect: ['json', 'type', 'required'] }),
  },
  {
    name: 'token soup',
    weight: 4,
    make: (c) => {
      const tokens = ['{', '}', '[', ']', ',', ':', '"v"', '1', '"t"', '"seq"', 'true', 'null', '"x"', '-1e999', '0', ' ', '"samples"', '"__proto__"'];
      const text = Array.from({ length: c.d.rng.int(1, 60) }, () => c.d.pick(tokens)).join('');
      return { channel: c.d.pick(['telemetry', 'state', 'event'] as const), payload: text, expect: ['json', 'type', 'required', 'version', 'unknown_field', 'range', 'enum', 'format', 'rule'] };
    },
  },
  {
    name: 'bit flips of a valid message',
    weight: 6,
    make: (c) => {
      const { channel, pairs } = anyValidPairs(c);
      const b = Buffer.from(render(pairs));
      // flips that keep the message valid are possible (a digit to another digit, a letter in a string): flip structure only
      const positions = structuralBytes(b);
      // distinct positions: two flips of the same bit would cancel out
      for (const i of new Set(Array.from({ length: c.d.rng.int(1, 3) }, () => c.d.pick(positions)))) b[i] = b[i]! ^ (1 << c.d.rng.int(0, 7));
      return { channel, payload: b, expect: ['json', 'encoding', 'required', 'unknown_field', 'type', 'version'] };
    },
  },
  {
    name: 'truncated JSON',
    weight: 8,
    make: (c) => {
      const { channel, pairs } = anyValidPairs(c);
      const s = render(pairs);
      return { channel, payload: s.slice(0, c.d.rng.int(1, s.length - 1)), expect: ['json'] };
    },
  },
  {
    name: 'empty payload',
    weight: 1,
    make: (c) => {
      // on the state topic, retained: MQTT's way to clear a retained message, delivered to subscribers all the same
      const channel = c.d.pick(['telemetry', 'event', 'state'] as const);
      return { channel, payload: '', expect: ['size'], qos: 1, retain: channel === 'state' && c.d.rng.chance(0.5), how: channel };
    },
  },
  {
    name: 'JSON syntax errors',
    weight: 6,
    make: (c) => {
      const { channel, pairs } = anyValidPairs(c);
      const s = render(pairs);
      const i = c.d.rng.int(0, JSON_SYNTAX.length - 1);
      const out = JSON_SYNTAX[i]!(s);
      // a substitution that found nothing to replace would leave the message valid: cut it instead
      return { channel, payload: out === s ? s.slice(0, -1) : out, expect: ['json'], how: `syntax #${i}` };
    },
  },
  {
    name: 'valid JSON, not an object',
    weight: 3,
    make: (c) => ({
      channel: c.d.pick(['telemetry', 'state', 'event'] as const),
      payload: c.d.pick(['1', '-0', '1e999', '"x"', '""', 'null', 'true', 'false', '[]', '[{"v":1}]', `[${render(singlePairs(c))}]`, JSON.stringify(render(singlePairs(c))), ' 7 ']),
      expect: ['type'],
    }),
  },
  {
    name: 'object without v',
    weight: 2,
    make: (c) => ({ channel: 'telemetry', payload: render(badSamplePairs(c)), expect: ['required'] }),
  },
  {
    name: 'wrong schema version',
    weight: 4,
    make: (c) => {
      const { channel, pairs } = anyValidPairs(c);
      const v = c.d.pick(['0', '2', '-1', '1.5', '0.999999', '1.0000001', '"1"', '"v1"', 'null', 'true', '[1]', '{"major":1}', '1e999', '1e-999', '99999999999999999999']);
      return { channel, payload: render(setRaw(pairs, 'v', v)), expect: ['version'], how: `v ${v}` };
    },
  },
  {
    name: 'one field broken (single sample)',
    weight: 20,
    make: (c) => {
      const m = mutateSample(c, singlePairs(c));
      return { channel: 'telemetry', payload: render(m.pairs), expect: m.expect, how: m.how };
    },
  },
  {
    name: 'batch with one bad sample',
    weight: 8,
    make: (c) => {
      // small batches: a refused batch costs the decoder about as much per sample as the rest of the run per message
      const n = c.d.rng.int(2, 6);
      const samples = Array.from({ length: n }, () => badSamplePairs(c));
      const i = c.d.rng.int(0, n - 1);
      const m = mutateSample(c, samples[i]!);
      samples[i] = m.pairs;
      return { channel: 'telemetry', payload: `{"v":1,"samples":[${samples.map(render).join(',')}]}`, expect: m.expect, how: `sample ${i}/${n} ${m.how}` };
    },
  },
  {
    name: 'batch structure',
    weight: 4,
    make: (c) => {
      const n = c.d.rng.int(2, 8);
      const samples = Array.from({ length: n }, () => badSamplePairs(c));
      const r = c.d.rng.int(0, 7);
      const i = c.d.rng.int(1, n - 1);
      const wrap = (s: Pairs[], extra = ''): string => `{"v":1,"samples":[${s.map(render).join(',')}]${extra}}`;
      switch (r) {
        case 0: // seq not increasing
          samples[i] = setRaw(samples[i]!, 'seq', samples[i - 1]!.find(([k]) => k === 'seq')![1]);
          return { channel: 'telemetry', payload: wrap(samples), expect: ['rule'], how: 'seq repeated' };
        case 1: // t going back
          samples[i] = setRaw(samples[i]!, 't', String(Number(samples[i - 1]!.find(([k]) => k === 't')![1]) - 1));
          return { channel: 'telemetry', payload: wrap(samples), expect: ['rule'], how: 't going back' };
        case 2:
          return { channel: 'telemetry', payload: '{"v":1,"samples":[]}', expect: ['range'], how: 'empty batch' };
        case 3:
          return { channel: 'telemetry', payload: `{"v":1,"samples":${c.d.pick(['{}', 'null', '"x"', '1', 'true', render(samples[0]!)])}}`, expect: ['type'], how: 'samples not a list' };
        case 4:
          return { channel: 'telemetry', payload: `{"v":1,"samples":[${render(samples[0]!)},${c.d.pick(['1', 'null', '"x"', '[]', 'true'])}]}`, expect: ['type'], how: 'a sample not an object' };
        case 5:
          return { channel: 'telemetry', payload: wrap(samples, `,${JSON.stringify(unknownKey(c.d, []))}:1`), expect: ['unknown_field'], how: 'batch with an unknown field' };
        case 6:
          samples[i] = [['v', '1'], ...samples[i]!];
          return { channel: 'telemetry', payload: wrap(samples), expect: ['unknown_field'], how: 'v inside a sample' };
        default: {
          // single-sample fields beside samples: neither a single nor a batch
          return { channel: 'telemetry', payload: `{"v":1,"samples":[${render(samples[0]!)}],${render(samples[1]!).slice(1)}`, expect: ['unknown_field'], how: 'batch and single mixed' };
        }
      }
    },
  },
  {
    name: 'batch above maxBatchSamples',
    weight: 0.05,
    make: (c) => {
      const n = c.opts.maxBatchSamples + c.d.rng.int(1, 50);
      // small valid samples of the device's kind, so the count is the only problem
      const fields = { tractor: ',"mode":"auto","rpm":0,"fuel":1,"implement":"raised","rate":0', plow: ',"blade":"up","spread":0,"material":"none","width":1', sensor: ',"rain":0' }[c.device.kind];
      const samples = Array.from({ length: n }, () => {
        const { seq, t } = c.nextBad();
        return `{"t":${t},"seq":${seq},"fix":"none"${fields}}`;
      });
      return { channel: 'telemetry', payload: `{"v":1,"samples":[${samples.join(',')}]}`, expect: ['range'] };
    },
  },
  {
    name: 'future device time',
    weight: 2,
    make: (c) => {
      const ahead = c.opts.maxFutureSkewMs + c.d.pick([600_000, 3_600_000, 86_400_000 * 365]);
      const t = Math.min(DEVICE_TIME_MAX_MS, c.opts.now + ahead);
      // every device time, not only a sample's: a state dated next year would stay the device's latest
      const { channel, pairs } = anyValidPairs(c);
      return { channel, payload: render(setRaw(pairs, 't', String(t))), expect: ['rule'], how: `${channel} ${Math.round((t - c.opts.now) / 60_000)} min ahead` };
    },
  },
  {
    name: 'rules a schema cannot say',
    weight: 2,
    make: (c) => {
      if (c.device.kind === 'sensor' && c.d.rng.chance(0.5)) {
        let p = singlePairs(c);
        for (const m of SENSOR_MEASUREMENTS) p = without(p, m);
        return { channel: 'telemetry', payload: render(p), expect: ['rule'], how: 'sensor without measurement' };
      }
      const p = without(setRaw(singlePairs(c), 'fix', '"rtk_fixed"'), c.d.pick(['lat', 'lon', 'alt', 'hdop', 'speed', 'heading']));
      return { channel: 'telemetry', payload: render(p), expect: ['rule'], how: 'fix without position' };
    },
  },
  {
    name: 'another kind on this topic',
    weight: 1,
    make: (c) => {
      const other = c.d.pick((['tractor', 'plow', 'sensor'] as const).filter((k) => k !== c.device.kind));
      const { seq, t } = c.nextBad();
      const sample = validSample(c.d, other, seq, t);
      // a sensor's sample on a tractor or plow topic lacks required fields; the reverse has unknown ones
      return { channel: 'telemetry', payload: render([['v', '1'], ...toPairs(sample)]), expect: ['required', 'unknown_field', 'rule'], how: `${other} sample` };
    },
  },
  {
    name: 'wrong channel',
    weight: 1,
    make: (c) => {
      const { t } = c.nextBad();
      const r = c.d.rng.int(0, 3);
      if (r === 0) return { channel: 'telemetry', payload: JSON.stringify(validEvent(c.d, t)), expect: ['required', 'unknown_field'] };
      if (r === 1) return { channel: 'event', payload: render(singlePairs(c)), expect: ['required', 'unknown_field'] };
      if (r === 2) return { channel: 'state', payload: JSON.stringify(validEvent(c.d, t)), expect: ['required', 'unknown_field'] };
      return { channel: 'event', payload: JSON.stringify(validState(c.d, t)), expect: ['required', 'unknown_field'] };
    },
  },
  {
    name: 'state broken',
    weight: 6,
    make: (c) => {
      const { t } = c.nextBad();
      let p = toPairs(validState(c.d, t));
      const r = c.d.rng.int(0, 9);
      let expect: readonly ReasonCode[];
      let how: string;
      if (r <= 5) {
        const f = c.d.pick(STATE_FIELDS);
        const b = breakValue(c.d, f);
        p = setRaw(p, f.name, b.raw);
        expect = b.expect;
        how = `${f.name}: ${b.how}`;
      } else if (r === 6) {
        p = setRaw(setRaw(p, 'online', 'true'), 'reason', JSON.stringify(c.d.pick(OFFLINE_REASONS)));
        expect = ['rule'];
        how = 'online with an offline reason';
      } else if (r === 7) {
        p = setRaw(p, 'reason', JSON.stringify(c.d.pick(['crashed', 'CONNECTION_LOST', '', 'shutdown\u0000'])));
        expect = ['enum'];
        how = 'unknown reason';
      } else if (r === 8) {
        p = without(p, 'online');
        expect = ['required'];
        how = 'online missing';
      } else {
        p = [...p, [unknownKey(c.d, p), '{"polluted":true}']];
        expect = ['unknown_field'];
        how = 'unknown field';
      }
      // retained publishes are allowed on the state topic: the broker keeps the last one
      return { channel: 'state', payload: render(p), expect, how, retain: c.d.rng.chance(0.3) };
    },
  },
  {
    name: 'event broken',
    weight: 6,
    make: (c) => {
      const { t } = c.nextBad();
      let p = toPairs(validEvent(c.d, t));
      const r = c.d.rng.int(0, 9);
      if (r <= 6) {
        const f = c.d.pick(EVENT_FIELDS);
        const b = breakValue(c.d, f);
        // lat and lon come together: break one while both are there
        if (f.name === 'lat' || f.name === 'lon') p = setRaw(setRaw(p, 'lat', '1'), 'lon', '1');
        p = setRaw(p, f.name, b.raw);
        return { channel: 'event', payload: render(p), expect: b.expect, how: `${f.name}: ${b.how}` };
      }
      if (r === 7) {
        p = without(setRaw(setRaw(p, 'lat', '1'), 'lon', '1'), c.d.pick(['lat', 'lon']));
        return { channel: 'event', payload: render(p), expect: ['rule'], how: 'lat without lon' };
      }
      if (r === 8) {
        p = without(p, c.d.pick(['t', 'type', 'severity']));
        return { channel: 'event', payload: render(p), expect: ['required'], how: 'required missing' };
      }
      return { channel: 'event', payload: render([...p, [unknownKey(c.d, p), '1']]), expect: ['unknown_field'], how: 'unknown field' };
    },
  },
  {
    name: 'prototype pollution',
    weight: 3,
    make: (c) => {
      const { channel, pairs } = anyValidPairs(c);
      const key = c.d.pick(['__proto__', 'constructor', 'prototype', '__defineGetter__', '__lookupGetter__']);
      const value = c.d.pick(['{"polluted":true}', '{"prototype":{"polluted":true}}', '{"__proto__":{"polluted":true}}', '{"toString":"x","valueOf":1}', 'null', '[]']);
      const at = c.d.rng.int(0, pairs.length);
      const p: Pairs = [...pairs.slice(0, at), [key, value], ...pairs.slice(at)];
      return { channel, payload: render(p), expect: ['unknown_field'], how: key };
    },
  },
  {
    name: 'many unknown fields',
    weight: 2,
    make: (c) => {
      // more unknown fields than reasons are listed (50): the message must still be refused
      const { channel, pairs } = anyValidPairs(c);
      const n = c.d.rng.int(40, 120);
      const extra: Pairs = Array.from({ length: n }, (_, i) => [`${c.d.pick(['x', 'k', '__proto__', 'extra'])}${i}`, '1']);
      let p = [...pairs, ...extra];
      let how = `${n} unknown fields`;
      if (channel === 'telemetry' && c.d.rng.chance(0.5)) {
        p = setRaw(p, 'lat', '200');
        how += ' and lat 200';
      }
      return { channel, payload: render(p), expect: ['unknown_field', 'range'], how };
    },
  },
  {
    name: 'invalid UTF-8',
    weight: 4,
    make: (c) => {
      const r = c.d.rng.int(0, 9);
      const { channel, pairs } = anyValidPairs(c);
      const s = render(pairs);
      if (r === 0) return { channel, payload: Buffer.from(`\ufeff${s}`, 'utf16le'), expect: ['encoding'], how: 'UTF-16LE with BOM' };
      if (r === 1) return { channel, payload: Buffer.from(`{"\u00e9":1,${s.slice(1)}`, 'latin1'), expect: ['encoding'], how: 'Latin-1 é' };
      const bad = Buffer.from(c.d.pick(INVALID_UTF8));
      const at = r === 2 ? s.length : c.d.rng.int(0, s.length);
      const b = Buffer.from(s);
      return { channel, payload: Buffer.concat([b.subarray(0, at), bad, b.subarray(at)]), expect: ['encoding'], how: `bytes ${bad.toString('hex')} at ${at}` };
    },
  },
  {
    name: 'UTF-16 without BOM',
    weight: 0.5,
    make: (c) => ({ channel: 'telemetry', payload: Buffer.from(render(singlePairs(c)), 'utf16le'), expect: ['json'] }),
  },
  {
    name: 'oversized payload',
    weight: 0.06,
    make: (c) => {
      const size = c.opts.maxPayloadBytes + c.d.pick([1, 2, 100, c.d.rng.int(1, 4096)]);
      const { channel, pairs } = anyValidPairs(c);
      const s = render(pairs);
      // valid JSON padded with whitespace (one byte over the limit, or a little more), or garbage of that size
      const payload = c.d.rng.chance(0.7) ? Buffer.concat([Buffer.from(s), Buffer.alloc(size - s.length, 0x20)]) : c.d.bytes(size);
      return { channel, payload, expect: ['size'], how: `${size} bytes` };
    },
  },
  {
    name: 'deep nesting',
    weight: 0.1,
    make: (c) => {
      const depth = c.d.pick([1000, 10_000, 50_000, 80_000]);
      const r = c.d.rng.int(0, 3);
      if (r === 0) return { channel: 'telemetry', payload: '['.repeat(depth) + ']'.repeat(depth), expect: ['type'], how: `array depth ${depth}` };
      if (r === 1) return { channel: 'state', payload: '{"a":'.repeat(depth / 2) + '1' + '}'.repeat(depth / 2), expect: ['required'], how: `object depth ${depth / 2}` };
      if (r === 2) return { channel: 'telemetry', payload: render(setRaw(singlePairs(c), 'rpm', '['.repeat(depth) + ']'.repeat(depth))), expect: ['type', 'required', 'unknown_field'], how: `field depth ${depth}` };
      return { channel: 'event', payload: render([...toPairs(validEvent(c.d, c.nextBad().t)), ['nested', '{"a":'.repeat(depth / 2) + '1' + '}'.repeat(depth / 2)]]), expect: ['unknown_field'], how: `unknown field depth ${depth / 2}` };
    },
  },
  {
    name: 'huge strings',
    weight: 0.1,
    make: (c) => {
      const n = c.d.rng.int(50_000, Math.floor(c.opts.maxPayloadBytes * 0.9));
      const r = c.d.rng.int(0, 2);
      if (r === 0) return { channel: 'event', payload: render(setRaw(toPairs(validEvent(c.d, c.nextBad().t)), 'message', JSON.stringify('m'.repeat(n)))), expect: ['format'], how: `message ${n}` };
      if (r === 1) return { channel: 'telemetry', payload: render([...singlePairs(c), ['k'.repeat(n), '1']]), expect: ['unknown_field'], how: `key ${n}` };
      return { channel: 'telemetry', payload: render(setRaw(singlePairs(c), 'lat', JSON.stringify('4'.repeat(n)))), expect: ['type'], how: `number as a ${n}-character string` };
    },
  },
];

const FAMILY_WEIGHT = FAMILIES.reduce((s, f) => s + f.weight, 0);

// ── good traffic ──────────────────────────────────────────────────────────────────────────────────

/** Valid encodings of a telemetry message that a naive parser might trip on. */
const GOOD_VARIANTS: readonly { name: string; weight: number; apply: (json: string, value: unknown) => Buffer }[] = [
  { name: 'plain', weight: 80, apply: (s) => Buffer.from(s) },
  { name: 'pretty-printed', weight: 3, apply: (_s, v) => Buffer.from(JSON.stringify(v, null, 2)) },
  { name: 'UTF-8 BOM', weight: 2, apply: (s) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(s)]) },
  { name: 'surrounding whitespace', weight: 2, apply: (s) => Buffer.from(` \r\n\t${s}\n\t \r\n`) },
  { name: 'v as 1.0', weight: 2, apply: (s) => Buffer.from(s.replace(/^\{"v":1/, '{"v":1.0')) },
  { name: 'v as 10e-1', weight: 1, apply: (s) => Buffer.from(s.replace(/^\{"v":1/, '{"v":10e-1')) },
  { name: 'escaped key', weight: 2, apply: (s) => Buffer.from(s.replace(/^\{"v":/, '{"\\u0076":')) },
  { name: 'escaped string value', weight: 2, apply: (s) => Buffer.from(s.replace(/"fix":"([a-z_]+)"/, (_m, f: string) => `"fix":"${[...f].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`)) },
];
const GOOD_VARIANT_WEIGHT = GOOD_VARIANTS.reduce((s, v) => s + v.weight, 0);

function pickWeighted<T extends { weight: number }>(d: Draw, xs: readonly T[], total: number): T {
  let r = d.rng.next() * total;
  for (const x of xs) {
    r -= x.weight;
    if (r < 0) return x;
  }
  return xs[xs.length - 1]!;
}

function topicOf(device: FuzzDevice, channel: FuzzChannel): string {
  return channel === 'telemetry' ? telemetryTopic(device.kind, device.id) : channel === 'state' ? stateTopic(device.kind, device.id) : eventTopic(device.kind, device.id);
}

/** Builds the whole plan from the seed. */
export function fuzzPlan(opts: FuzzOptions): FuzzPlan {
  const d = new Draw(new Rng(opts.seed, 'fuzz'));
  const streams = new Map<string, FuzzMessage[]>(opts.devices.map((dev) => [dev.id, []]));
  const good: GoodMessage[] = [];
  const bad: BadMessage[] = [];
  const push = (m: FuzzMessage): void => {
    streams.get(m.device)!.push(m);
    (m.bad ? bad : good).push(m as never);
  };

  // good telemetry: per device, seq 0…n-1, in singles and batches; device time 20 ms apart
  const perDevice = Math.ceil(opts.goodSamples / opts.devices.length);
  let padded = 0;
  for (const dev of opts.devices) {
    let seq = 0;
    while (seq < perDevice) {
      const n = Math.min(perDevice - seq, d.rng.chance(0.6) ? 1 : d.rng.int(2, 25));
      const samples = Array.from({ length: n }, (_, k) => validSample(d, dev.kind, seq + k, opts.t0 + (seq + k) * 20));
      seq += n;
      const value = n === 1 ? { v: 1, ...samples[0] } : { v: 1, samples };
      const json = JSON.stringify(value);
      let variant = pickWeighted(d, GOOD_VARIANTS, GOOD_VARIANT_WEIGHT);
      let payload = variant.apply(json, value);
      // a few padded with whitespace to exactly the size limit: the largest valid message
      if (padded < 4 && d.rng.chance(0.002)) {
        padded++;
        variant = { name: 'padded to exactly maxPayloadBytes', weight: 0, apply: () => payload };
        payload = Buffer.concat([Buffer.from(json), Buffer.alloc(opts.maxPayloadBytes - Buffer.byteLength(json), 0x20)]);
      }
      push({ bad: false, device: dev.id, channel: 'telemetry', topic: topicOf(dev, 'telemetry'), payload, qos: 1, retain: false, family: variant.name, samples });
    }
  }
  // good events and states: hostile but valid text; distinct device times per device
  for (let i = 0; i < opts.goodEvents; i++) {
    const dev = opts.devices[i % opts.devices.length]!;
    const e = validEvent(d, opts.t0 + 600_000 + i * 7);
    push({ bad: false, device: dev.id, channel: 'event', topic: topicOf(dev, 'event'), payload: Buffer.from(JSON.stringify(e)), qos: 1, retain: false, family: 'event', samples: [], message: e });
  }
  for (let i = 0; i < opts.goodStates; i++) {
    const dev = opts.devices[i % opts.devices.length]!;
    const s = validState(d, opts.t0 + 900_000 + i * 7);
    push({ bad: false, device: dev.id, channel: 'state', topic: topicOf(dev, 'state'), payload: Buffer.from(JSON.stringify(s)), qos: 1, retain: d.rng.chance(0.5), family: 'state', samples: [], message: s });
  }

  // bad messages: families by weight, devices at random
  const badSeq = new Map<string, number>();
  const badSeqFamily: Record<string, Record<number, string>> = Object.fromEntries(opts.devices.map((dev) => [dev.id, {}]));
  const badTimeFamily: Record<number, string> = {};
  let badT = opts.t0 + 1_200_000;
  for (let i = 0; i < opts.badMessages; i++) {
    const device = d.pick(opts.devices);
    const family = pickWeighted(d, FAMILIES, FAMILY_WEIGHT);
    const ctx: Ctx = {
      d,
      device,
      opts,
      nextBad: () => {
        const seq = badSeq.get(device.id) ?? BAD_SEQ_BASE;
        badSeq.set(device.id, seq + 1);
        badT += 1;
        badSeqFamily[device.id]![seq] = family.name;
        badTimeFamily[badT] = family.name;
        return { seq, t: badT };
      },
    };
    const made = family.make(ctx);
    let payload = typeof made.payload === 'string' ? Buffer.from(made.payload) : made.payload;
    if (payload.length > opts.maxPacketBytes - 1024) payload = payload.subarray(0, opts.maxPacketBytes - 1024);
    const retain = made.channel === 'state' && (made.retain ?? false);
    // a few at QoS 0: ingest must refuse those as well
    const qos = made.qos ?? (d.rng.chance(0.01) ? 0 : 1);
    push({ bad: true, device: device.id, channel: made.channel, topic: topicOf(device, made.channel), payload, qos, retain, family: made.how ? `${family.name}: ${made.how}` : family.name, expect: made.expect });
  }
  for (const s of streams.values()) d.shuffle(s);
  return { streams, good, bad, badSeqFamily, badTimeFamily };
}


// ── the device side of the run ────────────────────────────────────────────────────────────────────
// It runs in a child process of the test (see fuzz.test.ts), so that the devices' and the dead-letter
// reader's MQTT work does not share a core with the broker, ingest and the gateway under test.

export interface FuzzRunParams {
  readonly options: FuzzOptions;
  readonly mqttUrl: string;
  /** Each device's password. */
  readonly passwords: Readonly<Record<string, string>>;
  /** A service account allowed to subscribe to the dead letters (the gateway's). */
  readonly reader: { readonly username: string; readonly password: string; readonly clientId: string };
  /** The service whose dead letters count (ingest's account). */
  readonly source: string;
  /** QoS 1 publishes in flight per device connection. */
  readonly window: number;
  /** Messages published and not yet received by ingest and the gateway, at most (see {@link runFuzzDevices}). */
  readonly ahead: number;
}

/** How far the services are: messages both ingest and the gateway took from the broker, and messages ingest refused. */
export interface FuzzProgress {
  readonly received: number;
  readonly refused: number;
}

/** What the device side saw, for the test to assert on. */
export interface FuzzRunResult {
  readonly families: Readonly<Record<string, number>>;
  readonly goodMessages: number;
  /** Per device, the good samples sent. */
  readonly goodSamples: Readonly<Record<string, readonly Record<string, unknown>[]>>;
  readonly goodEvents: readonly { readonly device: string; readonly event: Record<string, unknown> }[];
  /** Per device, the good state with the latest device time. */
  readonly latestStates: Readonly<Record<string, Record<string, unknown>>>;
  /** See {@link FuzzPlan}. */
  readonly badSeqFamily: FuzzPlan['badSeqFamily'];
  readonly badTimeFamily: FuzzPlan['badTimeFamily'];
  readonly letters: number;
  /** Dead letters by their first reason code. */
  readonly lettersByCode: Readonly<Record<string, number>>;
  /** Dead letters from another source, or with 0 or more than 51 reasons. */
  readonly malformedLetters: number;
  /** Bad messages without a dead letter, by family, and a few of them. */
  readonly notLettered: Readonly<Record<string, number>>;
  readonly notLetteredExamples: readonly string[];
  /** Dead letters that match no bad message (a second one for a message, a good message refused, a store refusal). */
  readonly unexpected: Readonly<Record<string, number>>;
  /** Records the store refused that were dead-lettered more than once. */
  readonly repeatedStoreRefusals: number;
  /** Dead letters whose first reason is not one the message's family earns. */
  readonly wrongCode: Readonly<Record<string, number>>;
  readonly wrongCodeExamples: readonly string[];
  /** Messages published that ingest or the gateway never received (by the deadline). */
  readonly undelivered: number;
  /** Refusals counted by ingest whose dead letter never reached the reader (by the deadline). */
  readonly lettersMissing: number;
  /** Devices whose connection closed before the end. */
  readonly disconnected: readonly string[];
  readonly timing: Readonly<Record<string, number>>;
  readonly cpuMs: number;
}

function tally<T>(xs: readonly T[], label: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[label(x)] = (out[label(x)] ?? 0) + 1;
  return out;
}

/** The first of each kind, at most 12. */
function firstOfEach<T>(xs: readonly T[], label: (x: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const x of xs) if (!seen.has(label(x)) && seen.size < 12) seen.set(label(x), x);
  return [...seen.values()];
}

/** The family name without its detail (for counting). */
export function familyOf(m: FuzzMessage): string {
  return m.family.split(':')[0]!;
}

const describeMessage = (m: FuzzMessage): string => `${m.family} on ${m.topic} (qos ${m.qos}${m.retain ? ', retained' : ''}, ${m.payload.length} bytes): ${JSON.stringify(m.payload.subarray(0, 200).toString('latin1'))}`;

/**
 * Generates the plan, publishes every device's stream over its own connection (QoS 1 mostly, `window`
 * in flight), and matches the dead letters to the bad messages. `progress()` says how many messages ingest
 * and the gateway have both received: publishers stay at most `ahead` in front, or they outrun them, the
 * broker queues QoS 1 messages for them by the ten thousand, and each acknowledgement scans that queue
 * (aedes' in-memory store) — the run turns quadratic.
 */
export async function runFuzzDevices(params: FuzzRunParams, progress: () => FuzzProgress): Promise<FuzzRunResult> {
  const cpu0 = process.cpuUsage();
  const timing: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timing[name] = Math.round(now - mark);
    mark = now;
  };
  const plan = fuzzPlan(params.options);
  const expected = new Map<string, BadMessage[]>();
  for (const m of plan.bad) {
    const key = letterKey(m.topic, m.payload.length, m.payload);
    const list = expected.get(key);
    if (list) list.push(m);
    else expected.set(key, [m]);
  }
  lap('generate');

  interface Letter {
    readonly key: string;
    readonly code: string;
    readonly label: string;
    readonly ok: boolean;
  }
  const letters: Letter[] = [];
  // a record the store refused is dead-lettered with the record as payload: once, too
  const storeRefusals = new Map<string, number>();
  const reader = await mqtt.connectAsync(params.mqttUrl, { username: params.reader.username, password: params.reader.password, clientId: params.reader.clientId, protocolVersion: 4, reconnectPeriod: 0 });
  reader.on('message', (_topic, payload) => {
    const l = JSON.parse(payload.toString()) as { source: string; topic: string; size: number; payload: string; reasons: { code: string; message: string }[]; note?: string };
    const first = l.reasons[0];
    if (l.note !== undefined) storeRefusals.set(l.payload, (storeRefusals.get(l.payload) ?? 0) + 1);
    letters.push({
      key: letterKey(l.topic, l.size, Buffer.from(l.payload, 'base64')),
      code: String(first?.code),
      // one label per kind of letter: no device ids, numbers or data keys
      label: `${first?.code}${l.note ? ` (${l.note})` : ''} on ${l.topic.slice(0, 60).replace(/^(hatake\/v1\/[a-z]+\/)[^/]+/, '$1<id>').replace(/^([a-z]+\/)[^/]+$/, '$1<id>')}: ${first?.message
        .slice(0, 100)
        .replace(/\d+/g, '#')
        .replace(/data\.[A-Za-z_#]+/g, 'data.<key>')}`,
      ok: l.source === params.source && l.reasons.length >= 1 && l.reasons.length <= 51,
    });
  });
  await reader.subscribeAsync(DEAD_LETTER_FILTER, { qos: 1 });

  const disconnected: string[] = [];
  const clients = new Map(
    await Promise.all(
      params.options.devices.map(async (d) => {
        const c = await mqtt.connectAsync(params.mqttUrl, { username: d.id, password: params.passwords[d.id], clientId: d.id, protocolVersion: 4, reconnectPeriod: 0 });
        c.on('close', () => disconnected.push(d.id));
        return [d.id, c] as const;
      }),
    ),
  );
  lap('connect');

  let sent = 0;
  const pump = async (device: string, msgs: readonly FuzzMessage[]): Promise<void> => {
    const client = clients.get(device)!;
    let next = 0;
    let last: FuzzMessage | undefined;
    const closed = new Promise<never>((_, reject) =>
      client.once('close', () => reject(new Error(`the broker closed ${device}'s connection after ${next} of ${msgs.length} messages; last: ${last ? describeMessage(last) : 'none'}`))),
    );
    closed.catch(() => undefined);
    const worker = async (): Promise<void> => {
      while (next < msgs.length) {
        const m = msgs[next++]!;
        last = m;
        // every refusal is a dead letter on its way to the reader: it must not fall behind either
        const waitingSince = Date.now();
        while (sent - progress().received >= params.ahead || progress().refused - letters.length >= params.ahead) {
          if (Date.now() - waitingSince > 60_000) throw new Error(`no progress for 60 s: published ${sent}, received by ingest and the gateway ${progress().received}, refused ${progress().refused}, dead letters ${letters.length}`);
          await new Promise((r) => setTimeout(r, 2));
        }
        sent++;
        await Promise.race([client.publishAsync(m.topic, m.payload, { qos: m.qos, retain: m.retain }), closed]);
      }
    };
    await Promise.all(Array.from({ length: params.window }, worker));
  };
  await Promise.all([...plan.streams].map(([device, msgs]) => pump(device, msgs)));
  lap('publish');

  // until ingest and the gateway have received everything, and every refusal's dead letter is here. Not a
  // marker message published last: the broker may deliver a retained message after later ones (aedes stores
  // it before forwarding it, asynchronously), so arrival order is no barrier.
  const deadline = Date.now() + 120_000;
  while ((progress().received < sent || letters.length < progress().refused) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const undelivered = Math.max(0, sent - progress().received);
  const lettersMissing = Math.max(0, progress().refused - letters.length);
  lap('dead letters');

  const unexpected: Letter[] = [];
  const wrongCode: { m: BadMessage; got: string }[] = [];
  for (const l of letters) {
    const m = expected.get(l.key)?.pop();
    if (!m) unexpected.push(l);
    else if (!m.expect.includes(l.code as ReasonCode)) wrongCode.push({ m, got: l.code });
  }
  const notLettered = [...expected.values()].flat();
  const cut = [...disconnected];
  const latestStates: Record<string, Record<string, unknown>> = {};
  for (const m of plan.good) {
    if (m.channel === 'state' && ((latestStates[m.device]?.['t'] as number | undefined) ?? -1) < (m.message!['t'] as number)) latestStates[m.device] = m.message!;
  }
  await Promise.all([...clients.values(), reader].map((c) => c.endAsync()));
  lap('match');
  const cpu = process.cpuUsage(cpu0);
  return {
    families: tally(plan.bad, familyOf),
    goodMessages: plan.good.length,
    goodSamples: Object.fromEntries(params.options.devices.map((d) => [d.id, plan.good.filter((m) => m.device === d.id).flatMap((m) => m.samples)])),
    goodEvents: plan.good.filter((m) => m.channel === 'event').map((m) => ({ device: m.device, event: m.message! })),
    latestStates,
    badSeqFamily: plan.badSeqFamily,
    badTimeFamily: plan.badTimeFamily,
    letters: letters.length,
    lettersByCode: tally(letters, (l) => l.code),
    malformedLetters: letters.filter((l) => !l.ok).length,
    notLettered: tally(notLettered, familyOf),
    notLetteredExamples: firstOfEach(notLettered, familyOf).map(describeMessage),
    unexpected: tally(unexpected, (l) => l.label),
    repeatedStoreRefusals: [...storeRefusals.values()].filter((n) => n > 1).length,
    wrongCode: tally(wrongCode, (w) => `${familyOf(w.m)} → ${w.got} (expected ${w.m.expect.join('|')})`),
    wrongCodeExamples: firstOfEach(wrongCode, (w) => `${familyOf(w.m)} ${w.got}`).map((w) => `→ ${w.got}: ${describeMessage(w.m)}`),
    undelivered,
    lettersMissing,
    disconnected: cut,
    timing,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
}

/** Messages between the test and its device child process. */
export type FuzzChildMessage =
  | { readonly type: 'start'; readonly params: FuzzRunParams }
  | { readonly type: 'progress'; readonly progress: FuzzProgress }
  | { readonly type: 'done'; readonly result: FuzzRunResult }
  | { readonly type: 'error'; readonly message: string };

/** The child process's side: waits for its parameters, runs the devices, reports, exits. */
export async function fuzzDevicesChild(): Promise<void> {
  const send = (m: FuzzChildMessage): Promise<void> => new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
  // the test is gone (finished, failed or timed out): so is this process
  process.on('disconnect', () => process.exit(1));
  let progress: FuzzProgress = { received: 0, refused: 0 };
  const params = await new Promise<FuzzRunParams>((resolve) =>
    process.on('message', (m: FuzzChildMessage) => {
      if (m.type === 'start') resolve(m.params);
      else if (m.type === 'progress') progress = m.progress;
    }),
  );
  try {
    await send({ type: 'done', result: await runFuzzDevices(params, () => progress) });
  } catch (err) {
    await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  process.exit(0);
}
