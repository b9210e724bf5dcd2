/**
 * Event: `hatake/v1/{kind}/{deviceId}/event`, QoS 1. Alarms and transitions.
 */
import Type, { type Static } from 'typebox';
import { deviceTime, int, num, text, version } from './common.ts';

export const EVENT_TYPES = [
  'obstacle',
  'geofence_exit',
  'geofence_enter',
  'estop',
  'low_fuel',
  'mode_change',
  'fix_change',
  'link_lost',
  'link_restored',
  'implement_change',
  'blade_change',
  'low_battery',
  'fault',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const SEVERITIES = ['info', 'warning', 'alarm', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const DeviceEvent = Type.Object(
  {
    v: version,
    t: deviceTime('device time of the event'),
    seq: Type.Optional(int(0, Number.MAX_SAFE_INTEGER, { description: 'telemetry sequence number current at the event' })),
    type: Type.Enum(EVENT_TYPES, { description: 'what happened' }),
    severity: Type.Enum(SEVERITIES, { description: 'how urgent it is' }),
    message: Type.Optional(text(256, 'human-readable detail')),
    lat: Type.Optional(num(-90, 90, { description: 'WGS84 latitude where it happened', unit: 'deg' })),
    lon: Type.Optional(num(-180, 180, { description: 'WGS84 longitude where it happened', unit: 'deg' })),
    data: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]{0,31}$' }), Type.Union([Type.Number(), Type.String({ maxLength: 128, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }), Type.Boolean()]), {
        maxProperties: 16,
        additionalProperties: false,
        description: 'up to 16 extra key/values (keys: identifiers; values: finite numbers, strings ≤ 128 without control characters, booleans)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type DeviceEvent = Static<typeof DeviceEvent>;
