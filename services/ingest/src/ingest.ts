/**
 * Ingest: subscribes as its service account with a persistent QoS 1 session,
 * validates every message, batches good samples, states and events into the
 * store, and republishes each bad message to its dead-letter topic with every
 * reason (counted, and logged without the payload). A bad message never holds
 * up the good ones around it.
 */
import type { MqttClient } from 'mqtt';
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
import { buildOpsServer, connectService, type Logger, type OpsServer } from '@hatake/runtime';
import type { EventRecord, SampleRecord, StateRecord, TelemetryStore } from '@hatake/store';
import { Batcher } from './batcher.ts';
import { createIngestMetrics, type IngestMetrics } from './metrics.ts';

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
}

export interface Ingest {
  readonly metrics: IngestMetrics;
  /** Connects, subscribes, and serves /metrics and /healthz; resolves with the ops address. */
  start(): Promise<{ http: { host: string; port: number; url: string } }>;
  /** Stops receiving, writes everything received, disconnects. */
  stop(): Promise<void>;
  /** Writes everything received so far (tests, shutdown). */
  flush(): Promise<void>;
  /** Records received and not yet confirmed by the store. */
  readonly queueDepth: number;
}

/** How long stop() keeps trying to write what was received. */
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
    client?.publishAsync(dl, encodeMessage(dl, letter), { qos: 1 }).catch(() => metrics.deadLetterFailures.inc());
  };

  const batcher = new Batcher(deps.store, metrics, log, {
    maxRecords: config.ingest.batchMaxSamples,
    maxMs: config.ingest.batchMaxMs,
    now,
    onInvalid: (kind, record, err) => {
      const reason: Reason = { code: 'rule', path: '', message: `the store refused this ${kind}: ${err.message}`.slice(0, 512) };
      deadLetter(`${record.kind}/${record.device}`, Buffer.from(JSON.stringify(record)), [reason], 'refused by the store after validation');
    },
  });

  const onMessage = (topic: string, payload: Buffer, packet: { retain?: boolean }): void => {
    const result = decoder.decode(topic, payload, { now: now() });
    const channel = result.ok ? result.value.channel : result.topic?.type === 'device' ? result.topic.channel : 'invalid';
    metrics.received.inc({ channel });
    if (!result.ok) {
      deadLetter(topic, payload, result.reasons);
      return;
    }
    const m = result.value;
    if (m.channel !== 'telemetry' && m.channel !== 'state' && m.channel !== 'event') return;
    const known = deviceOfMessage(config, m.kind, m.deviceId);
    if ('reason' in known) {
      deadLetter(topic, payload, [{ code: 'rule', path: '', message: known.reason }]);
      return;
    }
    const device = known.device;
    const tags = { kind: m.kind, device: m.deviceId, ...(device.farm !== undefined ? { farm: device.farm } : {}) };
    switch (m.channel) {
      case 'telemetry':
        batcher.add(
          'sample',
          m.samples.map((sample) => ({ ...tags, ...(device.field !== undefined ? { field: device.field } : {}), sample }) as SampleRecord),
        );
        break;
      case 'state': {
        // a last will has no device time: it is stored when it happens; the same will
        // handed over again as the retained state of a new subscription is not a new event
        if (m.message.t === undefined && packet.retain === true) return;
        const record: StateRecord = { ...tags, t: m.message.t ?? now(), state: m.message };
        batcher.add('state', [record]);
        break;
      }
      case 'event': {
        const record: EventRecord = { ...tags, event: m.message };
        batcher.add('event', [record]);
        break;
      }
    }
  };

  return {
    metrics,
    get queueDepth() {
      return batcher.depth;
    },
    flush: () => batcher.flush(),
    async start() {
      ops = buildOpsServer({
        host: config.ingest.http.host,
        port: config.ingest.http.port,
        registry: metrics.registry,
        logger: deps.logger,
        checks: [
          { name: 'mqtt', check: () => (client?.connected ? undefined : 'not connected to the broker') },
          { name: 'store', check: () => batcher.lastError ?? deps.store.health() },
          { name: 'backlog', check: () => (batcher.oldestAge() > 60_000 ? `records have waited ${Math.round(batcher.oldestAge() / 1000)} s for the store` : undefined) },
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
        onMessage,
      });
      client = c;
      // a persistent session keeps the subscription; subscribing again is harmless and covers a fresh session
      // with a share group, the broker hands each message to one instance of the group
      const share = config.ingest.shareGroup;
      await c.subscribeAsync(
        INGEST_CHANNELS.map((ch) => (share ? `$share/${share}/${deviceChannelFilter(ch)}` : deviceChannelFilter(ch))),
        { qos: 1 },
      );
      log.info({ url, clientId: config.ingest.clientId }, 'ingest subscribed');
      return { http: { ...http, url: `http://${http.host}:${http.port}` } };
    },
    async stop() {
      // stop receiving first, so everything received can be written before leaving
      await client?.endAsync().catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const flushed = await Promise.race([batcher.flush().then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), STOP_FLUSH_MS)))]);
      clearTimeout(timer);
      if (!flushed) log.error({ unwritten: batcher.depth, lastError: batcher.lastError }, 'stopping with records the store did not take');
      batcher.halt();
      await ops?.stop();
      log.info('ingest stopped');
    },
  };
}
