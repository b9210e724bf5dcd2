import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TEST_SCRYPT_COST, hashSecret } from '@hatake/auth';
import { ConfigError, buildConfig, findDevice, findField, loadConfig, type ConfigIssue } from '@hatake/config';

const repoConfig = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/hatake.yaml');

async function issuesOf(p: Promise<unknown>): Promise<readonly ConfigIssue[]> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('HATAKE_ERR_CONFIG_INVALID');
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

const square = (lon: number, lat: number, d = 0.002) => ({
  type: 'Polygon',
  coordinates: [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]],
});

describe('the sample deployment (config/hatake.yaml)', () => {
  it('loads, with what the demo needs', async () => {
    const c = await loadConfig({ file: repoConfig, requireCredentials: false });
    const named = c.devices.filter((d) => d.group === undefined);
    expect(c.farms.length).toBeGreaterThanOrEqual(2);
    expect(named.filter((d) => d.kind === 'tractor')).toHaveLength(4);
    expect(named.filter((d) => d.kind === 'plow')).toHaveLength(3);
    expect(named.filter((d) => d.kind === 'sensor')).toHaveLength(6);
    expect(new Set(c.users.flatMap((u) => u.roles))).toEqual(new Set(['admin', 'operator', 'agronomist', 'road_crew', 'viewer']));
    expect(c.roads.length).toBeGreaterThanOrEqual(8);
    expect(new Set(c.roads.map((r) => r.class))).toEqual(new Set([1, 2, 3]));
    for (const farm of c.farms) {
      for (const field of farm.fields) {
        expect(field.areaHa).toBeGreaterThan(1);
        expect(field.areaHa).toBeLessThan(20);
      }
    }
    // Iwamizawa, Hokkaido
    for (const d of named) {
      const p = d.location ?? d.home;
      if (p) {
        expect(p[0]).toBeGreaterThan(141.6);
        expect(p[0]).toBeLessThan(141.9);
        expect(p[1]).toBeGreaterThan(43.05);
        expect(p[1]).toBeLessThan(43.3);
      }
    }
    // defaults are filled in; everything listens on loopback
    expect(c.broker.mqtt.host).toBe('127.0.0.1');
    expect(c.broker.ws.host).toBe('127.0.0.1');
    expect(c.broker.http.host).toBe('127.0.0.1');
    expect(findDevice(c, 't-kita-1')?.tractor?.workingWidth).toBe(12);
    expect(findDevice(c, 't-kita-2')?.tractor?.fuelTankLitres).toBe(120);
    expect(findField(c, 'kitamura', 'kita-1')?.boundary.geometry.type).toBe('Polygon');
    // a sensor without an explicit location stands inside its field
    expect(findDevice(c, 's-kuri-1')?.location).toHaveLength(2);
    // synthetic groups expand to numbered devices
    expect(findDevice(c, 'load-t-0001')).toMatchObject({ kind: 'tractor', group: 'load-t', farm: 'kitamura', field: 'kita-1' });
    expect(Object.isFrozen(c) && Object.isFrozen(c.devices) && Object.isFrozen(c.devices[0])).toBe(true);
  });

  it('keeps no password in the repository: without generated credentials every principal is reported', async () => {
    // (pointing credentialsFile away from a data/ folder a local demo may have created)
    const issues = await issuesOf(loadConfig({ file: repoConfig, env: { HATAKE_CREDENTIALS_FILE: '/nonexistent/credentials.json' } }));
    expect(issues.map((i) => i.message)).toContain('device t-kita-1 has no credential: set passwordHash, add it to the credentials file, or run `pnpm hatake credentials init`');
    expect(issues.some((i) => i.message.startsWith('user admin has no credential'))).toBe(true);
    expect(issues.some((i) => i.message.startsWith('service ingest has no credential'))).toBe(true);
  });
});

describe('defaults and environment', () => {
  it('a missing file is one clear error, not a crash', async () => {
    const issues = await issuesOf(loadConfig({ file: '/nonexistent/hatake.yaml' }));
    expect(issues).toEqual([{ path: '/nonexistent/hatake.yaml', message: 'cannot read /nonexistent/hatake.yaml: no such file' }]);
  });

  it('no file at all gives a working default configuration on loopback', async () => {
    const c = await loadConfig({ env: {} });
    expect(c.broker.mqtt).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(c.limits.maxPayloadBytes).toBe(262144);
    expect(c.devices).toEqual([]);
  });

  it('environment overrides any setting, including inside lists', async () => {
    const hash = await hashSecret('pw', TEST_SCRYPT_COST);
    const c = await buildConfig(
      { users: [{ username: 'u1', name: 'U', roles: ['viewer'], farms: [] }] },
      {
        baseDir: '/tmp',
        env: {
          HATAKE_BROKER__MQTT__PORT: '11883',
          HATAKE_LIMITS__MAX_PAYLOAD_BYTES: '65536',
          HATAKE_BROKER__WS__ENABLED: 'false',
          HATAKE_MQTT__URL: 'mqtt://broker.example:1883',
          HATAKE_USERS__0__PASSWORD_HASH: hash,
          HATAKE_CONFIG: 'ignored: it names the file',
          PATH: '/usr/bin',
        },
      },
    );
    expect(c.broker.mqtt.port).toBe(11883);
    expect(c.limits.maxPayloadBytes).toBe(65536);
    expect(c.broker.ws.enabled).toBe(false);
    expect(c.mqtt.url).toBe('mqtt://broker.example:1883');
    expect(c.users[0]?.passwordHash).toBe(hash);
  });
});

describe('a broken configuration reports all of its errors at once', () => {
  it('schema, references, geometry, credentials and environment together', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hatake-config-'));
    await mkdir(join(dir, 'fields'));
    await writeFile(
      join(dir, 'fields', 'bow.geojson'),
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          { type: 'Feature', properties: { id: 'bow', name: 'Bow tie' }, geometry: { type: 'Polygon', coordinates: [[[141.7, 43.2], [141.702, 43.202], [141.702, 43.2], [141.7, 43.202], [141.7, 43.2]]] } },
          { type: 'Feature', properties: { id: 'swapped', name: 'Lat/lon swapped' }, geometry: { type: 'Polygon', coordinates: [[[43.2, 141.7], [43.21, 141.7], [43.21, 141.71], [43.2, 141.7]]] } },
          { type: 'Feature', properties: { id: 'open', name: 'Open ring' }, geometry: { type: 'Polygon', coordinates: [[[141.7, 43.2], [141.71, 43.2], [141.71, 43.21], [141.7, 43.21]]] } },
          { type: 'Feature', properties: { id: 'ok', name: 'Fine' }, geometry: square(141.7, 43.2) },
          { type: 'Feature', properties: { id: 'a road', name: 'Line' }, geometry: { type: 'LineString', coordinates: [[141.7, 43.2], [141.71, 43.2]] } },
        ],
      }),
    );
    await writeFile(
      join(dir, 'hatake.yaml'),
      [
        'broker:',
        '  mqtt: { port: "eighteen" }',
        '  mqttt: {}',
        'limits: { maxPayloadBytes: -5 }',
        'farms:',
        '  - { id: f1, name: Farm, fieldsFile: fields/bow.geojson }',
        '  - { id: f2, name: Farm 2, fieldsFile: fields/missing.geojson }',
        'devices:',
        '  - { id: "bad id", kind: tractor, name: T }',
        '  - { id: t2, kind: tractor, name: T2, farm: nofarm, field: x }',
        '  - { id: t3, kind: tractor, name: T3, farm: f1, field: nofield }',
        '  - { id: p1, kind: plow, name: P1, route: [nowhere] }',
        '  - { id: t4, kind: boat, name: B }',
        '  - { id: s1, kind: sensor, name: S, farm: f1, passwordHash: "hunter2" }',
        '  - { id: s1, kind: sensor, name: S again, farm: f1 }',
        'users:',
        '  - { username: u1, name: U, roles: [overlord], farms: [f9] }',
      ].join('\n'),
    );
    const issues = await issuesOf(loadConfig({ file: join(dir, 'hatake.yaml'), env: { HATAKE_BROKER__NOPE: '1', HATAKE_USERS__5__NAME: 'x' } }));
    const text = issues.map((i) => `${i.path}: ${i.message}`);
    const expectSome = (re: RegExp): void => {
      expect(text.some((t) => re.test(t)), `no issue matches ${re}:\n${text.join('\n')}`).toBe(true);
    };
    expectSome(/^\/broker\/mqtt\/port: must be integer/);
    expectSome(/^\/broker\/mqttt: is not a setting/);
    expectSome(/^\/limits\/maxPayloadBytes: must be >= 256/);
    expectSome(/^\/devices\/0\/id: must match pattern/);
    expectSome(/^\/devices\/1\/farm: unknown farm "nofarm"/);
    expectSome(/^\/devices\/2\/field: farm f1 has no field "nofield"/);
    expectSome(/^\/devices\/3\/route\/0: unknown road "nowhere"/);
    expectSome(/^\/devices\/4\/kind: must be equal to one of the allowed values/);
    expectSome(/^\/devices\/5\/passwordHash: must be a scrypt hash .* never a plain password/);
    expectSome(/device s1 has the same MQTT username as device s1/);
    expectSome(/^\/users\/0\/roles\/0: must be equal to one of the allowed values/);
    expectSome(/^\/users\/0\/farms\/0: unknown farm "f9"/);
    expectSome(/^fields\/bow\.geojson#\/features\/0\/geometry: boundary crosses itself/);
    expectSome(/^fields\/bow\.geojson#\/features\/1\/geometry\/coordinates\/0\/0: position \[43\.2, 141\.7\] is outside WGS84 \(longitude first/);
    expectSome(/^fields\/bow\.geojson#\/features\/2\/geometry\/coordinates\/0: a polygon ring must be closed/);
    expectSome(/^fields\/bow\.geojson#\/features\/4\/properties\/id: id must match/);
    expectSome(/^fields\/bow\.geojson#\/features\/4\/geometry: a field boundary must be a Polygon or MultiPolygon \(got LineString\)/);
    expectSome(/^fields\/missing\.geojson#: cannot read .*missing\.geojson: no such file/);
    expectSome(/^env HATAKE_BROKER__NOPE: unknown setting "nope" in broker/);
    expectSome(/^env HATAKE_USERS__5__NAME: index 5 does not exist in users/);
    expectSome(/user u1 has no credential/);
    // the plain password is never echoed back
    expect(text.join('\n')).not.toContain('hunter2');
    expect(issues.length).toBeGreaterThanOrEqual(20);
  });

  it('a YAML syntax error says where', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hatake-config-'));
    await writeFile(join(dir, 'bad.yaml'), 'broker:\n  mqtt: { port: 1883\nlimits: [\n');
    const issues = await issuesOf(loadConfig({ file: join(dir, 'bad.yaml') }));
    expect(issues[0]?.message).toMatch(/cannot parse .*bad\.yaml: .* at line \d+, column \d+/);
  });

  it('plow routes must connect and assigned roads must be on the route', async () => {
    const line = (id: string, coords: number[][]) => ({ type: 'Feature', properties: { id, name: id, class: 2 }, geometry: { type: 'LineString', coordinates: coords } });
    const issues = await issuesOf(
      buildConfig(
        {
          roads: {
            type: 'FeatureCollection',
            features: [line('a', [[141.70, 43.20], [141.71, 43.20]]), line('b', [[141.71, 43.20], [141.71, 43.21]]), line('far', [[141.80, 43.30], [141.81, 43.30]])],
          },
          devices: [{ id: 'p1', kind: 'plow', name: 'P', route: ['a', 'b', 'far'], assigned: ['a', 'c'] }],
        },
        { baseDir: '/tmp', requireCredentials: false },
      ),
    );
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      expect.stringMatching(/^\/devices\/0\/assigned\/1: road "c" is not on the route/),
      expect.stringMatching(/^\/devices\/0\/route\/2: road far does not meet the previous road of the route \(nearest ends \d+ m apart; at most 30 m\)/),
    ]);
  });
});

describe('credentials file', () => {
  it('a broken file is reported without echoing its content', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hatake-config-'));
    await writeFile(join(dir, 'creds.json'), '{"version":1,"users":{"u1": hunter2-plaintext}}');
    const issues = await issuesOf(buildConfig({ credentialsFile: 'creds.json' }, { baseDir: dir }));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/^cannot parse .*creds\.json: Unexpected token$/);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
  });

  it('issue paths name the right entry even after a malformed one', async () => {
    const issues = await issuesOf(buildConfig({ devices: ['not an object', { id: 't9', kind: 'tractor', name: 'T9', farm: 'nowhere', field: 'x' }] }, { baseDir: '/tmp', requireCredentials: false }));
    expect(issues.map((i) => i.path)).toContain('/devices/1/farm');
    expect(issues.map((i) => i.path)).toContain('/devices/0');
  });

  it('supplies hashes by principal and refuses anything that is not a hash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hatake-config-'));
    const hash = await hashSecret('pw', TEST_SCRYPT_COST);
    await writeFile(join(dir, 'creds.json'), JSON.stringify({ version: 1, devices: {}, groups: { g: hash }, users: { u1: hash }, services: { ingest: 'plaintext-password' } }));
    const base = {
      credentialsFile: 'creds.json',
      farms: [{ id: 'f', name: 'F', fields: { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { id: 'x', name: 'X' }, geometry: square(141.7, 43.2) }] } }],
      deviceGroups: [{ prefix: 'g', kind: 'sensor', count: 3, farm: 'f', field: 'x' }],
      users: [{ username: 'u1', name: 'U', roles: ['viewer'] }],
      services: [{ username: 'ingest', role: 'ingest' }],
    };
    const issues = await issuesOf(buildConfig(base, { baseDir: dir }));
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'creds.json#/services/ingest: must be a scrypt hash ($scrypt$ln=..,r=..,p=..$salt$hash)',
      '/credentialsFile: service ingest has no credential: set passwordHash, add it to the credentials file, or run `pnpm hatake credentials init`',
    ]);
    await writeFile(join(dir, 'creds.json'), JSON.stringify({ version: 1, devices: {}, groups: { g: hash }, users: { u1: hash }, services: { ingest: hash } }));
    const c = await buildConfig(base, { baseDir: dir });
    expect(c.devices.map((d) => d.id)).toEqual(['g-0001', 'g-0002', 'g-0003']);
    expect(c.devices.every((d) => d.passwordHash === hash && d.location !== undefined)).toBe(true);
    expect(c.services[0]?.passwordHash).toBe(hash);
  });
});

describe('demo credentials', () => {
  it('are generated once, hashed for the services, kept private, and extended for new principals', async () => {
    const { ensureDemoCredentials, readDemoSecrets } = await import('@hatake/config');
    const { stat, readFile: read } = await import('node:fs/promises');
    const { verifySecret } = await import('@hatake/auth');
    const dir = await mkdtemp(join(tmpdir(), 'hatake-demo-'));
    const base = { users: [{ username: 'u1', name: 'U', roles: ['viewer'] }], services: [{ username: 'ingest', role: 'ingest' }] };
    const c1 = await buildConfig(base, { baseDir: dir, requireCredentials: false });
    const first = await ensureDemoCredentials(c1, { dataDir: dir, cost: TEST_SCRYPT_COST });
    expect(first.created).toEqual(['ingest', 'u1']);
    expect((await stat(first.secretsPath)).mode & 0o777).toBe(0o600);
    expect((await stat(first.credentialsPath)).mode & 0o777).toBe(0o600);
    const hashes = await read(first.credentialsPath, 'utf8');
    expect(hashes).not.toContain(first.secrets.users['u1']!);
    expect(await verifySecret(first.secrets.users['u1']!, first.credentials.users['u1']!)).toBe(true);
    // a second start changes nothing
    const again = await ensureDemoCredentials(c1, { dataDir: dir, cost: TEST_SCRYPT_COST });
    expect(again.created).toEqual([]);
    expect((await readDemoSecrets(first.secretsPath))?.users['u1']).toBe(first.secrets.users['u1']);
    // a new user gets a password; the old one keeps its own
    const c2 = await buildConfig({ ...base, users: [...base.users, { username: 'u2', name: 'U2', roles: ['viewer'] }] }, { baseDir: dir, requireCredentials: false });
    const third = await ensureDemoCredentials(c2, { dataDir: dir, cost: TEST_SCRYPT_COST });
    expect(third.created).toEqual(['u2']);
    expect(third.secrets.users['u1']).toBe(first.secrets.users['u1']);
    // and the configuration now loads with credentials required
    const loaded = await buildConfig({ ...c2Raw(base), credentialsFile: 'credentials.json' }, { baseDir: dir });
    expect(loaded.users.map((u) => u.passwordHash !== undefined)).toEqual([true, true]);
  });
});

function c2Raw(base: { users: object[]; services: object[] }) {
  return { ...base, users: [...base.users, { username: 'u2', name: 'U2', roles: ['viewer'] }] };
}
