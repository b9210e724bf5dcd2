/**
 * The prescription service's Prometheus metrics, on a registry of its own.
 */
import { Counter, Gauge, Histogram, Registry } from '@hatake/runtime';

export interface PrescriptionMetrics {
  readonly registry: Registry;
  /** Jobs now held, by status (set from the job table at each scrape). */
  readonly jobs: Gauge<'status'>;
  readonly results: Counter<'status' | 'code'>;
  readonly runSeconds: Histogram<'status'>;
  readonly waitSeconds: Histogram;
  readonly uploadBytes: Counter<'layer'>;
  readonly rejections: Counter<'reason'>;
  readonly requests: Counter<'route' | 'status'>;
  readonly requestSeconds: Histogram<'route'>;
}

/** Makes the metrics; `jobCounts` is asked for the job table at each scrape. */
export function createPrescriptionMetrics(jobCounts: () => Record<string, number>, registry = new Registry()): PrescriptionMetrics {
  const registers = [registry];
  return {
    registry,
    jobs: new Gauge({
      name: 'hatake_prescription_jobs',
      help: 'Jobs held by the service, by status (queued, running, done, failed)',
      labelNames: ['status'],
      registers,
      collect() {
        for (const [status, n] of Object.entries(jobCounts())) this.set({ status }, n);
      },
    }),
    results: new Counter({ name: 'hatake_prescription_job_results_total', help: 'Finished runs, by status (done, failed) and error code (none when done)', labelNames: ['status', 'code'], registers }),
    runSeconds: new Histogram({ name: 'hatake_prescription_run_seconds', help: 'Duration of engine runs, by how they ended', labelNames: ['status'], buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800], registers }),
    waitSeconds: new Histogram({ name: 'hatake_prescription_queue_wait_seconds', help: 'Time from a job being accepted to its run starting', buckets: [0.01, 0.1, 1, 5, 10, 30, 60, 300, 1800], registers }),
    uploadBytes: new Counter({ name: 'hatake_prescription_upload_bytes_total', help: 'Bytes of accepted uploads, by layer (yield, moisture, ndvi, organic, field)', labelNames: ['layer'], registers }),
    rejections: new Counter({ name: 'hatake_prescription_rejections_total', help: 'Refused job submissions, by reason (unauthorized, forbidden, bad_request, too_large, queue_full, internal)', labelNames: ['reason'], registers }),
    requests: new Counter({ name: 'hatake_prescription_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers }),
    requestSeconds: new Histogram({ name: 'hatake_prescription_http_request_seconds', help: 'HTTP request duration by route (uploads included)', labelNames: ['route'], buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30, 120], registers }),
  };
}
