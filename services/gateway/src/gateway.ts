/**
 * The gateway: REST history and devices, the live WebSocket stream, and login,
 * for signed-in users within their roles and farm scopes; `/metrics`,
 * `/healthz` and an OpenAPI document generated from the route schemas.
 */

import { randomBytes } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { MqttClient } from 'mqtt';
import { FailureTracker, SecretVerifier, TokenIssuer, canSee, canSeeFarm, hashSecret, verifySecret, visibilityScope } from '@hatake/auth';
import { deviceOfMessage, findDevice, findUser, type Config, type DeviceDef, type UserDef } from '@hatake/config';
import { Decoder, HEARTBEAT_TOPIC, SCHEMA_VERSION, deviceChannelFilter, type Heartbeat } from '@hatake/protocol';
import { connectService, countRequests, reconnectCounter, settledWithin, type Logger } from '@hatake/runtime';
import type { LatestRow, TelemetryStore } from '@hatake/store';
import { CommandCenter, supervises } from './commands.ts';
import { registerDashboard, registerMapRoute, registerSampleRoute } from './dashboard.ts';
import { GatewayError } from './errors.ts';
import { LiveHub } from './live.ts';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.ts';
import { REAL_TIMERS, type Timers } from './replay.ts';
import {
  AlarmParams,
  AlarmsQuery,
  AlarmView,
  ArmedReply,
  CommandBody,
  CommandParams,
  CommandView,
  DeviceParams,
  DeviceView,
  DevicesQuery,
  ErrorBody,
  EventsQuery,
  EventsReply,
  FleetStopBody,
  LeaseBody,
  LeaseView,
  LoginBody,
  LoginReply,
  ROUTE_ERRORS,
  TelemetryQuery,
  TelemetryReply,
  UserView,
} from './schemas.ts';
import { parseDuration, timeWindow } from './time.ts';
import { registerTrackRoutes } from './tracks-routes.ts';

export interface GatewayDeps {
  readonly logger: Logger;
  /** The store to read; started and stopped by the caller (it may be shared with ingest). */
  readonly store: TelemetryStore;
  /** The gateway service account's MQTT password. */
  readonly password: string;
  /** Broker URL, when it differs from the configuration's. */
  readonly mqttUrl?: string;
  readonly now?: () => number;
  /** Timers of replay sessions; with `now`, their virtual clock (fake both in tests). */
  readonly timers?: Timers;
  readonly metrics?: GatewayMetrics;
  /** The built dashboard to serve at `/` (default: the dashboard package's `dist/web`). */
  readonly dashboardDir?: string;
  /** The prescription service's URL for the dashboard, when it differs from `gateway.dashboard.prescriptionUrl` (the demo's, known once it listens). */
  readonly prescriptionUrl?: () => string | undefined;
  /** Where the sample inputs of a prescription are (served read-only at `/api/v1/samples/prescription/:name`); default none. */
  readonly samplesDir?: string;
}

export interface Gateway {
  /** The fastify app (for `inject()` in tests). */
  readonly app: FastifyInstance;
  readonly metrics: GatewayMetrics;
  readonly tokens: TokenIssuer;
  /** Resolves when every command-audit and alarm record so far is in the store. */
  flushAudit(): Promise<void>;
  start(): Promise<{ http: { host: string; port: number; url: string; ws: string } }>;
  stop(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: UserDef | undefined;
    tokenExpiresAt: number | undefined;
  }
}

const { errors } = ROUTE_ERRORS;
const SUBPROTOCOL = 'hatake.v1';

function userView(u: UserDef): { username: string; name: string; roles: string[]; farms: string[] } {
  return { username: u.username, name: u.name, roles: [...u.roles], farms: [...u.farms] };
}

/** The token of a request: `Authorization: Bearer …`, the WebSocket subprotocol `bearer.…`, or `?access_token=` (WebSocket only). */
function tokenOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const protocols = req.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    const bearer = protocols.split(',').map((p) => p.trim()).find((p) => p.startsWith('bearer.'));
    if (bearer) return bearer.slice('bearer.'.length);
  }
  if (req.headers.upgrade?.toLowerCase() === 'websocket') {
    const q = (req.query as Record<string, unknown> | undefined)?.['access_token'];
    if (typeof q === 'string') return q;
  }
  return undefined;
}

function deviceView(d: DeviceDef, latest: LatestRow | undefined): DeviceView {
  const s = latest?.sample;
  const state = latest?.state;
  return {
    id: d.id,
    kind: d.kind,
    name: d.name,
    ...(d.farm !== undefined ? { farm: d.farm } : {}),
    ...(d.field !== undefined ? { field: d.field } : {}),
    online: state?.online ?? false,
    ...(s ? { lastSeen: s.t } : {}),
    ...(state ? { state: { t: state.t, online: state.online, ...(state.mode ? { mode: state.mode } : {}), ...(state.firmware ? { firmware: state.firmware } : {}), ...(state.reason ? { reason: state.reason } : {}) } } : {}),
    ...(s
      ? {
          position: {
            t: s.t,
            fix: s['fix'] as NonNullable<DeviceView['position']>['fix'],
            ...(['lat', 'lon', 'alt', 'speed', 'heading'] as const).reduce((o, k) => (s[k] !== undefined ? { ...o, [k]: s[k] } : o), {}),
          },
          last: { ...s },
        }
      : {}),
  };
}

/**
 * The gateway's MQTT client id. Its session is clean, so the id need not
 * outlive the process: left at the account's name (the default), each start
 * adds a random instance suffix (`gateway:3f9a0c1e`), so that gateways
 * started from one configuration do not take each other's connection over
 * (MQTT 3.1.1 §3.1.4-2, MQTT 5 §3.1.4-3: a second CONNECT with a client id
 * in use disconnects the first). `gateway:<n>`, when configured, is used as
 * it is.
 */
export function mqttClientId(configured: string, username: string, random: () => string = () => randomBytes(4).toString('hex')): string {
  return configured === username ? `${username}:${random()}` : configured;
}

/** Builds the gateway (not yet listening). */
export function buildGateway(config: Config, deps: GatewayDeps): Gateway {
  const log = deps.logger.child({ component: 'gateway' });
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createGatewayMetrics();
  const reconnects = reconnectCounter(metrics.registry);
  const tokens = new TokenIssuer({ ...(config.gateway.auth.tokenSecret !== undefined ? { secret: config.gateway.auth.tokenSecret } : {}), ttlSeconds: config.gateway.auth.tokenTtlSeconds });
  const verifier = new SecretVerifier();
  // five failures of one user from one address, or fifty of any users, within a minute block for a minute
  const loginFailures = new FailureTracker({ maxAttempts: 5, windowMs: 60_000, blockMs: 60_000 });
  const addressFailures = new FailureTracker({ maxAttempts: 50, windowMs: 60_000, blockMs: 60_000 });
  // unknown users are checked against this, at the real cost, so time does not tell who exists
  let dummyHash: string | undefined;
  const decoder = new Decoder({ maxPayloadBytes: config.limits.maxPayloadBytes, maxBatchSamples: config.limits.maxBatchSamples });
  const hub = new LiveHub(config, metrics, log, { highWaterBytes: config.gateway.ws.highWaterBytes, now, replay: { store: deps.store, timers: deps.timers ?? REAL_TIMERS } });
  const liveStates = new Map<string, { state: unknown; receivedAt: number }>();
  let client: MqttClient | undefined;
  let clientId = '';
  const center = new CommandCenter(
    config,
    deps.store,
    log,
    {
      publish: async (topic, payload) => {
        if (!client?.connected) throw new Error('the gateway is not connected to the broker');
        await client.publishAsync(topic, payload, { qos: 1 });
      },
      stream: (type, device, json) => hub.publish(type, device, json),
      sessionsOf: (username) => hub.sessionsOf(username),
      counted: (what, label) => (what === 'command' ? metrics.commands.inc({ status: label }) : metrics.alarms.inc({ change: label })),
    },
    now,
  );
  hub.onActivity = (user) => center.renew(user.username);
  hub.onAction = (user, msg, reply) => {
    const failed = (err: unknown): void => {
      const e = err instanceof GatewayError ? err : new GatewayError('HATAKE_ERR_GATEWAY_INTERNAL', 'internal error');
      if (!(err instanceof GatewayError)) log.error({ err }, 'live action failed');
      metrics.clientErrors.inc({ reason: e.code });
      reply({ type: 'error', code: e.code, message: e.message, ...(msg.type !== 'estop_all' ? { device: msg.device } : {}) });
    };
    try {
      switch (msg.type) {
        case 'command':
          center
            .issue(user, msg.device, msg.command)
            .then((r) => reply('armed' in r ? { type: 'armed', armed: r.armed } : { type: 'command', command: r.command }))
            .catch(failed);
          break;
        case 'lease':
          reply({ type: 'lease', lease: center.lease(user, msg.device, msg.action, msg.reason) });
          break;
        case 'estop_all':
          center
            .estopAll(user, msg.farm)
            .then((commands) => reply({ type: 'estop_all', commands }))
            .catch(failed);
          break;
      }
    } catch (err) {
      failed(err);
    }
  };
  let beat: NodeJS.Timeout | undefined;
  let beats = 0;
  const heartbeat = (): void => {
    const watchers = [...hub.users()].filter(supervises).length;
    if (watchers === 0 || !client?.connected) return;
    const hb: Heartbeat = { v: SCHEMA_VERSION, t: now(), seq: beats++, source: clientId.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64), interval: config.gateway.commands.heartbeatMs, watchers };
    client.publish(HEARTBEAT_TOPIC, JSON.stringify(hb), { qos: 0 });
    metrics.heartbeats.inc();
  };

  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'gateway-http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // behind a reverse proxy, the client address (login blocking) comes from X-Forwarded-For only when configured
    trustProxy: config.gateway.http.trustProxy,
    ajv: { customOptions: { removeAdditional: false, allErrors: true } },
  });
  app.decorateRequest('user', undefined);
  app.decorateRequest('tokenExpiresAt', undefined);

  // errors: one shape, clear reasons, nothing internal leaked
  app.setErrorHandler((err: Error & { validation?: { instancePath: string; message?: string; params?: Record<string, unknown> }[]; validationContext?: string; statusCode?: number }, req, reply) => {
    if (err instanceof GatewayError) return reply.code(err.statusCode).send(err.body());
    if (err.validation) {
      const details = err.validation.map((v) => {
        const extra = v.params?.['additionalProperty'] !== undefined ? ` (${String(v.params['additionalProperty'])})` : '';
        return `${err.validationContext ?? 'request'}${v.instancePath || ''} ${v.message ?? 'is invalid'}${extra}`;
      });
      const e = new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', details.join('; '), details);
      return reply.code(400).send(e.body());
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send(new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', err.message).body());
    }
    log.error({ err, route: req.routeOptions.url }, 'request failed');
    return reply.code(500).send(new GatewayError('HATAKE_ERR_GATEWAY_INTERNAL', 'internal error').body());
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(new GatewayError('HATAKE_ERR_GATEWAY_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).body()));
  countRequests(app, metrics, log);

  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const token = tokenOf(req);
    if (!token) throw new GatewayError('HATAKE_ERR_GATEWAY_UNAUTHORIZED', 'sign in first: send "Authorization: Bearer <token>" (POST /api/v1/auth/login gives one)');
    try {
      const session = await tokens.verifyUser(token, (username) => findUser(config, username), now());
      req.user = session.user;
      req.tokenExpiresAt = session.expiresAt;
    } catch (err) {
      throw new GatewayError('HATAKE_ERR_GATEWAY_UNAUTHORIZED', (err as Error).message);
    }
  };

  const visibleDevice = (req: FastifyRequest, id: string): DeviceDef => {
    const d = findDevice(config, id);
    if (!d) throw new GatewayError('HATAKE_ERR_GATEWAY_NOT_FOUND', `no device ${id}`);
    if (!canSee(req.user!, d)) throw new GatewayError('HATAKE_ERR_GATEWAY_FORBIDDEN', `device ${id} is not in your farms`);
    return d;
  };

  const store = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      log.error({ err }, 'store request failed');
      throw new GatewayError('HATAKE_ERR_GATEWAY_UNAVAILABLE', 'the store did not answer; try again');
    }
  };

  app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'hatake gateway', version: '1', description: 'Live telemetry, history and devices of a hatake deployment.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });
  app.register(fastifyWebsocket, {
    options: {
      maxPayload: config.gateway.ws.maxMessageBytes,
      // the live stream writes frames built once for every client (frame.ts): no per-client compression
      perMessageDeflate: false,
      handleProtocols: (protocols: Set<string>) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    },
  });

  registerDashboard(app, { config, dir: deps.dashboardDir, prescriptionUrl: deps.prescriptionUrl });

  app.register(async (api) => {
    api.addSchema(ErrorBody);

    api.get('/healthz', { schema: { hide: true } }, async (_req, reply) => {
      const failing: Record<string, string> = {};
      if (!client?.connected) failing['mqtt'] = 'not connected to the broker';
      const storeHealth = await deps.store.health();
      if (storeHealth) {
        // the details (addresses, errors) go to the log, not to an unauthenticated answer
        log.warn({ reason: storeHealth }, 'store unhealthy');
        failing['store'] = 'not answering';
      }
      const healthy = Object.keys(failing).length === 0;
      return reply.code(healthy ? 200 : 503).send(healthy ? { status: 'ok' } : { status: 'unhealthy', failing });
    });
    api.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
    api.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

    api.post<{ Body: LoginBody }>(
      '/api/v1/auth/login',
      { schema: { summary: 'Sign in with a password; get a session token', tags: ['auth'], security: [], body: LoginBody, response: { 200: LoginReply, ...errors(400, 401, 429) } } },
      async (req) => {
        const { username, password } = req.body;
        const key = `${req.ip}|${username}`;
        if (loginFailures.blocked(key, now()) || addressFailures.blocked(req.ip, now())) {
          metrics.logins.inc({ result: 'blocked' });
          throw new GatewayError('HATAKE_ERR_GATEWAY_TOO_MANY_ATTEMPTS', 'too many failed sign-ins: wait a minute');
        }
        loginFailures.begin(key, now());
        addressFailures.begin(req.ip, now());
        const user = findUser(config, username);
        const ok = user?.passwordHash !== undefined ? await verifier.verify(password, user.passwordHash) : await verifySecret(password, (dummyHash ??= await hashSecret('not a password'))).then(() => false);
        if (!ok || !user) {
          metrics.logins.inc({ result: 'refused' });
          log.warn({ username: username.slice(0, 64), ip: req.ip }, 'sign-in refused');
          throw new GatewayError('HATAKE_ERR_GATEWAY_UNAUTHORIZED', 'wrong username or password');
        }
        loginFailures.release(key);
        addressFailures.release(req.ip);
        metrics.logins.inc({ result: 'ok' });
        const issued = await tokens.issue(user.username, now());
        return { token: issued.token, expiresAt: issued.expiresAt, user: userView(user) };
      },
    );

    api.register(async (secured) => {
      secured.addHook('preValidation', authenticate);

      registerTrackRoutes(secured, { config, store: deps.store, now, visibleDevice, storeCall: store });
      registerMapRoute(secured, config, deps.prescriptionUrl);
      registerSampleRoute(secured, deps.samplesDir);

      secured.get('/api/v1/me', { schema: { summary: 'Who is signed in', tags: ['auth'], response: { 200: UserView, ...errors(401) } } }, async (req) => userView(req.user!));

      secured.get<{ Querystring: DevicesQuery }>(
        '/api/v1/devices',
        { schema: { summary: 'Devices you may see, with their last state and position', tags: ['devices'], querystring: DevicesQuery, response: { 200: { type: 'object', properties: { devices: { type: 'array', items: DeviceView } } }, ...errors(400, 401, 403, 503) } } },
        async (req) => {
          const q = req.query;
          if (q.farm !== undefined && !canSeeFarm(req.user!, q.farm)) throw new GatewayError('HATAKE_ERR_GATEWAY_FORBIDDEN', `farm ${q.farm} is not yours to see`);
          const devices = config.devices.filter((d) => d.group === undefined && canSee(req.user!, d) && (q.kind === undefined || d.kind === q.kind) && (q.farm === undefined || d.farm === q.farm));
          const latest = await store(() => deps.store.latest(devices.map((d) => d.id)));
          const byId = new Map(latest.map((l) => [l.device, l]));
          return { devices: devices.map((d) => deviceView(d, byId.get(d.id))) };
        },
      );

      secured.get<{ Params: DeviceParams }>(
        '/api/v1/devices/:id',
        { schema: { summary: 'One device with its last state and position', tags: ['devices'], params: DeviceParams, response: { 200: DeviceView, ...errors(400, 401, 403, 404, 503) } } },
        async (req) => {
          const d = visibleDevice(req, req.params.id);
          const latest = await store(() => deps.store.latest([d.id]));
          return deviceView(d, latest[0]);
        },
      );

      secured.get<{ Params: DeviceParams; Querystring: TelemetryQuery }>(
        '/api/v1/devices/:id/telemetry',
        {
          schema: {
            summary: "A device's samples in a time range, raw or downsampled",
            tags: ['devices'],
            params: DeviceParams,
            querystring: TelemetryQuery,
            response: { 200: TelemetryReply, ...errors(400, 401, 403, 404, 503) },
          },
        },
        async (req) => {
          const d = visibleDevice(req, req.params.id);
          const api = config.gateway.api;
          const { from, to } = timeWindow(req.query, now(), { rangeMinutes: api.defaultRangeMinutes, maxRangeDays: api.maxRangeDays });
          const every = req.query.every === undefined ? undefined : parseDuration(req.query.every);
          if (every !== undefined && every > to - from) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', 'every is wider than the range');
          if (req.query.limit !== undefined && req.query.limit > api.maxPoints) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `limit must be at most ${api.maxPoints}`);
          const limit = req.query.limit ?? api.maxPoints;
          const rows = await store(() => deps.store.samples({ kind: d.kind, device: d.id, from, to, limit, ...(every !== undefined ? { every } : {}) }));
          return { device: d.id, kind: d.kind, from, to, ...(every !== undefined ? { every } : {}), count: rows.length, truncated: rows.length === limit, samples: rows };
        },
      );

      secured.get<{ Querystring: EventsQuery }>(
        '/api/v1/events',
        { schema: { summary: 'Events of the devices you may see', tags: ['events'], querystring: EventsQuery, response: { 200: EventsReply, ...errors(400, 401, 403, 404, 503) } } },
        async (req) => {
          const { from, to } = timeWindow(req.query, now(), { rangeMinutes: config.gateway.api.defaultRangeMinutes, maxRangeDays: config.gateway.api.maxRangeDays });
          // one device, or the user's scope as farms (never a list of every device: groups can hold thousands)
          const scope = visibilityScope(req.user!);
          const filter = req.query.device !== undefined ? { devices: [visibleDevice(req, req.query.device).id] } : scope ? { scope } : {};
          const events = await store(() => deps.store.events({ ...filter, from, to, limit: req.query.limit ?? 1000 }));
          return { events };
        },
      );

      secured.post<{ Params: DeviceParams; Body: CommandBody }>(
        '/api/v1/devices/:id/commands',
        {
          schema: {
            summary: 'Command a machine: published at once, tracked sent → accepted | rejected → completed | failed (or expired / timed_out); resume and start_mission are armed first, then confirmed',
            tags: ['commands'],
            params: DeviceParams,
            body: CommandBody,
            response: { 202: CommandView, 200: ArmedReply, ...errors(400, 401, 403, 404, 409) },
          },
        },
        async (req, reply) => {
          const r = await center.issue(req.user!, req.params.id, req.body);
          if ('armed' in r) return reply.code(200).send({ armed: r.armed, message: `armed: confirm within ${config.gateway.commands.armSeconds} s by sending the same command with "confirm": "${r.armed.id}"` });
          return reply.code(202).send(r.command);
        },
      );

      secured.get<{ Params: CommandParams }>(
        '/api/v1/devices/:id/commands/:commandId',
        { schema: { summary: 'A command this gateway sent, with every state change', tags: ['commands'], params: CommandParams, response: { 200: CommandView, ...errors(400, 401, 404) } } },
        async (req) => center.command(req.user!, req.params.id, req.params.commandId),
      );

      secured.get<{ Params: DeviceParams; Querystring: EventsQuery }>(
        '/api/v1/devices/:id/audit',
        { schema: { summary: "The command audit of a machine: every command's every state change, oldest first", tags: ['commands'], params: DeviceParams, querystring: EventsQuery, response: { 200: { type: 'object', properties: { audit: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...errors(400, 401, 403, 404, 503) } } },
        async (req) => {
          const d = visibleDevice(req, req.params.id);
          const { from, to } = timeWindow(req.query, now(), { rangeMinutes: config.gateway.api.defaultRangeMinutes, maxRangeDays: config.gateway.api.maxRangeDays });
          // what this gateway has not written yet, if the store takes it soon
          await settledWithin(center.flushWrites(), 2000);
          return { audit: await store(() => deps.store.audit({ device: d.id, from, to, limit: req.query.limit ?? 1000 })) };
        },
      );

      secured.post<{ Body: FleetStopBody }>(
        '/api/v1/estop',
        { schema: { summary: 'Emergency stop of every machine you may command (of one farm): one command per machine, each tracked', tags: ['commands'], body: FleetStopBody, response: { 202: { type: 'object', properties: { commands: { type: 'array', items: CommandView } } }, ...errors(400, 401, 403) } } },
        async (req, reply) => reply.code(202).send({ commands: await center.estopAll(req.user!, req.body?.farm) }),
      );

      secured.get<{ Params: DeviceParams }>(
        '/api/v1/devices/:id/lease',
        { schema: { summary: 'Who controls a machine', tags: ['commands'], params: DeviceParams, response: { 200: LeaseView, ...errors(400, 401, 403, 404) } } },
        async (req) => center.leaseView(visibleDevice(req, req.params.id).id),
      );

      secured.post<{ Params: DeviceParams; Body: LeaseBody }>(
        '/api/v1/devices/:id/lease',
        { schema: { summary: "Take, release or take over (with a recorded reason) a machine's control lease", tags: ['commands'], params: DeviceParams, body: LeaseBody, response: { 200: LeaseView, ...errors(400, 401, 403, 404, 409) } } },
        async (req) => center.lease(req.user!, req.params.id, req.body.action, req.body.reason),
      );

      secured.get<{ Querystring: AlarmsQuery }>(
        '/api/v1/alarms',
        { schema: { summary: 'Alarms of the machines you may see, newest first', tags: ['alarms'], querystring: AlarmsQuery, response: { 200: { type: 'object', properties: { alarms: { type: 'array', items: AlarmView } } }, ...errors(400, 401) } } },
        async (req) => ({ alarms: center.alarmsFor(req.user!, req.query.state ?? 'active') }),
      );

      secured.post<{ Params: AlarmParams }>(
        '/api/v1/alarms/:id/ack',
        { schema: { summary: 'Acknowledge an alarm (operators of its farm)', tags: ['alarms'], params: AlarmParams, response: { 200: AlarmView, ...errors(400, 401, 403, 404) } } },
        async (req) => center.acknowledge(req.user!, req.params.id),
      );

      secured.get(
        '/ws',
        {
          websocket: true,
          schema: { summary: 'The live stream (WebSocket): see the gateway README', tags: ['live'] },
          // refused before the upgrade, with an answer a client can read
          preHandler: async () => {
            if (hub.size >= config.gateway.ws.maxClients) throw new GatewayError('HATAKE_ERR_GATEWAY_TOO_MANY_CLIENTS', `the live stream serves at most ${config.gateway.ws.maxClients} clients`);
          },
        },
        (socket, req) => {
        hub.add(socket, req.user!, req.tokenExpiresAt ?? now(), (visible) => ({
          type: 'hello',
          user: userView(req.user!),
          serverTime: now(),
          // named devices; members of synthetic load groups stream too but are only counted here
          devices: visible.flatMap((id) => {
            const d = findDevice(config, id)!;
            return d.group !== undefined ? [] : [{ id, kind: d.kind, name: d.name, ...(d.farm !== undefined ? { farm: d.farm } : {}) }];
          }),
          synthetic: visible.filter((id) => findDevice(config, id)?.group !== undefined).length,
          states: Object.fromEntries(visible.flatMap((id) => (liveStates.has(id) ? [[id, liveStates.get(id)]] : []))),
        }));
        },
      );
    });
  });

  const onMqtt = (topic: string, payload: Buffer): void => {
    const r = decoder.decode(topic, payload);
    if (!r.ok) {
      metrics.mqttInvalid.inc();
      return;
    }
    const m = r.value;
    if (m.channel === 'cmd/ack') {
      metrics.mqttMessages.inc({ channel: m.channel });
      center.onAck(m.kind, m.deviceId, m.message);
      return;
    }
    if (m.channel !== 'telemetry' && m.channel !== 'state' && m.channel !== 'event') return;
    // heard: what the machine itself sends now — not a state, which may be its last will or a retained one replayed
    if (m.channel !== 'state') center.heard(m.deviceId);
    const known = deviceOfMessage(config, m.kind, m.deviceId);
    if ('reason' in known) {
      metrics.mqttInvalid.inc();
      return;
    }
    const device = known.device;
    metrics.mqttMessages.inc({ channel: m.channel });
    const base = { device: m.deviceId, kind: m.kind, ...(device.farm !== undefined ? { farm: device.farm } : {}) };
    switch (m.channel) {
      case 'telemetry':
        hub.publish('telemetry', m.deviceId, JSON.stringify({ type: 'telemetry', ...base, samples: m.samples }));
        center.onSamples(device, m.samples as unknown as Record<string, unknown>[]);
        break;
      case 'state': {
        const receivedAt = now();
        liveStates.set(m.deviceId, { state: m.message, receivedAt });
        hub.publish('state', m.deviceId, JSON.stringify({ type: 'state', ...base, state: m.message, receivedAt }));
        break;
      }
      case 'event':
        hub.publish('event', m.deviceId, JSON.stringify({ type: 'event', ...base, event: m.message }));
    }
  };

  return {
    app,
    metrics,
    tokens,
    flushAudit: () => center.flushWrites(),
    async start() {
      const url = deps.mqttUrl ?? config.mqtt.url;
      clientId = mqttClientId(config.gateway.clientId, config.gateway.username);
      const c = await connectService({
        url,
        clientId,
        username: config.gateway.username,
        password: deps.password,
        clean: true,
        settings: config.mqtt,
        log,
        onMessage: onMqtt,
        onReconnect: () => reconnects.inc(),
      });
      client = c;
      // QoS 1: nothing is lost between the broker and the live stream
      await c.subscribeAsync((['telemetry', 'state', 'event', 'cmd/ack'] as const).map((ch) => deviceChannelFilter(ch)), { qos: 1 });
      hub.start();
      center.start();
      beat = setInterval(heartbeat, config.gateway.commands.heartbeatMs);
      await app.listen({ host: config.gateway.http.host, port: config.gateway.http.port });
      const addr = app.server.address() as { address: string; port: number };
      const base = `http://${addr.address}:${addr.port}`;
      log.info({ url: base, mqttClientId: clientId }, 'gateway listening');
      return { http: { host: addr.address, port: addr.port, url: base, ws: `ws://${addr.address}:${addr.port}/ws` } };
    },
    async stop() {
      clearInterval(beat);
      hub.stop();
      await center.stop();
      await app.close();
      await client?.endAsync().catch(() => undefined);
      log.info('gateway stopped');
    },
  };
}

