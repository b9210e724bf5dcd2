/**
 * What every HTTP service of hatake does with its answers (gateway, prescriptions).
 */
import type { FastifyInstance } from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import type { Logger } from './logger.ts';

/** A service's request metrics: answers by route and status, and their durations by route. */
export interface RequestMetrics {
  readonly requests: Counter<'route' | 'status'>;
  readonly requestSeconds: Histogram<'route'>;
}

/**
 * Counts and times every answer by its route pattern and logs it at debug level — never the raw URL: a query
 * string may carry a token — with the signed-in user when there is one (`req.user.username`).
 */
export function countRequests(app: FastifyInstance, metrics: RequestMetrics, log: Logger): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
    const user = (req as { user?: { username?: string } }).user?.username;
    log.debug({ method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime), user }, 'request');
  });
}
