/**
 * Fuzzing the Decoder: 100,000 inputs made by mutating valid messages of every
 * topic (bytes, tokens and JSON structure), on valid and mutated topics.
 *
 * For every input: `decode` never throws; it returns a message, or at least
 * one reason, each conforming to the Reason schema (a known code, a bounded
 * path and message, no raw control characters: safe to log and republish);
 * the same input decodes the same way twice. A message it accepts really
 * conforms to its topic's schema (checked by TypeBox directly, not through
 * the Decoder). Inputs broken in a way that is certainly invalid (a value out
 * of range, a field the message does not have, a required field missing...)
 * are refused. Nothing lands on Object.prototype.
 *
 * The seed is random unless HATAKE_FUZZ_SEED is set, and printed, so a
 * failure replays.
 */
import { randomInt } from 'node:crypto';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import {
  Command,
  CommandAck,
  DeadLetter,
  Decoder,
  DeviceEvent,
  DeviceState,
  EXAMPLE_T0,
  HEARTBEAT_TOPIC,
  Heartbeat,
  MAX_REASONS,
  PlowTelemetryBatch,
  PlowTelemetrySingle,
  REASON_CODES,
  Reason,
  SensorTelemetryBatch,
  SensorTelemetrySingle,
  TractorTelemetryBatch,
  TractorTelemetrySingle,
  commandAckTopic,
  commandTopic,
  deadLetterTopic,
  eventTopic,
  exampleAck,
  exampleCommand,
  exampleEvent,
  exampleHeartbeat,
  examplePlowSample,
  exampleSensorSample,
  exampleState,
  exampleTractorSample,
  exampleWill,
  parseTopic,
  stateTopic,
  telemetryTopic,
  type DecodeResult,
} from '@hatake/protocol';

const INPUTS = 100_000;
const SEED = process.env['HATAKE_FUZZ_SEED'] !== undefined ? Number(process.env['HATAKE_FUZZ_SEED']) : randomInt(2 ** 31);

/** mulberry32: small, seeded, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOW = EXAMPLE_T0 + 60_000;
const T1 = telemetryTopic('tractor', 't1');
const P1 = telemetryTopic('plow', 'p1');
const S1 = telemetryTopic('sensor', 's1');

/** Valid messages of every topic: what the mutations start from. */
const CORPUS: readonly { topic: string; value: Record<string, unknown> }[] = [
  { topic: T1, value: { v: 1, ...exampleTractorSample() } },
  { topic: T1, value: { v: 1, samples: [exampleTractorSample(), exampleTractorSample({ seq: 1, t: EXAMPLE_T0 + 200, fix: 'none', lat: undefined, lon: undefined, alt: undefined, hdop: undefined, speed: undefined, heading: undefined }) as never] } },
  { topic: P1, value: { v: 1, ...examplePlowSample() } },
  { topic: P1, value: { v: 1, samples: [examplePlowSample(), examplePlowSample({ seq: 1, t: EXAMPLE_T0 + 500 })] } },
  { topic: S1, value: { v: 1, ...exampleSensorSample() } },
  { topic: S1, value: { v: 1, samples: [exampleSensorSample(), exampleSensorSample({ seq: 1, t: EXAMPLE_T0 + 60_000 })] } },
  { topic: S1, value: { v: 1, t: EXAMPLE_T0, seq: 3, fix: 'none', rain: 0 } },
  { topic: stateTopic('tractor', 't1'), value: { ...exampleState() } },
  { topic: stateTopic('sensor', 's1'), value: { ...exampleWill() } },
  { topic: eventTopic('tractor', 't1'), value: { ...exampleEvent() } },
  { topic: eventTopic('plow', 'p1'), value: { ...exampleEvent({ type: 'blade_change', severity: 'info', data: { blade: 'down', width: 3.2, ok: true } }) } },
  { topic: commandTopic('tractor', 't1'), value: { ...exampleCommand() } },
  { topic: commandTopic('tractor', 't1'), value: { ...exampleCommand({ type: 'set_speed', params: { speed: 2 } }) } },
  { topic: commandTopic('tractor', 't1'), value: { ...exampleCommand({ type: 'start_mission', params: { missionId: 'm-1' } }) } },
  { topic: commandAckTopic('tractor', 't1'), value: { ...exampleAck() } },
  { topic: commandAckTopic('tractor', 't1'), value: { ...exampleAck({ status: 'rejected', reason: 'expired' }) } },
  { topic: HEARTBEAT_TOPIC, value: { ...exampleHeartbeat() } },
  {
    topic: deadLetterTopic('ingest'),
    value: { v: 1, t: EXAMPLE_T0, source: 'ingest', topic: T1, size: 3, reasons: [{ code: 'json', path: '', message: 'x' }], payload: 'e30=', truncated: false },
  },
];

/** The schema a message on `topic` must conform to (the oracle for accepted messages). */
function schemaOf(topic: string, value: Record<string, unknown>): TSchema | undefined {
  const p = parseTopic(topic);
  if (!p.ok) return undefined;
  if (p.topic.type === 'heartbeat') return Heartbeat;
  if (p.topic.type === 'deadletter') return DeadLetter;
  const batch = 'samples' in value;
  switch (p.topic.channel) {
    case 'telemetry':
      return { tractor: batch ? TractorTelemetryBatch : TractorTelemetrySingle, plow: batch ? PlowTelemetryBatch : PlowTelemetrySingle, sensor: batch ? SensorTelemetryBatch : SensorTelemetrySingle }[p.topic.kind];
    case 'state':
      return DeviceState;
    case 'event':
      return DeviceEvent;
    case 'cmd':
      return Command;
    case 'cmd/ack':
      return CommandAck;
  }
}

/** Values to drop in anywhere, as JSON text. */
const INTERESTING = [
  'null', 'true', 'false', '0', '-0', '1', '-1', '0.5', '1e308', '-1e308', '1e999', '-1e999', '1e-400', '9007199254740993', '-9007199254740993', '4102444800001', '1577836799999',
  '""', '" "', '"\\u0000"', '"\\u001b[31m"', '"\\ud800"', '"NaN"', '"Infinity"', '"1"', '"__proto__"', '"a,b=c d"', `"${'x'.repeat(300)}"`, '[]', '{}', '[[[[[]]]]]', '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}', `${'['.repeat(2000)}${']'.repeat(2000)}`, '[true,false]', '[1,2,3]',
];
/** Not JSON at all. */
const INVALID_TOKENS = ['NaN', 'Infinity', '-Infinity', 'undefined', "'x'", '0x10', '01', '+1', '.5', '1.', '1e', '--1', '"\u0001"', '"\\x"', '"\\u12"', '{,}', '[,]', '{"a"}', '}', '{'];
const KEYS = ['v', 't', 'seq', 'fix', 'lat', 'samples', 'data', 'params', 'reasons', '__proto__', 'constructor', 'prototype', 'x', '', ' v', '\u0000', 'a/b~c', 'k'.repeat(300)];

type Mutation = (text: string, r: () => number) => { text?: string; bytes?: Buffer; certainlyBad?: string };

const pick = <T,>(xs: readonly T[], r: () => number): T => xs[Math.floor(r() * xs.length)]!;
const at = (n: number, r: () => number): number => Math.floor(r() * (n + 1));

/** Replaces one value found at random with JSON text (object member or array element), by walking the parsed value. */
function replaceValue(text: string, r: () => number, raw: (path: string[]) => string): { text: string; path: string[] } {
  const value = JSON.parse(text) as unknown;
  const path: string[] = [];
  let cur: unknown = value;
  while (cur !== null && typeof cur === 'object' && (path.length === 0 || r() < 0.7)) {
    const keys = Object.keys(cur);
    if (keys.length === 0) break;
    const k = pick(keys, r);
    path.push(k);
    cur = (cur as Record<string, unknown>)[k];
  }
  if (path.length === 0) return { text: raw(path), path };
  const marker = `__fuzz_${Math.floor(r() * 1e9)}__`;
  let parent: unknown = value;
  for (const k of path.slice(0, -1)) parent = (parent as Record<string, unknown>)[k];
  (parent as Record<string, unknown>)[path[path.length - 1]!] = marker;
  return { text: JSON.stringify(value).replace(`"${marker}"`, raw(path)), path };
}

const MUTATIONS: readonly { name: string; weight: number; apply: Mutation }[] = [
  { name: 'flip a bit', weight: 10, apply: (s, r) => { const b = Buffer.from(s); const i = at(b.length - 1, r); b[i] = b[i]! ^ (1 << at(7, r)); return { bytes: b }; } },
  { name: 'insert a byte', weight: 5, apply: (s, r) => { const b = Buffer.from(s); const i = at(b.length, r); return { bytes: Buffer.concat([b.subarray(0, i), Buffer.from([at(255, r)]), b.subarray(i)]) }; } },
  { name: 'delete bytes', weight: 5, apply: (s, r) => { const b = Buffer.from(s); const i = at(b.length - 1, r); return { bytes: Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + at(8, r))]) }; } },
  { name: 'truncate', weight: 5, apply: (s, r) => ({ text: s.slice(0, at(s.length - 1, r)) }) },
  { name: 'duplicate a slice', weight: 3, apply: (s, r) => { const i = at(s.length - 1, r); const j = i + at(40, r); return { text: s.slice(0, j) + s.slice(i, j) + s.slice(j) }; } },
  { name: 'append garbage', weight: 3, apply: (s, r) => ({ text: s + pick(['x', '}', ',', ' 1', s, '\u0000', '//', '\ufeff'], r) }) },
  { name: 'invalid UTF-8', weight: 4, apply: (s, r) => { const b = Buffer.from(s); const i = at(b.length, r); return { bytes: Buffer.concat([b.subarray(0, i), Buffer.from(pick([[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xe2, 0x28, 0xa1]], r)), b.subarray(i)]) }; } },
  { name: 'invalid token', weight: 6, apply: (s, r) => ({ text: replaceValue(s, r, () => pick(INVALID_TOKENS, r)).text }) },
  { name: 'interesting value', weight: 20, apply: (s, r) => ({ text: replaceValue(s, r, () => pick(INTERESTING, r)).text }) },
  {
    name: 'add a key',
    weight: 8,
    apply: (s, r) => {
      const key = pick(KEYS, r);
      return { text: `${s.slice(0, -1)},${JSON.stringify(key)}:${pick(INTERESTING, r)}}` };
    },
  },
  { name: 'delete a key', weight: 8, apply: (s, r) => { const o = JSON.parse(s) as Record<string, unknown>; delete o[pick(Object.keys(o), r)]; return { text: JSON.stringify(o) }; } },
  { name: 'wrap', weight: 2, apply: (s, r) => ({ text: pick([`[${s}]`, `{"v":1,"samples":${s}}`, `{"v":1,"samples":[${s}]}`, JSON.stringify(s)], r) }) },
  // certainly invalid, whatever the message: these must be refused
  {
    name: 'a field it does not have',
    weight: 4,
    apply: (s, r) => {
      const o = JSON.parse(s) as unknown;
      if (o === null || typeof o !== 'object' || Array.isArray(o)) return { text: s };
      const key = pick(['__proto__', 'constructor', 'prototype', 'x', '', ' v', '\u0000', 'k'.repeat(300)], r);
      // spliced in as text: an own "__proto__" member, as JSON.parse makes it
      const rest = JSON.stringify(o);
      return { text: `${rest.slice(0, -1)}${rest === '{}' ? '' : ','}${JSON.stringify(key)}:${pick(INTERESTING, r)}}`, certainlyBad: `unknown field ${JSON.stringify(key.slice(0, 10))}` };
    },
  },
  {
    name: 'more unknown fields than reasons are listed',
    weight: 3,
    apply: (s, r) => {
      const o = JSON.parse(s) as unknown;
      if (o === null || typeof o !== 'object' || Array.isArray(o)) return { text: s };
      const n = 1 + at(120, r);
      for (let i = 0; i < n; i++) (o as Record<string, unknown>)[`x${i}`] = 1;
      return { text: JSON.stringify(o), certainlyBad: `${n} unknown fields` };
    },
  },
  {
    name: 'schema version',
    weight: 3,
    apply: (s, r) => {
      const o = JSON.parse(s) as Record<string, unknown>;
      o['v'] = pick([0, 2, '1', null, 1.5, [1], -1, 1e300], r);
      return { text: JSON.stringify(o), certainlyBad: 'bad version' };
    },
  },
  {
    name: 'a number out of range',
    weight: 5,
    apply: (s, r) => {
      // every hatake number has a range, and none reaches ±1e300
      const o = JSON.parse(s) as Record<string, unknown>;
      const target = Array.isArray(o['samples']) ? (o['samples'] as Record<string, unknown>[])[0]! : o;
      const keys = Object.keys(target).filter((k) => typeof target[k] === 'number' && k !== 'v');
      if (keys.length === 0) return { text: s };
      target[pick(keys, r)] = pick([1e300, -1e300], r);
      return { text: JSON.stringify(o), certainlyBad: 'number out of range' };
    },
  },
  {
    name: 'a required field missing',
    weight: 3,
    apply: (s) => {
      const o = JSON.parse(s) as Record<string, unknown>;
      const target = Array.isArray(o['samples']) ? (o['samples'] as Record<string, unknown>[])[0]! : o;
      if (target === null || typeof target !== 'object') return { text: s };
      delete target['t'];
      delete target['id'];
      delete target['online'];
      return { text: JSON.stringify(o), certainlyBad: 'required field missing' };
    },
  },
];
const TOTAL_WEIGHT = MUTATIONS.reduce((s, m) => s + m.weight, 0);

const TOPIC_MUTATIONS: readonly ((t: string, r: () => number) => string)[] = [
  (t) => t.replace('/v1/', '/v2/'),
  (t) => t.replace('tractor', 'combine'),
  (t, r) => t.replace(/\/(t1|p1|s1|ingest)\b/, `/${pick(['a,b', 'a b', 'a"b', '+', '#', '', 'x'.repeat(65), 'é', '\u0000', '$SYS'], r)}`),
  (t) => `${t}/extra`,
  (t) => t.toUpperCase(),
  (t) => `/${t}`,
  () => '',
  () => `hatake/v1/${'a/'.repeat(300)}`,
  (t) => t.replace(/\//g, '//'),
];

/** What is wrong with a result's shape, if anything: one label per class of problem. */
function shapeProblems(r: DecodeResult): string[] {
  if (r.ok) return typeof r.value.channel === 'string' ? [] : ['accepted without a channel'];
  const out: string[] = [];
  if (r.reasons.length === 0) out.push('refused without a reason');
  if (r.reasons.length > MAX_REASONS + 1) out.push(`more than ${MAX_REASONS + 1} reasons`);
  for (const reason of r.reasons) {
    if (!(REASON_CODES as readonly string[]).includes(reason.code)) out.push(`unknown reason code ${JSON.stringify(reason.code)}`);
    // the Reason schema (path ≤ 256, message ≤ 512 characters): what a dead letter carries
    for (const e of Value.Errors(Reason, reason)) out.push(`reason does not conform to the Reason schema: ${e.instancePath} ${e.message}`);
    // safe to log and to republish
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(reason.path)) out.push('raw control characters in a reason path');
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(reason.message)) out.push('raw control characters in a reason message');
  }
  return out;
}

describe(`Decoder fuzz (${INPUTS} inputs, seed ${SEED})`, () => {
  it('never throws; refuses with conforming reasons; accepts only what conforms; refuses what is certainly invalid', () => {
    console.log(`decoder fuzz seed ${SEED} (replay: HATAKE_FUZZ_SEED=${SEED})`);
    const r = rng(SEED);
    const decoder = new Decoder();
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const accepted: string[] = [];
    // problem class → count and the first input that showed it
    const problems = new Map<string, { n: number; example: string }>();
    const problem = (label: string, where: string): void => {
      const p = problems.get(label);
      if (p) p.n++;
      else problems.set(label, { n: 1, example: where });
    };
    let refused = 0;
    for (let i = 0; i < INPUTS; i++) {
      const base = pick(CORPUS, r);
      let topic = base.topic;
      if (r() < 0.05) topic = pick(TOPIC_MUTATIONS, r)(topic, r);
      let text = JSON.stringify(base.value);
      let bytes: Buffer | undefined;
      const applied: string[] = [];
      let certainlyBad: string | undefined;
      const rounds = 1 + at(2, r);
      for (let k = 0; k < rounds; k++) {
        let m = MUTATIONS[0]!;
        let w = r() * TOTAL_WEIGHT;
        for (const x of MUTATIONS) {
          w -= x.weight;
          if (w < 0) {
            m = x;
            break;
          }
        }
        let out: ReturnType<Mutation>;
        try {
          out = bytes === undefined ? m.apply(text, r) : { bytes };
        } catch {
          // structural mutations need JSON: once the text is broken, only byte mutations apply
          out = MUTATIONS[0]!.apply(text, r);
        }
        if (out.bytes !== undefined) bytes = out.bytes;
        else if (out.text !== undefined) text = out.text;
        applied.push(m.name);
        // a later mutation may repair or mask an earlier one: only a last structural mutation is certain
        certainlyBad = k === rounds - 1 ? out.certainlyBad : undefined;
      }
      const payload = bytes ?? Buffer.from(text);
      const where = `input ${i} (${applied.join(' + ')}) on ${JSON.stringify(topic.slice(0, 80))}: ${JSON.stringify(payload.subarray(0, 200).toString('latin1'))}`;
      let result: DecodeResult;
      try {
        result = decoder.decode(topic, payload, { now: NOW });
      } catch (err) {
        problem(`threw: ${String(err).slice(0, 80)}`, where);
        continue;
      }
      for (const label of new Set(shapeProblems(result))) problem(label, where);
      if (i % 10 === 0 && JSON.stringify(decoder.decode(topic, payload, { now: NOW })) !== JSON.stringify(result)) problem('decoded differently the second time', where);
      if (!result.ok) {
        refused++;
        continue;
      }
      accepted.push(applied.join(' + '));
      const value = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
      const schema = schemaOf(topic, value);
      // told apart: accepted with more schema errors than the Decoder lists (MAX_REASONS), or with fewer
      const many = schema !== undefined && [...Value.Errors(schema, value)].length > MAX_REASONS ? ' (more schema errors than reasons are listed)' : '';
      if (!schema || !Value.Check(schema, value)) problem(`accepted, yet not conforming to its topic's schema${many}`, where);
      if (certainlyBad !== undefined && parseTopic(topic).ok) problem(`accepted though certainly invalid: ${certainlyBad.replace(/\d+ unknown/, 'N unknown')}${many}`, where);
    }
    console.log(`decoder fuzz seed ${SEED}: ${INPUTS} inputs, ${refused} refused, ${accepted.length} accepted`);
    const report = Object.fromEntries([...problems].map(([label, p]) => [label, `${p.n}× e.g. ${p.example}`]));
    expect(report, `problems found (seed ${SEED})`).toEqual({});
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    // the mix exercises both outcomes
    expect(refused).toBeGreaterThan(INPUTS / 2);
    expect(accepted.length).toBeGreaterThan(100);
  }, 300_000);
});
