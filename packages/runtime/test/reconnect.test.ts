/**
 * Reconnect back-off: the delays themselves (fake randomness), and a real
 * mqtt.js client that waits exactly those delays (fake clock) against a
 * loopback port that refuses, then one that accepts.
 */
import { createServer, type Server, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, RECONNECT_MAX_MS, Registry, reconnectCounter, reconnectWithBackoff } from '@hatake/runtime';

/** Randomness that replays `values` in a loop. */
const replay = (...values: number[]): (() => number) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('Backoff', () => {
  it('doubles from the first delay up to the cap, and starts over after reset', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(b.attempts).toBe(7);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('cuts each delay by a random share of at most `jitter`', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5, random: replay(0.5, 0.999_999, 0) });
    // 1000 × (1 − 0.25), 2000 × (1 − ~0.5), 4000 × 1
    expect([b.next(), b.next(), b.next()]).toEqual([750, 1000, 4000]);
    const spread = new Set(Array.from({ length: 50 }, () => new Backoff({ initialMs: 1000 }).next()));
    expect(spread.size).toBeGreaterThan(10); // Math.random by default: clients do not knock together
    // 1000 × (1 − 0.5 × r) for r in [0, 1): above 500 before rounding, so at least 500 after
    for (const d of spread) {
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });

  it('caps at 30 s by default, and never below the first delay', () => {
    const b = new Backoff({ initialMs: 1000, random: () => 0 });
    for (let i = 0; i < 10; i++) b.next();
    expect(b.next()).toBe(RECONNECT_MAX_MS);
    expect(new Backoff({ initialMs: 45_000, random: () => 0 }).next()).toBe(45_000);
  });
});

describe('reconnectWithBackoff on an mqtt.js client', () => {
  let client: MqttClient | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    client?.end(true);
    client = undefined;
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  /** A loopback port with nothing listening on it (yet). */
  const closedPort = async (): Promise<number> => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  };

  /** A minimal MQTT server on `port`: answers every CONNECT with CONNACK 0 and keeps the sockets. */
  const acceptOn = async (port: number): Promise<Socket[]> => {
    const sockets: Socket[] = [];
    server = createServer((s) => {
      sockets.push(s);
      s.once('data', () => s.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    return sockets;
  };

  const next = (c: MqttClient, event: 'close' | 'connect'): Promise<void> => new Promise((r) => c.once(event, () => r()));

  it('waits the back-off delays between attempts, reports each attempt, and starts over after a connect', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const port = await closedPort();
    const attempts: [number, number][] = [];
    const reconnected: number[] = [];
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 100, connectTimeout: 60_000, keepalive: 0 });
    client = c;
    reconnectWithBackoff(c, { initialMs: 100, maxMs: 500, random: () => 0, onReconnect: (n, d) => attempts.push([n, d]), onReconnected: (n) => reconnected.push(n) });
    let fired = 0;
    c.on('reconnect', () => fired++);

    // refused: 100, 200, 400, 500, 500 ms between attempts, each honoured to the millisecond
    await next(c, 'close');
    for (const delay of [100, 200, 400, 500, 500]) {
      const before = fired;
      const closed = next(c, 'close');
      vi.advanceTimersByTime(delay - 1);
      expect(fired).toBe(before);
      vi.advanceTimersByTime(1);
      expect(fired).toBe(before + 1);
      await closed;
    }
    expect(attempts).toEqual([[1, 100], [2, 200], [3, 400], [4, 500], [5, 500]]);

    // the broker is back: the next attempt connects, and the count starts over
    const sockets = await acceptOn(port);
    const connected = next(c, 'connect');
    vi.advanceTimersByTime(500);
    await connected;
    expect(reconnected).toEqual([6]);

    // lost again: the first wait is the first delay again
    const closed = next(c, 'close');
    sockets[0]!.destroy();
    await closed;
    const before = fired;
    vi.advanceTimersByTime(99);
    expect(fired).toBe(before);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(before + 1);
    expect(attempts.at(-1)).toEqual([1, 100]);
  });

  it('never waits less than minDelayMs (a simulated outage)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const port = await closedPort();
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 100, connectTimeout: 60_000, keepalive: 0 });
    client = c;
    const attempts: number[] = [];
    reconnectWithBackoff(c, { initialMs: 100, random: () => 0, minDelayMs: () => 3000, onReconnect: (_n, d) => attempts.push(d) });
    await next(c, 'close');
    vi.advanceTimersByTime(2999);
    expect(attempts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(attempts).toEqual([3000]);
  });
});

describe('reconnectCounter', () => {
  it('is hatake_mqtt_reconnects_total on the given registry', async () => {
    const registry = new Registry();
    reconnectCounter(registry).inc(2);
    expect(await registry.metrics()).toContain('hatake_mqtt_reconnects_total 2');
  });
});
