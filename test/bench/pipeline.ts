/**
 * Ingest benchmarks, end to end and each piece in a process of its own, as in
 * production: simulated devices (a load process) → broker → ingest (its own
 * process) → a real influxd. The figure is sustained: from the first publish
 * to InfluxDB having confirmed the last sample, with the count checked in
 * InfluxDB afterwards (zero loss or it says so).
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, startInfluxd, startMosquitto, testDeployment } from '@hatake/testkit';
import { scrape } from '../e2e/scrape.ts';
import { fmt, line } from './format.ts';
import { NODE_ARGS, startService, type ServiceProcess } from './services.ts';

const LOAD = fileURLToPath(new URL('./bin/load.ts', import.meta.url));

export interface EndToEnd {
  readonly messagesPerSecond: number;
  readonly pointsPerSecond: number;
  readonly lost: number;
}

/** Runs one load; resolves with the sustained figures. */
export async function benchEndToEnd(opts: { broker: 'mosquitto' | 'embedded'; devices: number; messages: number; perMessage: number; window: number; ceiling?: number; env?: Record<string, string> }): Promise<EndToEnd> {
  const influxd = await startInfluxd();
  const mosquitto = opts.broker === 'mosquitto' ? await startMosquitto() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'hatake-bench-'));
  const dep = await testDeployment({
    env: {
      HATAKE_STORE__ADAPTER: 'influx',
      HATAKE_STORE__INFLUX__URL: influxd.url,
      HATAKE_STORE__INFLUX__USERNAME: influxd.username,
      HATAKE_STORE__INFLUX__PASSWORD: influxd.password,
      HATAKE_INGEST__HTTP__PORT: '0',
      HATAKE_MQTT__PROTOCOL_VERSION: opts.broker === 'mosquitto' ? '5' : '4',
      HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '1000000',
      HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '1000000',
      ...opts.env,
    },
    overrides: { deviceGroups: [{ prefix: 'load', kind: 'sensor', count: opts.devices, farm: 'north', field: 'n1' }] },
  });
  const children: ServiceProcess[] = [];
  try {
    let url = mosquitto?.url;
    if (!url) {
      const broker = await startService('broker', dir, { config: dep.config });
      children.push(broker);
      url = broker.address;
    }
    const ingest = await startService('ingest', dir, { config: dep.config, password: dep.secrets['ingest'], mqttUrl: url });
    children.push(ingest);
    const metrics = `${ingest.address}/metrics`;
    const ids = Array.from({ length: opts.devices }, (_, i) => `load-${String(i + 1).padStart(4, '0')}`);
    const spec = { url, ids, password: dep.secrets['load'], messages: opts.messages, perMessage: opts.perMessage, window: opts.window, t0: Date.now() - 3_600_000, protocolVersion: opts.broker === 'mosquitto' ? 5 : 4 };
    const load = spawn(process.execPath, [...NODE_ARGS, LOAD, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: load.stdout });
    const next = (): Promise<string> => new Promise((resolve, reject) => {
      lines.once('line', resolve);
      load.once('exit', (code) => reject(new Error(`load generator exited (${code})`)));
    });
    await next(); // ready
    const total = opts.devices * opts.messages * opts.perMessage;
    const brokerPid = mosquitto?.pid ?? children[0]!.pid;
    const cpu0 = { machine: cpuSeconds('machine'), ingest: cpuSeconds(ingest.pid), load: cpuSeconds(load.pid!), broker: cpuSeconds(brokerPid!), influxd: cpuSeconds(influxd.pid!) };
    const start = performance.now();
    load.stdin.write('go\n');
    const publishedMs = Number((await next()).split(' ')[1]);
    const loadCpu = cpuSeconds(load.pid!) - cpu0.load;
    let lastTrace = 0;
    // done when every message is acknowledged (durable) and nothing waits to be stored: no batch in memory, no spool
    const done = async (): Promise<boolean> =>
      (await scrape(metrics, 'hatake_ingest_acked_total')) >= opts.devices * opts.messages && (await scrape(metrics, 'hatake_ingest_queue_depth')) === 0 && (await scrape(metrics, 'hatake_ingest_spool_bytes')) === 0;
    for (;;) {
      if (await done()) break;
      if (process.env['HATAKE_BENCH_TRACE'] && performance.now() - lastTrace > 250) {
        lastTrace = performance.now();
        const m = await Promise.all(['hatake_ingest_received_total', 'hatake_ingest_acked_total', 'hatake_ingest_stored_total', 'hatake_ingest_unacked_messages', 'hatake_ingest_queue_depth', 'hatake_ingest_spooled_total'].map((n) => scrape(metrics, n)));
        process.stderr.write(`${((lastTrace - start) / 1000).toFixed(2)} s received ${m[0]} acked ${m[1]} stored ${m[2]} unacked ${m[3]} depth ${m[4]} spooled ${m[5]}\n`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const seconds = (performance.now() - start) / 1000;
    const cores = (what: 'machine' | 'ingest' | 'broker' | 'influxd', pid: number | 'machine'): string => ((cpuSeconds(pid) - cpu0[what]) / seconds).toFixed(2);
    const cpu = `CPU in cores: machine ${cores('machine', 'machine')} of 2, ingest ${cores('ingest', ingest.pid)}, broker ${cores('broker', brokerPid!)}, influxd ${cores('influxd', influxd.pid!)}, load generator ${(loadCpu / seconds).toFixed(2)}`;
    if (process.env['HATAKE_BENCH_TRACE']) {
      const m = await Promise.all(['hatake_ingest_received_total', 'hatake_ingest_acked_total', 'hatake_ingest_stored_total', 'hatake_ingest_spooled_total', 'hatake_ingest_replayed_total', 'hatake_ingest_write_failures_total', 'hatake_mqtt_reconnects_total', 'hatake_ingest_rejected_total'].map((n) => scrape(metrics, n)));
      process.stderr.write(`final: received ${m[0]} acked ${m[1]} stored ${m[2]} spooled ${m[3]} replayed ${m[4]} write failures ${m[5]} reconnects ${m[6]} rejected ${m[7]}\n`);
    }
    const counted = JSON.stringify(await influxd.query('SELECT count(seq) FROM hatake.sensor', 'hatake'));
    const count = Number(/"values":\[\["?[^,]*"?,(\d+)\]\]/.exec(counted)?.[1] ?? -1);
    const msgs = (opts.devices * opts.messages) / seconds;
    const points = total / seconds;
    line(
      `end to end (${opts.devices} devices → ${opts.broker === 'mosquitto' ? 'Mosquitto' : 'embedded aedes broker'} → ingest → influxd, separate processes), ${opts.perMessage} sample(s) per message, QoS 1`,
      `${fmt(msgs)} msg/s, ${fmt(points)} points/s sustained over ${seconds.toFixed(1)} s (devices published in ${(publishedMs / 1000).toFixed(1)} s)${opts.ceiling ? `, ${((points / opts.ceiling) * 100).toFixed(0)} % of the InfluxDB ceiling` : ''}; InfluxDB count ${fmt(count)} of ${fmt(total)}${count === total ? ' (zero loss)' : ' — MISSING SAMPLES'}; ${cpu}`,
    );
    load.kill();
    return { messagesPerSecond: msgs, pointsPerSecond: points, lost: total - count };
  } finally {
    for (const c of children.reverse()) await c.stop('SIGTERM');
    await mosquitto?.stop();
    await influxd.stop();
  }
}
