/**
 * A small deployment for tests: two farms near Iwamizawa, a short road
 * network, devices of every kind, both service accounts and a user per role —
 * with known passwords (hashed cheaply: tests only) and every listener on
 * loopback port 0.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SCRYPT_COST, hashSecret } from '@hatake/auth';
import { buildConfig, type Config } from '@hatake/config';

export interface TestDeployment {
  readonly config: Config;
  /** Plaintext password of every principal (devices, groups, users, services), by name. */
  readonly secrets: Readonly<Record<string, string>>;
}

export interface TestDeploymentOptions {
  /** Merged over the generated raw configuration (top-level keys replace). */
  readonly overrides?: Record<string, unknown>;
  readonly env?: Readonly<Record<string, string>>;
}

const rect = (lon: number, lat: number, dLon: number, dLat: number) => ({
  type: 'Polygon',
  coordinates: [[[lon, lat], [lon + dLon, lat], [lon + dLon, lat + dLat], [lon, lat + dLat], [lon, lat]]],
});

/** Field boundaries of the test farms (about 3.2 ha and 2.4 ha). */
export const TEST_FIELDS = {
  north: { farm: 'north', field: 'n1', polygon: rect(141.7, 43.23, 0.004, 0.001) },
  south: { farm: 'south', field: 's1', polygon: rect(141.8, 43.12, 0.003, 0.001) },
} as const;

const road = (id: string, cls: number, coords: number[][]) => ({ type: 'Feature', properties: { id, name: `Road ${id}`, class: cls }, geometry: { type: 'LineString', coordinates: coords } });

/** Builds the test deployment. Every call makes fresh passwords. */
export async function testDeployment(opts: TestDeploymentOptions = {}): Promise<TestDeployment> {
  // devices and groups an override brings get passwords too
  const named = (key: string, field: string): string[] =>
    Array.isArray(opts.overrides?.[key]) ? (opts.overrides[key] as Record<string, unknown>[]).map((x) => x[field]).filter((x): x is string => typeof x === 'string') : [];
  const principals = {
    devices: [...new Set(['t1', 't2', 'p1', 's1', 's2', ...named('devices', 'id')])],
    users: ['admin', 'op-north', 'op-south', 'agro', 'crew', 'view-north'],
    services: ['ingest', 'gateway'],
    groups: [...new Set(['load', ...named('deviceGroups', 'prefix')])],
  };
  const secrets: Record<string, string> = {};
  const hashes: Record<string, string> = {};
  const all = [...principals.devices, ...principals.users, ...principals.services, ...principals.groups];
  await Promise.all(
    all.map(async (name) => {
      secrets[name] = `pw-${name}-${Math.random().toString(36).slice(2)}`;
      hashes[name] = await hashSecret(secrets[name], TEST_SCRYPT_COST);
    }),
  );
  const pick = (names: string[]) => Object.fromEntries(names.map((n) => [n, hashes[n]!]));
  const raw: Record<string, unknown> = {
    // a fresh data directory per deployment: spools, broker persistence and the embedded store never leak between tests
    deployment: { name: 'test', dataDir: await mkdtemp(join(tmpdir(), 'hatake-test-')) },
    broker: { mqtt: { port: 0 }, ws: { port: 0 }, http: { port: 0 }, authFailures: { maxAttempts: 1000 } },
    farms: [
      { id: 'north', name: 'North farm', fields: { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { id: 'n1', name: 'N1' }, geometry: TEST_FIELDS.north.polygon }] } },
      { id: 'south', name: 'South farm', fields: { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { id: 's1', name: 'S1' }, geometry: TEST_FIELDS.south.polygon }] } },
    ],
    roads: {
      type: 'FeatureCollection',
      features: [
        road('ra', 1, [[141.77, 43.19], [141.775, 43.19]]),
        road('rb', 2, [[141.775, 43.19], [141.775, 43.194]]),
        road('rc', 3, [[141.775, 43.194], [141.78, 43.194]]),
      ],
    },
    devices: [
      { id: 't1', kind: 'tractor', name: 'Tractor 1', farm: 'north', field: 'n1', tractor: { workingWidth: 12 } },
      { id: 't2', kind: 'tractor', name: 'Tractor 2', farm: 'south', field: 's1', tractor: { workingWidth: 8 } },
      { id: 'p1', kind: 'plow', name: 'Plow 1', route: ['ra', 'rb', 'rc'], assigned: ['rb', 'rc'] },
      { id: 's1', kind: 'sensor', name: 'Sensor 1', farm: 'north', field: 'n1' },
      { id: 's2', kind: 'sensor', name: 'Sensor 2', farm: 'south', field: 's1' },
    ],
    deviceGroups: [{ prefix: 'load', kind: 'sensor', count: 20, farm: 'north', field: 'n1' }],
    users: [
      { username: 'admin', name: 'Admin', roles: ['admin'], farms: ['*'] },
      { username: 'op-north', name: 'Operator north', roles: ['operator'], farms: ['north'] },
      { username: 'op-south', name: 'Operator south', roles: ['operator'], farms: ['south'] },
      { username: 'agro', name: 'Agronomist', roles: ['agronomist'], farms: ['north', 'south'] },
      { username: 'crew', name: 'Road crew', roles: ['road_crew'] },
      { username: 'view-north', name: 'Viewer north', roles: ['viewer'], farms: ['north'] },
    ],
    services: [
      { username: 'ingest', role: 'ingest' },
      { username: 'gateway', role: 'gateway' },
    ],
    simulation: { seed: 7 },
    ...opts.overrides,
  };
  const config = await buildConfig(raw, {
    baseDir: process.cwd(),
    env: opts.env ?? {},
    credentials: { version: 1, devices: pick(principals.devices), groups: pick(principals.groups), users: pick(principals.users), services: pick(principals.services) },
  });
  return { config, secrets };
}

/** The environment that runs the demo (the sample configuration) in `dataDir` on free loopback ports only. */
export function demoTestEnv(dataDir: string): Record<string, string> {
  return {
    HATAKE_DEPLOYMENT__DATA_DIR: dataDir,
    HATAKE_CREDENTIALS_FILE: `${dataDir}/credentials.json`,
    HATAKE_BROKER__MQTT__PORT: '0',
    HATAKE_BROKER__WS__PORT: '0',
    HATAKE_BROKER__HTTP__PORT: '0',
    HATAKE_INGEST__HTTP__PORT: '0',
    HATAKE_GATEWAY__HTTP__PORT: '0',
    HATAKE_PRESCRIPTION__PORT: '0',
  };
}
