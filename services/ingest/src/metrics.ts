/**
 * Ingest's Prometheus metrics, on a registry of its own.
 */
import { Counter, Gauge, Histogram, Registry } from '@hatake/runtime';

export interface IngestMetrics {
  readonly registry: Registry;
  readonly received: Counter<'channel'>;
  readonly stored: Counter<'type'>;
  readonly rejected: Counter<'reason'>;
  readonly writeSeconds: Histogram<'type'>;
  readonly batchSize: Histogram<'type'>;
  readonly queueDepth: Gauge;
  readonly writeFailures: Counter;
  readonly deadLetterFailures: Counter;
  readonly spooled: Counter<'type'>;
  readonly replayed: Counter<'type'>;
  readonly spoolBytes: Gauge;
  readonly spoolFiles: Gauge;
  readonly spoolFull: Gauge;
  readonly lagSeconds: Gauge;
  readonly unacked: Gauge;
  readonly stalled: Gauge;
  readonly acked: Counter;
  readonly reconnects: Counter;
  readonly redeliveryDropped: Counter;
}

/** Creates the metrics on `registry` (a fresh one by default). */
export function createIngestMetrics(registry = new Registry()): IngestMetrics {
  const registers = [registry];
  return {
    registry,
    received: new Counter({ name: 'hatake_ingest_received_total', help: 'MQTT messages received, by channel', labelNames: ['channel'], registers }),
    stored: new Counter({ name: 'hatake_ingest_stored_total', help: 'Records the store confirmed, by type (sample, state, event), live and replayed', labelNames: ['type'], registers }),
    rejected: new Counter({ name: 'hatake_ingest_rejected_total', help: 'Messages refused and dead-lettered, by the class of their first reason', labelNames: ['reason'], registers }),
    writeSeconds: new Histogram({ name: 'hatake_ingest_write_seconds', help: 'Time from writing a batch to the store confirming it', labelNames: ['type'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    batchSize: new Histogram({ name: 'hatake_ingest_batch_size', help: 'Records per store write', labelNames: ['type'], buckets: [1, 10, 50, 100, 500, 1000, 5000, 10000], registers }),
    queueDepth: new Gauge({ name: 'hatake_ingest_queue_depth', help: 'Records received and not yet durable (stored or spooled)', registers }),
    writeFailures: new Counter({ name: 'hatake_ingest_write_failures_total', help: 'Store writes that failed (their batches were spooled)', registers }),
    deadLetterFailures: new Counter({ name: 'hatake_ingest_deadletter_publish_failures_total', help: 'Dead letters the broker did not acknowledge', registers }),
    spooled: new Counter({ name: 'hatake_ingest_spooled_total', help: 'Records appended to the write-ahead spool, by type', labelNames: ['type'], registers }),
    replayed: new Counter({ name: 'hatake_ingest_replayed_total', help: 'Records replayed from the spool into the store, by type', labelNames: ['type'], registers }),
    spoolBytes: new Gauge({ name: 'hatake_ingest_spool_bytes', help: 'Bytes waiting in the spool to be replayed', registers }),
    spoolFiles: new Gauge({ name: 'hatake_ingest_spool_files', help: 'Spool files waiting to be replayed', registers }),
    spoolFull: new Gauge({ name: 'hatake_ingest_spool_full', help: '1 while the spool is full and acknowledgements are held (alarm)', registers }),
    lagSeconds: new Gauge({ name: 'hatake_ingest_lag_seconds', help: 'Age of the oldest message received and not yet acknowledged (not yet durable)', registers }),
    unacked: new Gauge({ name: 'hatake_ingest_unacked_messages', help: 'Messages received and not yet acknowledged to the broker', registers }),
    stalled: new Gauge({ name: 'hatake_ingest_reading_paused', help: '1 while ingest has stopped reading from the broker (too many messages not yet durable)', registers }),
    acked: new Counter({ name: 'hatake_ingest_acked_total', help: 'QoS 1 messages acknowledged to the broker after their records were durable', registers }),
    reconnects: new Counter({ name: 'hatake_mqtt_reconnects_total', help: 'Reconnections to the broker', registers }),
    redeliveryDropped: new Counter({
      name: 'hatake_ingest_redelivery_dropped_total',
      help: 'Records of a lost connection dropped from memory while the spool was full (the broker redelivers their messages)',
      registers,
    }),
  };
}
