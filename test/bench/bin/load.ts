/**
 * A load generator in a process of its own: N simulated devices connect, the
 * payloads are made up front, and on `go` (a line on stdin) every device
 * publishes its messages at QoS 1 keeping `window` in flight. Prints
 * `ready` when connected and `done <ms>` when the broker has acknowledged all.
 */
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';
import { exampleSensorSample } from '@hatake/protocol';

interface LoadSpec {
  url: string;
  ids: string[];
  password?: string;
  messages: number;
  perMessage: number;
  window: number;
  t0: number;
  protocolVersion: 4 | 5;
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const clients = await Promise.all(
  spec.ids.map((id) =>
    mqtt.connectAsync(spec.url, { clientId: id, username: id, ...(spec.password ? { password: spec.password } : {}), protocolVersion: spec.protocolVersion, reconnectPeriod: 0, keepalive: 60 }),
  ),
);
const payloads = spec.ids.map((_, d) =>
  Array.from({ length: spec.messages }, (_, m) => {
    const samples = Array.from({ length: spec.perMessage }, (_, k) => {
      const seq = m * spec.perMessage + k;
      return exampleSensorSample({ seq, t: spec.t0 + seq * 10, soilMoisture: 20 + (d % 10) });
    });
    return Buffer.from(JSON.stringify(spec.perMessage === 1 ? { v: 1, ...samples[0] } : { v: 1, samples }));
  }),
);
process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => rl.once('line', () => resolve()));
const start = performance.now();
await Promise.all(
  clients.map(
    (c, d) =>
      new Promise<void>((resolve, reject) => {
        const topic = `hatake/v1/sensor/${spec.ids[d]}/telemetry`;
        const list = payloads[d]!;
        let next = 0;
        let acked = 0;
        let refill = false;
        // PUBACKs that arrive together are answered together: the next publishes go out in one
        // write (mqtt.js corks the socket until the next tick), as a device batching its uplink would
        const top = (): void => {
          refill = false;
          while (next < list.length && next - acked < spec.window) send();
        };
        const send = (): void => {
          const i = next++;
          c.publish(topic, list[i]!, { qos: 1 }, (err) => {
            if (err) return reject(err);
            if (++acked === list.length) return resolve();
            if (!refill && next < list.length) {
              refill = true;
              setImmediate(top);
            }
          });
        };
        top();
      }),
  ),
);
process.stdout.write(`done ${Math.round(performance.now() - start)}\n`);
await Promise.all(clients.map((c) => c.endAsync()));
rl.close();
