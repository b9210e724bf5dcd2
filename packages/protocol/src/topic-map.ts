/**
 * Topic → payload types, so a wrong publish does not compile (after
 * zigbee2mqtt's `lib/types/api.ts`).
 *
 * ```ts
 * const publish = typedPublisher(client);
 * await publish(telemetryTopic('tractor', id), sample);      // ok
 * await publish(telemetryTopic('plow', id), tractorSample);  // compile error
 * ```
 */
import type { DeviceKind, TOPIC_ROOT } from './topics.ts';
import type { Command, CommandAck } from './schemas/command.ts';
import type { DeviceEvent } from './schemas/event.ts';
import type { DeadLetter, Heartbeat } from './schemas/service.ts';
import type { DeviceState } from './schemas/state.ts';
import type { PlowTelemetry, SensorTelemetry, TractorTelemetry } from './schemas/telemetry.ts';

type Root = typeof TOPIC_ROOT;

type PerKind<C extends string, P> = { [T in `${Root}/${DeviceKind}/${string}/${C}`]: P };

/** Every topic pattern hatake publishes on, with its payload type. */
export type TopicMap = {
  [topic: `${Root}/tractor/${string}/telemetry`]: TractorTelemetry;
  [topic: `${Root}/plow/${string}/telemetry`]: PlowTelemetry;
  [topic: `${Root}/sensor/${string}/telemetry`]: SensorTelemetry;
  [topic: `${Root}/deadletter/${string}`]: DeadLetter;
} & { [T in `${Root}/supervisor/heartbeat`]: Heartbeat } & PerKind<'state', DeviceState> &
  PerKind<'event', DeviceEvent> &
  PerKind<'cmd', Command> &
  PerKind<'cmd/ack', CommandAck>;

/** Any topic hatake publishes on. */
export type Topic = keyof TopicMap;
/** The payload type of topic `T`. */
export type PayloadOf<T extends Topic> = TopicMap[T];

/** MQTT publish options per channel (shared/DESIGN.md, "Wire protocol"). */
export interface PublishOptions {
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

/** The structural part of an MQTT client that {@link typedPublisher} needs (mqtt.js `MqttClient` fits). */
export interface PublishingClient {
  publishAsync(topic: string, message: Buffer, opts: { qos: 0 | 1; retain: boolean }): Promise<unknown>;
}

/** A publish function whose payload type follows from its topic. */
export type TypedPublish = <T extends Topic>(topic: T, payload: PayloadOf<T>, opts?: Partial<PublishOptions>) => Promise<void>;
