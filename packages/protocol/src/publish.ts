/**
 * Encoding and typed publishing.
 */
import { parseTopic } from './topics.ts';
import type { PayloadOf, PublishOptions, PublishingClient, Topic, TypedPublish } from './topic-map.ts';

/** Serializes a payload for its topic. The type parameter ties the two together. */
export function encodeMessage<T extends Topic>(_topic: T, payload: PayloadOf<T>): Buffer {
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

/**
 * Default QoS and retain flag for a topic: state is QoS 1 retained; telemetry,
 * events, commands, acks and dead letters QoS 1; the heartbeat QoS 0.
 */
export function defaultPublishOptions(topic: string): PublishOptions {
  const parsed = parseTopic(topic);
  if (!parsed.ok) return { qos: 1, retain: false };
  if (parsed.topic.type === 'heartbeat') return { qos: 0, retain: false };
  if (parsed.topic.type === 'device' && parsed.topic.channel === 'state') return { qos: 1, retain: true };
  return { qos: 1, retain: false };
}

/** Wraps an MQTT client so that every publish is typed by its topic and uses the channel's QoS and retain. */
export function typedPublisher(client: PublishingClient): TypedPublish {
  return async (topic, payload, opts) => {
    const defaults = defaultPublishOptions(topic);
    await client.publishAsync(topic, encodeMessage(topic, payload), {
      qos: opts?.qos ?? defaults.qos,
      retain: opts?.retain ?? defaults.retain,
    });
  };
}
