/**
 * `hatake tracks` as a road crew lead meets it, against a real embedded store
 * (a DuckDB file in the test deployment's data folder) holding one plow's
 * scripted morning (the gateway's: road ra blade down, rb blade up, rc blade
 * down): the track in every format, road coverage, a shift report, storm
 * compliance and a contractor reconciliation written to files; bad input
 * refused with exit code 2 and a reason; a store held by another process
 * (the demo) refused with exit code 1 and what to do instead.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '@hatake/config';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore, type SampleRow } from '@hatake/store';
import { plowMorning, run, testDeployment } from '@hatake/testkit';
import { SHIFT_CSV_COLUMNS, trackFromRows } from '@hatake/tracks';
import { readTrack, tracksCommand } from '../src/tracks.ts';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const T0 = Date.UTC(2026, 0, 15, 3, 0, 0); // a storm night, 12:00 in Iwamizawa
const H = 3_600_000;

const samples = plowMorning(T0);
const END = T0 + samples.length * 1000;

/** The test deployment's configuration as a file (the parts the command reads: farms, roads, devices). */
function rawConfig(c: Config): Record<string, unknown> {
  return {
    deployment: { name: 'tracks test' },
    farms: c.farms.map((f) => ({ id: f.id, name: f.name, fields: { type: 'FeatureCollection', features: f.fields.map((x) => ({ type: 'Feature', properties: { id: x.id, name: x.name }, geometry: x.boundary.geometry })) } })),
    roads: { type: 'FeatureCollection', features: c.roads.map((r) => ({ type: 'Feature', properties: { id: r.id, name: r.name, class: r.class }, geometry: r.geometry })) },
    devices: c.devices
      .filter((d) => d.group === undefined)
      .map((d) => ({ id: d.id, kind: d.kind, name: d.name, ...(d.farm !== undefined ? { farm: d.farm } : {}), ...(d.field !== undefined ? { field: d.field } : {}), ...(d.route ? { route: d.route } : {}), ...(d.assigned ? { assigned: d.assigned } : {}) })),
  };
}

let dir: string;
let dataDir: string;
let env: Record<string, string>;
const hatake = (args: string[]) => run('node', ['--conditions=@hatake/source', '--import', 'tsx', main, 'tracks', ...args], { timeoutMs: 60_000, env });

/** The command in this process, for input it refuses before opening the store. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await tracksCommand(args, { env, defaultConfig: '/nonexistent.yaml', stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  const dep = await testDeployment();
  dataDir = dep.config.deployment.dataDir;
  dir = await mkdtemp(join(tmpdir(), 'hatake-cli-tracks-'));
  const configFile = join(dir, 'hatake.json');
  await writeFile(configFile, JSON.stringify(rawConfig(dep.config)));
  // the configuration from the environment, as main.ts reads it
  env = { HATAKE_CONFIG: configFile, HATAKE_DEPLOYMENT__DATA_DIR: dataDir };
  const store = new EmbeddedStore(join(dataDir, dep.config.store.embedded.file), { logger: silentLogger() });
  await store.start();
  await store.writeSamples(samples);
  await store.stop();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe('hatake tracks', () => {
  it('export: every sample in GeoJSON, GPX, CSV and KML from one read, in hour chunks that split the morning', { timeout: 60_000 }, async () => {
    // chunks start at --from: the second one begins a minute into the morning
    const from = new Date(T0 - H + 60_000 + 9 * H).toISOString().replace('Z', '+09:00').replace('.000', '');
    const r = await hatake(['export', '--device', 'p1', '--from', from, '--to', String(END + 60_000), '--format', 'geojson,gpx,csv,kml', '--out', join(dir, 'p1.geojson')]);
    expect(r.stderr).toMatch(/reading p1: .* 2 chunk\(s\) of 1 h/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${samples.length} samples read, ${samples.length} with a position, in 2 chunk(s)`);
    expect(r.stdout).toMatch(new RegExp(`wrote ${samples.length} points \\(gpx\\) → .*p1\\.gpx`));
    const geo = JSON.parse(await readFile(join(dir, 'p1.geojson'), 'utf8')) as { geometry: { coordinates: number[][] }; properties: { timestamps: number[]; name: string } };
    expect(geo.geometry.coordinates).toHaveLength(samples.length);
    expect(geo.properties.timestamps).toEqual(samples.map((s) => s.sample.t));
    expect(geo.properties.name).toBe('Plow 1');
    expect((await readFile(join(dir, 'p1.gpx'), 'utf8')).match(/<trkpt /g)).toHaveLength(samples.length);
    const csv = (await readFile(join(dir, 'p1.csv'), 'utf8')).trim().split('\r\n');
    expect(csv[0]).toBe('time,device,lat,lon,speed_kmh,heading_deg,blade,spread_g_m2,material,fix');
    expect(csv).toHaveLength(samples.length + 1);
    const kml = await readFile(join(dir, 'p1.kml'), 'utf8');
    expect(kml).toContain('<LineString>');
    expect(kml.match(/<when>/g)).toHaveLength(samples.length);
  });

  it('coverage: ra and rc served once forward by p1, rb (blade up) not', { timeout: 60_000 }, async () => {
    const out = join(dir, 'coverage.geojson');
    const r = await hatake(['coverage', '--from', String(T0), '--to', String(END + 60_000), '--out', out]);
    expect(r.code).toBe(0);
    const fc = JSON.parse(await readFile(out, 'utf8')) as { from: string; features: { properties: { road: string; passesForward: number; passesBackward: number; vehicles: string[] } }[] };
    expect(fc.from).toBe(new Date(T0).toISOString().replace('.000Z', 'Z'));
    const byRoad = (road: string) => fc.features.filter((f) => f.properties.road === road);
    for (const f of [...byRoad('ra'), ...byRoad('rc')]) expect([f.properties.passesForward, f.properties.passesBackward, f.properties.vehicles]).toEqual([1, 0, ['p1']]);
    expect(byRoad('rb').length).toBeGreaterThan(0);
    for (const f of byRoad('rb')) expect(f.properties.passesForward + f.properties.passesBackward).toBe(0);
    const served = byRoad('ra').length + byRoad('rc').length;
    expect(r.stdout).toContain(`segments served  ${served} / ${fc.features.length}`);
    expect(r.stdout).toContain(`ra ${byRoad('ra').length}/${byRoad('ra').length}, rb 0/${byRoad('rb').length}`);
  });

  it('report: a shift report as CSV, with the km in the summary', { timeout: 60_000 }, async () => {
    const out = join(dir, 'shifts.csv');
    const r = await hatake(['report', '--from', String(T0), '--to', String(END + 60_000), '--format', 'csv', '--out', out]);
    expect(r.code).toBe(0);
    const [header, row, ...rest] = (await readFile(out, 'utf8')).split('\r\n');
    expect(header).toBe(SHIFT_CSV_COLUMNS.join(','));
    expect(rest).toEqual(['']);
    const p1 = Object.fromEntries(SHIFT_CSV_COLUMNS.map((c, i) => [c, row!.split(',')[i]]));
    expect(p1['device']).toBe('p1');
    expect(Number(p1['blade_down_km'])).toBeCloseTo(0.8, 1); // ra and rc, ~405 m each
    expect(Number(p1['deadhead_km'])).toBeCloseTo(0.44, 1); // rb with the blade up
    expect(r.stdout).toMatch(/device\s+driven km\s+blade km/);
    expect(r.stdout).toMatch(new RegExp(`p1\\s+[\\d.]+\\s+${Number(p1['blade_down_km']).toFixed(2)}`));
  });

  it('report --storm: 13 h on, class 1 and 3 served in time, class 2 (12 h) never', { timeout: 60_000 }, async () => {
    const out = join(dir, 'storm.json');
    const r = await hatake(['report', '--storm', '--from', String(T0), '--to', String(T0 + 13 * H), '--out', out]);
    expect(r.code).toBe(0);
    const report = JSON.parse(await readFile(out, 'utf8')) as { classes: { class: number; onTimeShare: number }[]; unserviced: { road: string }[] };
    expect(report.classes.map((c) => [c.class, c.onTimeShare])).toEqual([[1, 1], [2, 0], [3, 1]]);
    expect(new Set(report.unserviced.map((s) => s.road))).toEqual(new Set(['rb']));
    expect(r.stdout).toMatch(/^\s+1\s+4\s+100\.0 %/m);
    expect(r.stdout).toMatch(/^\s+2\s+12\s+0\.0 %/m);
    expect(r.stdout).toMatch(/behind: rb \(Road rb, class 2\): 9 unserviced of 9 segments, 0\.44 km, up to 60 min overdue/);
  });

  it("reconcile: a contractor's claims — one matches, one inflated by 2 h, one without GPS", { timeout: 60_000 }, async () => {
    const local = (t: number): string => new Date(t + 9 * H).toISOString().slice(0, 19); // no zone: --offset applies
    const iso = (t: number): string => new Date(t).toISOString();
    const bladeDownH = samples.filter((s) => s.sample.blade === 'down').length / 3600;
    // each claim window (6 h, 1 h) is at least as long as the hours claimed in it
    const claims = [
      'vehicle,start,end,claimed_hours,claimed_km,route',
      `p1,${local(T0 - H)},${local(T0 + 5 * H)},${bladeDownH.toFixed(3)},1.25,ra;rc`,
      `p1,${iso(T0 - H)},${iso(T0 + 5 * H)},${(bladeDownH + 2).toFixed(3)},1.25,ra;rc`,
      `p1,${iso(T0 + 24 * H)},${iso(T0 + 25 * H)},0.5,20,ra`,
    ].join('\n');
    await writeFile(join(dir, 'claims.csv'), claims);
    const out = join(dir, 'reconcile.csv');
    const r = await hatake(['reconcile', '--claims', join(dir, 'claims.csv'), '--offset', '+09:00', '--format', 'csv', '--out', out]);
    expect(r.code).toBe(0);
    const lines = (await readFile(out, 'utf8')).trim().split('\r\n');
    expect(lines[0]).toBe('line,vehicle,start,end,claimed_hours,claimed_km,route,samples,gps_blade_down_hours,gps_km,gps_blade_down_km,route_length_m,route_covered_m,route_share,verdict,differences');
    expect(lines.slice(1).map((l) => /,(matches|differs|no_gps),/.exec(l)?.[1])).toEqual(['matches', 'differs', 'no_gps']);
    expect(lines[1]).toMatch(`p1,${iso(T0 - H).replace('.000Z', 'Z')},`);
    expect(lines[2]).toMatch(/differs by 2\.0 h/);
    expect(r.stdout).toContain('3 claim line(s)');
    expect(r.stdout).toContain('1 matches, 1 differs, 1 no GPS');
    expect(r.stdout).toMatch(/line 3 p1: differs — .*differs by 2\.0 h/);
  });

  it('from after to: exit code 2 and the reason', { timeout: 60_000 }, async () => {
    const r = await hatake(['export', '--device', 'p1', '--from', String(END), '--to', String(T0), '--out', join(dir, 'never.gpx')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/HATAKE_ERR_TRACKS_RANGE: --from must be before --to/);
  });

  it('a store the demo holds open: exit code 1, saying so and pointing at the REST API', { timeout: 60_000 }, async () => {
    const holder = new EmbeddedStore(join(dataDir, 'hatake.duckdb'), { logger: silentLogger() });
    await holder.start();
    try {
      const r = await hatake(['coverage', '--from', String(T0), '--to', String(END), '--out', join(dir, 'locked.geojson')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the embedded store .*hatake\.duckdb is open in another process \(PID \d+\)/);
      expect(r.stderr).toContain('pnpm start');
      expect(r.stderr).toContain('GET /api/v1/roads/coverage');
    } finally {
      await holder.stop();
    }
  });

  it.each([
    ['a window over the limit', ['coverage', '--from', String(T0), '--to', String(T0 + 32 * 86_400_000)], /HATAKE_ERR_TRACKS_RANGE: the window is 32\.0 days, longer than 31 days/],
    ['a shift over 48 h', ['report', '--from', String(T0), '--to', String(T0 + 49 * H)], /HATAKE_ERR_TRACKS_RANGE: a shift is at most 48 h/],
    ['a time without a zone', ['export', '--device', 'p1', '--from', '2026-01-15T12:00', '--to', String(END)], /--from "2026-01-15T12:00" is not a time/],
    ['an unknown device', ['export', '--device', 'p9', '--from', String(T0), '--to', String(END)], /HATAKE_ERR_TRACKS_OPTIONS: no device "p9" in /],
    ['a sensor', ['export', '--device', 's1', '--from', String(T0), '--to', String(END)], /s1 is a sensor: it has no track/],
    ['a tractor for road coverage', ['coverage', '--devices', 'p1,t1', '--from', String(T0), '--to', String(END)], /t1 is a tractor, not a plow/],
    ['an unknown format', ['export', '--device', 'p1', '--from', String(T0), '--to', String(END), '--format', 'shp'], /--format must be one or more .* of geojson, gpx, csv, kml/],
    ['a negative tolerance', ['export', '--device', 'p1', '--from', String(T0), '--to', String(END), '--simplify=-1'], /--simplify must be a number from 0 to 1000 m/],
    ['bad service levels', ['storm', '--from', String(T0), '--to', String(END), '--levels', '1:x'], /--levels must be class:hours pairs/],
    ['storm options on a shift report', ['report', '--from', String(T0), '--to', String(END), '--levels', '1:4'], /--levels applies to storm reports/],
    ['a missing --out', ['coverage', '--from', String(T0), '--to', String(END)], /missing --out/],
    ['an unknown option', ['coverage', '--from', String(T0), '--to', String(END), '--colour', 'red'], /Unknown option '--colour'/],
  ])('%s: exit code 2 and the reason', async (name, args, why) => {
    const out = name === 'a missing --out' ? [] : ['--out', join(dir, 'never.out')];
    const r = await inProcess([...args, ...out]);
    expect(r.stderr).toMatch(why);
    expect(r.code).toBe(2);
  });

  it('a claims file with a bad line names it: exit code 2', async () => {
    const file = join(dir, 'bad-claims.csv');
    await writeFile(file, `vehicle,start,end,claimed_hours,claimed_km,route\np1,${new Date(T0).toISOString()},${new Date(T0 + H).toISOString()},2,1,ra\np1,yesterday,today,x,1,ra\n`);
    const r = await inProcess(['reconcile', '--claims', file, '--out', join(dir, 'never.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/HATAKE_ERR_TRACKS_CLAIMS: .*line 2: claimed_hours 2 exceeds the claim window of 1\.00 h; line 3: start 'yesterday' is not an ISO 8601 date-time/);
  });
});

describe('readTrack', () => {
  it('reads an hour at a time, in pages, into the track one read of everything gives', async () => {
    const store = new EmbeddedStore(':memory:', { logger: silentLogger() });
    await store.start();
    try {
      // a stuck clock: two samples in one millisecond, at a page edge
      const twin = { kind: 'plow' as const, device: 'p1', sample: { ...samples[10]!.sample, seq: 9999, blade: 'up' as const } };
      await store.writeSamples([...samples, twin]);
      const all = (await store.samples({ kind: 'plow', device: 'p1', from: T0, to: END, limit: 10_000 })) as SampleRow[];
      expect(all).toHaveLength(samples.length + 1);
      const whole = trackFromRows('p1', 'plow', all as unknown as Record<string, unknown>[]);
      const ends: number[] = [];
      const chunked = await readTrack(store, { id: 'p1', kind: 'plow' }, T0, END, { chunkMs: 20_000, pageRows: 11, onChunk: (t) => ends.push(t) });
      expect(chunked).toEqual(whole);
      expect(chunked.points).toHaveLength(samples.length);
      expect(ends).toHaveLength(Math.ceil((END - T0) / 20_000));
      expect(ends.at(-1)).toBe(END);
    } finally {
      await store.stop();
    }
  });
});
