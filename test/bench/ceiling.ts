/**
 * InfluxDB's own ceiling on this machine: line protocol exactly as
 * packages/store writes it for tractor and sensor samples, serialized before the
 * clock starts, posted straight to a throwaway influxd's `/write` over
 * keep-alive connections with a few requests in flight. No MQTT, no
 * validation, no client library: what is left is InfluxDB (and the kernel),
 * so the ingest benchmarks can be read as a fraction of it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { exampleSensorSample, exampleTractorSample, type DeviceKind } from '@hatake/protocol';
import { SAMPLE_FIELDS, sampleLine, type SampleRecord } from '@hatake/store';
import { startInfluxd, type Influxd } from '@hatake/testkit';
import { fmt, line } from './format.ts';

export interface CeilingOptions {
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number;
  /** Measured seconds, after a warm-up second that creates every series (default 10). */
  readonly seconds?: number;
  /** Lines per request (default 5,000, the store's `batchSize`). */
  readonly batchLines?: number;
  /** Devices: one in five a tractor at 5 Hz, the rest field sensors (default 1,000 series). */
  readonly devices?: number;
  /** Points serialized in advance; beyond them batches are posted again, overwriting (default 2,000,000: 10 s at 200,000 points/s). */
  readonly poolPoints?: number;
}

/** A sample line exactly as the store writes it, and how many fields it has. */
function lineOf(kind: DeviceKind, device: string, farm: string, field: string, sample: Record<string, unknown>): { line: string; fields: number } {
  const record = { kind, device, farm, field, sample } as unknown as SampleRecord;
  return { line: sampleLine(record), fields: SAMPLE_FIELDS[kind].filter((f) => sample[f.name] !== undefined).length };
}

/** Batches of `batchLines` lines, devices interleaved as a live fleet sends them, as ready-to-post bodies. */
function serialize(devices: number, batchLines: number, poolPoints: number, t0: number): { batches: { body: Buffer; lines: number }[]; bytesPerLine: number; fieldsPerLine: number } {
  const ids = Array.from({ length: devices }, (_, i) => {
    const tractor = i % 5 === 0;
    return { kind: (tractor ? 'tractor' : 'sensor') as DeviceKind, id: `${tractor ? 't' : 's'}-${String(i).padStart(5, '0')}`, farm: `farm-${i % 20}`, field: `f-${i % 100}` };
  });
  const batches: { body: Buffer; lines: number }[] = [];
  let lines: string[] = [];
  let bytes = 0;
  let count = 0;
  let fieldValues = 0;
  for (let n = 0, round = 0; n < poolPoints; round++) {
    for (const [d, dev] of ids.entries()) {
      if (n >= poolPoints) break;
      // tractors every 200 ms, sensors every second (a round is 200 ms)
      if (dev.kind === 'sensor' && round % 5 !== d % 5) continue;
      const t = t0 + round * 200;
      const sample =
        dev.kind === 'tractor'
          ? exampleTractorSample({ seq: round, t, lat: 43.2312 + (d % 50) * 1e-4 + round * 1e-7, lon: 141.7023 + round * 1e-7, speed: 2 + (round % 10) / 10, fuel: 80 - round * 1e-4 })
          : exampleSensorSample({ seq: Math.floor(round / 5), t, soilMoisture: 30 + (d % 10) / 10, airTemp: 4 + (round % 50) / 10 });
      const l = lineOf(dev.kind, dev.id, dev.farm, dev.field, sample as unknown as Record<string, unknown>);
      lines.push(l.line);
      fieldValues += l.fields;
      n++;
      if (lines.length === batchLines || n === poolPoints) {
        const body = Buffer.from(lines.join('\n'));
        bytes += body.length;
        count += lines.length;
        batches.push({ body, lines: lines.length });
        lines = [];
      }
    }
  }
  return { batches, bytesPerLine: bytes / Math.max(1, count), fieldsPerLine: fieldValues / Math.max(1, count) };
}

/** CPU seconds (user + system) the influxd listening on `port` has used so far, from /proc; undefined where there is no /proc. */
function influxdCpuSeconds(port: number): number | undefined {
  try {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let args: string[];
      try {
        args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      const conf = args[args.indexOf('-config') + 1];
      if (!args[0]?.endsWith('influxd') || !conf || !readFileSync(conf, 'utf8').includes(`"127.0.0.1:${port}"`)) continue;
      // fields after the command name: utime and stime are the 14th and 15th fields, in clock ticks (100 a second)
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    }
  } catch {
    // no /proc: the figure goes without it
  }
  return undefined;
}

/** POSTs one body to /write; resolves with the HTTP status. */
function post(agent: Agent, influxd: Influxd, auth: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: '127.0.0.1', port: influxd.port, method: 'POST', path: '/write?db=hatake&rp=hatake&precision=ns', headers: { authorization: auth, 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Posts pre-serialized sample lines to a throwaway influxd with `concurrency` requests in flight for `seconds`
 * (after a warm-up second); prints `bench InfluxDB ceiling (…): N points/s` and returns N.
 */
export async function benchInfluxCeiling(opts: CeilingOptions = {}): Promise<number> {
  const concurrency = opts.concurrency ?? 4;
  const seconds = opts.seconds ?? 10;
  const batchLines = opts.batchLines ?? 5000;
  const devices = opts.devices ?? 1000;
  const influxd = await startInfluxd();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    await influxd.query('CREATE DATABASE "hatake"');
    await influxd.query('CREATE RETENTION POLICY "hatake" ON "hatake" DURATION INF REPLICATION 1 DEFAULT');
    const { batches, bytesPerLine, fieldsPerLine } = serialize(devices, batchLines, opts.poolPoints ?? 2_000_000, Date.now() - 24 * 3_600_000);
    const auth = `Basic ${Buffer.from(`${influxd.username}:${influxd.password}`).toString('base64')}`;
    let next = 0;
    let cycled = false;
    const take = (): { body: Buffer; lines: number } => {
      if (next === batches.length) {
        next = 0;
        cycled = true;
      }
      return batches[next++]!;
    };
    let failures = 0;
    const run = async (until: number): Promise<number> => {
      let points = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < until) {
            const batch = take();
            const status = await post(agent, influxd, auth, batch.body);
            if (status === 204) points += batch.lines;
            else failures++;
          }
        }),
      );
      return points;
    };
    // warm-up: every series is created, connections are open
    await run(performance.now() + 1000);
    const cpu0 = influxdCpuSeconds(influxd.port);
    const start = performance.now();
    const points = await run(start + seconds * 1000);
    const elapsed = (performance.now() - start) / 1000;
    const cpu1 = influxdCpuSeconds(influxd.port);
    const rate = points / elapsed;
    // other work on the machine takes cores from influxd: say how much it had, and what it did per core-second
    const cores = cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / elapsed : undefined;
    const cpuNote = cores !== undefined && cores > 0 ? `; influxd used ${cores.toFixed(2)} of ${cpus().length} cores = ${fmt(rate / cores)} points per core-second` : '';
    line(
      `InfluxDB ceiling (pre-serialized line protocol posted directly, ${concurrency} concurrent requests)`,
      `${fmt(rate)} points/s (${fmt(rate * fieldsPerLine)} field values/s; ${fmt(points)} points in ${elapsed.toFixed(1)} s, ${fmt(batchLines)} lines of ~${Math.round(bytesPerLine)} B and ${fieldsPerLine.toFixed(1)} fields per line, uncompressed, ${fmt(devices)} series of tractors and sensors${cpuNote}${cycled ? '; the serialized pool ran out, so some batches were overwrites' : ''}${failures > 0 ? `; ${failures} REQUESTS FAILED` : ''})`,
    );
    return rate;
  } finally {
    agent.destroy();
    await influxd.stop();
  }
}
