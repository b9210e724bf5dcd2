import mqtt, { type MqttClient, type OnMessageCallback } from 'mqtt';
import type { Logger } from './logger.ts';

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
}

/**
 * Connects a service account to the broker and resolves on the first CONNACK. A refused login or a bad URL
 * rejects rather than reconnecting in the background; after the first connect, mqtt.js reconnects by itself.
 */
export async function connectService(opts: ServiceConnection): Promise<MqttClient> {
  const c = mqtt.connect(opts.url, {
    clientId: opts.clientId,
    username: opts.username,
    password: opts.password,
    clean: opts.clean,
    protocolVersion: opts.settings.protocolVersion as 4 | 5,
    keepalive: opts.settings.keepaliveSeconds,
    reconnectPeriod: opts.settings.reconnectMs,
    connectTimeout: 10_000,
  });
  opts.prepare?.(c);
  c.on('message', opts.onMessage);
  c.on('error', (err) => opts.log.warn({ err: { message: err.message } }, 'mqtt error'));
  c.on('offline', () => opts.log.warn({ url: opts.url }, 'broker unreachable; reconnecting'));
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', (err) => {
      c.end(true);
      reject(err);
    });
  });
  return c;
}
