/**
 * The prescription service: the HTTP face of the prescription engine
 * (@hatake/vrt). Signed-in agronomists upload rasters and a field boundary;
 * each upload becomes a job in a bounded queue; its progress, summary and
 * output files are there to see and download for the users of its farm.
 * `/metrics`, `/healthz` and an OpenAPI document of the routes besides.
 */
import { constants, createReadStream } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { PassThrough } from 'node:stream';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { TokenIssuer, canSeeFarm } from '@hatake/auth';
import { findField, findUser, type Config, type UserDef } from '@hatake/config';
import { countRequests, type Logger } from '@hatake/runtime';
import { PrescriptionError } from './errors.ts';
import { REQUIRED_LAYERS, checkParams, parseBoundary, profilesProblem } from './form.ts';
import { JobManager, type JobEvent, type JobRecord } from './jobs.ts';
import { createPrescriptionMetrics, type PrescriptionMetrics } from './metrics.ts';
import { ErrorBody, FileParams, JobList, JobParams, JobView, JobsQuery, errors } from './schemas.ts';
import { formatBytes, receiveUpload, type UploadLimits } from './upload.ts';

export interface PrescriptionDeps {
  readonly logger: Logger;
  /**
   * Verifies session tokens. Default: one keyed with `gateway.auth.tokenSecret`, so tokens the
   * gateway issues are accepted; pass the gateway's own `tokens` when both run in one process
   * without a configured secret.
   */
  readonly tokens?: TokenIssuer;
  /** The jobs directory, when it differs from the configuration's (`deployment.dataDir`/`prescription.dataDir`). */
  readonly dataDir?: string;
  readonly now?: () => number;
  readonly metrics?: PrescriptionMetrics;
  /** Origins whose pages may call the service from a browser (CORS), when they differ from `prescription.corsOrigins`. */
  readonly corsOrigins?: readonly string[];
}

export interface PrescriptionService {
  /** The fastify app (for `inject()` in tests); routes answer before `start()`, but jobs only run after it. */
  readonly app: FastifyInstance;
  readonly metrics: PrescriptionMetrics;
  /** The job table (for the demo and tests: `sweep()` removes expired jobs now). */
  readonly jobs: JobManager;
  /** Loads the job table, starts running jobs and listens. */
  start(): Promise<{ host: string; port: number; url: string }>;
  /** Stops listening; runs in progress are aborted and run again at the next start. */
  stop(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: UserDef | undefined;
  }
}

const API = '/api/v1/prescriptions';
/** Multipart framing around the parts: a declared length this far over the upload limit is refused before reading. */
const FRAMING_ALLOWANCE = 1024 * 1024;

function tokenOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
}

/** May create (and delete) prescriptions of farms in scope. */
function isAuthor(user: UserDef): boolean {
  return user.roles.includes('admin') || user.roles.includes('agronomist');
}

/** `Content-Disposition` for a download: an ASCII fallback and the exact name (RFC 6266, RFC 8187). */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

/** Builds the service (not yet listening, no job running). */
export function buildPrescriptionService(config: Config, deps: PrescriptionDeps): PrescriptionService {
  const log = deps.logger.child({ component: 'prescription' });
  const now = deps.now ?? Date.now;
  const settings = config.prescription;
  const dir = deps.dataDir ?? resolve(config.deployment.dataDir, settings.dataDir);
  // the gauge of jobs by status reads the table at each scrape (after it exists)
  const metrics: PrescriptionMetrics = deps.metrics ?? createPrescriptionMetrics((): Record<string, number> => table.counts());
  const table: JobManager = new JobManager({ dir, settings, logger: log, metrics, now });
  const tokens = deps.tokens ?? new TokenIssuer({ ...(config.gateway.auth.tokenSecret !== undefined ? { secret: config.gateway.auth.tokenSecret } : {}), ttlSeconds: config.gateway.auth.tokenTtlSeconds });
  const limits: UploadLimits = { maxFileBytes: settings.maxFileBytes, maxUploadBytes: settings.maxUploadBytes, maxBoundaryBytes: settings.maxBoundaryBytes };
  let opened = false;
  let closing = false;
  /** Uploads being received now. */
  let uploading = 0;

  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'prescription-http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: true } },
  });
  app.decorateRequest('user', undefined);

  const reject = (reason: string): void => metrics.rejections.inc({ reason });

  app.setErrorHandler((err: Error & { validation?: { instancePath: string; message?: string }[]; validationContext?: string; statusCode?: number }, req, reply) => {
    // an upload refused before it was read to the end: close the connection rather than read the rest
    if (!req.raw.readableEnded) reply.header('connection', 'close');
    if (err instanceof PrescriptionError) return reply.code(err.statusCode).send(err.body());
    if (err.validation) {
      const details = err.validation.map((v) => `${err.validationContext ?? 'request'}${v.instancePath || ''} ${v.message ?? 'is invalid'}`);
      return reply.code(400).send(new PrescriptionError('HATAKE_ERR_PRESCRIPTION_BAD_REQUEST', details.join('; '), details).body());
    }
    // multipart limits of the parser itself (parts, files, fields) and malformed multipart bodies
    if (err.statusCode === 413) return reply.code(413).send(new PrescriptionError('HATAKE_ERR_PRESCRIPTION_TOO_LARGE', err.message).body());
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(400).send(new PrescriptionError('HATAKE_ERR_PRESCRIPTION_BAD_REQUEST', err.message).body());
    }
    log.error({ err, route: req.routeOptions.url }, 'request failed');
    return reply.code(500).send(new PrescriptionError('HATAKE_ERR_PRESCRIPTION_INTERNAL', 'internal error').body());
  });
  // CORS for the listed origins only (the gateway's, whose dashboard has a Prescriptions view): the token travels in the
  // Authorization header, never in cookies, so no credentials mode; any other origin gets no CORS headers at all
  const corsOrigins = new Set(deps.corsOrigins ?? settings.corsOrigins ?? []);
  if (corsOrigins.size > 0) {
    app.addHook('onRequest', async (req, reply) => {
      const origin = req.headers.origin;
      reply.header('vary', 'Origin');
      if (origin === undefined || !corsOrigins.has(origin)) return;
      reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', 'Content-Disposition, ETag, Content-Length');
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        return reply
          .code(204)
          .header('access-control-allow-methods', 'GET, POST, DELETE')
          .header('access-control-allow-headers', 'Authorization, Content-Type')
          .header('access-control-max-age', '600')
          .send();
      }
      return undefined;
    });
  }
  app.setNotFoundHandler((req, reply) => reply.code(404).send(new PrescriptionError('HATAKE_ERR_PRESCRIPTION_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).body()));
  countRequests(app, metrics, log);

  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const token = tokenOf(req);
    if (!token) throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_UNAUTHORIZED', 'sign in first: send "Authorization: Bearer <token>" (the gateway\'s POST /api/v1/auth/login gives one)');
    try {
      req.user = (await tokens.verifyUser(token, (username) => findUser(config, username), now())).user;
    } catch (err) {
      throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_UNAUTHORIZED', (err as Error).message);
    }
  };

  /** A job the user may see; anything else is "not found", so ids of other farms' jobs tell nothing. */
  const visibleJob = (req: FastifyRequest, id: string): JobRecord => {
    const job = table.get(id);
    if (!job || !canSeeFarm(req.user!, job.farm)) throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_NOT_FOUND', `no prescription job ${id}`);
    return job;
  };

  const checkFarm = (user: UserDef, farm: string): void => {
    if (!config.farms.some((f) => f.id === farm) || !canSeeFarm(user, farm)) {
      throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_FORBIDDEN', `farm ${JSON.stringify(farm.slice(0, 64))} is not one of your farms (or does not exist)`);
    }
  };

  const view = (job: JobRecord, detail: boolean): JobView => {
    const base = `${API}/${job.id}`;
    const finished = job.status === 'done' || job.status === 'failed';
    const position = table.position(job.id);
    return {
      id: job.id,
      farm: job.farm,
      owner: job.owner,
      ...(job.title !== undefined ? { title: job.title } : {}),
      status: job.status,
      createdAt: job.createdAt,
      ...(job.startedAt !== undefined ? { startedAt: job.startedAt } : {}),
      ...(job.finishedAt !== undefined ? { finishedAt: job.finishedAt } : {}),
      ...(finished ? { expiresAt: (job.finishedAt ?? job.createdAt) + Math.round(settings.jobTtlHours * 3_600_000) } : {}),
      ...(position !== undefined ? { queuePosition: position } : {}),
      progress: job.progress,
      ...(job.error ? { error: job.error } : {}),
      ...(detail
        ? {
            ...(job.fieldId !== undefined ? { fieldId: job.fieldId } : {}),
            inputs: job.inputs.map((i) => ({ ...i })),
            params: { ...job.params },
            ...(job.profiles ? { profiles: [...job.profiles] } : {}),
            ...(job.summary !== undefined ? { summary: job.summary } : {}),
          }
        : {}),
      files: (job.files ?? []).map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256, contentType: f.contentType, url: `${base}/files/${f.name.split('/').map(encodeURIComponent).join('/')}` })),
      links: { self: base, events: `${base}/events` },
    };
  };

  const submit = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const user = req.user!;
    if (!isAuthor(user)) {
      reject('forbidden');
      throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_FORBIDDEN', 'only agronomists and admins create prescriptions');
    }
    if (!req.isMultipart()) {
      reject('bad_request');
      throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_BAD_REQUEST', 'send the files and fields as multipart/form-data');
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > settings.maxUploadBytes + FRAMING_ALLOWANCE) {
      reject('too_large');
      throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_TOO_LARGE', `the upload (${formatBytes(declared)}) is larger than ${formatBytes(settings.maxUploadBytes)} (prescription.maxUploadBytes)`);
    }
    if (closing) {
      reject('queue_full');
      throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_QUEUE_FULL', 'the service is stopping; try again shortly');
    }
    try {
      // uploads in progress count as waiting: so many parallel uploads cannot fill the disk
      table.assertRoom(uploading);
    } catch (err) {
      reject('queue_full');
      throw err;
    }
    uploading++;
    let counted = true;
    const { id, paths } = await table.reserve().catch((err: unknown) => {
      uploading--;
      throw err;
    });
    try {
      const parts = req.parts({ limits: { files: 5, fields: 64, fieldSize: 4096, parts: 80, fileSize: settings.maxFileBytes + 1 } });
      const up = await receiveUpload(parts, paths.inputs, limits, (farm) => checkFarm(user, farm));
      const problems = [...up.problems];
      const missing = REQUIRED_LAYERS.filter((l) => !up.files.has(l));
      if (missing.length > 0) problems.push(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required: upload ${missing.length > 1 ? 'them' : 'it'} as a GeoTIFF file named ${missing.map((m) => `"${m}"`).join(' and ')}`);
      if (up.farm === undefined || up.farm === '') problems.push('farm is required: the id of the farm the prescription is for');
      let boundary: unknown;
      const uploaded = up.files.has('field');
      if (uploaded && up.fieldId !== undefined) problems.push('give field (a GeoJSON file) or fieldId (a field of the farm), not both');
      else if (!uploaded && up.fieldId === undefined) problems.push('a field boundary is required: upload field (a GeoJSON file) or give fieldId (a field of the farm)');
      else if (up.fieldId !== undefined && up.farm) {
        const field = findField(config, up.farm, up.fieldId);
        if (!field) problems.push(`farm ${up.farm} has no field ${JSON.stringify(up.fieldId.slice(0, 64))}`);
        else boundary = field.boundary;
      } else if (up.boundaryText !== undefined) {
        const parsed = parseBoundary(up.boundaryText);
        if ('problem' in parsed) problems.push(parsed.problem);
        else boundary = parsed.boundary;
      }
      const checked = checkParams(up.params);
      if ('problems' in checked) problems.push(...checked.problems);
      if (up.title !== undefined && (up.title.length > 128 || /[\p{Cc}]/u.test(up.title))) problems.push('title must be at most 128 printable characters');
      const badProfiles = up.profiles !== undefined ? profilesProblem(up.profiles) : undefined;
      if (badProfiles) problems.push(badProfiles);
      if (problems.length > 0) throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_BAD_REQUEST', problems.join('; '), problems);
      await writeFile(join(paths.inputs, 'field.geojson'), JSON.stringify(boundary));
      // from here it waits as a job, not as an upload
      uploading--;
      counted = false;
      const job = await table.submit({
        id,
        farm: up.farm!,
        owner: user.username,
        createdAt: now(),
        ...(up.title !== undefined ? { title: up.title } : {}),
        ...(up.fieldId !== undefined ? { fieldId: up.fieldId } : {}),
        inputs: [...up.files].map(([layer, f]) => ({ layer, filename: f.filename, bytes: f.bytes })),
        params: up.params,
        ...(up.profiles !== undefined ? { profiles: up.profiles } : {}),
      });
      for (const [layer, f] of up.files) metrics.uploadBytes.inc({ layer }, f.bytes);
      log.info({ job: id, farm: job.farm, user: user.username, bytes: up.bytes }, 'job accepted');
      return reply.code(202).send(view(job, true));
    } catch (err) {
      if (counted) uploading--;
      await table.discard(id);
      const status = (err as { statusCode?: number }).statusCode ?? 500;
      reject(status === 413 ? 'too_large' : status === 403 ? 'forbidden' : status === 503 ? 'queue_full' : status >= 500 ? 'internal' : 'bad_request');
      throw err;
    }
  };

  const events = (req: FastifyRequest<{ Params: JobParams }>, reply: FastifyReply): FastifyReply => {
    const job = visibleJob(req, req.params.id);
    const stream = new PassThrough();
    const write = (event: string, data: unknown): void => {
      stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    write('status', view(job, false));
    if (job.status === 'done' || job.status === 'failed') stream.end();
    else {
      let ended = false;
      const keepalive = setInterval(() => stream.write(': keepalive\n\n'), 15_000);
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearInterval(keepalive);
        unsubscribe();
        stream.end();
      };
      const unsubscribe = table.subscribe(job.id, (e: JobEvent) => {
        if (e.type === 'progress') write('progress', e.progress);
        else if (e.type === 'status') write('status', view(e.job, false));
        else end();
      });
      // the response's close: the client went away (or the stream ended)
      reply.raw.once('close', end);
    }
    return reply.header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(stream);
  };

  app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'hatake prescriptions', version: '1', description: 'Variable-rate fertilizer prescriptions from yield, moisture, NDVI and organic-matter rasters (see the service README for the upload form).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });
  // sizes are metered by receiveUpload, which says which file and which limit
  app.register(fastifyMultipart, { throwFileSizeLimit: false });

  app.register(async (api) => {
    api.addSchema(ErrorBody);

    api.get('/healthz', { schema: { hide: true } }, async (_req, reply) => {
      const failing: Record<string, string> = {};
      if (!opened) failing['jobs'] = 'not started';
      else if (!(await access(dir, constants.W_OK).then(() => true, () => false))) {
        log.warn({ dir }, 'jobs directory not writable');
        failing['disk'] = 'jobs directory not writable';
      }
      const healthy = Object.keys(failing).length === 0;
      return reply.code(healthy ? 200 : 503).send(healthy ? { status: 'ok' } : { status: 'unhealthy', failing });
    });
    api.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
    api.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

    api.register(async (secured) => {
      secured.addHook('onRequest', async (req) => {
        try {
          await authenticate(req);
        } catch (err) {
          if (req.method === 'POST') reject('unauthorized');
          throw err;
        }
      });

      secured.post(
        API,
        {
          schema: {
            summary: 'Create a prescription job from a multipart upload: files yield, moisture (required), ndvi, organic (GeoTIFF), field (GeoJSON) or the text field fieldId; farm; engine parameters as text fields; profiles',
            tags: ['prescriptions'],
            consumes: ['multipart/form-data'],
            response: { 202: JobView, ...errors(400, 401, 403, 413, 503) },
          },
        },
        submit,
      );

      secured.get<{ Querystring: JobsQuery }>(
        API,
        { schema: { summary: 'The jobs you may see (of your farms), newest first', tags: ['prescriptions'], querystring: JobsQuery, response: { 200: JobList, ...errors(400, 401) } } },
        async (req) => ({
          jobs: table
            .list()
            .filter((j) => canSeeFarm(req.user!, j.farm) && (req.query.farm === undefined || j.farm === req.query.farm) && (req.query.status === undefined || j.status === req.query.status))
            .map((j) => view(j, false)),
        }),
      );

      secured.get<{ Params: JobParams }>(
        `${API}/:id`,
        { schema: { summary: 'A job: status, progress, error when failed, summary and files when done', tags: ['prescriptions'], params: JobParams, response: { 200: JobView, ...errors(400, 401, 404) } } },
        async (req) => view(visibleJob(req, req.params.id), true),
      );

      secured.get<{ Params: JobParams }>(
        `${API}/:id/events`,
        { schema: { summary: "A job's progress as Server-Sent Events (status, progress…, status), ending when it is done or failed", tags: ['prescriptions'], params: JobParams, response: { ...errors(400, 401, 404) } } },
        events,
      );

      secured.get<{ Params: FileParams }>(
        `${API}/:id/files/*`,
        { schema: { summary: 'Download an output file of a finished job (a name from its files)', tags: ['prescriptions'], params: FileParams, response: { ...errors(400, 401, 404) } } },
        async (req, reply) => {
          const job = visibleJob(req, req.params.id);
          const name = req.params['*'];
          // only names the engine reported, and only inside the job's output directory
          const file = job.status === 'done' ? job.files?.find((f) => f.name === name) : undefined;
          const outputs = table.paths(job.id).outputs;
          const path = resolve(outputs, name);
          if (!file || !path.startsWith(outputs + sep)) throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_NOT_FOUND', `job ${job.id} has no file ${JSON.stringify(name.slice(0, 128))}`);
          return reply
            .header('content-type', file.contentType)
            .header('content-length', String(file.bytes))
            .header('content-disposition', contentDisposition(basename(file.name)))
            .header('etag', `"${file.sha256}"`)
            .header('cache-control', 'private, max-age=3600')
            .send(createReadStream(path));
        },
      );

      secured.delete<{ Params: JobParams }>(
        `${API}/:id`,
        { schema: { summary: 'Remove a job and its files (a waiting or running job is cancelled first)', tags: ['prescriptions'], params: JobParams, response: { 204: { type: 'null' }, ...errors(400, 401, 403, 404) } } },
        async (req, reply) => {
          const job = visibleJob(req, req.params.id);
          if (!isAuthor(req.user!)) throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_FORBIDDEN', 'only agronomists and admins delete prescriptions');
          await table.remove(job.id);
          log.info({ job: job.id, user: req.user!.username }, 'job deleted');
          return reply.code(204).send();
        },
      );
    });
  });

  return {
    app,
    metrics,
    jobs: table,
    async start() {
      await table.open();
      opened = true;
      table.start();
      await app.listen({ host: settings.host, port: settings.port });
      const addr = app.server.address() as { address: string; port: number };
      const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
      log.info({ url, dir }, 'prescription service listening');
      return { host: addr.address, port: addr.port, url };
    },
    async stop() {
      closing = true;
      // first the jobs: runs aborted, progress streams ended, so closing the server does not wait for them
      if (opened) await table.stop();
      await app.close();
      log.info('prescription service stopped');
    },
  };
}
