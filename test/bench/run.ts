/**
 * `pnpm bench`: figures, printed, never asserted by tests. Each line is
 * `bench <name>: <figure>`; run on an otherwise idle machine.
 */
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { buildBroker } from '@hatake/broker';
import { findField } from '@hatake/config';
import { Decoder, exampleTractorSample, telemetryTopic } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { Rng } from '@hatake/simkit';
import { testDeployment } from '@hatake/testkit';
import { TractorModel } from '@hatake/tractor';
import { fmt, line } from './format.ts';
import { benchLive } from './live.ts';
import { benchInfluxCeiling } from './ceiling.ts';
import { benchEndToEnd } from './pipeline.ts';
import { benchEstop } from './estop.ts';
import { benchPrescription } from './prescription.ts';
import { benchTracks } from './tracks.ts';


function timeLoop(seconds: number, body: () => number): { ops: number; perSecond: number } {
  let ops = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  while (performance.now() < end) ops += body();
  return { ops, perSecond: ops / ((performance.now() - start) / 1000) };
}

function benchDecoder(): void {
  const decoder = new Decoder();
  const topic = telemetryTopic('tractor', 't-kita-1');
  const single = Buffer.from(JSON.stringify({ v: 1, ...exampleTractorSample() }));
  const batch = Buffer.from(JSON.stringify({ v: 1, samples: Array.from({ length: 100 }, (_, seq) => exampleTractorSample({ seq, t: exampleTractorSample().t + seq * 200 })) }));
  const bad = Buffer.from(JSON.stringify({ v: 1, ...exampleTractorSample({ lat: 200, speed: -1 }), extra: 1 }));
  for (let i = 0; i < 20_000; i++) decoder.decode(topic, single); // warm-up: JIT and compiled validators
  const s = timeLoop(2, () => {
    for (let i = 0; i < 1000; i++) decoder.decode(topic, single);
    return 1000;
  });
  line('protocol.decode tractor message, 1 sample', `${fmt(s.perSecond)} msg/s (${single.length} B each)`);
  const b = timeLoop(2, () => {
    for (let i = 0; i < 10; i++) decoder.decode(topic, batch);
    return 10;
  });
  line('protocol.decode tractor message, 100 samples', `${fmt(b.perSecond)} msg/s = ${fmt(b.perSecond * 100)} samples/s (${fmt(batch.length)} B each)`);
  const r = timeLoop(2, () => {
    for (let i = 0; i < 1000; i++) decoder.decode(topic, bad);
    return 1000;
  });
  line('protocol.decode refused message (4 reasons)', `${fmt(r.perSecond)} msg/s`);
}

async function benchTractorModel(): Promise<void> {
  const { config } = await testDeployment();
  const device = config.devices.find((d) => d.id === 't1')!;
  const field = findField(config, device.farm!, device.field!)!;
  const model = new TractorModel({ field: field.boundary, spec: device.tractor! }, new Rng(1, 't1'));
  const s = timeLoop(2, () => {
    for (let i = 0; i < 1000; i++) model.step(0.2);
    return 1000;
  });
  line('simulator.tractor model steps', `${fmt(s.perSecond)} steps/s (one core keeps ~${fmt(s.perSecond / 5)} tractors at 5 Hz)`);
}

async function benchBroker(devices: number, perDevice: number): Promise<void> {
  const { config, secrets } = await testDeployment({
    env: { HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '1000000', HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '1000000' },
  });
  const broker = buildBroker(config, { logger: silentLogger() });
  const addr = await broker.start();
  const sub = await mqtt.connectAsync(addr.mqtt.url, { username: 'ingest', password: secrets['ingest'], clientId: 'ingest:bench', protocolVersion: 4, reconnectPeriod: 0 });
  const ids = Array.from({ length: devices }, (_, i) => `load-${String(i + 1).padStart(4, '0')}`);
  let received = 0;
  const total = devices * perDevice;
  const done = new Promise<void>((resolve) => sub.on('message', () => ++received === total && resolve()));
  await sub.subscribeAsync('hatake/v1/+/+/telemetry', { qos: 1 });
  const pubs = await Promise.all(
    ids.map((id) => mqtt.connectAsync(addr.mqtt.url, { username: id, password: secrets['load'], clientId: id, protocolVersion: 4, reconnectPeriod: 0 })),
  );
  const payloads = ids.map((_, d) => Array.from({ length: perDevice }, (_, seq) => JSON.stringify({ v: 1, t: Date.now(), seq, fix: 'gps', lat: 43.2, lon: 141.7, alt: 30, hdop: 1, speed: 0, heading: 0, soilMoisture: 20 + d / 100 })));
  const start = performance.now();
  await Promise.all(
    pubs.map(async (c, d) => {
      const topic = telemetryTopic('sensor', ids[d]!);
      // keep 100 QoS 1 messages in flight per device
      for (let i = 0; i < perDevice; i += 100) await Promise.all(payloads[d]!.slice(i, i + 100).map((p) => c.publishAsync(topic, p, { qos: 1 })));
    }),
  );
  await done;
  const seconds = (performance.now() - start) / 1000;
  line(`broker QoS 1 fan-in, ${devices} devices → 1 subscriber`, `${fmt(total / seconds)} msg/s (${fmt(total)} messages, ${received === total ? 'all' : `${received}`} received)`);
  await Promise.all([...pubs, sub].map((c) => c.endAsync()));
  await broker.stop();
}

benchDecoder();
await benchTractorModel();
await benchBroker(20, 2500);
// issue 4's figures, side by side: the database's own ceiling, hatake end to end against it, live fan-out
const ceiling = await benchInfluxCeiling();
const one = await benchEndToEnd({ broker: 'mosquitto', devices: 50, messages: 4000, perMessage: 1, window: 200, ceiling });
const ten = await benchEndToEnd({ broker: 'mosquitto', devices: 50, messages: 800, perMessage: 10, window: 100, ceiling });
const embedded = await benchEndToEnd({ broker: 'embedded', devices: 50, messages: 1000, perMessage: 1, window: 100, ceiling });
await benchEstop();
await benchPrescription();
await benchTracks();
const live = await benchLive({ layout: 'processes' });
const liveOne = await benchLive({ layout: 'one-process' });
line(
  'summary (targets: 10 samples/message ≥ 70 % of the ceiling; 1 sample/message ≥ 30,000 msg/s; live ≥ 3,000 msg/s at p99 ≤ 15 ms)',
  `ceiling ${fmt(ceiling)} points/s; 10 samples/message ${fmt(ten.pointsPerSecond)} points/s = ${((ten.pointsPerSecond / ceiling) * 100).toFixed(0)} % of the ceiling; ` +
    `1 sample/message ${fmt(one.messagesPerSecond)} msg/s via Mosquitto, ${fmt(embedded.messagesPerSecond)} msg/s via the embedded broker; live fan-out ${fmt(live)} msg/s with broker, ingest and gateway in processes of their own, ${fmt(liveOne)} msg/s all in one process; ` +
    `lost ${one.lost + ten.lost + embedded.lost}`,
);
