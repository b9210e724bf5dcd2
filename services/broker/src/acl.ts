/**
 * Topic rights. A device publishes only on its own topics and subscribes only
 * to its own commands and the supervisor heartbeat; each service role has a
 * fixed, narrow set of filters; nobody touches `$`-topics. Anything not
 * granted here is refused.
 */
import {
  DEAD_LETTER_FILTER,
  DEVICE_CHANNELS,
  DEVICE_OUTBOUND_CHANNELS,
  HEARTBEAT_TOPIC,
  commandTopic,
  deadLetterTopic,
  deviceChannelFilter,
  deviceTopic,
  filterCovers,
  isValidId,
  parseTopic,
  splitSharedFilter,
  stateTopic,
  topicMatches,
  type DeviceKind,
} from '@hatake/protocol';

export type ServiceRole = 'ingest' | 'gateway';

/** Who a connection authenticated as. */
export type Principal =
  | { readonly type: 'device'; readonly name: string; readonly kind: DeviceKind }
  | { readonly type: 'service'; readonly name: string; readonly role: ServiceRole };

/** Why a publish, subscription or will was refused; a small fixed set (a metrics label). */
export type AclRefusal = 'reserved_topic' | 'not_own_topic' | 'not_granted' | 'retain_not_allowed' | 'bad_shared_subscription' | 'qos_not_allowed' | 'will_not_allowed';

interface Rights {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

function serviceRights(role: ServiceRole, name: string): Rights {
  const allDeviceChannels = DEVICE_CHANNELS.map((c) => deviceChannelFilter(c));
  switch (role) {
    case 'ingest':
      return { publish: [deadLetterTopic(name)], subscribe: allDeviceChannels };
    case 'gateway':
      return { publish: [deviceChannelFilter('cmd'), HEARTBEAT_TOPIC], subscribe: [...allDeviceChannels, DEAD_LETTER_FILTER] };
  }
}

const rightsCache = new WeakMap<Principal, Rights>();

/** The filters a principal may publish on and subscribe to (documentation and the broker README table). */
export function rightsOf(p: Principal): Rights {
  let r = rightsCache.get(p);
  if (!r) {
    r =
      p.type === 'device'
        ? { publish: DEVICE_OUTBOUND_CHANNELS.map((c) => deviceTopic(p.kind, p.name, c)), subscribe: [commandTopic(p.kind, p.name), HEARTBEAT_TOPIC] }
        : serviceRights(p.role, p.name);
    rightsCache.set(p, r);
  }
  return r;
}

/** Checks a PUBLISH; undefined means allowed. */
export function publishRefusal(p: Principal, topic: string, retain: boolean): AclRefusal | undefined {
  if (topic.startsWith('$')) return 'reserved_topic';
  const rights = rightsOf(p);
  if (p.type === 'device') {
    if (!rights.publish.includes(topic)) return 'not_own_topic';
    if (retain && topic !== stateTopic(p.kind, p.name)) return 'retain_not_allowed';
    return undefined;
  }
  if (!rights.publish.some((f) => topicMatches(f, topic))) return 'not_granted';
  // A wildcard grant still only covers well-formed hatake topics (valid kind and device id).
  if (!parseTopic(topic).ok) return 'not_granted';
  if (retain) return 'retain_not_allowed';
  return undefined;
}

/** Checks one subscription filter; undefined means allowed. */
export function subscribeRefusal(p: Principal, requested: string, qos: number): AclRefusal | undefined {
  if (qos > 1) return 'qos_not_allowed';
  const { group, filter } = splitSharedFilter(requested);
  if (group !== undefined) {
    if (p.type === 'device') return 'not_granted';
    if (!isValidId(group) || filter.length === 0) return 'bad_shared_subscription';
  }
  if (filter.startsWith('$')) return 'reserved_topic';
  const rights = rightsOf(p);
  if (p.type === 'device') return rights.subscribe.includes(filter) ? undefined : 'not_own_topic';
  return rights.subscribe.some((f) => filterCovers(f, filter)) ? undefined : 'not_granted';
}

/** Checks the last will registered at CONNECT: a device's own retained state, nothing else. */
export function willRefusal(p: Principal, will: { readonly topic: string; readonly qos?: number } | undefined): AclRefusal | undefined {
  if (will === undefined || will === null) return undefined;
  if (p.type !== 'device' || will.topic !== stateTopic(p.kind, p.name)) return 'will_not_allowed';
  if ((will.qos ?? 0) > 1) return 'qos_not_allowed';
  return undefined;
}
