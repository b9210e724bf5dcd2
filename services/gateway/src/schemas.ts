/**
 * Request and response schemas of every route (TypeBox: JSON Schema for
 * validation and the OpenAPI document, and static types).
 */
import Type, { type Static } from 'typebox';
import { COMMAND_TYPES, DEVICE_KINDS, FIX_TYPES, ID_PATTERN, TRACTOR_MODES } from '@hatake/protocol';

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

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]));

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

/** A time in a query: ISO 8601 with a zone, or epoch ms. */
export const TIME = '^(\\d{1,15}|\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2}))$';

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

const commandParams = Type.Optional(
  Type.Object(
    {
      speed: Type.Optional(Type.Number({ minimum: 0, maximum: 15, description: 'set_speed: working speed, m/s' })),
      missionId: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'start_mission: which mission' })),
    },
    { additionalProperties: false },
  ),
);

/** A command to one machine (REST body; over the live stream with `type: "command"`, `device` and `command`). */
export const CommandBody = Type.Object(
  {
    type: Type.Enum(COMMAND_TYPES, { description: 'what the machine should do' }),
    params: commandParams,
    confirm: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'resume and start_mission: the arm id a first call returned (the second step)' })),
  },
  { additionalProperties: false },
);
export type CommandBody = Static<typeof CommandBody>;

const CommandStep = Type.Object({ status: Type.String(), t: Type.Integer(), reason: Type.Optional(Type.String()) });
export const CommandView = Type.Object(
  {
    id: Type.String(),
    device: Type.String(),
    kind: Type.Enum(DEVICE_KINDS),
    farm: Type.Optional(Type.String()),
    type: Type.Enum(COMMAND_TYPES),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    issuer: Type.String(),
    issuedAt: Type.Integer(),
    expiresAt: Type.Integer(),
    status: Type.String({ description: 'sent, accepted, rejected, completed, failed, expired or timed_out' }),
    reason: Type.Optional(Type.String()),
    ackLatencyMs: Type.Optional(Type.Number({ description: 'issued → the machine’s first answer' })),
    doneLatencyMs: Type.Optional(Type.Number({ description: 'issued → completed or failed' })),
    history: Type.Array(CommandStep),
  },
  { $id: 'CommandView' },
);

export const ArmedReply = Type.Object({
  armed: Type.Object({ id: Type.String(), device: Type.String(), type: Type.Enum(COMMAND_TYPES), expiresAt: Type.Integer() }),
  message: Type.String(),
});

export const FleetStopBody = Type.Object(
  { farm: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'only this farm (default: every machine you may command)' })) },
  { additionalProperties: false },
);
export type FleetStopBody = Static<typeof FleetStopBody>;

export const LeaseBody = Type.Object(
  {
    action: Type.Enum(['take', 'release', 'takeover'] as const),
    reason: Type.Optional(Type.String({ minLength: 3, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'takeover: why (recorded)' })),
  },
  { additionalProperties: false },
);
export type LeaseBody = Static<typeof LeaseBody>;

export const LeaseView = Type.Object({
  device: Type.String(),
  holder: Type.Union([Type.String(), Type.Null()]),
  since: Type.Optional(Type.Integer()),
  renewedAt: Type.Optional(Type.Integer()),
  lapsesAt: Type.Optional(Type.Integer({ description: 'when it lapses unless renewed (absent while the holder has a live session)' })),
});

export const AlarmView = Type.Object({
  id: Type.String(),
  type: Type.String({ description: 'link_lost, geofence_exit, estop_unacked' }),
  device: Type.String(),
  kind: Type.Enum(DEVICE_KINDS),
  farm: Type.Optional(Type.String()),
  message: Type.String(),
  raisedAt: Type.Integer(),
  acknowledgedAt: Type.Optional(Type.Integer()),
  acknowledgedBy: Type.Optional(Type.String()),
  clearedAt: Type.Optional(Type.Integer()),
  clearedBy: Type.Optional(Type.String({ description: 'who, or "system" when the condition ended' })),
});

export const AlarmsQuery = Type.Object(
  { state: Type.Optional(Type.Enum(['active', 'all'] as const, { description: 'active (default): not yet cleared' })) },
  { additionalProperties: false },
);
export type AlarmsQuery = Static<typeof AlarmsQuery>;

export const AlarmParams = Type.Object({ id: Type.String({ pattern: ID_PATTERN }) }, { additionalProperties: false });
export type AlarmParams = Static<typeof AlarmParams>;

export const CommandParams = Type.Object({ id: Type.String({ pattern: ID_PATTERN }), commandId: Type.String({ pattern: ID_PATTERN }) }, { additionalProperties: false });
export type CommandParams = Static<typeof CommandParams>;

/** Live stream, client → server: a command to one machine, answered with `command` updates (or `armed`, or `error`). */
export const CommandMessage = Type.Object(
  {
    type: Type.Literal('command'),
    device: Type.String({ pattern: ID_PATTERN }),
    command: CommandBody,
  },
  { additionalProperties: false },
);
export type CommandMessage = Static<typeof CommandMessage>;

/** Live stream, client → server: take, release or take over a machine's control lease. */
export const LeaseMessage = Type.Object(
  { type: Type.Literal('lease'), device: Type.String({ pattern: ID_PATTERN }), action: LeaseBody.properties.action, reason: LeaseBody.properties.reason },
  { additionalProperties: false },
);
export type LeaseMessage = Static<typeof LeaseMessage>;

/** Live stream, client → server: stop every machine you may command (of a farm). */
export const EstopAllMessage = Type.Object({ type: Type.Literal('estop_all'), farm: Type.Optional(Type.String({ pattern: ID_PATTERN })) }, { additionalProperties: false });
export type EstopAllMessage = Static<typeof EstopAllMessage>;

/** Replay speeds, times device time. */
export const REPLAY_SPEED = { min: 1, max: 60 } as const;
/** Most devices one replay may have. */
export const MAX_REPLAY_DEVICES = 50;

const ReplayTime = (description: string) => Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: TIME })], { description: `${description}: epoch ms, or ISO 8601 with a zone` });
const ReplaySpeed = Type.Number({ minimum: REPLAY_SPEED.min, maximum: REPLAY_SPEED.max, description: 'device time per real time (1 to 60)' });

/** Live stream, client → server: replay a recorded window of some devices (this connection's one replay; a new one replaces it). */
export const ReplayMessage = Type.Object(
  {
    type: Type.Literal('replay'),
    id: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'names the session: its messages carry it as `replay` (default: r1, r2, …)' })),
    devices: Type.Array(Type.String({ pattern: ID_PATTERN }), { minItems: 1, maxItems: MAX_REPLAY_DEVICES, uniqueItems: true }),
    from: ReplayTime('start (inclusive)'),
    to: ReplayTime('end (exclusive)'),
    speed: ReplaySpeed,
  },
  { additionalProperties: false },
);
export type ReplayMessage = Static<typeof ReplayMessage>;

/** Live stream, client → server: control this connection's replay. */
export const ReplayControlMessage = Type.Object(
  {
    type: Type.Literal('replay_control'),
    action: Type.Enum(['pause', 'resume', 'seek', 'speed', 'stop'] as const),
    t: Type.Optional(ReplayTime('seek: where to, within the window')),
    speed: Type.Optional(ReplaySpeed),
  },
  { additionalProperties: false },
);
export type ReplayControlMessage = Static<typeof ReplayControlMessage>;

/** A client's message on the live stream. */
export const ClientMessage = Type.Union([SubscribeMessage, PingMessage, CommandMessage, LeaseMessage, EstopAllMessage, ReplayMessage, ReplayControlMessage]);
export type ClientMessage = Static<typeof ClientMessage>;
