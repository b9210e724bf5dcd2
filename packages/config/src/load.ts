/**
 * Loading: file → environment overrides → defaults → schema → referenced
 * files (boundaries, roads, credentials) → cross-references. Every step runs
 * even when an earlier one found problems, and all problems are thrown at once
 * as one {@link ConfigError}. The result is deeply frozen.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { distance, pointOnFeature, point } from '@turf/turf';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { clientIdAllowed, explainInvalidId } from '@hatake/protocol';
import { emptyCredentials, readCredentials, type CredentialsFile } from './credentials.ts';
import { ConfigError } from './errors.ts';
import { checkFields, checkRoads, type ConfigIssue, type FieldDef, type RoadDef } from './geo.ts';
import {
  HatakeConfig,
  InfluxSettings,
  PlowSpec as PlowSpecSchema,
  TractorSpec as TractorSpecSchema,
  type DeviceConfig,
  type DeviceGroupConfig,
  type InfluxConfig,
  type PlowSpec,
  type RawConfig,
  type ServiceAccountConfig,
  type TractorSpec,
  type UserConfig,
} from './schema.ts';

/** Environment variables that are not setting overrides. */
export const ENV_CONFIG_FILE = 'HATAKE_CONFIG';

/** `store.influx` as the schema's defaults make it (no credentials): what tests and benchmarks start from. */
export function influxDefaults(): InfluxConfig {
  return Value.Default(InfluxSettings, {}) as InfluxConfig;
}
const ENV_PREFIX = 'HATAKE_';
const RESERVED_ENV = new Set([ENV_CONFIG_FILE]);

/** Plow route roads must meet within this distance. */
export const ROUTE_GAP_TOLERANCE_M = 30;

export type LonLat = readonly [number, number];

export interface FarmDef {
  readonly id: string;
  readonly name: string;
  readonly fields: readonly FieldDef[];
}

export interface DeviceDef {
  readonly id: string;
  readonly kind: DeviceConfig['kind'];
  readonly name: string;
  readonly farm?: string;
  readonly field?: string;
  /** Set for members of a synthetic device group. */
  readonly group?: string;
  readonly home?: LonLat;
  readonly location?: LonLat;
  readonly route?: readonly string[];
  readonly assigned?: readonly string[];
  readonly tractor?: TractorSpec;
  readonly plow?: PlowSpec;
  readonly passwordHash?: string;
}

export interface UserDef extends Omit<UserConfig, 'passwordHash'> {
  readonly passwordHash?: string;
}
export interface ServiceDef extends Omit<ServiceAccountConfig, 'passwordHash'> {
  readonly passwordHash?: string;
}

/** The loaded configuration: resolved, checked and frozen. */
export interface Config {
  /** Where it came from: the file (if any) and the directory relative paths are resolved against. */
  readonly source: { readonly file?: string; readonly dir: string };
  readonly deployment: RawConfig['deployment'] & { readonly dataDir: string };
  readonly broker: RawConfig['broker'];
  readonly mqtt: RawConfig['mqtt'];
  readonly limits: RawConfig['limits'];
  readonly simulation: RawConfig['simulation'];
  readonly log: RawConfig['log'];
  readonly store: RawConfig['store'];
  readonly ingest: RawConfig['ingest'];
  readonly gateway: RawConfig['gateway'];
  readonly prescription: RawConfig['prescription'];
  readonly farms: readonly FarmDef[];
  readonly roads: readonly RoadDef[];
  readonly devices: readonly DeviceDef[];
  readonly deviceGroups: readonly DeviceGroupConfig[];
  readonly users: readonly UserDef[];
  readonly services: readonly ServiceDef[];
}

export interface LoadConfigOptions {
  /** YAML or JSON file; without one, the defaults (plus environment) are the configuration. */
  readonly file?: string;
  /** `HATAKE_*` overrides, usually `process.env` (read by the caller, never here). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Report principals without a password hash (default true; the credentials tool turns it off). */
  readonly requireCredentials?: boolean;
  /** Hashes added to those of the file (tests, generated demo credentials). */
  readonly credentials?: CredentialsFile;
  /** Base for a relative `file` (default: process working directory). */
  readonly cwd?: string;
}

/** Loads the configuration from a file and the environment. Throws a {@link ConfigError} listing every problem. */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<Config> {
  const issues: ConfigIssue[] = [];
  let raw: unknown = {};
  let file: string | undefined;
  let dir = resolve(opts.cwd ?? '.');
  if (opts.file !== undefined) {
    file = resolve(dir, opts.file);
    dir = dirname(file);
    raw = await readStructured(file, opts.file, issues);
  }
  return buildConfig(raw ?? {}, { ...opts, baseDir: dir, ...(file !== undefined ? { file } : {}), preIssues: issues });
}

interface BuildOptions extends Omit<LoadConfigOptions, 'file' | 'cwd'> {
  readonly baseDir: string;
  readonly file?: string;
  readonly preIssues?: readonly ConfigIssue[];
}

/** Builds the configuration from an object (as if read from a file in `baseDir`). */
export async function buildConfig(input: unknown, opts: BuildOptions): Promise<Config> {
  const issues: ConfigIssue[] = [...(opts.preIssues ?? [])];
  const raw: Record<string, unknown> = isRecord(input) ? structuredClone(input) : {};
  if (!isRecord(input)) issues.push({ path: '', message: 'the configuration must be a mapping (YAML object)' });
  applyEnv(raw, opts.env ?? {}, issues);
  Value.Default(HatakeConfig, raw);
  schemaIssues(HatakeConfig, raw, '', issues);
  // Schema problems make the rest unreliable only where they are; continue with what is well-formed.
  const cfg = raw as unknown as RawConfig;
  const dir = opts.baseDir;

  const farms: FarmDef[] = [];
  for (const [i, farm] of entriesOf(cfg.farms)) {
    if (!isRecord(farm) || typeof farm.id !== 'string') continue;
    let collection: unknown;
    const where = `/farms/${i}`;
    if (farm.fieldsFile !== undefined && farm.fields !== undefined) issues.push({ path: where, message: 'give fieldsFile or fields, not both' });
    if (typeof farm.fieldsFile === 'string') collection = await readStructured(resolve(dir, farm.fieldsFile), `${farm.fieldsFile}#`, issues);
    else if (farm.fields !== undefined) collection = farm.fields;
    else issues.push({ path: where, message: 'a farm needs fieldsFile (or inline fields)' });
    const fields = collection === undefined ? [] : checkFields(collection, farm.id, typeof farm.fieldsFile === 'string' ? `${farm.fieldsFile}#` : `${where}/fields`, issues);
    farms.push({ id: farm.id, name: String(farm.name), fields });
  }

  let roads: RoadDef[] = [];
  if (cfg.roadsFile !== undefined && cfg.roads !== undefined) issues.push({ path: '/roads', message: 'give roadsFile or roads, not both' });
  if (typeof cfg.roadsFile === 'string') {
    const collection = await readStructured(resolve(dir, cfg.roadsFile), `${cfg.roadsFile}#`, issues);
    if (collection !== undefined) roads = checkRoads(collection, `${cfg.roadsFile}#`, issues);
  } else if (cfg.roads !== undefined) roads = checkRoads(cfg.roads, '/roads', issues);

  let credentials = emptyCredentials();
  if (typeof cfg.credentialsFile === 'string') {
    const path = resolve(dir, cfg.credentialsFile);
    const loaded = await readStructured(path, `${cfg.credentialsFile}#`, issues, { optional: true });
    if (loaded !== undefined) {
      const read = readCredentials(loaded);
      for (const p of read.problems) issues.push({ path: `${cfg.credentialsFile}#${p.path}`, message: p.message });
      credentials = read.credentials;
    }
  }
  if (opts.credentials) credentials = mergeCredentials(credentials, opts.credentials);

  const devices = resolveDevices(cfg, farms, roads, credentials, issues);
  const users = entriesOf(cfg.users).map(([i, u]) => {
    const passwordHash = u.passwordHash ?? credentials.users[u.username];
    for (const [j, f] of (Array.isArray(u.farms) ? u.farms : []).entries()) {
      if (f !== '*' && !farms.some((farm) => farm.id === f)) issues.push({ path: `/users/${i}/farms/${j}`, message: `unknown farm ${JSON.stringify(f)}` });
    }
    return { ...u, ...(passwordHash !== undefined ? { passwordHash } : {}) };
  });
  const services = arrayOf(cfg.services).map((s) => {
    const passwordHash = s.passwordHash ?? credentials.services[s.username];
    return { ...s, ...(passwordHash !== undefined ? { passwordHash } : {}) };
  });
  uniqueness(devices, users, services, issues);
  for (const [section, role] of [['ingest', 'ingest'], ['gateway', 'gateway']] as const) {
    const svc = cfg[section];
    if (!isRecord(svc) || typeof svc.username !== 'string' || typeof svc.clientId !== 'string') continue;
    if (!clientIdAllowed(svc.username, svc.clientId)) issues.push({ path: `/${section}/clientId`, message: `must be "${svc.username}" or "${svc.username}:<instance>"` });
    const account = services.find((x) => x.username === svc.username);
    if (account && account.role !== role) issues.push({ path: `/${section}/username`, message: `service account ${JSON.stringify(svc.username)} has role ${account.role}, not ${role}` });
  }
  if (opts.requireCredentials ?? true) {
    const missing = [
      ...devices.filter((d) => d.passwordHash === undefined && d.group === undefined).map((d) => `device ${d.id}`),
      ...arrayOf(cfg.deviceGroups).filter((g) => g.count > 0 && (g.passwordHash ?? credentials.groups[g.prefix]) === undefined).map((g) => `device group ${g.prefix}`),
      ...users.filter((u) => u.passwordHash === undefined).map((u) => `user ${u.username}`),
      ...services.filter((s) => s.passwordHash === undefined).map((s) => `service ${s.username}`),
    ];
    for (const who of missing) {
      issues.push({ path: '/credentialsFile', message: `${who} has no credential: set passwordHash, add it to the credentials file, or run \`pnpm hatake credentials init\`` });
    }
  }
  if (issues.length > 0) throw new ConfigError('HATAKE_ERR_CONFIG_INVALID', issues);

  const config: Config = {
    source: { ...(opts.file !== undefined ? { file: opts.file } : {}), dir },
    deployment: { ...cfg.deployment, dataDir: resolve(dir, cfg.deployment.dataDir) },
    broker: cfg.broker,
    mqtt: cfg.mqtt,
    limits: cfg.limits,
    simulation: cfg.simulation,
    log: cfg.log,
    store: cfg.store,
    ingest: cfg.ingest,
    gateway: cfg.gateway,
    prescription: cfg.prescription,
    farms,
    roads,
    devices,
    deviceGroups: arrayOf(cfg.deviceGroups).map((g) => {
      const passwordHash = g.passwordHash ?? credentials.groups[g.prefix];
      return { ...g, ...(passwordHash !== undefined ? { passwordHash } : {}) };
    }),
    users,
    services,
  };
  return deepFreeze(config);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The well-formed (object) items of a list with their original index, so issue paths point at the right entry. */
function entriesOf<T>(v: readonly T[] | undefined): [number, T][] {
  return Array.isArray(v) ? v.flatMap((x: T, i) => (isRecord(x) ? [[i, x] as [number, T]] : [])) : [];
}

function arrayOf<T>(v: readonly T[] | undefined): T[] {
  return entriesOf(v).map(([, x]) => x);
}

/** Reads YAML or JSON; problems become issues. */
async function readStructured(path: string, where: string, issues: ConfigIssue[], opts: { optional?: boolean } = {}): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (opts.optional && code === 'ENOENT') return undefined;
    issues.push({ path: where, message: `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : String(code ?? err)}` });
    return undefined;
  }
  try {
    return extname(path).toLowerCase() === '.json' || extname(path).toLowerCase() === '.geojson' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    // never echo file content: a broken secrets file must not print part of a password
    const detail = err instanceof YAMLParseError ? `${err.code} at line ${err.linePos?.[0].line ?? '?'}, column ${err.linePos?.[0].col ?? '?'}` : jsonErrorWithoutContent(err);
    issues.push({ path: where, message: `cannot parse ${path}: ${detail}` });
    return undefined;
  }
}

/** A JSON.parse error without the excerpt of the input V8 puts in its message. */
export function jsonErrorWithoutContent(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const position = /position (\d+)/.exec(message)?.[1];
  const kind = /^(Unexpected (?:token|end of JSON input|non-whitespace character)|Expected [^,"]+|Bad control character|Unterminated string)/.exec(message)?.[1] ?? 'invalid JSON';
  return position !== undefined ? `${kind.replace(/ token$/, ' character')} at position ${position}` : kind;
}

function camelKey(segment: string): string {
  return segment.replace(/_/g, '').toLowerCase();
}

interface SchemaNode {
  readonly type?: string;
  readonly properties?: Record<string, SchemaNode>;
  readonly items?: SchemaNode;
}

/** Applies `HATAKE_SECTION__KEY=value` overrides (`__` separates levels; values are JSON, or plain strings). */
function applyEnv(raw: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>, issues: ConfigIssue[]): void {
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (!name.startsWith(ENV_PREFIX) || RESERVED_ENV.has(name) || value === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split('__');
    let node: SchemaNode = HatakeConfig as unknown as SchemaNode;
    let target: Record<string, unknown> | unknown[] = raw;
    const path: (string | number)[] = [];
    let ok = true;
    for (const [i, seg] of segments.entries()) {
      const last = i === segments.length - 1;
      let key: string | number;
      let next: SchemaNode | undefined;
      if (node.type === 'array' && /^\d+$/.test(seg)) {
        key = Number(seg);
        next = node.items;
        if (!Array.isArray(target) || key >= target.length) {
          issues.push({ path: `env ${name}`, message: `index ${seg} does not exist in ${path.join('.') || 'the configuration'}` });
          ok = false;
          break;
        }
      } else {
        const found = Object.keys(node.properties ?? {}).find((p) => p.toLowerCase() === camelKey(seg));
        if (found === undefined || Array.isArray(target)) {
          issues.push({ path: `env ${name}`, message: `unknown setting ${JSON.stringify(seg.toLowerCase())}${path.length ? ` in ${path.join('.')}` : ''}` });
          ok = false;
          break;
        }
        key = found;
        next = node.properties?.[found];
      }
      path.push(key);
      if (last) break;
      const container = target as Record<string | number, unknown>;
      if (container[key] === undefined) container[key] = next?.type === 'array' ? [] : {};
      target = container[key] as Record<string, unknown>;
      node = next ?? {};
    }
    if (!ok) continue;
    let parsed: unknown = value;
    try {
      parsed = JSON.parse(value);
    } catch {
      // a plain string
    }
    (target as Record<string | number, unknown>)[path[path.length - 1]!] = parsed;
  }
}

const compiled = new WeakMap<TSchema, ReturnType<typeof Compile>>();

function schemaIssues(schema: TSchema, value: unknown, prefix: string, issues: ConfigIssue[]): void {
  let v = compiled.get(schema);
  if (!v) {
    v = Compile(schema);
    compiled.set(schema, v);
  }
  if (v.Check(value)) return;
  for (const e of v.Errors(value)) {
    if (e.keyword === 'boolean') continue;
    if (e.keyword === 'required') {
      for (const p of (e.params as { requiredProperties?: string[] }).requiredProperties ?? []) {
        issues.push({ path: `${prefix}${e.instancePath}/${p}`, message: 'is required' });
      }
    } else if (e.keyword === 'additionalProperties') {
      for (const p of (e.params as { additionalProperties?: string[] }).additionalProperties ?? []) {
        issues.push({ path: `${prefix}${e.instancePath}/${p}`, message: 'is not a setting (misspelt?)' });
      }
    } else if (e.keyword === 'pattern' && /passwordHash$/.test(e.instancePath)) {
      issues.push({ path: `${prefix}${e.instancePath}`, message: 'must be a scrypt hash ($scrypt$ln=..,r=..,p=..$salt$hash), never a plain password; make one with `pnpm hatake credentials hash`' });
    } else {
      issues.push({ path: `${prefix}${e.instancePath}`, message: e.message });
    }
  }
}

function mergeCredentials(a: CredentialsFile, b: CredentialsFile): CredentialsFile {
  return {
    version: 1,
    devices: { ...a.devices, ...b.devices },
    groups: { ...a.groups, ...b.groups },
    users: { ...a.users, ...b.users },
    services: { ...a.services, ...b.services },
  };
}

function padIndex(n: number, count: number): string {
  return String(n).padStart(Math.max(4, String(count).length), '0');
}

function resolveDevices(cfg: RawConfig, farms: readonly FarmDef[], roads: readonly RoadDef[], credentials: CredentialsFile, issues: ConfigIssue[]): DeviceDef[] {
  const out: DeviceDef[] = [];
  const roadIds = new Set(roads.map((r) => r.id));
  const placement = (d: Pick<DeviceConfig, 'kind' | 'farm' | 'field' | 'route' | 'assigned'>, where: string): FieldDef | undefined => {
    let field: FieldDef | undefined;
    if (d.farm !== undefined) {
      const farm = farms.find((f) => f.id === d.farm);
      if (!farm) issues.push({ path: `${where}/farm`, message: `unknown farm ${JSON.stringify(d.farm)}` });
      else if (d.field !== undefined) {
        field = farm.fields.find((f) => f.id === d.field);
        if (!field) issues.push({ path: `${where}/field`, message: `farm ${farm.id} has no field ${JSON.stringify(d.field)}` });
      }
    }
    if (d.kind === 'tractor' && (d.farm === undefined || d.field === undefined)) issues.push({ path: where, message: 'a tractor needs farm and field' });
    if (d.kind === 'sensor' && d.farm === undefined) issues.push({ path: where, message: 'a sensor needs a farm' });
    if (d.kind === 'plow') {
      if (d.route === undefined) issues.push({ path: where, message: 'a plow needs a route (road ids)' });
      for (const [j, r] of (d.route ?? []).entries()) {
        if (!roadIds.has(r)) issues.push({ path: `${where}/route/${j}`, message: `unknown road ${JSON.stringify(r)}` });
      }
      for (const [j, r] of (d.assigned ?? []).entries()) {
        if (!(d.route ?? []).includes(r)) issues.push({ path: `${where}/assigned/${j}`, message: `road ${JSON.stringify(r)} is not on the route` });
      }
      checkRouteContinuity(d.route ?? [], roads, where, issues);
    } else if (d.route !== undefined || d.assigned !== undefined) {
      issues.push({ path: where, message: 'route and assigned apply to plows only' });
    }
    return field;
  };

  for (const [i, d] of entriesOf(cfg.devices)) {
    const where = `/devices/${i}`;
    if (typeof d.id !== 'string' || typeof d.kind !== 'string') continue;
    const field = placement(d, where);
    if (d.tractor !== undefined && d.kind !== 'tractor') issues.push({ path: `${where}/tractor`, message: 'tractor settings on a non-tractor' });
    if (d.plow !== undefined && d.kind !== 'plow') issues.push({ path: `${where}/plow`, message: 'plow settings on a non-plow' });
    const passwordHash = d.passwordHash ?? credentials.devices[d.id];
    const location = d.location ?? (d.kind === 'sensor' && field ? (pointOnFeature(field.boundary).geometry.coordinates as unknown as LonLat) : undefined);
    out.push({
      id: d.id,
      kind: d.kind,
      name: d.name,
      ...(d.farm !== undefined ? { farm: d.farm } : {}),
      ...(d.field !== undefined ? { field: d.field } : {}),
      ...(d.home !== undefined ? { home: d.home } : {}),
      ...(location !== undefined ? { location } : {}),
      ...(d.route !== undefined ? { route: d.route } : {}),
      ...(d.assigned !== undefined ? { assigned: d.assigned } : {}),
      ...(d.kind === 'tractor' ? { tractor: Value.Default(TractorSpecSchema, structuredClone(d.tractor ?? {})) as TractorSpec } : {}),
      ...(d.kind === 'plow' ? { plow: Value.Default(PlowSpecSchema, structuredClone(d.plow ?? {})) as PlowSpec } : {}),
      ...(passwordHash !== undefined ? { passwordHash } : {}),
    });
  }
  for (const [i, g] of entriesOf(cfg.deviceGroups)) {
    const where = `/deviceGroups/${i}`;
    if (typeof g.prefix !== 'string' || typeof g.kind !== 'string' || !Number.isInteger(g.count)) continue;
    const field = placement(g, where);
    const passwordHash = g.passwordHash ?? credentials.groups[g.prefix];
    const location = g.kind === 'sensor' && field ? (pointOnFeature(field.boundary).geometry.coordinates as unknown as LonLat) : undefined;
    for (let n = 1; n <= g.count; n++) {
      const id = `${g.prefix}-${padIndex(n, g.count)}`;
      const why = explainInvalidId(id);
      if (why !== undefined) {
        issues.push({ path: `${where}/prefix`, message: `member id ${id} ${why}` });
        break;
      }
      out.push({
        id,
        kind: g.kind,
        name: `${g.prefix} #${n}`,
        group: g.prefix,
        ...(g.farm !== undefined ? { farm: g.farm } : {}),
        ...(g.field !== undefined ? { field: g.field } : {}),
        ...(location !== undefined ? { location } : {}),
        ...(g.route !== undefined ? { route: g.route } : {}),
        ...(g.assigned !== undefined ? { assigned: g.assigned } : {}),
        ...(g.kind === 'tractor' ? { tractor: Value.Default(TractorSpecSchema, {}) as TractorSpec } : {}),
        ...(g.kind === 'plow' ? { plow: Value.Default(PlowSpecSchema, {}) as PlowSpec } : {}),
        ...(passwordHash !== undefined ? { passwordHash } : {}),
      });
    }
  }
  return out;
}

function checkRouteContinuity(route: readonly string[], roads: readonly RoadDef[], where: string, issues: ConfigIssue[]): void {
  let prevEnds: LonLat[] | undefined;
  for (const [j, id] of route.entries()) {
    const road = roads.find((r) => r.id === id);
    if (!road) {
      prevEnds = undefined;
      continue;
    }
    const c = road.geometry.coordinates;
    const ends: LonLat[] = [c[0] as unknown as LonLat, c[c.length - 1] as unknown as LonLat];
    if (prevEnds) {
      let best = Infinity;
      for (const a of prevEnds) for (const b of ends) best = Math.min(best, distance(point([...a]), point([...b]), { units: 'meters' }));
      if (best > ROUTE_GAP_TOLERANCE_M) {
        issues.push({ path: `${where}/route/${j}`, message: `road ${id} does not meet the previous road of the route (nearest ends ${Math.round(best)} m apart; at most ${ROUTE_GAP_TOLERANCE_M} m)` });
      }
    }
    prevEnds = ends;
  }
}

function uniqueness(devices: readonly DeviceDef[], users: readonly UserDef[], services: readonly ServiceDef[], issues: ConfigIssue[]): void {
  const seen = new Map<string, string>();
  const claim = (name: string, what: string): void => {
    const prev = seen.get(name);
    if (prev !== undefined) issues.push({ path: '', message: `${what} ${name} has the same MQTT username as ${prev}` });
    else seen.set(name, `${what} ${name}`);
  };
  for (const d of devices) claim(d.id, 'device');
  for (const s of services) claim(s.username, 'service');
  const userNames = new Set<string>();
  for (const u of users) {
    if (userNames.has(u.username)) issues.push({ path: '', message: `user ${u.username} is defined twice` });
    userNames.add(u.username);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Resolves a path from the config against its directory (absolute paths pass through). */
export function resolveFrom(config: Config, path: string): string {
  return isAbsolute(path) ? path : resolve(config.source.dir, path);
}
