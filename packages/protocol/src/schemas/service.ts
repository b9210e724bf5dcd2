/**
 * Messages services publish: the supervisor heartbeat and dead letters.
 */
import Type, { type Static } from 'typebox';
import { deviceTime, id, int, text, version } from './common.ts';

/** `hatake/v1/supervisor/heartbeat`, QoS 0: a remote monitor is watching. */
export const Heartbeat = Type.Object(
  {
    v: version,
    t: deviceTime('gateway time of the beat'),
    seq: int(0, Number.MAX_SAFE_INTEGER, { description: 'beat counter of this gateway' }),
    source: id('gateway instance that sent it'),
    interval: int(100, 60_000, { description: 'period until the next beat', unit: 'ms' }),
    watchers: int(0, 1_000_000, { description: 'operators currently connected', unit: 'count' }),
  },
  { additionalProperties: false },
);
export type Heartbeat = Static<typeof Heartbeat>;

export const REASON_CODES = [
  'topic',
  'size',
  'encoding',
  'json',
  'version',
  'type',
  'required',
  'range',
  'enum',
  'format',
  'unknown_field',
  'rule',
] as const;
/** Why a message was refused; a small fixed set, so it can label metrics. */
export type ReasonCode = (typeof REASON_CODES)[number];

export const Reason = Type.Object(
  {
    code: Type.Enum(REASON_CODES, { description: 'class of the problem' }),
    path: Type.String({ maxLength: 256, description: 'JSON pointer to the offending value ("" for the whole message)' }),
    message: Type.String({ maxLength: 512, description: 'what is wrong, for a person' }),
  },
  { additionalProperties: false },
);
export type Reason = Static<typeof Reason>;

/** `hatake/v1/deadletter/{source}`, QoS 1: a message a service refused, with every reason. */
export const DeadLetter = Type.Object(
  {
    v: version,
    t: deviceTime('when the service received it'),
    source: id('service that refused it'),
    topic: Type.String({ maxLength: 512, description: 'topic it arrived on (cut to 512 characters)' }),
    size: int(0, 2 ** 31, { description: 'payload size', unit: 'bytes' }),
    reasons: Type.Array(Reason, { minItems: 1, maxItems: 51, description: 'every reason, at most 50 plus a summary' }),
    payload: Type.String({ maxLength: 1400, description: 'the first 1 KiB of the payload, base64' }),
    truncated: Type.Boolean({ description: 'true when payload holds only the first 1 KiB' }),
    note: Type.Optional(text(256, 'context from the refusing service')),
  },
  { additionalProperties: false },
);
export type DeadLetter = Static<typeof DeadLetter>;
