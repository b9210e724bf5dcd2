/**
 * Track review over REST against a real store: one plow's scripted morning on
 * the test network (road ra blade down, rb blade up, rc blade down) gives its
 * track in every format, its trips and shift, road coverage, storm compliance
 * and a contractor reconciliation; bad requests are refused with reasons.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBroker, type HatakeBroker } from '@hatake/broker';
import { buildGateway, type Gateway } from '@hatake/gateway';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore, type TelemetryStore } from '@hatake/store';
import { plowMorning, testDeployment, type TestDeployment } from '@hatake/testkit';

const T0 = Date.UTC(2026, 0, 15, 3, 0, 0); // a storm night, 12:00 in Iwamizawa
let dep: TestDeployment;
let store: TelemetryStore;
let gateway: Gateway;
let broker: HatakeBroker;
let base: string;
const tokens: Record<string, string> = {};

const samples = plowMorning(T0);
const END = T0 + samples.length * 1000;
const win = `from=${T0}&to=${END + 60_000}`;

beforeAll(async () => {
  dep = await testDeployment({ env: { HATAKE_GATEWAY__HTTP__PORT: '0', HATAKE_GATEWAY__API__MAX_RANGE_DAYS: '7' } });
  store = new EmbeddedStore(':memory:', { logger: silentLogger() });
  await store.start();
  await store.writeSamples(samples);
  broker = buildBroker(dep.config, { logger: silentLogger() });
  const addr = await broker.start();
  gateway = buildGateway(dep.config, { logger: silentLogger(), store, password: dep.secrets['gateway']!, mqttUrl: addr.mqtt.url });
  base = (await gateway.start()).http.url;
  for (const u of ['admin', 'crew', 'view-north']) {
    const res = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: u, password: dep.secrets[u] }) });
    tokens[u] = ((await res.json()) as { token: string }).token;
  }
});
afterAll(async () => {
  await gateway.stop();
  await store.stop();
  await broker.stop();
});

const call = async (path: string, user = 'crew', init: RequestInit = {}): Promise<{ status: number; type: string; text: string; json: () => Record<string, unknown> }> => {
  const res = await fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${tokens[user]}`, ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) as Record<string, unknown> };
};

describe('a plow track', () => {
  it('as GeoJSON: every sample with its time, simplified in metres without losing a blade change, or split into parts', async () => {
    const full = (await call(`/api/v1/devices/p1/track?${win}`)).json() as { geometry: { coordinates: number[][] }; properties: { timestamps: number[] } };
    expect(full.geometry.coordinates).toHaveLength(samples.length);
    expect(full.properties.timestamps).toEqual(samples.map((s) => s.sample.t));
    const simple = (await call(`/api/v1/devices/p1/track?${win}&simplify=5`)).json() as typeof full;
    expect(simple.geometry.coordinates.length).toBeLessThan(20);
    const changes = samples.flatMap((s, i) => (i > 0 && s.sample.blade !== samples[i - 1]!.sample.blade ? [samples[i - 1]!.sample.t, s.sample.t] : []));
    for (const t of changes) expect(simple.properties.timestamps).toContain(t);
    const parts = (await call(`/api/v1/devices/p1/track?${win}&split=true`)).json() as { features: { properties: { blade: string } }[] };
    expect(parts.features.map((f) => f.properties.blade)).toEqual(['down', 'up', 'down']);
  });

  it('as GPX, CSV and KML', async () => {
    const gpx = await call(`/api/v1/devices/p1/track?${win}&format=gpx`);
    expect(gpx.type).toContain('gpx');
    expect(gpx.text.match(/<trkpt /g)).toHaveLength(samples.length);
    expect(gpx.text).toContain(`<time>${new Date(T0).toISOString().replace(".000Z", "Z")}</time>`);
    const csv = await call(`/api/v1/devices/p1/track?${win}&format=csv`);
    expect(csv.text.split(/\r?\n/)[0]).toBe('time,device,lat,lon,speed_kmh,heading_deg,blade,spread_g_m2,material,fix');
    expect(csv.text.trim().split(/\r?\n/)).toHaveLength(samples.length + 1);
    expect((await call(`/api/v1/devices/p1/track?${win}&format=kml`)).text).toContain('<LineString>');
  });

  it('trips, and a shift report in JSON and CSV', async () => {
    const trips = (await call(`/api/v1/devices/p1/trips?${win}`)).json() as { trips: { distanceM: number; bladeDownM: number }[] };
    expect(trips.trips).toHaveLength(1);
    const shifts = (await call(`/api/v1/reports/shifts?${win}`)).json() as { reports: { device: string; bladeDownKm: number; drivenKm: number; deadheadKm: number }[] };
    const p1 = shifts.reports.find((r) => r.device === 'p1')!;
    expect(p1.bladeDownKm).toBeCloseTo(0.8, 1); // ra and rc, ~405 m each
    expect(p1.deadheadKm).toBeCloseTo(0.44, 1); // rb with the blade up
    expect((await call(`/api/v1/reports/shifts?${win}&format=csv`)).type).toContain('text/csv');
  });
});

describe('roads', () => {
  it('coverage: the roads driven with the blade down are served, the one driven with it up is not', async () => {
    const fc = (await call(`/api/v1/roads/coverage?${win}`)).json() as { features: { properties: { road: string; passesForward: number; passesBackward: number; vehicles: string[]; lastPass: string | null } }[] };
    const byRoad = (road: string) => fc.features.filter((f) => f.properties.road === road);
    for (const f of [...byRoad('ra'), ...byRoad('rc')]) {
      expect(f.properties.passesForward).toBe(1);
      expect(f.properties.passesBackward).toBe(0);
      expect(f.properties.vehicles).toEqual(['p1']);
    }
    for (const f of byRoad('rb')) expect(f.properties.passesForward + f.properties.passesBackward).toBe(0);
  });

  it('storm compliance 13 h on: class 1 and 3 served in time, class 2 (12 h) never', async () => {
    const storm = `from=${T0}&to=${T0 + 13 * 3_600_000}`;
    const report = (await call(`/api/v1/roads/storm?${storm}`)).json() as { classes: { class: number; onTimeShare: number }[]; unserviced: { road: string }[] };
    expect(new Set(report.unserviced.map((s) => s.road))).toEqual(new Set(['rb']));
    expect(report.classes.map((c) => [c.class, c.onTimeShare])).toEqual([[1, 1], [2, 0], [3, 1]]);
    expect((await call(`/api/v1/roads/storm?${storm}&format=csv`)).type).toContain('text/csv');
    const unserviced = (await call(`/api/v1/roads/storm?${storm}&format=geojson`)).json() as { features: unknown[] };
    expect(unserviced.features.length).toBe(report.unserviced.length);
  });

  it("reconciles a contractor's claims: one that matches, one inflated by 2 h, one without GPS", async () => {
    const iso = (t: number): string => new Date(t).toISOString();
    const bladeDownH = samples.filter((s) => s.sample.blade === 'down').length / 3600;
    const csv = [
      'vehicle,start,end,claimed_hours,claimed_km,route',
      `p1,${iso(T0 - 3_600_000)},${iso(T0 + 5 * 3_600_000)},${bladeDownH.toFixed(3)},1.25,ra;rc`,
      `p1,${iso(T0 - 3_600_000)},${iso(T0 + 5 * 3_600_000)},${(bladeDownH + 2).toFixed(3)},1.25,ra;rc`,
      `p1,${iso(T0 + 86_400_000)},${iso(T0 + 90_000_000)},0.5,20,ra`,
    ].join('\n');
    const res = await call('/api/v1/roads/reconcile', 'crew', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
    expect(res.status).toBe(200);
    const lines = (res.json() as { lines: { verdict: string; differences: string[] }[] }).lines;
    expect(lines.map((l) => l.verdict)).toEqual(['matches', 'differs', 'no_gps']);
    expect(lines[1]!.differences.join(' ')).toMatch(/differs by 2\.0 h/);
  });
});

describe('bad requests', () => {
  it.each([
    ['from after to', `/api/v1/devices/p1/track?from=${END}&to=${T0}`, 400, /from/],
    ['a range over the limit', `/api/v1/roads/coverage?from=${T0}&to=${T0 + 8 * 86_400_000}`, 400, /7 days|days/],
    ['an unknown device', `/api/v1/devices/p9/track?${win}`, 404, /no device p9/],
    ['a sensor has no track', `/api/v1/devices/s1/track?${win}`, 400, /sensor/],
    ['an unknown format', `/api/v1/devices/p1/track?${win}&format=shp`, 400, /format/],
    ['a negative tolerance', `/api/v1/devices/p1/track?${win}&simplify=-1`, 400, /simplify/],
    ['bad service levels', `/api/v1/roads/storm?${win}&levels=1:x`, 400, /levels/],
  ])('%s', async (_, path, status, why) => {
    const r = await call(path, 'admin');
    expect(r.status).toBe(status);
    expect(r.text).toMatch(why);
  });

  it('a farm viewer sees no roads; a claims file with a bad line names it', async () => {
    expect((await call(`/api/v1/roads/coverage?${win}`, 'view-north')).status).toBe(403);
    const bad = await call('/api/v1/roads/reconcile', 'crew', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'vehicle,start,end,claimed_hours,claimed_km,route\np1,yesterday,today,x,1,ra\n' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/line 2/);
  });
});
