/**
 * State: `hatake/v1/{kind}/{deviceId}/state`, QoS 1, retained.
 *
 * A device publishes `online: true` when it connects and registers
 * `online: false` (reason `connection_lost`) as its last will, so the retained
 * state always tells whether it is reachable [MQTT-3.1.2-8, 3.3.1-5].
 */
import Type, { type Static } from 'typebox';
import { TRACTOR_MODES } from './telemetry.ts';
import { deviceTime, text, version } from './common.ts';

export const OFFLINE_REASONS = ['connection_lost', 'shutdown', 'maintenance'] as const;

export const DeviceState = Type.Object(
  {
    v: version,
    online: Type.Boolean({ description: 'true while the device is connected' }),
    t: Type.Optional(deviceTime('device time of the change (absent in a last will, which is written at connect time)')),
    mode: Type.Optional(Type.Enum(TRACTOR_MODES, { description: 'tractor operating mode at the change' })),
    firmware: Type.Optional(text(64, 'firmware version string')),
    reason: Type.Optional(Type.Enum(OFFLINE_REASONS, { description: 'why the device is offline' })),
  },
  { additionalProperties: false },
);
export type DeviceState = Static<typeof DeviceState>;
