/**
 * Topic builders and parsers: the only place topic strings are made.
 *
 * Shape: `hatake/v1/{kind}/{deviceId}/{channel}` (see shared/DESIGN.md,
 * "Wire protocol"), plus the supervisor heartbeat and the dead-letter topics.
 */
import { ProtocolError } from './errors.ts';
import { explainInvalidId } from './ids.ts';

/** Root of every hatake topic; the version moves when a topic shape changes. */
export const TOPIC_ROOT = 'hatake/v1';

/** The device kinds hatake knows. */
export const DEVICE_KINDS = ['tractor', 'plow', 'sensor'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** Per-device channels. `cmd` flows to the device, all others from it. */
export const DEVICE_CHANNELS = ['telemetry', 'state', 'event', 'cmd', 'cmd/ack'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];

/** Channels a device publishes on. */
export const DEVICE_OUTBOUND_CHANNELS = ['telemetry', 'state', 'event', 'cmd/ack'] as const satisfies readonly DeviceChannel[];

export type DeviceTopic<K extends DeviceKind = DeviceKind, C extends DeviceChannel = DeviceChannel> =
  `${typeof TOPIC_ROOT}/${K}/${string}/${C}`;
export type HeartbeatTopic = `${typeof TOPIC_ROOT}/supervisor/heartbeat`;
export type DeadLetterTopic = `${typeof TOPIC_ROOT}/deadletter/${string}`;

/** The supervisor heartbeat topic (gateway → devices, QoS 0). */
export const HEARTBEAT_TOPIC: HeartbeatTopic = `${TOPIC_ROOT}/supervisor/heartbeat`;

/** True when `kind` is a known device kind. */
export function isDeviceKind(kind: unknown): kind is DeviceKind {
  return typeof kind === 'string' && (DEVICE_KINDS as readonly string[]).includes(kind);
}

/** Builds a device topic. Throws HATAKE_ERR_PROTOCOL_INVALID_ID for an invalid device id: callers pass ids from config. */
export function deviceTopic<K extends DeviceKind, C extends DeviceChannel>(kind: K, deviceId: string, channel: C): DeviceTopic<K, C> {
  const why = explainInvalidId(deviceId);
  if (why !== undefined) throw new ProtocolError('HATAKE_ERR_PROTOCOL_INVALID_ID', `device id ${JSON.stringify(deviceId)} ${why}`);
  if (!isDeviceKind(kind)) throw new ProtocolError('HATAKE_ERR_PROTOCOL_UNKNOWN_KIND', `unknown device kind ${JSON.stringify(kind)}`);
  return `${TOPIC_ROOT}/${kind}/${deviceId}/${channel}`;
}

/** `hatake/v1/{kind}/{id}/telemetry` */
export function telemetryTopic<K extends DeviceKind>(kind: K, deviceId: string): DeviceTopic<K, 'telemetry'> {
  return deviceTopic(kind, deviceId, 'telemetry');
}
/** `hatake/v1/{kind}/{id}/state` (retained; also the last-will topic) */
export function stateTopic<K extends DeviceKind>(kind: K, deviceId: string): DeviceTopic<K, 'state'> {
  return deviceTopic(kind, deviceId, 'state');
}
/** `hatake/v1/{kind}/{id}/event` */
export function eventTopic<K extends DeviceKind>(kind: K, deviceId: string): DeviceTopic<K, 'event'> {
  return deviceTopic(kind, deviceId, 'event');
}
/** `hatake/v1/{kind}/{id}/cmd` */
export function commandTopic<K extends DeviceKind>(kind: K, deviceId: string): DeviceTopic<K, 'cmd'> {
  return deviceTopic(kind, deviceId, 'cmd');
}
/** `hatake/v1/{kind}/{id}/cmd/ack` */
export function commandAckTopic<K extends DeviceKind>(kind: K, deviceId: string): DeviceTopic<K, 'cmd/ack'> {
  return deviceTopic(kind, deviceId, 'cmd/ack');
}
/** `hatake/v1/deadletter/{source}`: where a service republishes messages it refused. */
export function deadLetterTopic(source: string): DeadLetterTopic {
  const why = explainInvalidId(source);
  if (why !== undefined) throw new ProtocolError('HATAKE_ERR_PROTOCOL_INVALID_ID', `dead-letter source ${JSON.stringify(source)} ${why}`);
  return `${TOPIC_ROOT}/deadletter/${source}`;
}

/**
 * Subscription filter for one channel of every device, optionally of one kind:
 * `hatake/v1/+/+/telemetry`, `hatake/v1/tractor/+/state`, ...
 */
export function deviceChannelFilter(channel: DeviceChannel, kind?: DeviceKind): string {
  return `${TOPIC_ROOT}/${kind ?? '+'}/+/${channel}`;
}

/** Filter for every dead-letter topic. */
export const DEAD_LETTER_FILTER = `${TOPIC_ROOT}/deadletter/+`;

/** An MQTT 5 shared subscription (`$share/{group}/{filter}`), for instances that split a stream. */
export function sharedFilter(group: string, filter: string): string {
  const why = explainInvalidId(group);
  if (why !== undefined) throw new ProtocolError('HATAKE_ERR_PROTOCOL_INVALID_ID', `share group ${JSON.stringify(group)} ${why}`);
  return `$share/${group}/${filter}`;
}

export type ParsedTopic =
  | { readonly type: 'device'; readonly kind: DeviceKind; readonly deviceId: string; readonly channel: DeviceChannel }
  | { readonly type: 'heartbeat' }
  | { readonly type: 'deadletter'; readonly source: string };

export type TopicParseResult = { readonly ok: true; readonly topic: ParsedTopic } | { readonly ok: false; readonly reason: string };

/** Parses any hatake topic; says why when it is not one. */
export function parseTopic(topic: string): TopicParseResult {
  if (typeof topic !== 'string' || topic.length === 0) return { ok: false, reason: 'topic is empty' };
  if (topic.length > 512) return { ok: false, reason: `topic is ${topic.length} characters; at most 512` };
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) return { ok: false, reason: `topic does not start with "${prefix}"` };
  const rest = topic.slice(prefix.length).split('/');
  const [first, second, ...tail] = rest;
  if (first === 'supervisor' && second === 'heartbeat' && tail.length === 0) return { ok: true, topic: { type: 'heartbeat' } };
  if (first === 'deadletter' && second !== undefined && tail.length === 0) {
    const why = explainInvalidId(second);
    if (why !== undefined) return { ok: false, reason: `dead-letter source ${why}` };
    return { ok: true, topic: { type: 'deadletter', source: second } };
  }
  if (!isDeviceKind(first)) {
    return { ok: false, reason: `unknown device kind ${JSON.stringify(first ?? '')} (expected one of ${DEVICE_KINDS.join(', ')})` };
  }
  if (second === undefined) return { ok: false, reason: 'topic has no device id' };
  const why = explainInvalidId(second);
  if (why !== undefined) return { ok: false, reason: `device id ${why}` };
  const channel = tail.join('/');
  if (!(DEVICE_CHANNELS as readonly string[]).includes(channel)) {
    return { ok: false, reason: `unknown channel ${JSON.stringify(channel)} (expected one of ${DEVICE_CHANNELS.join(', ')})` };
  }
  return { ok: true, topic: { type: 'device', kind: first, deviceId: second, channel: channel as DeviceChannel } };
}

/** Formats a parsed topic back into its string. */
export function formatTopic(topic: ParsedTopic): string {
  switch (topic.type) {
    case 'heartbeat':
      return HEARTBEAT_TOPIC;
    case 'deadletter':
      return deadLetterTopic(topic.source);
    case 'device':
      return deviceTopic(topic.kind, topic.deviceId, topic.channel);
  }
}

/**
 * True when subscription filter `allowed` matches every topic that `requested`
 * matches (MQTT 3.1.1 §4.7: `+` one level, `#` the rest, including the parent).
 * Used by the broker to decide whether a subscription stays inside a principal's rights.
 */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  for (let i = 0; i < r.length; i++) {
    const al = a[i];
    const rl = r[i]!;
    if (al === '#') return true;
    if (al === undefined) return false;
    if (rl === '#') return false;
    if (al === '+') continue;
    if (rl === '+' || al !== rl) return false;
  }
  return a.length === r.length || (a.length === r.length + 1 && a[r.length] === '#');
}

/** True when `topic` (no wildcards) matches subscription filter `filter` [MQTT-4.7]. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false; // [MQTT-4.7.2-1]
  return filterCovers(filter, topic);
}

/** Splits `$share/{group}/{filter}` into its parts; plain filters come back with no group. */
export function splitSharedFilter(filter: string): { readonly group?: string; readonly filter: string } {
  if (!filter.startsWith('$share/')) return { filter };
  const rest = filter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return { group: '', filter: '' };
  return { group: rest.slice(0, slash), filter: rest.slice(slash + 1) };
}
