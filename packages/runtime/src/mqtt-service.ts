import mqtt, { type MqttClient, type OnMessageCallback } from 'mqtt';
import type { Logger } from './logger.ts';
import { RECONNECT_MAX_MS, reconnectWithBackoff } from './reconnect.ts';
import { holdForRound } from './round-writes.ts';

export interface ServiceConnection {
  url: string;
  clientId: string;
  username: string;
  password: string | undefined;
  /** false: a persistent session the broker keeps while the service is away */
  clean: boolean;
  settings: { protocolVersion: number; keepaliveSeconds: number; reconnectMs: number };
  log: Logger;
  /** attached before CONNECT, so what a persistent session queued is handled from the first packet */
  onMessage: OnMessageCallback;
  /** called with the client before any packet is read (ingest takes over its acknowledgements here) */
  prepare?: (client: MqttClient) => void;
  /** called as each reconnect attempt starts (count it: `reconnectCounter(registry).inc()`) */
  onReconnect?: (attempt: number, delayMs: number) => void;
  /** longest wait between reconnect attempts, ms (default {@link RECONNECT_MAX_MS}) */
  reconnectMaxMs?: number;
  /** randomness for the reconnect jitter (tests) */
  random?: () => number;
  /**
   * MQTT 5 only: QoS 1 messages the broker may have in flight to this client (its Receive Maximum, at most 65,535).
   * Brokers (Mosquitto, EMQX) take it in place of their own window, which may be as small as 20.
   */
  receiveMaximum?: number;
  /**
   * MQTT 5 only: how long the broker keeps a persistent session after the connection is gone, seconds. MQTT 5
   * ends a session at disconnect unless this is set, whatever `clean` says. Default with `clean: false`: 7 days.
   */
  sessionExpirySeconds?: number;
}

/** How long an MQTT 5 broker keeps a service's persistent session while it is away (unless told otherwise). */
export const SESSION_EXPIRY_SECONDS = 7 * 24 * 3600;

/**
 * Connects a service account to the broker and resolves on the first CONNACK. A refused login or a bad URL
 * rejects rather than reconnecting in the background; after the first connect, mqtt.js reconnects by itself,
 * waiting `settings.reconnectMs`, then twice as long each failed attempt (with jitter) up to `reconnectMaxMs`.
 */
export async function connectService(opts: ServiceConnection): Promise<MqttClient> {
  const v5 = opts.settings.protocolVersion === 5;
  const properties = v5
    ? {
        ...(opts.clean ? {} : { sessionExpiryInterval: opts.sessionExpirySeconds ?? SESSION_EXPIRY_SECONDS }),
        ...(opts.receiveMaximum !== undefined ? { receiveMaximum: Math.max(1, Math.min(65_535, opts.receiveMaximum)) } : {}),
      }
    : undefined;
  const c = mqtt.connect(opts.url, {
    clientId: opts.clientId,
    ...(properties && Object.keys(properties).length > 0 ? { properties } : {}),
    username: opts.username,
    password: opts.password,
    clean: opts.clean,
    protocolVersion: opts.settings.protocolVersion as 4 | 5,
    keepalive: opts.settings.keepaliveSeconds,
    reconnectPeriod: opts.settings.reconnectMs,
    connectTimeout: 10_000,
  });
  opts.prepare?.(c);
  // mqtt.js writes each PUBACK in a tick of its own; a new stream comes with each reconnect
  c.on('connect', () => holdForRound(c.stream));
  c.on('message', opts.onMessage);
  c.on('error', (err) => opts.log.warn({ err: { message: err.message } }, 'mqtt error'));
  c.on('offline', () => opts.log.warn({ url: opts.url }, 'broker unreachable; reconnecting'));
  reconnectWithBackoff(c, {
    initialMs: opts.settings.reconnectMs,
    maxMs: opts.reconnectMaxMs ?? RECONNECT_MAX_MS,
    ...(opts.random ? { random: opts.random } : {}),
    onReconnect: (attempt, delayMs) => {
      opts.log.debug({ attempt, delayMs }, 'reconnecting');
      opts.onReconnect?.(attempt, delayMs);
    },
    onReconnected: (attempts) => opts.log.info({ url: opts.url, attempts }, 'reconnected'),
  });
  await new Promise<void>((resolve, reject) => {
    // only the first answer decides: a listener left behind would end the client at the first refused reconnect
    const onConnect = (): void => {
      c.off('error', onError);
      resolve();
    };
    const onError = (err: Error): void => {
      c.off('connect', onConnect);
      c.end(true);
      reject(err);
    };
    c.once('connect', onConnect);
    c.once('error', onError);
  });
  return c;
}
