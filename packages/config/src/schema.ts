/**
 * The one configuration schema. Every setting has a default, so an empty
 * file (or none) gives a working, if empty, deployment listening on loopback.
 */
import Type, { type Static } from 'typebox';
import { PHC_SCRYPT_PATTERN, ROLES } from '@hatake/auth';
import { DEVICE_KINDS, ID_PATTERN, SPREAD_MATERIALS } from '@hatake/protocol';

const id = (description: string) => Type.String({ pattern: ID_PATTERN, description });
const host = (description: string) => Type.String({ minLength: 1, maxLength: 255, default: '127.0.0.1', description });
const port = (def: number, description: string) => Type.Integer({ minimum: 0, maximum: 65535, default: def, description });
const hash = Type.Optional(Type.String({ pattern: PHC_SCRYPT_PATTERN, description: 'salted scrypt hash of the password (PHC string); never the password' }));
/** [longitude, latitude] in WGS84 degrees. */
const lonLat = Type.Tuple([Type.Number({ minimum: -180, maximum: 180 }), Type.Number({ minimum: -90, maximum: 90 })], {
  description: '[longitude, latitude], WGS84 degrees',
});

export const SERVICE_ROLES = ['ingest', 'gateway'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

const Listener = (defPort: number, description: string) =>
  Type.Object({ host: host('address to bind; loopback unless you mean it'), port: port(defPort, description) }, { default: {}, additionalProperties: false });

export const BrokerSettings = Type.Object(
  {
    mqtt: Listener(1883, 'MQTT over TCP port (0: any free port)'),
    ws: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        host: host('address to bind'),
        port: port(8083, 'MQTT over WebSocket port (0: any free port)'),
        path: Type.String({ default: '/mqtt', pattern: '^/[A-Za-z0-9/_-]*$' }),
      },
      { default: {}, additionalProperties: false },
    ),
    http: Listener(9101, '/metrics and /healthz port (0: any free port)'),
    maxPacketBytes: Type.Integer({
      minimum: 1024,
      maximum: 256 * 1024 * 1024,
      default: 2 * 1024 * 1024,
      description: 'largest MQTT packet the broker reads; a client sending more is disconnected. Keep above limits.maxPayloadBytes so oversized messages reach ingest and are dead-lettered with a reason',
    }),
    persistence: Type.Object(
      {
        type: Type.Union([Type.Literal('level'), Type.Literal('memory')], { default: 'level', description: 'level: sessions, queued QoS 1 messages and retained messages survive a broker restart (on disk); memory: they do not' }),
        dir: Type.String({ minLength: 1, default: 'broker', description: 'where the level store lives, relative to deployment.dataDir' }),
      },
      { default: {}, additionalProperties: false },
    ),
    authFailures: Type.Object(
      {
        maxAttempts: Type.Integer({ minimum: 1, default: 10, description: 'failed logins of one account from one address within the window before that pair is blocked (an address alone: 10 times as many)' }),
        windowSeconds: Type.Integer({ minimum: 1, default: 60 }),
        blockSeconds: Type.Integer({ minimum: 1, default: 60 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

export const MqttClientSettings = Type.Object(
  {
    url: Type.String({ default: 'mqtt://127.0.0.1:1883', pattern: '^(mqtts?|wss?)://', description: 'broker URL services and simulators connect to' }),
    protocolVersion: Type.Union([Type.Literal(4), Type.Literal(5)], { default: 4, description: '4 = MQTT 3.1.1 (the embedded broker), 5 = MQTT 5 (external brokers, shared subscriptions)' }),
    keepaliveSeconds: Type.Integer({ minimum: 5, maximum: 600, default: 30 }),
    reconnectMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000 }),
  },
  { default: {}, additionalProperties: false },
);

export const Limits = Type.Object(
  {
    maxPayloadBytes: Type.Integer({ minimum: 256, maximum: 16 * 1024 * 1024, default: 256 * 1024, description: 'largest message accepted by validation' }),
    maxBatchSamples: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000, description: 'most samples in one telemetry message' }),
    maxFutureSkewSeconds: Type.Integer({ minimum: 0, default: 300, description: 'how far a device clock may run ahead' }),
    devicePublishRate: Type.Number({ exclusiveMinimum: 0, default: 50, description: 'sustained messages per second per device' }),
    devicePublishBurst: Type.Integer({ minimum: 1, default: 200, description: 'messages a device may send at once above its rate' }),
    maxThrottleMs: Type.Integer({ minimum: 0, default: 2000, description: 'a device further behind its rate than this is disconnected instead of slowed' }),
  },
  { default: {}, additionalProperties: false },
);

export const Farm = Type.Object(
  {
    id: id('farm id'),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    fieldsFile: Type.Optional(Type.String({ minLength: 1, description: 'GeoJSON FeatureCollection of field boundaries (Polygon/MultiPolygon, properties.id and .name), relative to this file' })),
    fields: Type.Optional(Type.Unknown({ description: 'the same FeatureCollection inline, instead of fieldsFile' })),
  },
  { additionalProperties: false },
);

export const TractorSpec = Type.Object(
  {
    workingWidth: Type.Number({ minimum: 1, maximum: 60, default: 6, description: 'implement working width, m' }),
    sections: Type.Integer({ minimum: 1, maximum: 64, default: 8 }),
    targetRate: Type.Number({ minimum: 0, maximum: 5000, default: 40, description: 'application rate, kg/ha' }),
    workSpeed: Type.Number({ minimum: 0.5, maximum: 5, default: 2.4, description: 'speed on a swath, m/s' }),
    fuelTankLitres: Type.Number({ minimum: 10, maximum: 1000, default: 120 }),
    linkLossSeconds: Type.Number({ minimum: 0.5, maximum: 120, default: 3, description: 'in automatic mode, the machine stops itself (and raises its implement) when the supervisor heartbeat has been missing this long' }),
    silentSeconds: Type.Number({ minimum: 1, maximum: 3600, default: 10, description: 'the backend raises link_lost when nothing has come from the machine for this long' }),
    zoneMarginMeters: Type.Number({ minimum: 0, maximum: 500, default: 0, description: 'operating zone: the field boundary grown by this margin' }),
    zoneAutoStop: Type.Boolean({ default: true, description: 'send a stop when the machine leaves its operating zone in automatic mode' }),
  },
  { additionalProperties: false },
);

export const PlowSpec = Type.Object(
  {
    width: Type.Number({ minimum: 0.5, maximum: 12, default: 3.2, description: 'plow width, m' }),
    material: Type.Enum(SPREAD_MATERIALS, { default: 'sand' }),
    spreadRate: Type.Number({ minimum: 0, maximum: 200, default: 20, description: 'g/m² while clearing' }),
    workSpeed: Type.Number({ minimum: 1, maximum: 20, default: 8, description: 'speed while clearing, m/s' }),
    transitSpeed: Type.Number({ minimum: 1, maximum: 25, default: 12, description: 'speed in transit, m/s' }),
  },
  { additionalProperties: false },
);

export const Device = Type.Object(
  {
    id: id('device id; also its MQTT username and client id'),
    kind: Type.Enum(DEVICE_KINDS),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    farm: Type.Optional(id('farm it belongs to (tractors and sensors)')),
    field: Type.Optional(id('field it works (tractors) or stands in (sensors)')),
    home: Type.Optional(lonLat),
    location: Type.Optional(lonLat),
    route: Type.Optional(Type.Array(id('road id'), { minItems: 1, description: 'plows: roads driven in order' })),
    assigned: Type.Optional(Type.Array(id('road id'), { description: 'plows: roads cleared with the blade down; the rest of the route is transit' })),
    tractor: Type.Optional(TractorSpec),
    plow: Type.Optional(PlowSpec),
    passwordHash: hash,
  },
  { additionalProperties: false },
);

export const DeviceGroup = Type.Object(
  {
    prefix: id('ids are prefix-0001, prefix-0002, ...'),
    kind: Type.Enum(DEVICE_KINDS),
    count: Type.Integer({ minimum: 0, maximum: 100_000 }),
    farm: Type.Optional(id('farm of every member')),
    field: Type.Optional(id('field of every member (tractors, sensors)')),
    route: Type.Optional(Type.Array(id('road id'), { minItems: 1 })),
    assigned: Type.Optional(Type.Array(id('road id'))),
    passwordHash: hash,
  },
  { additionalProperties: false, description: 'synthetic devices for load tests, sharing one credential' },
);

export const User = Type.Object(
  {
    username: id('login name'),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    roles: Type.Array(Type.Enum(ROLES), { minItems: 1, uniqueItems: true }),
    farms: Type.Array(Type.String({ pattern: `(${ID_PATTERN})|^\\*$` }), { default: [], description: 'farm ids in scope, or ["*"] for all' }),
    passwordHash: hash,
  },
  { additionalProperties: false },
);

export const ServiceAccount = Type.Object(
  {
    username: id('MQTT username of the service'),
    role: Type.Enum(SERVICE_ROLES),
    passwordHash: hash,
  },
  { additionalProperties: false },
);

const secret = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: `${description}; secret: give it by environment, never in a committed file` }));

export const InfluxSettings = Type.Object(
  {
    url: Type.String({ default: 'http://127.0.0.1:8086', pattern: '^https?://', description: 'InfluxDB base URL (1.x, 2.x or 3.x; hatake speaks the v1 HTTP API they all serve)' }),
    database: Type.String({ default: 'hatake', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'database (1.x), or the bucket mapped to it (2.x DBRP, 3.x database)' }),
    retentionPolicy: Type.String({ default: 'hatake', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'retention policy written to and read from' }),
    retentionDays: Type.Integer({ minimum: 0, maximum: 36500, default: 0, description: 'duration of the retention policy when hatake creates it (0: keep forever)' }),
    createDatabase: Type.Boolean({ default: true, description: 'create the database and retention policy at start when the credentials allow' }),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'InfluxDB 1.x user (Basic auth)' })),
    password: secret('InfluxDB 1.x password'),
    token: secret('InfluxDB 2.x/3.x token (sent as "Authorization: Token …")'),
    batchSize: Type.Integer({ minimum: 1, maximum: 100_000, default: 5000, description: 'lines per write request' }),
    maxRetries: Type.Integer({ minimum: 0, maximum: 100, default: 5 }),
    maxRetryTimeMs: Type.Integer({ minimum: 1000, default: 180_000 }),
    gzip: Type.Enum(['auto', 'always', 'never'], {
      default: 'auto',
      description: 'gzip what goes to and comes from InfluxDB (write bodies larger than gzipThreshold, query answers): auto (only when InfluxDB is not on this machine: on loopback, compressing costs both sides CPU and saves nothing), always, never',
    }),
    gzipThreshold: Type.Integer({ minimum: 0, default: 1000, description: 'bodies larger than this (bytes) are gzipped when gzip says so' }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 300_000, default: 10_000 }),
  },
  { default: {}, additionalProperties: false },
);

export const StoreSettings = Type.Object(
  {
    adapter: Type.Enum(['embedded', 'influx'], { default: 'embedded', description: 'embedded: a DuckDB file in the data directory (one farm, zero setup); influx: InfluxDB' }),
    embedded: Type.Object({ file: Type.String({ minLength: 1, default: 'hatake.duckdb', description: 'relative to deployment.dataDir' }) }, { default: {}, additionalProperties: false }),
    influx: InfluxSettings,
  },
  { default: {}, additionalProperties: false },
);

const serviceLogin = (name: string) => ({
  username: Type.String({ pattern: ID_PATTERN, default: name, description: 'its MQTT service account' }),
  password: secret('password of that account'),
  clientId: Type.String({ minLength: 1, maxLength: 128, default: name, description: `MQTT client id: the account name, or name:<instance> (e.g. ${name}:2) when several run` }),
});

export const IngestSettings = Type.Object(
  {
    ...serviceLogin('ingest'),
    batchMaxSamples: Type.Integer({ minimum: 1, maximum: 100_000, default: 5000, description: 'write a batch when it has this many records…' }),
    batchMaxMs: Type.Integer({ minimum: 1, maximum: 60_000, default: 200, description: '…or when its oldest record has waited this long' }),
    batchMaxBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024, description: '…or when the messages in it add up to this many bytes' }),
    writeConcurrency: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'store writes in flight at once' }),
    maxUnacked: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 20_000, description: 'messages received and not yet durable before ingest stops reading from the broker (the broker holds the rest)' }),
    maxLagSeconds: Type.Integer({ minimum: 1, default: 60, description: '/healthz turns unhealthy when the oldest message not yet durable is older than this' }),
    shareGroup: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'subscribe as $share/<group>/… so several ingest instances split the telemetry (MQTT 5 external broker; the embedded broker refuses it)' }),
    ),
    spool: Type.Object(
      {
        dir: Type.String({ minLength: 1, default: 'spool', description: 'write-ahead spool directory, relative to deployment.dataDir; one per ingest instance' }),
        maxBytes: Type.Integer({ minimum: 64 * 1024, default: 1024 * 1024 * 1024, description: 'spool size bound; when full, ingest stops acknowledging and raises an alarm' }),
        segmentBytes: Type.Integer({ minimum: 4096, default: 16 * 1024 * 1024, description: 'spool file size; a file is deleted once everything in it is stored' }),
        afterMs: Type.Integer({ minimum: 1, maximum: 600_000, default: 2000, description: 'a batch the store has not confirmed within this time is spooled (so the broker gets its acknowledgements)' }),
      },
      { default: {}, additionalProperties: false },
    ),
    http: Listener(9102, '/metrics and /healthz port (0: any free port)'),
  },
  { default: {}, additionalProperties: false },
);

export const GatewaySettings = Type.Object(
  {
    ...serviceLogin('gateway'),
    http: Type.Object(
      {
        host: host('address to bind; loopback unless you mean it'),
        port: port(8080, 'REST, WebSocket, /metrics and /healthz (0: any free port)'),
        trustProxy: Type.Boolean({ default: false, description: 'take the client address from X-Forwarded-For (only behind a reverse proxy you run)' }),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: Type.Object(
      {
        tokenSecret: Type.Optional(Type.String({ minLength: 32, maxLength: 4096, description: 'HMAC key for session tokens, shared by every gateway instance; secret. Without it each start makes a random one (tokens die with the process)' })),
        tokenTtlSeconds: Type.Integer({ minimum: 60, maximum: 30 * 86400, default: 12 * 3600 }),
      },
      { default: {}, additionalProperties: false },
    ),
    ws: Type.Object(
      {
        maxClients: Type.Integer({ minimum: 1, default: 1000 }),
        highWaterBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024, description: 'a client with this much unsent is slow: it gets the latest sample per device, the rest is counted as dropped' }),
        maxMessageBytes: Type.Integer({ minimum: 256, maximum: 1024 * 1024, default: 16 * 1024, description: 'largest message a client may send' }),
      },
      { default: {}, additionalProperties: false },
    ),
    commands: Type.Object(
      {
        expirySeconds: Type.Object(
          {
            estop: Type.Integer({ minimum: 1, maximum: 3600, default: 10, description: 'emergency stop' }),
            stop: Type.Integer({ minimum: 1, maximum: 3600, default: 15, description: 'stop and pause' }),
            motion: Type.Integer({ minimum: 1, maximum: 3600, default: 30, description: 'resume, return_home, set_speed, start_mission' }),
          },
          { default: {}, additionalProperties: false, description: 'how long a command stays valid after it is issued; the machine refuses it afterwards' },
        ),
        ackTimeoutSeconds: Type.Object(
          {
            estop: Type.Number({ minimum: 0.1, maximum: 600, default: 2, description: 'an emergency stop not acknowledged within this raises an alarm' }),
            other: Type.Number({ minimum: 0.1, maximum: 600, default: 10 }),
          },
          { default: {}, additionalProperties: false, description: 'a command with no answer from the machine within this is timed_out' },
        ),
        completionTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 600, description: 'an accepted command not reported completed or failed within this is timed_out' }),
        armSeconds: Type.Integer({ minimum: 1, maximum: 60, default: 5, description: 'resume and start_mission are armed, then confirmed within this' }),
        leaseSeconds: Type.Integer({ minimum: 5, maximum: 3600, default: 30, description: 'a control lease lapses this long after the live session of its holder last renewed it' }),
        heartbeatMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000, description: 'supervisor heartbeat period while operators are watching' }),
      },
      { default: {}, additionalProperties: false },
    ),
    dashboard: Type.Object(
      {
        tileUrl: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 1024,
            pattern: '^(https?:)?//[^\\s]+$|^/[^\\s]*$',
            description: 'a raster tile URL template for the dashboard map ({z}/{x}/{y}, e.g. https://tiles.example/{z}/{x}/{y}.png); without it the map shows only field boundaries and roads (no external server)',
          }),
        ),
        tileAttribution: Type.String({ maxLength: 512, default: '', description: 'attribution shown with the tiles (required by most tile providers)' }),
        tileMaxZoom: Type.Integer({ minimum: 1, maximum: 24, default: 19 }),
        prescriptionUrl: Type.Optional(
          Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 1024, description: "the prescription service's URL as browsers reach it (its origin must be in prescription.corsOrigins); the dashboard offers the Prescriptions view only with it" }),
        ),
      },
      { default: {}, additionalProperties: false, description: 'the web dashboard the gateway serves at /' },
    ),
    api: Type.Object(
      {
        maxRangeDays: Type.Integer({ minimum: 1, maximum: 3660, default: 31 }),
        maxPoints: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000, description: 'most samples (or buckets) one telemetry request returns' }),
        defaultRangeMinutes: Type.Integer({ minimum: 1, default: 60 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

export const PrescriptionSettings = Type.Object(
  {
    host: host('address to bind; loopback unless you mean it'),
    port: port(8090, 'REST, /metrics and /healthz of the prescription service (0: any free port)'),
    dataDir: Type.String({ minLength: 1, default: 'prescriptions', description: 'where jobs live (uploads while they run, then their outputs), relative to deployment.dataDir; one service instance per directory' }),
    maxFileBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 * 1024, default: 200 * 1024 * 1024, description: 'largest uploaded file (one raster or the boundary); a larger one is refused with 413' }),
    maxUploadBytes: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024 * 1024, default: 500 * 1024 * 1024, description: 'largest upload, every file and field of one request together; a larger one is refused with 413' }),
    maxBoundaryBytes: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, default: 5 * 1024 * 1024, description: 'largest field boundary file (GeoJSON, parsed in memory)' }),
    maxConcurrentJobs: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'prescriptions computed at once (each can take a core and a few times its rasters in memory)' }),
    maxQueuedJobs: Type.Integer({ minimum: 0, maximum: 10_000, default: 10, description: 'jobs waiting for a turn; a new one beyond this is refused with 503' }),
    jobTimeoutMinutes: Type.Number({ minimum: 0.01, maximum: 24 * 60, default: 30, description: 'a run taking longer is stopped and its job failed' }),
    jobTtlHours: Type.Number({ minimum: 0.01, maximum: 24 * 365, default: 72, description: 'a finished job (its outputs) is removed this long after it finished' }),
    maxCells: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31, description: "most cells a layer may have; without it, the engine's own limit" })),
    jobMemoryMb: Type.Integer({ minimum: 64, maximum: 65_536, default: 2048, description: "heap limit of a run's own thread; a run that needs more fails alone, the service carries on" }),
    corsOrigins: Type.Optional(
      Type.Array(Type.String({ pattern: '^https?://[^\\s/]+$', maxLength: 256 }), {
        maxItems: 32,
        description: "origins (scheme://host:port) whose pages may call this service from a browser — the gateway's, for the dashboard's Prescriptions view; none when not set",
      }),
    ),
  },
  { default: {}, additionalProperties: false },
);

export const Simulation = Type.Object(
  {
    seed: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 20260401 }),
    sensorSpeedup: Type.Number({ minimum: 1, maximum: 3600, default: 60, description: 'sensor time acceleration: simulated seconds per real second' }),
  },
  { default: {}, additionalProperties: false },
);

export const HatakeConfig = Type.Object(
  {
    deployment: Type.Object(
      {
        name: Type.String({ default: 'hatake', minLength: 1, maxLength: 128 }),
        timezone: Type.String({ default: 'Asia/Tokyo', minLength: 1 }),
        dataDir: Type.String({ default: 'data', minLength: 1, description: 'where local state lives (credentials, embedded store), relative to the config file' }),
      },
      { default: {}, additionalProperties: false },
    ),
    broker: BrokerSettings,
    mqtt: MqttClientSettings,
    limits: Limits,
    credentialsFile: Type.Optional(Type.String({ minLength: 1, description: 'JSON file of password hashes by principal, relative to this file; merged with inline passwordHash' })),
    roadsFile: Type.Optional(Type.String({ minLength: 1, description: 'GeoJSON FeatureCollection of LineStrings with properties.id, .name and .class (1 = highest priority), relative to this file' })),
    roads: Type.Optional(Type.Unknown({ description: 'the same FeatureCollection inline, instead of roadsFile' })),
    farms: Type.Array(Farm, { default: [] }),
    devices: Type.Array(Device, { default: [] }),
    deviceGroups: Type.Array(DeviceGroup, { default: [] }),
    users: Type.Array(User, { default: [] }),
    services: Type.Array(ServiceAccount, { default: [] }),
    store: StoreSettings,
    ingest: IngestSettings,
    gateway: GatewaySettings,
    prescription: PrescriptionSettings,
    simulation: Simulation,
    log: Type.Object(
      { level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }) },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

/** The configuration as written (after defaults), before files are resolved. */
export type RawConfig = Static<typeof HatakeConfig>;
export type DeviceConfig = Static<typeof Device>;
export type DeviceGroupConfig = Static<typeof DeviceGroup>;
export type UserConfig = Static<typeof User>;
export type ServiceAccountConfig = Static<typeof ServiceAccount>;
export type TractorSpec = Static<typeof TractorSpec>;
export type PlowSpec = Static<typeof PlowSpec>;
export type LimitsConfig = Static<typeof Limits>;
export type BrokerConfig = Static<typeof BrokerSettings>;
export type MqttClientConfig = Static<typeof MqttClientSettings>;
export type StoreConfig = Static<typeof StoreSettings>;
export type InfluxConfig = Static<typeof InfluxSettings>;
export type IngestConfig = Static<typeof IngestSettings>;
export type GatewayConfig = Static<typeof GatewaySettings>;
export type PrescriptionConfig = Static<typeof PrescriptionSettings>;
