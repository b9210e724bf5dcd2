/**
 * Commands: `hatake/v1/{kind}/{deviceId}/cmd` (→ device, QoS 1) and their
 * acknowledgements on `.../cmd/ack` (device →, QoS 1).
 *
 * A device executes a command id at most once and refuses one whose
 * `expiresAt` has passed (shared/DESIGN.md, "Remote operation safety").
 */
import Type, { type Static } from 'typebox';
import { deviceTime, id, num, text, version } from './common.ts';

export const COMMAND_TYPES = ['pause', 'resume', 'stop', 'estop', 'return_home', 'set_speed', 'start_mission'] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

/** Longest validity a command may be issued with. */
export const MAX_COMMAND_VALIDITY_MS = 60 * 60 * 1000;

export const Command = Type.Object(
  {
    v: version,
    id: id('command id, unique per issuer; a repeated id is executed once'),
    type: Type.Enum(COMMAND_TYPES, { description: 'what to do' }),
    issuer: id('user (or service) that issued it'),
    issuedAt: deviceTime('when the gateway issued it'),
    expiresAt: deviceTime('after this instant the device must refuse it'),
    params: Type.Optional(
      Type.Object(
        {
          speed: Type.Optional(num(0, 15, { description: 'target speed for set_speed', unit: 'm/s' })),
          missionId: Type.Optional(id('mission to start for start_mission')),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Command = Static<typeof Command>;

export const ACK_STATUSES = ['accepted', 'rejected', 'completed', 'failed'] as const;
export type AckStatus = (typeof ACK_STATUSES)[number];

export const CommandAck = Type.Object(
  {
    v: version,
    id: id('the command id being acknowledged'),
    t: deviceTime('device time of the acknowledgement'),
    status: Type.Enum(ACK_STATUSES, { description: 'accepted / rejected (with reason) / completed / failed (with reason)' }),
    reason: Type.Optional(text(256, 'why it was rejected or failed')),
  },
  { additionalProperties: false },
);
export type CommandAck = Static<typeof CommandAck>;
