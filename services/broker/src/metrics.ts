/**
 * The broker's Prometheus metrics (`/metrics`), on a registry of its own so
 * several services can share one process.
 */
import { Counter, Gauge, Registry } from '@hatake/runtime';

export interface BrokerMetrics {
  readonly registry: Registry;
  readonly clients: Gauge<'type'>;
  readonly connections: Counter<'result' | 'reason'>;
  readonly publishRefused: Counter<'reason'>;
  readonly subscribeRefused: Counter<'reason'>;
  readonly messages: Counter<'channel'>;
  readonly bytes: Counter;
  readonly throttled: Counter;
  readonly connectionErrors: Counter<'reason'>;
}

/** Creates the metrics on `registry` (a fresh one by default). */
export function createBrokerMetrics(registry = new Registry()): BrokerMetrics {
  const registers = [registry];
  return {
    registry,
    clients: new Gauge({ name: 'hatake_broker_clients', help: 'Connected, authenticated clients', labelNames: ['type'], registers }),
    connections: new Counter({ name: 'hatake_broker_connections_total', help: 'CONNECT attempts by result and refusal reason', labelNames: ['result', 'reason'], registers }),
    publishRefused: new Counter({ name: 'hatake_broker_publish_refused_total', help: 'PUBLISH packets refused (the client is disconnected, MQTT-3.3.5-2)', labelNames: ['reason'], registers }),
    subscribeRefused: new Counter({ name: 'hatake_broker_subscribe_refused_total', help: 'Subscriptions refused (SUBACK 0x80)', labelNames: ['reason'], registers }),
    messages: new Counter({ name: 'hatake_broker_messages_total', help: 'Authorized PUBLISH packets by channel', labelNames: ['channel'], registers }),
    bytes: new Counter({ name: 'hatake_broker_payload_bytes_total', help: 'Payload bytes of authorized PUBLISH packets', registers }),
    throttled: new Counter({ name: 'hatake_broker_throttled_total', help: 'PUBLISH packets delayed by the per-device rate limit', registers }),
    connectionErrors: new Counter({ name: 'hatake_broker_connection_errors_total', help: 'Connections cut for protocol violations (oversized or malformed packets, keepalive timeouts)', labelNames: ['reason'], registers }),
  };
}
