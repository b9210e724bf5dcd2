/**
 * The operations endpoint of a service: `GET /metrics` (Prometheus text) and
 * `GET /healthz` (200 when healthy, 503 with the failing checks otherwise).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface HealthCheck {
  readonly name: string;
  /** Returns undefined when healthy, or why not. */
  readonly check: () => string | undefined | Promise<string | undefined>;
}

export interface OpsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly checks: readonly HealthCheck[];
  readonly logger: Logger;
}

export interface OpsServer {
  /** The underlying fastify instance, for `inject()` in tests. */
  readonly app: FastifyInstance;
  start(): Promise<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/** Builds the ops server (not yet listening). */
export function buildOpsServer(opts: OpsServerOptions): OpsServer {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.logger.child({ component: 'ops-http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', opts.registry.contentType);
    return opts.registry.metrics();
  });
  app.get('/healthz', async (_req, reply) => {
    const failing: Record<string, string> = {};
    for (const c of opts.checks) {
      try {
        const why = await c.check();
        if (why !== undefined) failing[c.name] = why;
      } catch (err) {
        failing[c.name] = err instanceof Error ? err.message : String(err);
      }
    }
    const healthy = Object.keys(failing).length === 0;
    reply.code(healthy ? 200 : 503);
    return healthy ? { status: 'ok' } : { status: 'unhealthy', failing };
  });
  return {
    app,
    async start() {
      await app.listen({ host: opts.host, port: opts.port });
      const addr = app.server.address();
      if (addr === null || typeof addr === 'string') throw new Error('ops server has no TCP address');
      return { host: addr.address, port: addr.port };
    },
    async stop() {
      await app.close();
    },
  };
}
