/**
 * Reconnecting with exponential back-off and jitter, for every MQTT client
 * hatake runs (services, simulated devices). mqtt.js retries at a fixed
 * `reconnectPeriod`: after a broker restart, every device and service would
 * knock at the same pace, together. Here each delay doubles from
 * `mqtt.reconnectMs` up to a cap, is cut by a random share so that clients
 * spread out, and starts over after a successful connect.
 *
 * mqtt.js 5 arms its reconnect timer from `client.options.reconnectPeriod`
 * right after it emits `offline` (the first loss) and again each time an
 * attempt fails (after `reconnect`); setting the option in those two
 * handlers sets the next delay.
 */
import type { MqttClient } from 'mqtt';
import { Counter, type Registry } from 'prom-client';

/** Longest wait between two attempts unless the first delay is longer still. */
export const RECONNECT_MAX_MS = 30_000;

export interface BackoffOptions {
  /** The first delay, ms (`mqtt.reconnectMs`). */
  readonly initialMs: number;
  /** The longest delay, ms (default {@link RECONNECT_MAX_MS}, never below `initialMs`). */
  readonly maxMs?: number;
  /** Growth per failed attempt (default 2). */
  readonly factor?: number;
  /** Share of each delay that is random (default 0.5: a delay d becomes d × (0.5, 1]). */
  readonly jitter?: number;
  /** Uniform randomness in [0, 1) (default Math.random; tests and seeded simulations pass their own). */
  readonly random?: () => number;
}

/** Exponential delays with jitter: initial, ×factor per attempt, capped; `reset()` starts over. */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private n = 0;

  constructor(opts: BackoffOptions) {
    this.initialMs = opts.initialMs;
    this.maxMs = Math.max(opts.initialMs, opts.maxMs ?? RECONNECT_MAX_MS);
    this.factor = opts.factor ?? 2;
    this.jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
    this.random = opts.random ?? Math.random;
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.n;
  }

  /** The next delay, ms (at least 1). */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.n);
    this.n++;
    return Math.max(1, Math.round(base * (1 - this.jitter * this.random())));
  }

  /** Starts over from the first delay. */
  reset(): void {
    this.n = 0;
  }
}

export interface ReconnectBackoffOptions extends BackoffOptions {
  /**
   * Called as each reconnect attempt starts, with its number since the last successful connect (1, 2, …)
   * and the delay that preceded it; count it in `hatake_mqtt_reconnects_total` ({@link reconnectCounter}).
   */
  readonly onReconnect?: (attempt: number, delayMs: number) => void;
  /** Called once connected again after a loss, with the number of attempts it took. */
  readonly onReconnected?: (attempts: number) => void;
  /** A floor for the next delay, ms (a simulated device's link outage: no attempt before it ends). */
  readonly minDelayMs?: () => number;
}

/**
 * Makes an mqtt.js client (connected or still connecting, created with `reconnectPeriod` > 0) reconnect
 * with back-off instead of its fixed period. Returns a function that detaches it.
 */
export function reconnectWithBackoff(client: MqttClient, opts: ReconnectBackoffOptions): () => void {
  const backoff = new Backoff(opts);
  let delay = 0;
  let tries = 0;
  const arm = (): void => {
    delay = Math.max(backoff.next(), Math.ceil(opts.minDelayMs?.() ?? 0));
    client.options.reconnectPeriod = delay;
  };
  // mqtt.js emits 'offline' from its own 'close' handler just before it reads the period for the first wait
  const onOffline = (): void => arm();
  const onReconnect = (): void => {
    tries++;
    opts.onReconnect?.(tries, delay);
    arm(); // the wait before the next attempt, should this one fail
  };
  const onConnect = (): void => {
    if (tries > 0) opts.onReconnected?.(tries);
    tries = 0;
    backoff.reset();
  };
  client.on('offline', onOffline);
  client.on('reconnect', onReconnect);
  client.on('connect', onConnect);
  return () => {
    client.off('offline', onOffline);
    client.off('reconnect', onReconnect);
    client.off('connect', onConnect);
  };
}

/** The `hatake_mqtt_reconnects_total` counter on a service's registry (one name for every service). */
export function reconnectCounter(registry: Registry): Counter {
  return new Counter({ name: 'hatake_mqtt_reconnects_total', help: 'Attempts to reconnect to the broker', registers: [registry] });
}
