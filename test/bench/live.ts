/**
 * Live fan-out benchmark: the highest message rate at which every one of 100
 * WebSocket clients receives every message with publish → receive p99 ≤ 15 ms,
 * while ingest stores the same stream (in a real influxd by default).
 *
 * The services under test run in the main thread (the stack of
 * test/e2e/stack.ts: broker, ingest and gateway in one thread, as `pnpm start`
 * runs them) or each in a process of its own (`layout: 'processes'`, as
 * production runs them). Two workers keep the measuring apart from what is
 * measured: one runs the 20 publishing devices (MQTT, QoS 1), the other the
 * WebSocket clients (a lean RFC 6455 client, see {@link openLean}) and an
 * MQTT subscriber that times the broker leg alone. Publish times go through a
 * SharedArrayBuffer indexed by the sample's `seq`; both workers read the same
 * monotonic clock (`process.hrtime`), so latency runs from the moment a message
 * is handed to the device's MQTT client to the moment a client has read its
 * frame. Each step prints how busy each thread was: a step that fails with the
 * clients' or the publisher's thread near 100 % measured the bench, not the
 * gateway.
 */
import { createHash, randomBytes } from 'node:crypto';
import { on, once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { MessageChannel, Worker, type MessagePort, type TransferListItem } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exampleSensorSample, telemetryTopic } from '@hatake/protocol';
import { cpuSeconds, startInfluxd, testDeployment } from '@hatake/testkit';
import { startStack } from '../e2e/stack.ts';
import { fmt, line } from './format.ts';
import { startService, type ServiceProcess } from './services.ts';

export interface LiveBenchOptions {
  readonly clients?: number;
  /** Rates tried in turn (messages/s over all devices); stops at the first that fails. */
  readonly rates?: readonly number[];
  readonly secondsPerStep?: number;
  readonly p99LimitMs?: number;
  readonly adapter?: 'influx' | 'embedded';
  /**
   * The embedded broker's session store. `memory` by default: with `level`, the broker's per-message disk writes
   * for ingest's persistent session — not the gateway — set the limit (and the broker shares the stack's thread).
   */
  readonly brokerPersistence?: 'memory' | 'level';
  /** Go on after a failed step (to see the curve); the highest rate reported is still the last before the first failure. */
  readonly keepGoing?: boolean;
  /**
   * `one-process` (default): broker, ingest and gateway share one thread, as `pnpm start` runs them.
   * `processes`: each in a process of its own, as production runs them (the services' `start` scripts).
   */
  readonly layout?: 'one-process' | 'processes';
}

/** What a step needs of the deployment under test, whichever its layout. */
interface UnderTest {
  readonly mqttUrl: string;
  readonly wsUrl: string;
  readonly token: string;
  readonly loadPassword: string;
  readonly gatewayPassword: string;
  storedSamples(): Promise<number>;
  /** Starts measuring how busy the services are; the function returned says it for the time since. */
  busy(): () => string;
  stop(): Promise<void>;
}

async function oneProcess(env: Record<string, string>, adapter: 'influx' | 'embedded'): Promise<UnderTest> {
  const stack = await startStack(adapter, { env });
  return {
    mqttUrl: stack.addr.mqtt.url,
    wsUrl: stack.ws,
    token: await stack.token('admin'),
    loadPassword: stack.dep.secrets['load']!,
    gatewayPassword: stack.dep.secrets['gateway']!,
    storedSamples: async () => (await stack.ingest.metrics.stored.get()).values.find((v) => v.labels['type'] === 'sample')?.value ?? 0,
    busy() {
      const loopDelay = monitorEventLoopDelay({ resolution: 1 });
      loopDelay.enable();
      const elu0 = performance.eventLoopUtilization();
      return () => {
        loopDelay.disable();
        return `stack thread ${Math.round(performance.eventLoopUtilization(elu0).utilization * 100)}% (loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms)`;
      };
    },
    stop: () => stack.stop(),
  };
}

async function processes(env: Record<string, string>, adapter: 'influx' | 'embedded'): Promise<UnderTest> {
  const influxd = adapter === 'influx' ? await startInfluxd() : undefined;
  const children: ServiceProcess[] = [];
  const stopAll = async (signal: NodeJS.Signals): Promise<void> => {
    for (const c of children.reverse()) await c.stop(signal);
    await influxd?.stop();
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'hatake-live-'));
    const dep = await testDeployment({
      env: {
        HATAKE_INGEST__HTTP__PORT: '0',
        HATAKE_GATEWAY__HTTP__PORT: '0',
        HATAKE_INGEST__BATCH_MAX_MS: '100',
        HATAKE_STORE__ADAPTER: adapter,
        ...(influxd ? { HATAKE_STORE__INFLUX__URL: influxd.url, HATAKE_STORE__INFLUX__USERNAME: influxd.username, HATAKE_STORE__INFLUX__PASSWORD: influxd.password } : { HATAKE_STORE__EMBEDDED__FILE: join(dir, 'store.duckdb') }),
        ...env,
      },
    });
    const start = async (name: 'broker' | 'ingest' | 'gateway', extra: Record<string, unknown> = {}): Promise<string> => {
      const child = await startService(name, dir, { config: dep.config, ...extra });
      children.push(child);
      return child.address;
    };
    const mqttUrl = await start('broker');
    const ingestOps = await start('ingest', { password: dep.secrets['ingest'], mqttUrl });
    const [api, wsUrl] = (await start('gateway', { password: dep.secrets['gateway'], mqttUrl })).split(' ') as [string, string];
    const login = await fetch(`${api}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: dep.secrets['admin'] }) });
    if (!login.ok) throw new Error(`login to the gateway failed: ${login.status} ${await login.text()}`);
    const token = ((await login.json()) as { token: string }).token;
    const procs = { broker: children[0]!, ingest: children[1]!, gateway: children[2]! };
    return {
      mqttUrl,
      wsUrl,
      token,
      loadPassword: dep.secrets['load']!,
      gatewayPassword: dep.secrets['gateway']!,
      storedSamples: () => scrapeLabelled(`${ingestOps}/metrics`, 'hatake_ingest_stored_total', 'type="sample"'),
      busy() {
        const t0 = performance.now();
        const cpu0 = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, cpuSeconds(p.pid)]));
        return () => {
          const seconds = (performance.now() - t0) / 1000;
          return `processes ${Object.entries(procs).map(([k, p]) => `${k} ${Math.round(((cpuSeconds(p.pid) - cpu0[k]!) / seconds) * 100)}%`).join(', ')} of a core`;
        };
      },
      stop: () => stopAll('SIGTERM'),
    };
  } catch (err) {
    await stopAll('SIGKILL');
    throw err;
  }
}

/** One labelled sample of a metric in the Prometheus text at `url` (0 when absent). */
async function scrapeLabelled(url: string, name: string, label: string): Promise<number> {
  const text = await (await fetch(url)).text();
  const hit = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return hit ? Number(hit.slice(hit.lastIndexOf(' ') + 1)) : 0;
}

const DEVICES = 20; // the test deployment's load group: load-0001 … load-0020
const MAX_MESSAGES = 2_000_000; // seq space: publish times are kept for every message of the run
const BUCKET_MS = 0.05; // latency histogram resolution
const BUCKETS = 200_000; // … up to 10 s

const deviceIds = Array.from({ length: DEVICES }, (_, i) => `load-${String(i + 1).padStart(4, '0')}`);
const nowMs = (): number => {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface WorkerData {
  readonly role: 'publisher' | 'clients';
  readonly sent: SharedArrayBuffer;
  readonly mqttUrl: string;
  readonly password: string;
  readonly wsUrl: string;
  readonly token: string;
  readonly clients: number;
  /** The gateway service account's password: a probe subscribes as `gateway:bench-probe` to time the broker leg alone. */
  readonly probePassword: string;
}

type ToWorker = { op: 'publish'; from: number; rate: number; seconds: number } | { op: 'reset'; from: number } | { op: 'report' } | { op: 'stop' };

interface PublishReport {
  readonly published: number;
  readonly seconds: number;
}
interface ClientsReport {
  /** Deliveries of this step's messages, per client. */
  readonly perClient: number[];
  readonly histogram: Uint32Array;
  readonly max: number;
  /** Publish → an MQTT subscriber of the same broker: the broker's share of the latency. */
  readonly probe: { received: number; histogram: Uint32Array };
  /** `dropped` messages (slow-client handling kicked in) and anything else unexpected. */
  readonly dropped: number;
  readonly closed: number;
  /** Frames the lean client did not expect (fragments, masked, unknown opcodes) or read wrong. */
  readonly protocolErrors: number;
}

interface LeanHandlers {
  /** A text message: `buf[start, end)`. */
  text(buf: Buffer, start: number, end: number, socket: LeanSocket): void;
  error(reason: string): void;
  close(): void;
}

interface LeanSocket {
  send(text: string): void;
  close(): void;
}

/** A client → server text frame: masked, as RFC 6455 §5.3 requires of clients. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header = payload.length < 126 ? 2 : payload.length < 65_536 ? 4 : 10;
  const frame = Buffer.alloc(header + 4 + payload.length);
  frame[0] = 0x81;
  if (header === 2) frame[1] = 0x80 | payload.length;
  else if (header === 4) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payload.length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, header);
  for (let i = 0; i < payload.length; i++) frame[header + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

/**
 * A WebSocket client (RFC 6455) that does only what this benchmark needs, so that the clients' thread measures the
 * gateway rather than itself (`ws` spends several times more per message): the opening handshake with the
 * `hatake.v1` subprotocol and the token, masked text frames out, and in: unfragmented unmasked text frames, close.
 * Anything else (a fragment, a masked frame, another opcode) is reported as an error, and fails the step.
 */
async function openLean(wsUrl: string, token: string, on: LeanHandlers): Promise<LeanSocket> {
  const key = randomBytes(16).toString('base64');
  const req = httpRequest(wsUrl.replace(/^ws/, 'http'), {
    headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': key, 'sec-websocket-protocol': `hatake.v1, bearer.${token}` },
  });
  req.end();
  const [res, socket, head] = (await once(req, 'upgrade')) as [IncomingMessage, Socket, Buffer];
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  if (res.headers['sec-websocket-accept'] !== accept) throw new Error('the gateway answered the WebSocket handshake wrongly');
  socket.setNoDelay(true);
  const lean: LeanSocket = { send: (text) => void socket.write(maskedTextFrame(text)), close: () => socket.end() };
  let rest: Buffer | undefined;
  const read = (chunk: Buffer): void => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    let off = 0;
    for (;;) {
      if (buf.length - off < 2) break;
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (buf.length - off < 4) break;
        length = buf.readUInt16BE(off + 2);
        header = 4;
      } else if (length === 127) {
        if (buf.length - off < 10) break;
        length = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
        header = 10;
      }
      if (buf.length - off < header + length) break;
      const opcode = b0 & 0x0f;
      if (b1 & 0x80 || (b0 & 0xf0) !== 0x80) on.error('masked, fragmented or extended frame');
      else if (opcode === 1) on.text(buf, off + header, off + header + length, lean);
      else if (opcode === 8) socket.end();
      else on.error(`opcode ${opcode}`);
      off += header + length;
    }
    rest = off < buf.length ? buf.subarray(off) : undefined;
  };
  socket.on('data', read);
  socket.on('close', () => on.close());
  socket.on('error', () => undefined);
  if (head.length > 0) read(head);
  return lean;
}

/** Publishes `rate` messages/s over the load devices, round robin, QoS 1. */
async function publisherWorker(data: WorkerData, port: MessagePort): Promise<void> {
  const sent = new Float64Array(data.sent);
  const devices: MqttClient[] = await Promise.all(
    deviceIds.map((id) => mqtt.connectAsync(data.mqttUrl, { username: id, password: data.password, clientId: id, protocolVersion: 4, reconnectPeriod: 0 })),
  );
  const topics = deviceIds.map((id) => telemetryTopic('sensor', id));
  const template = { v: 1, ...exampleSensorSample() };
  port.postMessage({ ready: true });
  for await (const [msg] of on(port, 'message')) {
    const m = msg as ToWorker;
    if (m.op === 'stop') break;
    if (m.op !== 'publish') continue;
    const total = Math.round(m.rate * m.seconds);
    const start = nowMs();
    let i = 0;
    while (i < total) {
      const due = Math.min(total, Math.floor(((nowMs() - start) * m.rate) / 1000) + 1);
      for (; i < due; i++) {
        const seq = m.from + i;
        const d = i % DEVICES;
        template.seq = seq;
        template.t = Date.now();
        const payload = JSON.stringify(template);
        sent[seq] = nowMs();
        devices[d]!.publish(topics[d]!, payload, { qos: 1 });
      }
      const next = start + (i * 1000) / m.rate;
      await sleep(Math.max(0, next - nowMs()));
    }
    const seconds = (nowMs() - start) / 1000;
    port.postMessage({ published: total, seconds } satisfies PublishReport);
  }
  await Promise.all(devices.map((c) => c.endAsync()));
  port.close();
}

/** Opens the WebSocket clients; counts each client's deliveries and their latency. */
async function clientsWorker(data: WorkerData, port: MessagePort): Promise<void> {
  const sent = new Float64Array(data.sent);
  let from = 0;
  let perClient = new Array<number>(data.clients).fill(0);
  let histogram = new Uint32Array(BUCKETS);
  let probe = { received: 0, histogram: new Uint32Array(BUCKETS) };
  let max = 0;
  let dropped = 0;
  let closed = 0;
  let protocolErrors = 0;
  const SEQ = Buffer.from('"seq":');
  let seqAt = -1; // where "seq": sits in a telemetry message (the same for every one of this bench's)
  let checked = 0;
  const sockets = await Promise.all(
    Array.from({ length: data.clients }, async (_, k) => {
      let subscribed: () => void;
      const ready = new Promise<void>((r) => (subscribed = r));
      const ws = await openLean(data.wsUrl, data.token, {
        text(buf, start, end, socket) {
          const at = nowMs();
          // the hot path: `{"type":"telemetry"` without parsing; the seq without searching
          if (buf[start + 9] !== 0x74 || buf[start + 10] !== 0x65) {
            const m = JSON.parse(buf.toString('utf8', start, end)) as { type: string };
            if (m.type === 'hello') socket.send(JSON.stringify({ type: 'subscribe', devices: deviceIds }));
            else if (m.type === 'subscribed') subscribed();
            else if (m.type === 'dropped') dropped++;
            else protocolErrors++;
            return;
          }
          let p = start + seqAt;
          if (seqAt < 0 || buf[p - 6] !== 0x22 || buf[p - 5] !== 0x73 || buf[p - 2] !== 0x22 || buf[p - 1] !== 0x3a) {
            p = buf.indexOf(SEQ, start) + SEQ.length;
            seqAt = p - start;
          }
          let seq = 0;
          for (let c = buf[p]!; c >= 48 && c <= 57; c = buf[++p]!) seq = seq * 10 + (c - 48);
          // now and then, the slow way, to know the fast one reads right
          if (++checked % 1009 === 0 && (JSON.parse(buf.toString('utf8', start, end)) as { samples: { seq: number }[] }).samples[0]!.seq !== seq) protocolErrors++;
          if (seq < from) return;
          perClient[k]!++;
          const ms = at - sent[seq]!;
          if (ms > max) max = ms;
          histogram[Math.min(BUCKETS - 1, Math.floor(ms / BUCKET_MS))]!++;
        },
        error: () => protocolErrors++,
        close: () => closed++,
      });
      await ready;
      return ws;
    }),
  );
  const prober = await mqtt.connectAsync(data.mqttUrl, { username: 'gateway', password: data.probePassword, clientId: 'gateway:bench-probe', protocolVersion: 4, reconnectPeriod: 0 });
  prober.on('message', (_topic, payload) => {
    const at = nowMs();
    const { seq } = JSON.parse(String(payload)) as { seq: number };
    if (seq < from) return;
    probe.received++;
    probe.histogram[Math.min(BUCKETS - 1, Math.floor((at - sent[seq]!) / BUCKET_MS))]!++;
  });
  await prober.subscribeAsync(deviceIds.map((id) => telemetryTopic('sensor', id)), { qos: 1 });
  port.postMessage({ ready: true });
  for await (const [msg] of on(port, 'message')) {
    const m = msg as ToWorker;
    if (m.op === 'stop') break;
    if (m.op === 'reset') {
      probe = { received: 0, histogram: new Uint32Array(BUCKETS) };
      protocolErrors = 0;
      from = m.from;
      perClient = new Array<number>(data.clients).fill(0);
      histogram = new Uint32Array(BUCKETS);
      max = 0;
      dropped = 0;
      port.postMessage({ reset: true });
    } else if (m.op === 'report') {
      port.postMessage({ perClient, histogram, probe, max, dropped, closed, protocolErrors } satisfies ClientsReport);
    }
  }
  for (const ws of sockets) ws.close();
  await prober.endAsync();
  port.close();
}

/** The entry of both workers (started by {@link benchLive} through an eval'd stub). */
export async function liveBenchWorker(data: WorkerData, port: MessagePort): Promise<void> {
  await (data.role === 'publisher' ? publisherWorker(data, port) : clientsWorker(data, port));
}

function startWorker(data: WorkerData): { worker: Worker; request<T>(msg: ToWorker): Promise<T>; stop(): Promise<void> } {
  const { port1, port2 } = new MessageChannel();
  // Node 20 does not apply the parent's `--import tsx` to a worker's own imports: an eval'd stub registers tsx, then
  // imports this module (`--conditions` is inherited)
  const stub = `const { workerData: w } = require('node:worker_threads');
    import(w.tsx).then((tsx) => tsx.register()).then(() => import(w.url)).then((m) => m.liveBenchWorker(w.data, w.port))
      .catch((err) => { console.error(err); process.exit(1); });`;
  const worker = new Worker(stub, {
    eval: true,
    workerData: { tsx: import.meta.resolve('tsx/esm/api'), url: import.meta.url, data, port: port2 },
    transferList: [port2 as TransferListItem],
  });
  let failed: ((err: Error) => void) | undefined;
  const gone = new Promise<never>((_resolve, reject) => (failed = reject));
  gone.catch(() => undefined);
  worker.on('error', (err) => failed?.(err));
  worker.on('exit', (code) => failed?.(new Error(`live bench worker ${data.role} exited (${code})`)));
  const replies: ((v: unknown) => void)[] = [];
  let ready: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  port1.on('message', (m: { ready?: boolean }) => {
    if (m.ready) ready();
    else replies.shift()?.(m);
  });
  return {
    worker,
    async request<T>(msg: ToWorker): Promise<T> {
      await Promise.race([isReady, gone]);
      const reply = new Promise<T>((resolve) => replies.push(resolve as (v: unknown) => void));
      port1.postMessage(msg);
      return Promise.race([reply, gone]);
    },
    async stop() {
      port1.postMessage({ op: 'stop' } satisfies ToWorker);
      failed = undefined;
      await Promise.race([once(worker, 'exit'), sleep(2000)]);
      await worker.terminate();
    },
  };
}

const quantile = (h: Uint32Array, total: number, q: number): number => {
  const want = Math.ceil(q * total);
  let seen = 0;
  for (let b = 0; b < h.length; b++) {
    seen += h[b]!;
    if (seen >= want) return (b + 1) * BUCKET_MS;
  }
  return Infinity;
};

/**
 * Steps the publish rate up (3 s each) until a step fails twice in a row: a
 * message not delivered to every client, or p99 over the limit. Prints a line
 * per step and the highest rate that passed; returns it.
 */
export async function benchLive(opts: LiveBenchOptions = {}): Promise<number> {
  const clients = opts.clients ?? 100;
  const rates = opts.rates ?? [500, 1000, 2000, 3000, 4000, 5000, 6000, 8000, 10_000, 12_000, 16_000];
  const seconds = opts.secondsPerStep ?? 3;
  const limit = opts.p99LimitMs ?? 15;
  const adapter = opts.adapter ?? 'influx';
  const persistence = opts.brokerPersistence ?? 'memory';
  const layout = opts.layout ?? 'one-process';
  const env = {
    HATAKE_BROKER__PERSISTENCE__TYPE: persistence,
    // 20 devices share the rate: the broker's per-device limit must not be what stops them
    HATAKE_LIMITS__DEVICE_PUBLISH_RATE: '100000',
    HATAKE_LIMITS__DEVICE_PUBLISH_BURST: '100000',
    HATAKE_GATEWAY__WS__MAX_CLIENTS: String(Math.max(1000, clients + 10)),
  };
  const under = layout === 'processes' ? await processes(env, adapter) : await oneProcess(env, adapter);
  const sent = new SharedArrayBuffer(MAX_MESSAGES * 8);
  const common = { sent, mqttUrl: under.mqttUrl, password: under.loadPassword, wsUrl: under.wsUrl, token: under.token, clients, probePassword: under.gatewayPassword };
  const publisher = startWorker({ role: 'publisher', ...common });
  const receivers = startWorker({ role: 'clients', ...common });
  const storedSamples = (): Promise<number> => under.storedSamples();
  let best = 0;
  let next = 0;
  let failed = false;
  try {
    // warm-up (JIT, connections, the store's first writes), not measured
    await publisher.request<PublishReport>({ op: 'publish', from: next, rate: rates[0]!, seconds: 2 });
    next += rates[0]! * 2;
    await sleep(500);
    // a failed step is tried once more (the machine may have been busy with something else): two failures end the climb
    for (let r = 0, retried = false; r < rates.length; r++) {
      const rate = rates[r]!;
      const total = Math.round(rate * seconds);
      if (next + total > MAX_MESSAGES) break;
      await receivers.request({ op: 'reset', from: next });
      const storedBefore = await storedSamples();
      const services = under.busy();
      const threads = [receivers.worker.performance, publisher.worker.performance];
      const elu0 = threads.map((t) => t.eventLoopUtilization());
      const pub = await publisher.request<PublishReport>({ op: 'publish', from: next, rate, seconds });
      const [clientsBusy, publisherBusy] = threads.map((t, i) => `${Math.round(t.eventLoopUtilization(elu0[i]).utilization * 100)}%`);
      const stackBusy = services();
      next += total;
      // the last deliveries: until every client has everything, or nothing moves for 2 s
      let report = await receivers.request<ClientsReport>({ op: 'report' });
      let delivered = report.perClient.reduce((a, b) => a + b, 0);
      for (let last = delivered, still = performance.now(); Math.min(...report.perClient) < total && performance.now() - still < 2000; ) {
        await sleep(100);
        report = await receivers.request<ClientsReport>({ op: 'report' });
        delivered = report.perClient.reduce((a, b) => a + b, 0);
        if (delivered !== last) [last, still] = [delivered, performance.now()];
      }
      const complete = Math.min(...report.perClient) === total && report.dropped === 0 && report.closed === 0 && report.protocolErrors === 0;
      const p99 = quantile(report.histogram, delivered, 0.99);
      const ok = complete && p99 <= limit;
      const trouble = [report.dropped && `${report.dropped} dropped notices`, report.closed && `${report.closed} clients closed`, report.protocolErrors && `${report.protocolErrors} unreadable frames`].filter(Boolean);
      line(
        `live fan-out (${layout}), ${clients} clients, ${fmt(rate)} msg/s over ${DEVICES} devices`,
        `published ${fmt(pub.published / pub.seconds)} msg/s; delivered ${fmt(delivered)} of ${fmt(total * clients)}${trouble.length ? ` (${trouble.join(', ')})` : ''}; ` +
          `publish → WebSocket p50 ${quantile(report.histogram, delivered, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${report.max.toFixed(1)} ms ` +
          `(publish → MQTT subscriber p99 ${quantile(report.probe.histogram, report.probe.received, 0.99).toFixed(1)} ms); ` +
          `ingest stored ${fmt((await storedSamples()) - storedBefore)} samples; busy: ${stackBusy}, ` +
          `clients ${clientsBusy}, publisher ${publisherBusy} — ${ok ? 'ok' : retried || failed ? 'FAIL' : 'FAIL (trying once more)'}`,
      );
      await sleep(500);
      if (!ok && !retried && !failed) {
        retried = true;
        r--;
        continue;
      }
      retried = false;
      if (!ok) failed = true;
      if (failed && !opts.keepGoing) break;
      if (!failed) best = rate;
    }
  } finally {
    await Promise.all([publisher.stop(), receivers.stop()]);
    await under.stop();
  }
  line(
    `live fan-out, ${clients} WebSocket clients, ${layout === 'processes' ? 'broker, ingest and gateway each in a process of its own' : 'broker, ingest and gateway in one process (as pnpm start)'}`,
    `highest rate with every message delivered and p99 ≤ ${limit} ms: ${fmt(best)} msg/s (ingest writing to ${adapter === 'influx' ? 'influxd' : 'the embedded store'}, broker persistence ${persistence})`,
  );
  return best;
}
