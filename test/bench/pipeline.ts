/**
 * Ingest benchmarks: sustained device → broker → ingest → real influxd.
 */
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { exampleSensorSample } from '@hatake/protocol';
import { startStack } from '../e2e/stack.ts';

import { fmt, line } from './format.ts';

async function publishAll(clients: MqttClient[], ids: string[], payloadsOf: (d: number) => string[], window: number): Promise<void> {
  await Promise.all(
    clients.map(async (c, d) => {
      const topic = `hatake/v1/sensor/${ids[d]}/telemetry`;
      const payloads = payloadsOf(d);
      for (let i = 0; i < payloads.length; i += window) await Promise.all(payloads.slice(i, i + window).map((p) => c.publishAsync(topic, p, { qos: 1 })));
    }),
  );
}

/** N devices publish M messages of `perMessage` samples at QoS 1 as fast as they are acknowledged; time until InfluxDB has them all. */
export async function benchIngest(devices: number, messages: number, perMessage: number): Promise<void> {
  const stack = await startStack('influx', {
    env: { HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '1000000', HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '1000000', HATAKE_INGEST__BATCH_MAX_MS: '200' },
    overrides: { deviceGroups: [{ prefix: 'load', kind: 'sensor', count: devices, farm: 'north', field: 'n1' }] },
  });
  try {
    const ids = Array.from({ length: devices }, (_, i) => `load-${String(i + 1).padStart(4, '0')}`);
    const clients = await Promise.all(ids.map((id) => mqtt.connectAsync(stack.addr.mqtt.url, { username: id, password: stack.dep.secrets['load'], clientId: id, protocolVersion: 4, reconnectPeriod: 0 })));
    const t0 = Date.now() - 3_600_000;
    const payloadsOf = (d: number): string[] =>
      Array.from({ length: messages }, (_, m) => {
        const samples = Array.from({ length: perMessage }, (_, k) => {
          const seq = m * perMessage + k;
          return exampleSensorSample({ seq, t: t0 + seq * 10, soilMoisture: 20 + (d % 10) });
        });
        return JSON.stringify(perMessage === 1 ? { v: 1, ...samples[0] } : { v: 1, samples });
      });
    const total = devices * messages * perMessage;
    const start = performance.now();
    await publishAll(clients, ids, payloadsOf, 50);
    const published = performance.now();
    // until InfluxDB has confirmed every sample
    for (;;) {
      const stored = (await stack.ingest.metrics.stored.get()).values.find((v) => v.labels['type'] === 'sample')?.value ?? 0;
      if (stored >= total) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - start) / 1000;
    const counted = JSON.stringify(await stack.influxd!.query('SELECT count(seq) FROM hatake.sensor', 'hatake'));
    const count = Number(/"values":\[\["?[^,]*"?,(\d+)\]\]/.exec(counted)?.[1] ?? -1);
    line(
      `ingest → real influxd, ${devices} devices × ${fmt(messages)} messages QoS 1, ${perMessage} sample(s) per message`,
      `${fmt((devices * messages) / seconds)} msg/s, ${fmt(total / seconds)} samples/s sustained (publishing took ${((published - start) / 1000).toFixed(1)} s of ${seconds.toFixed(1)} s); InfluxDB count ${fmt(count)} of ${fmt(total)} published${count === total ? ' (all stored)' : ' — MISSING SAMPLES'}`,
    );
    await Promise.all(clients.map((c) => c.endAsync()));
  } finally {
    await stack.stop();
  }
}
