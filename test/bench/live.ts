/**
 * Live fan-out benchmark: publish → WebSocket latency with many clients.
 */
import { performance } from 'node:perf_hooks';
import { exampleSensorSample } from '@hatake/protocol';
import { startStack } from '../e2e/stack.ts';
import { fmt, line } from './format.ts';

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** A device publishes `rate` messages/s for `seconds`; M WebSocket clients receive each; latency from publish to receipt. */
export async function benchLive(clientsCount: number, rate: number, seconds: number): Promise<void> {
  const stack = await startStack('embedded', { env: { HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '100000', HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '100000', HATAKE_GATEWAY__WS__MAX_CLIENTS: '10000' } });
  try {
    const sent = new Map<number, number>();
    const latencies: number[] = [];
    let received = 0;
    const clients = await Promise.all(Array.from({ length: clientsCount }, () => stack.live('admin')));
    for (const c of clients) {
      c.ws.removeAllListeners('message');
      c.ws.send(JSON.stringify({ type: 'subscribe', devices: ['s1'] }));
      c.ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type: string; samples?: { seq: number }[] };
        if (m.type !== 'telemetry' || !m.samples) return;
        const at = sent.get(m.samples[0]!.seq);
        if (at !== undefined) {
          latencies.push(performance.now() - at);
          received++;
        }
      });
    }
    await new Promise((r) => setTimeout(r, 200));
    const device = await stack.mqtt('s1');
    const total = rate * seconds;
    const start = performance.now();
    for (let seq = 0; seq < total; seq++) {
      const due = start + (seq * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      sent.set(seq, performance.now());
      device.publish('hatake/v1/sensor/s1/telemetry', JSON.stringify({ v: 1, ...exampleSensorSample({ seq, t: Date.now() }) }), { qos: 1 });
    }
    const deadline = Date.now() + 10_000;
    while (received < total * clientsCount && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    latencies.sort((a, b) => a - b);
    line(
      `publish → WebSocket, ${clientsCount} clients, ${rate} msg/s for ${seconds} s`,
      `p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${latencies[latencies.length - 1]!.toFixed(1)} ms; ${fmt(received)} of ${fmt(total * clientsCount)} deliveries`,
    );
  } finally {
    await stack.stop();
  }
}
