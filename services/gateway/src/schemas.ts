/**
 * Request and response schemas of every route (TypeBox: JSON Schema for
 * validation and the OpenAPI document, and static types).
 */
import Type, { type Static } from 'typebox';
import { DEVICE_KINDS, FIX_TYPES, ID_PATTERN, TRACTOR_MODES } from '@hatake/protocol';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'HATAKE_ERR_GATEWAY_*' }),
      message: Type.String(),
      details: Type.Optional(Type.Array(Type.String())),
    }),
  },
  { $id: 'ErrorBody', description: 'every error' },
);

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]));

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

export const UserView = Type.Object({
  username: Type.String(),
  name: Type.String(),
  roles: Type.Array(Type.String()),
  farms: Type.Array(Type.String()),
});

export const LoginReply = Type.Object({
  token: Type.String({ description: 'send as "Authorization: Bearer <token>", or the WebSocket subprotocol "bearer.<token>"' }),
  expiresAt: Type.Integer({ description: 'ms since 1970-01-01 UTC' }),
  user: UserView,
});

const Position = Type.Object({
  t: Type.Integer({ description: 'device time, ms' }),
  fix: Type.Enum(FIX_TYPES),
  lat: Type.Optional(Type.Number()),
  lon: Type.Optional(Type.Number()),
  alt: Type.Optional(Type.Number()),
  speed: Type.Optional(Type.Number({ description: 'm/s' })),
  heading: Type.Optional(Type.Number({ description: 'deg' })),
});

export const DeviceView = Type.Object({
  id: Type.String(),
  kind: Type.Enum(DEVICE_KINDS),
  name: Type.String(),
  farm: Type.Optional(Type.String()),
  field: Type.Optional(Type.String()),
  online: Type.Boolean({ description: 'from the retained state; false when unknown' }),
  lastSeen: Type.Optional(Type.Integer({ description: 'device time of the last sample, ms' })),
  state: Type.Optional(
    Type.Object({
      t: Type.Integer(),
      online: Type.Boolean(),
      mode: Type.Optional(Type.Enum(TRACTOR_MODES)),
      firmware: Type.Optional(Type.String()),
      reason: Type.Optional(Type.String()),
    }),
  ),
  position: Type.Optional(Position),
  last: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'the last sample, every field' })),
});
export type DeviceView = Static<typeof DeviceView>;

export const DevicesQuery = Type.Object(
  {
    kind: Type.Optional(Type.Enum(DEVICE_KINDS)),
    farm: Type.Optional(Type.String({ pattern: ID_PATTERN })),
  },
  { additionalProperties: false },
);
export type DevicesQuery = Static<typeof DevicesQuery>;

export const DeviceParams = Type.Object({ id: Type.String({ pattern: ID_PATTERN, description: 'device id' }) });
export type DeviceParams = Static<typeof DeviceParams>;

const TIME = '^(\\d{1,15}|\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2}))$';

export const TelemetryQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ pattern: TIME, description: 'start (inclusive): ISO 8601 with a zone, or epoch ms; default: `to` minus the default range' })),
    to: Type.Optional(Type.String({ pattern: TIME, description: 'end (exclusive); default: now' })),
    every: Type.Optional(Type.String({ pattern: '^[1-9]\\d{0,9}(ms|s|m|h|d)$', description: 'downsample into buckets of this width (e.g. 10s, 5m, 1h): numeric fields averaged, others last' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'most samples (or buckets); default and maximum: gateway.api.maxPoints' })),
  },
  { additionalProperties: false },
);
export type TelemetryQuery = Static<typeof TelemetryQuery>;

export const TelemetryReply = Type.Object({
  device: Type.String(),
  kind: Type.Enum(DEVICE_KINDS),
  from: Type.Integer(),
  to: Type.Integer(),
  every: Type.Optional(Type.Integer({ description: 'bucket width, ms' })),
  count: Type.Integer(),
  truncated: Type.Boolean({ description: 'true when `limit` cut the result: ask again from the last t' }),
  samples: Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: 'oldest first; every sample has t and seq; buckets have t and n' }),
});

export const EventsQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ pattern: TIME })),
    to: Type.Optional(Type.String({ pattern: TIME })),
    device: Type.Optional(Type.String({ pattern: ID_PATTERN })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;

export const EventsReply = Type.Object({ events: Type.Array(Type.Record(Type.String(), Type.Unknown())) });

export const ROUTE_ERRORS = { errors };

/** The most and least a live client may ask for with `maxRate` (messages per second per device). */
export const MAX_RATE = { min: 0.01, max: 1000 } as const;

/** Live stream, client → server: narrow the stream, and optionally slow it down per device. */
export const SubscribeMessage = Type.Object(
  {
    type: Type.Literal('subscribe'),
    devices: Type.Optional(Type.Array(Type.String({ pattern: ID_PATTERN }), { maxItems: 10_000, uniqueItems: true })),
    kinds: Type.Optional(Type.Array(Type.Enum(DEVICE_KINDS), { minItems: 1, uniqueItems: true })),
    farm: Type.Optional(Type.String({ pattern: ID_PATTERN })),
    maxRate: Type.Optional(
      Type.Number({
        minimum: MAX_RATE.min,
        maximum: MAX_RATE.max,
        description: 'at most this many telemetry messages per second per device; the latest wins, and the latest held back is delivered when its turn comes',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SubscribeMessage = Static<typeof SubscribeMessage>;

/** Live stream, client → server: answered with `pong`. */
export const PingMessage = Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false });
export type PingMessage = Static<typeof PingMessage>;

/** A client's message on the live stream. */
export const ClientMessage = Type.Union([SubscribeMessage, PingMessage]);
export type ClientMessage = Static<typeof ClientMessage>;
