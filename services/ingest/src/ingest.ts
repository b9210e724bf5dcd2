/**
 * Ingest: subscribes as its service account with a persistent QoS 1 session,
 * validates every message, batches good samples, states and events into the
 * store, and republishes each bad message to its dead-letter topic with every
 * reason (counted, and logged without the payload). A bad message never holds
 * up the good ones around it. A message is acknowledged to the broker only
 * once its records are durable — stored, or in the write-ahead spool — so a
 * crash, a store outage or a full disk loses nothing the broker handed over.
 */
import { resolve } from 'node:path';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { deviceOfMessage, type Config } from '@hatake/config';
import {
  Decoder,
  MAX_REASONS,
  SCHEMA_VERSION,
  deadLetterTopic,
  deviceChannelFilter,
  encodeMessage,
  primaryReason,
  sanitizeText,
  type DeadLetter,
  type Reason,
} from '@hatake/protocol';
import { buildOpsServer, connectService, settledWithin, type Logger, type OpsServer } from '@hatake/runtime';
import type { EventRecord, SampleRecord, StateRecord, TelemetryStore } from '@hatake/store';
import { AckGate, type AckToken } from './acks.ts';
import { createIngestMetrics, type IngestMetrics } from './metrics.ts';
import { Pipeline } from './pipeline.ts';
import { Spool } from './spool.ts';

export interface IngestDeps {
  readonly logger: Logger;
  /** The store to write to; started and stopped by the caller (it may be shared with the gateway). */
  readonly store: TelemetryStore;
  /** The service account's password (from the environment or the demo's secrets). */
  readonly password: string;
  /** Broker URL, when it differs from the configuration's (the demo binds its own). */
  readonly mqttUrl?: string;
  readonly now?: () => number;
  readonly metrics?: IngestMetrics;
  /** Spool directory, when it differs from the configuration's (`deployment.dataDir`/`ingest.spool.dir`). */
  readonly spoolDir?: string;
}

export interface Ingest {
  readonly metrics: IngestMetrics;
  /** Connects, subscribes, and serves /metrics and /healthz; resolves with the ops address. */
  start(): Promise<{ http: { host: string; port: number; url: string } }>;
  /** Stops reading, makes everything received durable (stored or spooled) and acknowledges it, disconnects. */
  stop(): Promise<void>;
  /** Resolves when everything received so far is durable (stored or spooled). */
  flush(): Promise<void>;
  /** Resolves when everything received so far is in the store (the spool replayed too). */
  drained(): Promise<void>;
  /** Records received and not yet durable. */
  readonly queueDepth: number;
  /** Resolves once no message has arrived for `quietMs` (or after `maxMs`): what was in flight has been read (shutdown of a whole stack). */
  quiet(quietMs: number, maxMs: number): Promise<void>;
}

/** How long stop() waits for what was received to become durable (what is not stays unacknowledged: the broker redelivers it). */
const STOP_FLUSH_MS = 10_000;

/** Channels ingest stores. */
export const INGEST_CHANNELS = ['telemetry', 'state', 'event'] as const;

/** A log of refusals that says the first few of each kind and counts the rest, so a flood of garbage cannot flood the log. */
class RefusalLog {
  private readonly seen = new Map<string, { n: number; since: number }>();
  private readonly log: Logger;
  private readonly now: () => number;
  constructor(log: Logger, now: () => number) {
    this.log = log;
    this.now = now;
  }
  refused(reason: string, fields: Record<string, unknown>): void {
    const now = this.now();
    const e = this.seen.get(reason);
    if (!e || now - e.since > 60_000) {
      if (e && e.n > 10) this.log.warn({ reason, suppressed: e.n - 10 }, 'more messages refused for this reason in the last minute');
      this.seen.set(reason, { n: 1, since: now });
      this.log.warn({ reason, ...fields }, 'message refused');
      return;
    }
    e.n++;
    if (e.n <= 10) this.log.warn({ reason, ...fields }, 'message refused');
  }
}

/** Builds ingest (not yet connected). */
export function buildIngest(config: Config, deps: IngestDeps): Ingest {
  const log = deps.logger.child({ component: 'ingest' });
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createIngestMetrics();
  const decoder = new Decoder({ maxPayloadBytes: config.limits.maxPayloadBytes, maxBatchSamples: config.limits.maxBatchSamples, maxFutureSkewMs: config.limits.maxFutureSkewSeconds * 1000 });
  const refusals = new RefusalLog(log, now);
  const source = config.ingest.username;
  let client: MqttClient | undefined;
  let ops: OpsServer | undefined;
  let stopSampler = (): void => undefined;

  const receivedBy: Record<string, { inc(): void }> = {};
  const gate = new AckGate({ maxUnacked: config.ingest.maxUnacked, now, onAck: (n) => metrics.acked.inc(n) });

  const deadLetter = (topic: string, payload: Buffer, reasons: readonly Reason[], note?: string): void => {
    const code = primaryReason(reasons);
    metrics.rejected.inc({ reason: code });
    // the payload never goes into the log: its size, the topic (cut) and the reasons do
    refusals.refused(code, { topic: sanitizeText(topic, 256), size: payload.length, reasons: reasons.slice(0, 5).map((r) => `${r.path} ${r.message}`) });
    const head = payload.subarray(0, 1024);
    const letter: DeadLetter = {
      v: SCHEMA_VERSION,
      t: now(),
      source,
      topic: topic.slice(0, 512),
      size: payload.length,
      reasons: reasons.slice(0, MAX_REASONS + 1).map((r) => ({ code: r.code, path: r.path.slice(0, 256), message: r.message.slice(0, 512) })),
      payload: head.toString('base64'),
      truncated: payload.length > head.length,
      ...(note ? { note: note.slice(0, 256) } : {}),
    };
    const dl = deadLetterTopic(source);
    // handed to the client's outgoing queue (resent after a reconnect); not awaited: its PUBACK arrives on the
    // same connection whose reading may be paused for back-pressure
    client?.publishAsync(dl, encodeMessage(dl, letter), { qos: 1 }).catch(() => metrics.deadLetterFailures.inc());
  };

  let spool: Spool | undefined;
  let pipeline: Pipeline | undefined;
  const spoolDir = deps.spoolDir ?? resolve(config.deployment.dataDir, config.ingest.spool.dir);

  let lastMessageAt = 0;
  const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    lastMessageAt = now();
    const token = gate.receive(packet);
    try {
      if (!accept(topic, payload, packet, token)) gate.settle(token);
    } catch (err) {
      // a bug must not take ingest down with the messages around it: dead-letter this one and go on
      log.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'message handling failed');
      deadLetter(topic, payload, [{ code: 'rule', path: '', message: 'ingest failed to handle this message' }]);
      gate.settle(token);
    }
  };

  /** Hands a message's records to the pipeline (true), or deals with it at once (false: dead-lettered or nothing to store). */
  const accept = (topic: string, payload: Buffer, packet: IPublishPacket, token: AckToken | undefined): boolean => {
    const result = decoder.decode(topic, payload, { now: now() });
    const channel = result.ok ? result.value.channel : result.topic?.type === 'device' ? result.topic.channel : 'invalid';
    (receivedBy[channel] ??= metrics.received.labels({ channel })).inc();
    if (!result.ok) {
      deadLetter(topic, payload, result.reasons);
      return false;
    }
    const m = result.value;
    if (m.channel !== 'telemetry' && m.channel !== 'state' && m.channel !== 'event') return false;
    const known = deviceOfMessage(config, m.kind, m.deviceId);
    if ('reason' in known) {
      deadLetter(topic, payload, [{ code: 'rule', path: '', message: known.reason }]);
      return false;
    }
    const device = known.device;
    const tags = { kind: m.kind, device: m.deviceId, ...(device.farm !== undefined ? { farm: device.farm } : {}) };
    const p = pipeline!;
    switch (m.channel) {
      case 'telemetry': {
        // one object literal of one shape per sample (a spread per sample costs as much as decoding it); farm and
        // field may be undefined, which every adapter reads as absent
        const { kind, deviceId } = m;
        const { farm, field } = device;
        const records: SampleRecord[] = [];
        for (const sample of m.samples) records.push({ kind, device: deviceId, farm, field, sample } as SampleRecord);
        p.add('sample', records, payload.length, token);
        return true;
      }
      case 'state': {
        // a last will has no device time: it is stored when it happens; the same will
        // handed over again as the retained state of a new subscription is not a new event
        if (m.message.t === undefined && packet.retain === true) return false;
        const record: StateRecord = { ...tags, t: m.message.t ?? now(), state: m.message };
        p.add('state', [record], payload.length, token);
        return true;
      }
      case 'event': {
        const record: EventRecord = { ...tags, event: m.message };
        p.add('event', [record], payload.length, token);
        return true;
      }
    }
  };

  const lag = (): number => Math.max(gate.oldestAge(), pipeline?.oldestAge() ?? 0);

  return {
    metrics,
    get queueDepth() {
      return pipeline?.depth ?? 0;
    },
    flush: async () => {
      await pipeline?.flush();
    },
    drained: async () => {
      await pipeline?.drained();
    },
    async quiet(quietMs, maxMs) {
      const until = Date.now() + maxMs;
      while (Date.now() < until && now() - lastMessageAt < quietMs) await new Promise((r) => setTimeout(r, Math.min(quietMs, 50)));
    },
    async start() {
      spool = await Spool.open({ dir: spoolDir, maxBytes: config.ingest.spool.maxBytes, segmentBytes: config.ingest.spool.segmentBytes, log });
      pipeline = new Pipeline(deps.store, spool, metrics, log, {
        maxRecords: config.ingest.batchMaxSamples,
        maxBytes: config.ingest.batchMaxBytes,
        maxMs: config.ingest.batchMaxMs,
        concurrency: config.ingest.writeConcurrency,
        spoolAfterMs: config.ingest.spool.afterMs,
        now,
        onInvalid: (kind, record, err) => {
          const reason: Reason = { code: 'rule', path: '', message: `the store refused this ${kind}: ${err.message}`.slice(0, 512) };
          deadLetter(`${record.kind}/${record.device}`, Buffer.from(JSON.stringify(record)), [reason], 'refused by the store after validation');
        },
        settle: (tokens) => {
          for (const t of tokens) gate.settle(t);
        },
        stale: (t) => gate.stale(t),
      });
      pipeline.start();
      metrics.lagSeconds.set(0);
      const collect = (): void => {
        metrics.lagSeconds.set(lag() / 1000);
        metrics.unacked.set(gate.unacked);
        metrics.stalled.set(gate.stalling ? 1 : 0);
      };
      const sampler = setInterval(collect, 1000);
      sampler.unref();
      stopSampler = () => clearInterval(sampler);
      const maxLagMs = config.ingest.maxLagSeconds * 1000;
      ops = buildOpsServer({
        host: config.ingest.http.host,
        port: config.ingest.http.port,
        registry: metrics.registry,
        logger: deps.logger,
        checks: [
          { name: 'mqtt', check: () => (client?.connected ? undefined : 'not connected to the broker') },
          { name: 'spool', check: () => (pipeline?.spoolFullSince !== undefined ? `spool full for ${Math.round((now() - pipeline.spoolFullSince) / 1000)} s: acknowledgements held` : pipeline?.spoolError) },
          {
            name: 'lag',
            check: () => {
              collect();
              const l = lag();
              return l > maxLagMs ? `the oldest message not yet durable has waited ${Math.round(l / 1000)} s (limit ${config.ingest.maxLagSeconds} s)` : undefined;
            },
          },
        ],
      });
      const http = await ops.start();
      const url = deps.mqttUrl ?? config.mqtt.url;
      const c = await connectService({
        url,
        clientId: config.ingest.clientId,
        username: config.ingest.username,
        password: deps.password,
        clean: false,
        settings: config.mqtt,
        log,
        onMessage: onMessage as (topic: string, payload: Buffer, packet: unknown) => void,
        prepare: (cl) => gate.attach(cl),
        onReconnect: () => metrics.reconnects.inc(),
        // the broker's window must not be smaller than ingest's own, or batches cannot fill
        receiveMaximum: config.ingest.maxUnacked,
      });
      client = c;
      // a persistent session keeps the subscription; subscribing again is harmless and covers a fresh session;
      // with a share group, the broker hands each message to one instance of the group
      const share = config.ingest.shareGroup;
      await c.subscribeAsync(
        INGEST_CHANNELS.map((ch) => (share ? `$share/${share}/${deviceChannelFilter(ch)}` : deviceChannelFilter(ch))),
        { qos: 1 },
      );
      log.info({ url, clientId: config.ingest.clientId, spool: spoolDir }, 'ingest subscribed');
      return { http: { ...http, url: `http://${http.host}:${http.port}` } };
    },
    async stop() {
      // in a share group, leave the group first (still reading and acknowledging): the broker then routes the
      // group's messages to the other instances instead of queueing them for this one, which may never return
      const share = config.ingest.shareGroup;
      if (share && client?.connected) {
        const left = client.unsubscribeAsync(INGEST_CHANNELS.map((ch) => `$share/${share}/${deviceChannelFilter(ch)}`)).then(
          () => true,
          (err: unknown) => void log.warn({ err: { message: (err as Error).message } }, 'could not leave the share group before stopping'),
        );
        if (!(await settledWithin(left, 5000))) log.warn('the broker did not confirm leaving the share group within 5 s; stopping anyway');
      }
      // stop reading; make what was received durable so its acknowledgements go out; then leave
      gate.pause();
      const durable = (await pipeline?.flush(STOP_FLUSH_MS)) ?? true;
      if (!durable) log.error({ notDurable: pipeline?.depth, storeError: pipeline?.storeError, spoolError: pipeline?.spoolError }, 'stopping with records neither stored nor spooled: they stay unacknowledged and the broker redelivers them');
      if (client) await endClient(client);
      await pipeline?.stop();
      await spool?.close();
      stopSampler();
      await ops?.stop();
      log.info('ingest stopped');
    },
  };
}

/** Disconnects, giving outgoing messages (dead letters) a moment to be acknowledged. */
async function endClient(c: MqttClient): Promise<void> {
  await settledWithin(c.endAsync(false), 2000);
  if (!c.disconnected) await c.endAsync(true).catch(() => undefined);
}
