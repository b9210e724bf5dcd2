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
  readonly writeFailures: Counter<'type'>;
  readonly deadLetterFailures: Counter;
}

/** Creates the metrics on `registry` (a fresh one by default). */
export function createIngestMetrics(registry = new Registry()): IngestMetrics {
  const registers = [registry];
  return {
    registry,
    received: new Counter({ name: 'hatake_ingest_received_total', help: 'MQTT messages received, by channel', labelNames: ['channel'], registers }),
    stored: new Counter({ name: 'hatake_ingest_stored_total', help: 'Records the store confirmed, by type (sample, state, event)', labelNames: ['type'], registers }),
    rejected: new Counter({ name: 'hatake_ingest_rejected_total', help: 'Messages refused and dead-lettered, by the class of their first reason', labelNames: ['reason'], registers }),
    writeSeconds: new Histogram({ name: 'hatake_ingest_write_seconds', help: 'Time from writing a batch to the store confirming it', labelNames: ['type'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    batchSize: new Histogram({ name: 'hatake_ingest_batch_size', help: 'Records per store write', labelNames: ['type'], buckets: [1, 10, 50, 100, 500, 1000, 5000, 10000], registers }),
    queueDepth: new Gauge({ name: 'hatake_ingest_queue_depth', help: 'Records received and not yet confirmed by the store', registers }),
    writeFailures: new Counter({ name: 'hatake_ingest_write_failures_total', help: 'Store writes that failed and will be retried', labelNames: ['type'], registers }),
    deadLetterFailures: new Counter({ name: 'hatake_ingest_deadletter_publish_failures_total', help: 'Dead letters the broker did not acknowledge', registers }),
  };
}
