/**
 * The embedded broker: aedes behind hatake's authentication, topic rights,
 * packet-size guard and per-device rate, over MQTT/TCP and MQTT/WebSocket,
 * with `/metrics` and `/healthz`.
 *
 * `buildBroker()` returns an object that is not yet listening; `start()`
 * opens the session store and binds, `stop()` releases everything (and may be
 * followed by another `start()`). aedes only sees duplex streams, so a test
 * can also hand it one directly with `handle()`.
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Config } from '@hatake/config';
import { parseTopic } from '@hatake/protocol';
import { buildOpsServer, type Logger, type OpsServer } from '@hatake/runtime';
import { publishRefusal, subscribeRefusal, type AclRefusal, type Principal } from './acl.ts';
import { Authenticator, type ConnectRefusal } from './authenticator.ts';
import { BrokerError } from './errors.ts';
import { GuardedConnection } from './packet-guard.ts';
import { openPersistence, type BrokerPersistence } from './persistence.ts';
import { TokenBucket } from './throttle.ts';
import { createBrokerMetrics, type BrokerMetrics } from './metrics.ts';

export type { ConnectRefusal } from './authenticator.ts';

export interface BrokerDeps {
  readonly logger: Logger;
  /** Clock for rate limits and login blocking; tests may fake it. */
  readonly now?: () => number;
  readonly metrics?: BrokerMetrics;
}

export interface BrokerAddresses {
  readonly mqtt: { readonly host: string; readonly port: number; readonly url: string };
  readonly ws?: { readonly host: string; readonly port: number; readonly url: string };
  readonly http: { readonly host: string; readonly port: number; readonly url: string };
}

export interface HatakeBroker {
  readonly metrics: BrokerMetrics;
  /**
   * Opens the session store (`broker.persistence`) and binds the listeners; resolves with the actual
   * addresses (ports 0 become real ports). A persistence directory that is locked, damaged or cannot be
   * opened rejects with `HATAKE_ERR_BROKER_PERSISTENCE_*`; a failed start leaves nothing open.
   */
  start(): Promise<BrokerAddresses>;
  /** Disconnects every client, closes every listener and, once its writes are done, the session store. */
  stop(): Promise<void>;
  /** Serves one MQTT connection over any duplex stream (in-memory transports in tests). */
  handle(stream: Duplex, remoteAddress?: string): void;
  /** The aedes instance once started (for tests that inspect retained messages). */
  readonly aedes: Aedes | undefined;
}

/** Largest packet read before a client has authenticated: a CONNECT with its will fits easily. */
export const PRE_AUTH_MAX_PACKET_BYTES = 64 * 1024;

/** Subscriptions the embedded broker refuses beyond the rights (a metrics label). */
type SubscribeRefusal = AclRefusal | 'shared_subscriptions_unsupported';

interface Connecting {
  readonly will: ConnectPacket['will'];
  readonly clean: boolean;
}

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as unknown as AuthenticateError;
}

/**
 * What aedes keeps per client to drop a message it already delivered (`client.duplicates`: the highest
 * broker counter seen). It assumes messages reach a client in counter order, and they do not: a QoS 1
 * message waits for the store before it is delivered (LevelDB writes finish out of order; a retained one
 * is stored first), a QoS 0 one does not — so a later message overtakes an earlier one, and the earlier
 * one is dropped as a "duplicate": an online persistent session (ingest) would get it only after its next
 * reconnect (aedes#955, aedes#994, unfixed in 1.2). This stand-in remembers nothing, so nothing is dropped.
 * What dedupe was for — two copies when a client's subscriptions overlap, or a message seen through two
 * brokers of a cluster — is allowed by [MQTT-3.3.5-1] and does not arise with one broker.
 */
const NO_DEDUPE: Record<string, number> = new Proxy(Object.create(null) as Record<string, number>, { set: () => true });

/**
 * A broker id that sorts by start time. aedes-persistence-level keys a queued message by broker id and
 * counter, so messages queued before a restart are delivered before those queued after it (MQTT 3.1.1
 * §4.6 ordering); a random id alone would order them by chance. Unique per start: the counter restarts at 0.
 */
function brokerId(now: number): string {
  return `hatake-${now.toString(36).padStart(10, '0')}-${randomBytes(4).toString('hex')}`;
}

/** Builds the broker for a loaded configuration (not yet listening). */
export function buildBroker(config: Config, deps: BrokerDeps): HatakeBroker {
  const log = deps.logger.child({ component: 'broker' });
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createBrokerMetrics();
  const auth = new Authenticator(config);
  const principals = new WeakMap<Client, Principal>();
  const connecting = new WeakMap<Client, Connecting>();
  const buckets = new WeakMap<Client, TokenBucket>();
  const throttleTimers = new Set<NodeJS.Timeout>();
  const addressOf = (client: Client): string => (client.conn as Partial<GuardedConnection>).remoteAddress ?? 'unknown';

  let aedes: Aedes | undefined;
  let tcp: NetServer | undefined;
  let http: HttpServer | undefined;
  let wss: WebSocketServer | undefined;
  let ops: OpsServer | undefined;
  let persistence: BrokerPersistence | undefined;
  const sockets = new Set<Duplex>();

  const authenticate = (client: Client, username: string | undefined, password: Buffer | undefined, done: (e: AuthenticateError | null, ok: boolean | null) => void): void => {
    const c = connecting.get(client);
    const remote = addressOf(client);
    auth
      .authenticate({ remote, clientId: client.id, username, password, clean: c?.clean ?? true, will: c?.will ?? undefined }, now())
      .then(
        (outcome) => {
          if (!outcome.ok) {
            refuse(outcome.reason, outcome.code);
            return;
          }
          principals.set(client, outcome.principal);
          if (outcome.principal.type === 'device') buckets.set(client, new TokenBucket(config.limits.devicePublishRate, config.limits.devicePublishBurst, now()));
          (client.conn as Partial<GuardedConnection>).authenticated?.();
          metrics.connections.inc({ result: 'accepted', reason: '' });
          done(null, true);
        },
        (err: unknown) => {
          log.error({ err, username }, 'credential check failed');
          refuse('bad_credentials', 4);
        },
      );
    function refuse(reason: ConnectRefusal, code: number): void {
      metrics.connections.inc({ result: 'refused', reason });
      log.warn({ clientId: client.id, username, remote, reason }, 'connection refused');
      done(authError(reason, code), false);
    }
  };

  const authorizePublish = (client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void => {
    if (client === null) {
      done(null); // a stored will of a client gone before a restart; it was checked at CONNECT
      return;
    }
    const principal = principals.get(client);
    const reason: AclRefusal | undefined = principal ? publishRefusal(principal, packet.topic, packet.retain) : 'not_granted';
    if (reason) {
      metrics.publishRefused.inc({ reason });
      log.warn({ clientId: client.id, topic: packet.topic.slice(0, 256), retain: packet.retain, reason }, 'publish refused');
      done(new Error(`publish refused: ${reason}`));
      return;
    }
    const accept = (): void => {
      const parsed = parseTopic(packet.topic);
      metrics.messages.inc({ channel: parsed.ok ? (parsed.topic.type === 'device' ? parsed.topic.channel : parsed.topic.type) : 'other' });
      metrics.bytes.inc(packet.payload.length);
      done(null);
    };
    // the last will is the device's own word that it is gone: never throttled, never refused for rate
    const isWill = packet === (connecting.get(client)?.will as unknown);
    const bucket = isWill ? undefined : buckets.get(client);
    const wait = bucket ? bucket.take(now()) : 0;
    if (wait === 0) {
      accept();
      return;
    }
    if (wait > config.limits.maxThrottleMs) {
      bucket?.refund();
      metrics.publishRefused.inc({ reason: 'rate_limited' });
      log.warn({ clientId: client.id, rate: config.limits.devicePublishRate, waitMs: Math.round(wait) }, 'publish refused: device far above its rate');
      done(new Error('publish refused: rate_limited'));
      return;
    }
    metrics.throttled.inc();
    const timer = setTimeout(() => {
      throttleTimers.delete(timer);
      accept();
    }, wait);
    throttleTimers.add(timer);
  };

  const authorizeSubscribe = (client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void => {
    const principal = principals.get(client);
    let reason: SubscribeRefusal | undefined = principal ? subscribeRefusal(principal, sub.topic, sub.qos) : 'not_granted';
    // aedes 1.2 would grant a $share filter and then deliver nothing to it
    if (!reason && sub.topic.startsWith('$share/')) reason = 'shared_subscriptions_unsupported';
    if (reason) {
      metrics.subscribeRefused.inc({ reason });
      log.warn({ clientId: client.id, filter: sub.topic.slice(0, 256), reason }, 'subscription refused');
      done(null, null); // SUBACK 0x80 for this filter; the connection stays up
      return;
    }
    done(null, sub);
  };

  const handle = (stream: Duplex, remoteAddress = 'unknown'): void => {
    if (!aedes) throw new BrokerError('HATAKE_ERR_BROKER_NOT_STARTED', 'broker not started');
    const guarded = new GuardedConnection(stream, {
      maxPacketBytes: config.broker.maxPacketBytes,
      preAuthMaxPacketBytes: PRE_AUTH_MAX_PACKET_BYTES,
      remoteAddress,
      onViolation: (err) => {
        const reason = (err as { code?: string }).code === 'HATAKE_ERR_BROKER_PACKET_TOO_LARGE' ? 'packet_too_large' : 'malformed_packet';
        metrics.connectionErrors.inc({ reason });
        log.warn({ remote: remoteAddress, reason, detail: err.message }, 'connection cut');
      },
    });
    sockets.add(guarded);
    guarded.once('close', () => sockets.delete(guarded));
    aedes.handle(guarded);
  };

  const listenOn = (server: NetServer | HttpServer, host: string, port: number, what: string): Promise<AddressInfo> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        // a listener error later (out of file descriptors, say) is logged, never thrown
        server.on('error', (err) => log.error({ err, listener: what }, 'listener error'));
        resolve(server.address() as AddressInfo);
      });
    });

  const closeServer = (server: NetServer | HttpServer | undefined): Promise<void> =>
    new Promise((resolve) => {
      if (!server?.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
    });

  return {
    metrics,
    get aedes() {
      return aedes;
    },
    handle,
    async start() {
      await auth.prepare();
      const store = await openPersistence(config, log);
      persistence = store;
      let broker: Aedes;
      try {
        broker = await Aedes.createBroker({
          id: brokerId(Date.now()),
          ...(store.aedes ? { persistence: store.aedes } : {}),
          preConnect: (client, packet, cb) => {
            (client as unknown as { duplicates: Record<string, number> }).duplicates = NO_DEDUPE;
            connecting.set(client, { will: packet.will, clean: packet.clean !== false });
            cb(null, true);
          },
          authenticate,
          authorizePublish,
          authorizeSubscribe,
          maxClientsIdLength: 128,
        });
      } catch (err) {
        // aedes reads the stored subscriptions at start: a record it cannot decode is a damaged store
        await store.close();
        persistence = undefined;
        throw store.loadError(err);
      }
      aedes = broker;
      try {
        return await listen(broker, store);
      } catch (err) {
        await stop();
        throw err;
      }
    },
    stop,
  };

  async function stop(): Promise<void> {
    for (const t of throttleTimers) clearTimeout(t);
    throttleTimers.clear();
    const closing = [closeServer(tcp), closeServer(http)];
    wss?.close();
    if (aedes) {
      const a = aedes;
      await new Promise<void>((resolve) => a.close(() => resolve()));
    }
    for (const s of sockets) s.destroy();
    await Promise.all(closing);
    await ops?.stop();
    ops = undefined;
    // after the clients: closing them publishes their wills, which are written to the store
    await persistence?.close();
    persistence = undefined;
    log.info('broker stopped');
  }

  async function listen(broker: Aedes, store: BrokerPersistence): Promise<BrokerAddresses> {
    broker.on('clientReady', (client) => {
      const p = principals.get(client);
      metrics.clients.inc({ type: p?.type ?? 'unknown' });
      log.info({ clientId: client.id, principal: p?.name, remote: addressOf(client) }, 'client connected');
    });
    broker.on('clientDisconnect', (client) => {
      const p = principals.get(client);
      if (p) metrics.clients.dec({ type: p.type });
      log.info({ clientId: client.id }, 'client disconnected');
    });
    broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err: { message: err.message } }, 'client error'));
    broker.on('connectionError', (client, err) => log.debug({ clientId: client.id, err: { message: err.message } }, 'connection error'));
    broker.on('keepaliveTimeout', (client) => {
      metrics.connectionErrors.inc({ reason: 'keepalive_timeout' });
      log.info({ clientId: client.id }, 'keepalive timeout');
    });
    // aedes emits 'error' when the store fails under a publish (disk full, say); unheard, it would end the process
    (broker as EventEmitter).on('error', (err: Error) => log.error({ err, persistence: store.type }, 'broker store error'));

    tcp = createNetServer((socket: Socket) => {
      // small packets both ways (PUBLISH, PUBACK): Nagle + delayed ACK would add ~40 ms to each round trip
      socket.setNoDelay(true);
      handle(socket, socket.remoteAddress ?? 'unknown');
    });
    const tcpAddr = await listenOn(tcp, config.broker.mqtt.host, config.broker.mqtt.port, 'mqtt');
    let wsAddr: AddressInfo | undefined;
    if (config.broker.ws.enabled) {
      const path = config.broker.ws.path;
      const server = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect with the "mqtt" subprotocol\n');
      });
      http = server;
      const ws = new WebSocketServer({ noServer: true, maxPayload: config.broker.maxPacketBytes + 16 });
      wss = ws;
      ws.on('error', (err) => log.error({ err }, 'websocket server error'));
      server.on('upgrade', (req: IncomingMessage, socket, head) => {
        socket.on('error', () => undefined);
        if (new URL(req.url ?? '/', 'http://x').pathname !== path) {
          socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
          return;
        }
        ws.handleUpgrade(req, socket, head, (conn) => {
          const stream = createWebSocketStream(conn);
          stream.on('error', () => undefined); // surfaced through the guarded connection
          handle(stream, req.socket.remoteAddress ?? 'unknown');
        });
      });
      wsAddr = await listenOn(server, config.broker.ws.host, config.broker.ws.port, 'mqtt-ws');
    }
    ops = buildOpsServer({
      host: config.broker.http.host,
      port: config.broker.http.port,
      registry: metrics.registry,
      logger: deps.logger,
      checks: [{ name: 'mqtt', check: () => (tcp?.listening && aedes && !aedes.closed ? undefined : 'MQTT listener is down') }],
    });
    const opsAddr = await ops.start();
    const addresses: BrokerAddresses = {
      mqtt: { host: tcpAddr.address, port: tcpAddr.port, url: `mqtt://${tcpAddr.address}:${tcpAddr.port}` },
      ...(wsAddr ? { ws: { host: wsAddr.address, port: wsAddr.port, url: `ws://${wsAddr.address}:${wsAddr.port}${config.broker.ws.path}` } } : {}),
      http: { host: opsAddr.host, port: opsAddr.port, url: `http://${opsAddr.host}:${opsAddr.port}` },
    };
    log.info({ addresses, persistence: store.type, dir: store.dir }, 'broker listening');
    return addresses;
  }
}
