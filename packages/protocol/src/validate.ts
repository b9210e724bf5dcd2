/**
 * The validator: turns `(topic, payload bytes)` into a typed message, or into
 * every reason it is bad — not just the first.
 *
 * Order: topic, size, UTF-8, JSON, object, schema version, schema (all
 * errors), then the rules a schema cannot say (position required with a fix,
 * batch order, command expiry...). Every check that can still run after an
 * earlier failure runs, so one pass reports everything.
 */
import { Compile, type Validator } from 'typebox/compile';
import type { TSchema } from 'typebox';
import { Settings } from 'typebox/system';
import { POSITION_FIELDS, SUPPORTED_VERSIONS } from './schemas/common.ts';
import { Command, CommandAck, MAX_COMMAND_VALIDITY_MS, type CommandType } from './schemas/command.ts';
import { DeviceEvent } from './schemas/event.ts';
import { DeadLetter, Heartbeat, type Reason, type ReasonCode } from './schemas/service.ts';
import { DeviceState } from './schemas/state.ts';
import {
  type PlowSample,
  PlowTelemetryBatch,
  PlowTelemetrySingle,
  SENSOR_MEASUREMENTS,
  type SensorSample,
  SensorTelemetryBatch,
  SensorTelemetrySingle,
  type TractorSample,
  TractorTelemetryBatch,
  TractorTelemetrySingle,
} from './schemas/telemetry.ts';
import { parseTopic, type DeviceKind, type ParsedTopic } from './topics.ts';

/** Limits applied while decoding. */
export interface DecodeLimits {
  /** Largest payload accepted, in bytes. */
  readonly maxPayloadBytes: number;
  /** Most samples in one batched telemetry message. */
  readonly maxBatchSamples: number;
  /** How far device time may run ahead of the receive time (when `now` is given). */
  readonly maxFutureSkewMs: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxPayloadBytes: 256 * 1024,
  maxBatchSamples: 1000,
  maxFutureSkewMs: 5 * 60 * 1000,
});

/** At most this many reasons are listed; the rest are summarised in one more. */
export const MAX_REASONS = 50;

export type TelemetryOf<K extends DeviceKind> = K extends 'tractor' ? TractorSample : K extends 'plow' ? PlowSample : SensorSample;

interface DeviceAddress<K extends DeviceKind = DeviceKind> {
  readonly kind: K;
  readonly deviceId: string;
}

/** A message that passed every check. Telemetry is normalised to a list of samples. */
export type DecodedMessage =
  | (DeviceAddress<'tractor'> & { readonly channel: 'telemetry'; readonly samples: readonly TractorSample[]; readonly batched: boolean })
  | (DeviceAddress<'plow'> & { readonly channel: 'telemetry'; readonly samples: readonly PlowSample[]; readonly batched: boolean })
  | (DeviceAddress<'sensor'> & { readonly channel: 'telemetry'; readonly samples: readonly SensorSample[]; readonly batched: boolean })
  | (DeviceAddress & { readonly channel: 'state'; readonly message: DeviceState })
  | (DeviceAddress & { readonly channel: 'event'; readonly message: DeviceEvent })
  | (DeviceAddress & { readonly channel: 'cmd'; readonly message: Command })
  | (DeviceAddress & { readonly channel: 'cmd/ack'; readonly message: CommandAck })
  | { readonly channel: 'heartbeat'; readonly message: Heartbeat }
  | { readonly channel: 'deadletter'; readonly source: string; readonly message: DeadLetter };

export type DecodeResult =
  | { readonly ok: true; readonly value: DecodedMessage }
  | { readonly ok: false; readonly reasons: readonly Reason[]; readonly topic?: ParsedTopic };

export interface DecodeOptions {
  /** Receive time; when given, device times too far ahead of it are refused. */
  readonly now?: number;
}

type AnyValidator = Validator<Record<never, never>, TSchema>;

function compile(schema: TSchema): AnyValidator {
  return Compile(schema) as unknown as AnyValidator;
}

// Compiled once, at first use of the module's decoders (not at import of the package index).
interface Compiled {
  readonly telemetry: Record<DeviceKind, { single: AnyValidator; batch: AnyValidator }>;
  readonly state: AnyValidator;
  readonly event: AnyValidator;
  readonly cmd: AnyValidator;
  readonly ack: AnyValidator;
  readonly heartbeat: AnyValidator;
  readonly deadletter: AnyValidator;
}
let compiled: Compiled | undefined;
function validators(): Compiled {
  if (compiled) return compiled;
  // TypeBox buffers 8 errors by default; we report up to MAX_REASONS (still bounded, as a DoS guard).
  Settings.Set({ maxErrors: Math.max(Settings.Get().maxErrors, MAX_REASONS + 1) });
  compiled = {
    telemetry: {
      tractor: { single: compile(TractorTelemetrySingle), batch: compile(TractorTelemetryBatch) },
      plow: { single: compile(PlowTelemetrySingle), batch: compile(PlowTelemetryBatch) },
      sensor: { single: compile(SensorTelemetrySingle), batch: compile(SensorTelemetryBatch) },
    },
    state: compile(DeviceState),
    event: compile(DeviceEvent),
    cmd: compile(Command),
    ack: compile(CommandAck),
    heartbeat: compile(Heartbeat),
    deadletter: compile(DeadLetter),
  };
  return compiled;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Makes a string safe to log or republish: no control characters, bounded length. */
export function sanitizeText(value: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function pointerEscape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function valueAt(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : `non-finite number ${String(value)}`;
  if (typeof value === 'string') return JSON.stringify(sanitizeText(value, 40));
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

interface TbError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message: string;
}

/** Maps TypeBox's errors to reasons: one per problem, with the offending value described. */
function schemaReasons(validator: AnyValidator, value: unknown, prefix = ''): Reason[] {
  const errors = validator.Errors(value) as unknown as TbError[];
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const out: Reason[] = [];
  // "schema is false": the twin of an additionalProperties error — unless the error buffer ran out before that
  // error was reported (a message with many unknown fields), when it is the only word on those fields
  const unknownReported = new Set(errors.filter((e) => e.keyword === 'additionalProperties').map((e) => e.instancePath));
  for (const e of errors) {
    const path = prefix + e.instancePath;
    if (e.keyword === 'boolean') {
      const parent = e.instancePath.slice(0, e.instancePath.lastIndexOf('/'));
      if (!unknownReported.has(parent)) out.push({ code: 'unknown_field', path, message: 'is not a field of this message' });
      continue;
    }
    if (e.keyword !== 'anyOf' && anyOfPaths.has(e.instancePath)) continue; // branch detail of a union
    const got = valueAt(value, e.instancePath);
    switch (e.keyword) {
      case 'required': {
        const missing = (e.params['requiredProperties'] as string[] | undefined) ?? [];
        for (const p of missing) out.push({ code: 'required', path: `${path}/${pointerEscape(p)}`, message: 'is required' });
        break;
      }
      case 'additionalProperties': {
        const extra = (e.params['additionalProperties'] as string[] | undefined) ?? [];
        for (const p of extra) out.push({ code: 'unknown_field', path: `${path}/${pointerEscape(p)}`, message: 'is not a field of this message' });
        break;
      }
      case 'type': {
        const expected = String(e.params['type']);
        const finite = typeof got === 'number' && !Number.isFinite(got);
        out.push({ code: 'type', path, message: finite ? `must be a finite number (got ${describe(got)})` : `must be ${expected} (got ${describe(got)})` });
        break;
      }
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        out.push({ code: 'range', path, message: `must be ${String(e.params['comparison'])} ${String(e.params['limit'])} (got ${describe(got)})` });
        break;
      case 'minItems':
      case 'maxItems':
      case 'minProperties':
      case 'maxProperties':
        out.push({ code: 'range', path, message: e.message });
        break;
      case 'enum':
        out.push({ code: 'enum', path, message: `must be one of ${(e.params['allowedValues'] as unknown[]).join(', ')} (got ${describe(got)})` });
        break;
      case 'const':
        out.push({ code: 'enum', path, message: `must be ${JSON.stringify(e.params['allowedValue'])} (got ${describe(got)})` });
        break;
      case 'anyOf':
        out.push({ code: 'type', path, message: `has the wrong type (got ${describe(got)})` });
        break;
      case 'pattern':
      case 'minLength':
      case 'maxLength':
      case 'format':
        out.push({ code: 'format', path, message: `${e.message} (got ${describe(got)})` });
        break;
      default:
        out.push({ code: 'format', path, message: e.message });
    }
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Rules for one telemetry sample that JSON Schema cannot express. */
function sampleRules(kind: DeviceKind, s: unknown, path: string, out: Reason[], opts: DecodeOptions, limits: DecodeLimits): void {
  if (!isRecord(s)) return;
  const fix = s['fix'];
  if (typeof fix === 'string' && fix !== 'none') {
    for (const f of POSITION_FIELDS) {
      if (s[f] === undefined) out.push({ code: 'rule', path: `${path}/${f}`, message: `is required when fix is ${sanitizeText(fix, 20)}` });
    }
  }
  if (kind === 'sensor' && !SENSOR_MEASUREMENTS.some((m) => s[m] !== undefined)) {
    out.push({ code: 'rule', path, message: `a sensor sample needs at least one of ${SENSOR_MEASUREMENTS.join(', ')}` });
  }
  futureRule(s['t'], `${path}/t`, out, opts, limits);
}

function telemetryRules(kind: DeviceKind, obj: Record<string, unknown>, out: Reason[], opts: DecodeOptions, limits: DecodeLimits): void {
  const samples = obj['samples'];
  if (!Array.isArray(samples)) {
    sampleRules(kind, obj, '', out, opts, limits);
    return;
  }
  if (samples.length > limits.maxBatchSamples) {
    // refused whole: no need to look at every sample of an oversized batch
    out.push({ code: 'range', path: '/samples', message: `has ${samples.length} samples; at most ${limits.maxBatchSamples} per message` });
    return;
  }
  let prevSeq: number | undefined;
  let prevT: number | undefined;
  samples.forEach((s, i) => {
    if (out.length > MAX_REASONS) return; // enough to report; the rest is summarised
    sampleRules(kind, s, `/samples/${i}`, out, opts, limits);
    if (!isRecord(s)) return;
    const seq = s['seq'];
    const t = s['t'];
    if (Number.isFinite(seq) && typeof seq === 'number' && prevSeq !== undefined && seq <= prevSeq) {
      out.push({ code: 'rule', path: `/samples/${i}/seq`, message: `must be greater than the previous sample's seq (${prevSeq})` });
    }
    if (Number.isFinite(t) && typeof t === 'number' && prevT !== undefined && t < prevT) {
      out.push({ code: 'rule', path: `/samples/${i}/t`, message: `must not be earlier than the previous sample's t (${prevT})` });
    }
    if (typeof seq === 'number' && Number.isFinite(seq)) prevSeq = seq;
    if (typeof t === 'number' && Number.isFinite(t)) prevT = t;
  });
}

const PARAM_FOR: Partial<Record<CommandType, 'speed' | 'missionId'>> = { set_speed: 'speed', start_mission: 'missionId' };

function commandRules(obj: Record<string, unknown>, out: Reason[]): void {
  const issuedAt = obj['issuedAt'];
  const expiresAt = obj['expiresAt'];
  if (Number.isFinite(issuedAt) && Number.isFinite(expiresAt) && typeof issuedAt === 'number' && typeof expiresAt === 'number') {
    if (expiresAt <= issuedAt) out.push({ code: 'rule', path: '/expiresAt', message: 'must be after issuedAt' });
    else if (expiresAt - issuedAt > MAX_COMMAND_VALIDITY_MS) {
      out.push({ code: 'rule', path: '/expiresAt', message: `must be at most ${MAX_COMMAND_VALIDITY_MS / 1000} s after issuedAt` });
    }
  }
  const type = obj['type'];
  const params = isRecord(obj['params']) ? obj['params'] : {};
  if (typeof type === 'string') {
    const needed = PARAM_FOR[type as CommandType];
    if (needed !== undefined && params[needed] === undefined) {
      out.push({ code: 'rule', path: `/params/${needed}`, message: `is required for ${type}` });
    }
    for (const key of Object.keys(params)) {
      if (PARAM_FOR[type as CommandType] !== key && (key === 'speed' || key === 'missionId')) {
        out.push({ code: 'rule', path: `/params/${key}`, message: `does not apply to ${sanitizeText(type, 20)}` });
      }
    }
  }
}

function ackRules(obj: Record<string, unknown>, out: Reason[]): void {
  const status = obj['status'];
  if ((status === 'rejected' || status === 'failed') && obj['reason'] === undefined) {
    out.push({ code: 'rule', path: '/reason', message: `is required when status is ${status}` });
  }
}

/** A device time too far ahead of the receive time: the device clock is wrong. */
function futureRule(t: unknown, path: string, out: Reason[], opts: DecodeOptions, limits: DecodeLimits): void {
  if (opts.now !== undefined && typeof t === 'number' && Number.isFinite(t) && t > opts.now + limits.maxFutureSkewMs) {
    out.push({
      code: 'rule',
      path,
      message: `device time is ${Math.round((t - opts.now) / 1000)} s ahead of the receive time (limit ${Math.round(limits.maxFutureSkewMs / 1000)} s): device clock is wrong`,
    });
  }
}

function eventRules(obj: Record<string, unknown>, out: Reason[], opts: DecodeOptions, limits: DecodeLimits): void {
  futureRule(obj['t'], '/t', out, opts, limits);
  if ((obj['lat'] === undefined) !== (obj['lon'] === undefined)) {
    out.push({ code: 'rule', path: obj['lat'] === undefined ? '/lat' : '/lon', message: 'lat and lon come together' });
  }
}

function stateRules(obj: Record<string, unknown>, out: Reason[], opts: DecodeOptions, limits: DecodeLimits): void {
  futureRule(obj['t'], '/t', out, opts, limits);
  if (obj['online'] === true && obj['reason'] !== undefined) {
    out.push({ code: 'rule', path: '/reason', message: 'applies only when online is false' });
  }
}

function capReasons(reasons: Reason[]): Reason[] {
  // a path comes from the message's own keys: bounded and printable, like every other word of a reason
  // eslint-disable-next-line no-control-regex
  for (const r of reasons) if (r.path.length > 256 || /[\u0000-\u001f\u007f]/.test(r.path)) r.path = sanitizeText(r.path, 255);
  if (reasons.length <= MAX_REASONS) return reasons;
  const shown = reasons.slice(0, MAX_REASONS);
  shown.push({ code: reasons[MAX_REASONS]!.code, path: '', message: `more problems not listed (only the first ${MAX_REASONS} are reported)` });
  return shown;
}

function jsonReason(err: unknown, text: string): Reason {
  if (/(^|[^A-Za-z"])(NaN|-?Infinity)([^A-Za-z"]|$)/.test(text)) {
    return { code: 'json', path: '', message: 'not valid JSON: NaN and Infinity are not JSON numbers' };
  }
  const detail = err instanceof Error ? err.message.replace(/, ".*" is not valid JSON$/s, '') : 'parse error';
  return { code: 'json', path: '', message: `not valid JSON: ${sanitizeText(detail, 120)}` };
}

/** Decodes MQTT messages against the protocol, with limits from configuration. */
const MAX_CACHED_TOPICS = 100_000;

export class Decoder {
  readonly limits: DecodeLimits;
  /** Topics seen, parsed (a device sends on the same few topics all day): bounded, cleared when full. */
  private readonly topics = new Map<string, ReturnType<typeof parseTopic>>();

  constructor(limits: Partial<DecodeLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_DECODE_LIMITS, ...limits });
  }

  private parse(topic: string): ReturnType<typeof parseTopic> {
    let parsed = this.topics.get(topic);
    if (parsed === undefined) {
      parsed = parseTopic(topic);
      // only good topics are kept: garbage ones would fill the cache with what is never seen again
      if (parsed.ok) {
        if (this.topics.size >= MAX_CACHED_TOPICS) this.topics.clear();
        this.topics.set(topic, parsed);
      }
    }
    return parsed;
  }

  /** Decodes one message: the typed value, or every reason it is bad. */
  decode(topic: string, payload: Uint8Array, opts: DecodeOptions = {}): DecodeResult {
    const reasons: Reason[] = [];
    const parsedTopic = this.parse(topic);
    if (!parsedTopic.ok) reasons.push({ code: 'topic', path: '', message: sanitizeText(parsedTopic.reason) });
    if (payload.length > this.limits.maxPayloadBytes) {
      reasons.push({ code: 'size', path: '', message: `payload is ${payload.length} bytes; the limit is ${this.limits.maxPayloadBytes}` });
      return { ok: false, reasons, ...(parsedTopic.ok ? { topic: parsedTopic.topic } : {}) };
    }
    if (payload.length === 0) {
      reasons.push({ code: 'size', path: '', message: 'payload is empty' });
      return { ok: false, reasons, ...(parsedTopic.ok ? { topic: parsedTopic.topic } : {}) };
    }
    let text: string;
    try {
      text = utf8.decode(payload);
    } catch {
      reasons.push({ code: 'encoding', path: '', message: 'payload is not valid UTF-8' });
      return { ok: false, reasons, ...(parsedTopic.ok ? { topic: parsedTopic.topic } : {}) };
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      reasons.push(jsonReason(err, text));
      return { ok: false, reasons, ...(parsedTopic.ok ? { topic: parsedTopic.topic } : {}) };
    }
    if (!parsedTopic.ok) {
      return { ok: false, reasons };
    }
    return this.check(parsedTopic.topic, value, opts);
  }

  /** Checks an already-parsed value against the schema of `topic`. */
  check(topic: ParsedTopic, value: unknown, opts: DecodeOptions = {}): DecodeResult {
    const fail = (reasons: Reason[]): DecodeResult => ({ ok: false, reasons: capReasons(reasons), topic });
    if (!isRecord(value)) {
      return fail([{ code: 'type', path: '', message: `message must be a JSON object (got ${describe(value)})` }]);
    }
    const v = value['v'];
    if (v === undefined) return fail([{ code: 'required', path: '/v', message: 'is required (schema version)' }]);
    if (typeof v !== 'number' || !SUPPORTED_VERSIONS.includes(v)) {
      return fail([{ code: 'version', path: '/v', message: `schema version ${describe(v)} is not supported (this build reads ${SUPPORTED_VERSIONS.join(', ')})` }]);
    }
    const all = validators();
    const reasons: Reason[] = [];
    let validator: AnyValidator;
    switch (topic.type) {
      case 'heartbeat':
        validator = all.heartbeat;
        break;
      case 'deadletter':
        validator = all.deadletter;
        break;
      case 'device':
        switch (topic.channel) {
          case 'telemetry': {
            const pair = all.telemetry[topic.kind];
            validator = 'samples' in value ? pair.batch : pair.single;
            telemetryRules(topic.kind, value, reasons, opts, this.limits);
            break;
          }
          case 'state':
            validator = all.state;
            stateRules(value, reasons, opts, this.limits);
            break;
          case 'event':
            validator = all.event;
            eventRules(value, reasons, opts, this.limits);
            break;
          case 'cmd':
            validator = all.cmd;
            commandRules(value, reasons);
            break;
          case 'cmd/ack':
            validator = all.ack;
            ackRules(value, reasons);
            break;
        }
    }
    if (!validator.Check(value)) {
      const found = schemaReasons(validator, value);
      // the validator said no: never let a gap in its error report turn that into a yes
      reasons.unshift(...(found.length > 0 ? found : [{ code: 'format' as const, path: '', message: 'does not match the schema of this message' }]));
    }
    if (reasons.length > 0) return fail(reasons);
    return { ok: true, value: toDecoded(topic, value) };
  }
}

function toDecoded(topic: ParsedTopic, value: Record<string, unknown>): DecodedMessage {
  switch (topic.type) {
    case 'heartbeat':
      return { channel: 'heartbeat', message: value as unknown as Heartbeat };
    case 'deadletter':
      return { channel: 'deadletter', source: topic.source, message: value as unknown as DeadLetter };
    case 'device': {
      const { kind, deviceId } = topic;
      if (topic.channel === 'telemetry') {
        const batched = Array.isArray(value['samples']);
        let samples: unknown[];
        if (batched) samples = value['samples'] as unknown[];
        else {
          const { v: _v, ...sample } = value;
          samples = [sample];
        }
        return { channel: 'telemetry', kind, deviceId, batched, samples } as DecodedMessage;
      }
      const channel = topic.channel;
      switch (channel) {
        case 'state':
          return { channel, kind, deviceId, message: value as unknown as DeviceState };
        case 'event':
          return { channel, kind, deviceId, message: value as unknown as DeviceEvent };
        case 'cmd':
          return { channel, kind, deviceId, message: value as unknown as Command };
        case 'cmd/ack':
          return { channel, kind, deviceId, message: value as unknown as CommandAck };
      }
    }
  }
}

/** The reason code that labels a refusal in metrics: the first reason's. */
export function primaryReason(reasons: readonly Reason[]): ReasonCode {
  return reasons[0]?.code ?? 'format';
}

