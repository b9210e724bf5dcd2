/**
 * The gateway's Prometheus metrics, on a registry of its own.
 */
import { Counter, Gauge, Histogram, Registry } from '@hatake/runtime';
import type { LiveMetrics } from './live.ts';

export interface GatewayMetrics extends LiveMetrics {
  readonly registry: Registry;
  readonly mqttMessages: Counter<'channel'>;
  readonly mqttInvalid: Counter;
  readonly requests: Counter<'route' | 'status'>;
  readonly requestSeconds: Histogram<'route'>;
  readonly logins: Counter<'result'>;
  readonly commands: Counter<'status'>;
  readonly alarms: Counter<'change'>;
  readonly heartbeats: Counter;
}

export function createGatewayMetrics(registry = new Registry()): GatewayMetrics {
  const registers = [registry];
  return {
    registry,
    clients: new Gauge({ name: 'hatake_gateway_ws_clients', help: 'Live stream clients connected', registers }),
    sent: new Counter({ name: 'hatake_gateway_ws_sent_total', help: 'Messages sent to live clients, by type', labelNames: ['type'], registers }),
    dropped: new Counter({ name: 'hatake_gateway_ws_dropped_total', help: 'Messages not sent to slow live clients (superseded or over the event limit), by type', labelNames: ['type'], registers }),
    throttled: new Counter({ name: 'hatake_gateway_ws_throttled_total', help: "Telemetry messages not sent because a newer one of the same device replaced them within a client's maxRate", registers }),
    clientErrors: new Counter({ name: 'hatake_gateway_ws_client_errors_total', help: 'Refused client messages, by code', labelNames: ['reason'], registers }),
    mqttMessages: new Counter({ name: 'hatake_gateway_mqtt_messages_total', help: 'Valid MQTT messages received, by channel', labelNames: ['channel'], registers }),
    mqttInvalid: new Counter({ name: 'hatake_gateway_mqtt_invalid_total', help: 'MQTT messages failing validation (not forwarded; ingest dead-letters them)', registers }),
    requests: new Counter({ name: 'hatake_gateway_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers }),
    requestSeconds: new Histogram({ name: 'hatake_gateway_http_request_seconds', help: 'HTTP request duration by route', labelNames: ['route'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
    logins: new Counter({ name: 'hatake_gateway_logins_total', help: 'Login attempts by result', labelNames: ['result'], registers }),
    commands: new Counter({ name: 'hatake_gateway_command_changes_total', help: 'Command state changes (sent, accepted, rejected, completed, failed, expired, timed_out)', labelNames: ['status'], registers }),
    alarms: new Counter({ name: 'hatake_gateway_alarm_changes_total', help: 'Alarm changes, by type and phase (link_lost_raised, geofence_exit_cleared, ...)', labelNames: ['change'], registers }),
    heartbeats: new Counter({ name: 'hatake_gateway_heartbeats_total', help: 'Supervisor heartbeats published', registers }),
    replaySessions: new Gauge({ name: 'hatake_gateway_replay_sessions', help: 'Replay sessions in progress (playing or paused)', registers }),
    replaySamples: new Counter({ name: 'hatake_gateway_replay_samples_total', help: 'Samples sent by replays', registers }),
  };
}
