/**
 * Track review at a road authority's scale: a storm day of 20 plows at 1 Hz
 * on a grid of streets around Iwamizawa, written to a throwaway influxd with
 * the store's own writer (not timed), then worked on the way the gateway's
 * routes do.
 *
 * - tracks.day: one plow's day (86,400 samples) read from InfluxDB →
 *   simplified GeoJSON split by blade state, as `GET
 *   /api/v1/devices/:id/track?simplify=2&split=true` does it, stage by stage
 *   (bin/tracks-day.ts, its own process, started with the gateway's V8 flags).
 * - tracks.coverage: 20 plows × 1 day against a 5,060-segment network →
 *   coverage and storm report (bin/tracks-coverage.ts, its own process, so
 *   the peak RSS is the run's alone): with the tracks in memory, then as
 *   `GET /api/v1/roads/storm` does it, the tracks read from InfluxDB two at a time
 *   (the gateway's V8 flags again).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PlowSample } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { Rng } from '@hatake/simkit';
import { InfluxStore, type SampleRecord } from '@hatake/store';
import { influxSettingsFor, startInfluxd } from '@hatake/testkit';
import * as tracksModule from '@hatake/tracks';
import { fmt, line } from './format.ts';
import { v8Flags } from './services.ts';

// ---------------------------------------------------------------------------
// @hatake/tracks, loaded the way the gateway loads it. test/ does not depend
// on it (test/package.json, test/tsconfig.json): until it does, it is resolved
// from @hatake/gateway's dependencies and typed here by what this benchmark calls.

/** A track as far as the benchmark looks into it. */
export interface BenchTrack {
  readonly device: string;
  readonly points: readonly { readonly t: number; readonly blade: string; readonly lon?: number | undefined }[];
}
/** A built road network (opaque here). */
export interface BenchNetwork {
  readonly segments: readonly { readonly class: number }[];
}
export interface BenchCoverage {
  readonly stats: { readonly vehicles: number; readonly samples: number; readonly bladeDown: number; readonly matched: number; readonly unmatched: number; readonly noPosition: number; readonly gaps: number; readonly passes: number };
}
export interface BenchStorm {
  readonly total: { readonly lengthM: number; readonly onTimeShare: number };
  readonly classes: readonly { readonly class: number; readonly segments: number; readonly onTimeShare: number; readonly meanTimeToFirstPassMin: number | undefined }[];
  readonly unserviced: readonly unknown[];
}
/** The part of @hatake/tracks the benchmark calls (signatures as in packages/tracks/src). */
export interface TracksApi {
  trackFromRows(device: string, kind: 'plow' | 'tractor', rows: readonly Record<string, unknown>[]): BenchTrack;
  simplifyTrack(track: BenchTrack, toleranceM: number): BenchTrack;
  exportTrack(track: BenchTrack, format: 'geojson', opts: { split?: boolean; name?: string }): { readonly body: string; readonly contentType: string };
  parseRoadNetwork(fc: unknown): readonly unknown[];
  readonly RoadNetwork: { build(roads: readonly unknown[], opts?: { segmentLengthM?: number }): BenchNetwork };
  roadCoverage(network: BenchNetwork, tracks: readonly BenchTrack[], opts: { from: number; to: number }): BenchCoverage;
  stormReport(coverage: BenchCoverage, opts: { stormStart: number; stormEnd: number }): BenchStorm;
}

/** @hatake/tracks, seen through the part the benchmark calls. */
export async function loadTracks(): Promise<TracksApi> {
  return Promise.resolve(tracksModule as unknown as TracksApi);
}

// ---------------------------------------------------------------------------
// The world: a grid of streets and a storm day of plows on it.

/** The storm day (JST midnight to midnight); the storm runs its first 12 hours. */
export const DAY = { from: Date.parse('2025-01-15T00:00:00+09:00'), to: Date.parse('2025-01-16T00:00:00+09:00'), stormEnd: Date.parse('2025-01-15T12:00:00+09:00') };
export const PLOWS = 20;
/** Streets per direction, block length (m): 23 × 23 streets, 250 m blocks, 5.5 km square. */
const N = 23;
const BLOCK = 250;
/** Around Iwamizawa station. */
const LON0 = 141.776;
const LAT0 = 43.196;
const PHI = (LAT0 * Math.PI) / 180;
const M_PER_DEG_LAT = 111_132.954 - 559.822 * Math.cos(2 * PHI) + 1.175 * Math.cos(4 * PHI);
const M_PER_DEG_LON = 111_412.84 * Math.cos(PHI) - 93.5 * Math.cos(3 * PHI) + 0.118 * Math.cos(5 * PHI);
/** Arterials (class 1); other odd streets are class 2, even ones class 3. */
const ARTERIALS = new Set([3, 11, 19]);

type XY = readonly [number, number];
const nodeXY = (i: number, j: number): XY => [(i - (N - 1) / 2) * BLOCK, (j - (N - 1) / 2) * BLOCK];
const toLonLat = (x: number, y: number): [number, number] => [LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT];
export const plowId = (i: number): string => `p${String(i + 1).padStart(2, '0')}`;

/** The road network as the configuration gives it: 23 east–west and 23 north–south streets, a vertex at every crossing. */
export function gridRoads(): { type: 'FeatureCollection'; features: { type: 'Feature'; properties: { id: string; name: string; class: number }; geometry: { type: 'LineString'; coordinates: [number, number][] } }[] } {
  const features = [];
  for (const dir of ['ew', 'ns'] as const) {
    for (let k = 0; k < N; k++) {
      const coordinates = Array.from({ length: N }, (_, m) => toLonLat(...(dir === 'ew' ? nodeXY(m, k) : nodeXY(k, m))));
      const cls = ARTERIALS.has(k) ? 1 : k % 2 ? 2 : 3;
      features.push({ type: 'Feature' as const, properties: { id: `${dir}-${String(k).padStart(2, '0')}`, name: dir === 'ew' ? `${k + 1}条通` : `${k + 1}丁目線`, class: cls }, geometry: { type: 'LineString' as const, coordinates } });
    }
  }
  return { type: 'FeatureCollection', features };
}

interface Leg {
  readonly a: XY;
  readonly b: XY;
  readonly len: number;
  readonly dir: XY;
  readonly blade: 'up' | 'down';
  readonly speed: number;
}

type GridNode = readonly [number, number];

/** Nodes from a (excluded) to b: along a's east–west street, then along b's north–south street. */
function manhattan(a: GridNode, b: GridNode): GridNode[] {
  const out: GridNode[] = [];
  let [x, y] = a;
  while (x !== b[0]) out.push([(x += Math.sign(b[0] - x)), y]);
  while (y !== b[1]) out.push([x, (y += Math.sign(b[1] - y))]);
  return out;
}

/** A district plowed street by street: every east–west street in a serpentine, then every north–south one. */
function serpentine(x0: number, x1: number, y0: number, y1: number): GridNode[] {
  const out: GridNode[] = [[x0, y0]];
  let x = x0;
  let y = y0;
  for (; ; y++) {
    const to = x === x0 ? x1 : x0;
    while (x !== to) out.push([(x += Math.sign(to - x)), y]);
    if (y === y1) break;
    out.push([x, y + 1]);
  }
  const columns = x === x0 ? Array.from({ length: x1 - x0 + 1 }, (_, k) => x0 + k) : Array.from({ length: x1 - x0 + 1 }, (_, k) => x1 - k);
  for (const [k, cx] of columns.entries()) {
    if (k > 0) out.push([(x = cx), y]);
    const to = y === y1 ? y0 : y1;
    while (y !== to) out.push([x, (y += Math.sign(to - y))]);
  }
  return out;
}

const WORK_SPEED = 8;
const TRANSIT_SPEED = 12;
const CORNER_SPEED = 4;
const ACCEL = 1;
const DECEL = 1.5;
/** District borders on the 0–22 node grid: 5 × 4 districts, one plow each. */
const XB = [0, 4, 9, 13, 18, 22];
const YB = [0, 5, 11, 16, 22];
const DEPOT_NODE: GridNode = [11, 11];
/** The yard, inside a block 85 m off the crossing. */
const YARD: XY = [nodeXY(11, 11)[0] + 60, nodeXY(11, 11)[1] + 60];

function leg(a: XY, b: XY, blade: 'up' | 'down'): Leg {
  const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
  return { a, b, len, dir: [(b[0] - a[0]) / len, (b[1] - a[1]) / len], blade, speed: blade === 'down' ? WORK_SPEED : TRANSIT_SPEED };
}

/** One round of plow i: yard → its district (blade up), the district (blade down), back to the yard (blade up). */
function round(i: number): Leg[] {
  const dx = i % 5;
  const dy = Math.floor(i / 5) % 4;
  const district = serpentine(XB[dx]!, XB[dx + 1]!, YB[dy]!, YB[dy + 1]!);
  const out: Leg[] = [leg(YARD, nodeXY(...DEPOT_NODE), 'up')];
  const chain = (from: GridNode, nodes: readonly GridNode[], blade: 'up' | 'down'): void => {
    let prev = from;
    for (const n of nodes) {
      out.push(leg(nodeXY(...prev), nodeXY(...n), blade));
      prev = n;
    }
  };
  chain(DEPOT_NODE, manhattan(DEPOT_NODE, district[0]!), 'up');
  chain(district[0]!, district.slice(1), 'down');
  const end = district[district.length - 1]!;
  chain(end, manhattan(end, DEPOT_NODE), 'up');
  out.push(leg(nodeXY(...DEPOT_NODE), YARD, 'up'));
  return out;
}

const round7 = (v: number): number => Math.round(v * 1e7) / 1e7;
const round2 = (v: number): number => Math.round(v * 100) / 100;

/**
 * Plow i's storm day at 1 Hz: parked in the yard until its shift (from 00:30,
 * staggered), rounds of its district with 10–30 min breaks in the yard until
 * about 21:00, parked again. Road speeds (8 m/s blade down, 12 m/s in
 * transit, 4 m/s through corners, 1 m/s² up and 1.5 m/s² down), a stop of
 * 8–40 s at 15 % of crossings, GNSS noise of ~2 m (correlated, as a
 * single-frequency receiver wanders), 8 outages of 15–150 s without a fix,
 * and (all plows but the first) a link drop of 3–12 min whose samples never
 * arrive. Deterministic.
 */
export function plowDay(i: number): PlowSample[] {
  const rng = new Rng(2025, plowId(i));
  const seconds = (DAY.to - DAY.from) / 1000;
  const shiftStart = 1800 + i * 180;
  const shiftEnd = 21 * 3600 + rng.int(0, 3600);
  const outages = Array.from({ length: 8 }, () => {
    const s = rng.int(0, seconds - 200);
    return [s, s + rng.int(15, 150)] as const;
  });
  const dropStart = rng.int(3600, seconds - 3600);
  const drop: readonly [number, number] = i === 0 ? [0, 0] : [dropStart, dropStart + rng.int(180, 720)];
  const out: PlowSample[] = [];
  let legs: Leg[] = [];
  let k = 0; // leg index
  let s = 0; // metres along the leg
  let v = 0;
  let hold = shiftStart; // seconds parked or stopped, from now
  let stopAtEnd = false;
  let heading = 45;
  let [ex, ey] = [0, 0];
  const rho = 0.95;
  const sigma = 1.4; // per axis: ~2 m horizontally
  for (let sec = 0; sec < seconds; sec++) {
    if (hold > 0) {
      hold--;
      v = 0;
    } else {
      if (k >= legs.length) {
        legs = round(i);
        k = 0;
        s = 0;
        stopAtEnd = false;
      }
      const l = legs[k]!;
      const next = legs[k + 1];
      const cos = next === undefined ? 1 : l.dir[0] * next.dir[0] + l.dir[1] * next.dir[1];
      // to a standstill at the end of the round, a stop or a U-turn; slower through corners
      const vEnd = next === undefined || stopAtEnd || cos < -0.5 ? 0 : cos < 0.87 ? CORNER_SPEED : Math.min(l.speed, next.speed);
      const target = Math.max(0.5, Math.min(l.speed, Math.sqrt(vEnd * vEnd + 2 * DECEL * Math.max(0, l.len - s))));
      const v1 = v < target ? Math.min(target, v + ACCEL) : Math.max(target, v - DECEL);
      s += (v + v1) / 2;
      v = v1;
      heading = (Math.atan2(l.dir[0], l.dir[1]) * 180) / Math.PI;
      if (s >= l.len) {
        if (vEnd > 0) {
          s -= l.len;
          k++;
          // a red light or give-way at 15 % of crossings
          stopAtEnd = rng.chance(0.15);
        } else if (next === undefined) {
          // back in the yard: a break, or the end of the shift
          v = 0;
          hold = sec >= shiftEnd ? seconds : rng.int(600, 1800);
          k = legs.length;
        } else {
          v = 0;
          hold = rng.int(8, 40);
          stopAtEnd = false;
          k++;
          s = 0;
        }
      }
    }
    const cur = legs[k];
    const xy: XY = cur ? [cur.a[0] + cur.dir[0] * s, cur.a[1] + cur.dir[1] * s] : YARD;
    const blade = cur ? cur.blade : 'up';
    ex = rho * ex + Math.sqrt(1 - rho * rho) * rng.normal(0, sigma);
    ey = rho * ey + Math.sqrt(1 - rho * rho) * rng.normal(0, sigma);
    if (sec >= drop[0] && sec < drop[1]) continue;
    const t = DAY.from + sec * 1000;
    const spread = blade === 'down' && v > 0.5 ? round2(rng.uniform(19.4, 20.6)) : 0;
    if (outages.some(([a, b]) => sec >= a && sec < b)) {
      out.push({ t, seq: sec, fix: 'none', blade, spread, material: 'salt_sand', width: 3.2 });
      continue;
    }
    out.push({
      t,
      seq: sec,
      fix: 'gps',
      lat: round7(LAT0 + (xy[1] + ey) / M_PER_DEG_LAT),
      lon: round7(LON0 + (xy[0] + ex) / M_PER_DEG_LON),
      alt: Math.round(rng.normal(21, 0.6) * 10) / 10,
      hdop: Math.round(rng.uniform(0.8, 1.4) * 10) / 10,
      sats: rng.int(9, 15),
      speed: round2(Math.max(0, v + rng.normal(0, 0.05))),
      heading: Math.round(((((heading + rng.normal(0, 1)) % 360) + 360) % 360) * 10) / 10,
      blade,
      spread,
      material: 'salt_sand',
      width: 3.2,
    });
  }
  return out;
}


// ---------------------------------------------------------------------------

const run = promisify(execFile);
const node = async <T>(script: string, spec: unknown, flags: readonly string[] = []): Promise<T> =>
  JSON.parse((await run(process.execPath, [...flags, '--conditions=@hatake/source', '--import', 'tsx', new URL(`./bin/${script}`, import.meta.url).pathname, JSON.stringify(spec)], { maxBuffer: 1 << 20 })).stdout) as T;

export interface DayResult {
  readonly runs: number;
  readonly warmup: number;
  readonly rows: number;
  readonly points: number;
  readonly parts: number;
  readonly bytes: number;
  /** Medians, ms. */
  readonly totalMs: number;
  readonly readMs: number;
  readonly fromRowsMs: number;
  readonly simplifyMs: number;
  readonly exportMs: number;
  /** The store's query by hand: influxd answering (to the last byte), JSON.parse. */
  readonly influxMs: number;
  readonly parseMs: number;
  readonly jsonBytes: number;
}

export interface CoverageSpec {
  readonly source: 'memory' | 'influx';
  readonly db?: { url: string; username: string; password: string };
  readonly plows: number;
  readonly from: number;
  readonly to: number;
  readonly stormEnd: number;
}

export interface CoverageRunResult {
  readonly source: 'memory' | 'influx';
  /** The timed part: coverage + storm report + the report as JSON, ms. */
  readonly totalMs: number;
  readonly coverageMs: number;
  readonly stormMs: number;
  readonly serializeMs: number;
  readonly jsonBytes: number;
  /** From InfluxDB: the tracks read two at a time, trackFromRows included (ms), before the clock; and the store timeout it ran with. */
  readonly readMs?: number;
  readonly fromRowsMs?: number;
  readonly timeoutMs?: number;
  readonly networkMs: number;
  readonly segments: number;
  /** Peak RSS of the whole process and before the clock started, RSS when it started (MB). */
  readonly peakRssMb: number;
  readonly peakBeforeMb: number;
  readonly rssBeforeMb: number;
  /** V8 heap in use when the clock started (after a full GC with --expose-gc), MB. */
  readonly heapBeforeMb: number;
  readonly stats: BenchCoverage['stats'];
  readonly onTime: { readonly class: number; readonly share: number }[];
  readonly unserviced: number;
}

const pct = (share: number): string => `${(share * 100).toFixed(share < 1 && share > 0.995 ? 1 : 0)} %`;

/** Writes the day to a throwaway influxd, runs both parts, prints the figures. */
export async function benchTracks(): Promise<void> {
  const influxd = await startInfluxd();
  try {
    const db = { url: influxd.url, username: influxd.username, password: influxd.password };
    // the day, written with the store's writer (not timed), one plow at a time
    const store = new InfluxStore(influxSettingsFor(db), { logger: silentLogger() });
    await store.start();
    const setup = performance.now();
    let samples = 0;
    let bladeDown = 0;
    let noFix = 0;
    for (let i = 0; i < PLOWS; i++) {
      const day = plowDay(i);
      samples += day.length;
      for (const s of day) {
        if (s.blade === 'down') bladeDown++;
        if (s.fix === 'none') noFix++;
      }
      await store.writeSamples(day.map((sample): SampleRecord<'plow'> => ({ kind: 'plow', device: plowId(i), sample })));
    }
    await store.stop();
    const segments = gridRoads().features.reduce((n, f) => n + (f.geometry.coordinates.length - 1) * (BLOCK / 50), 0);
    line(
      'tracks.setup storm day written to InfluxDB',
      `${PLOWS} plows × 1 day at 1 Hz = ${fmt(samples)} samples (${fmt(bladeDown)} blade-down, ${fmt(noFix)} without a fix; ${PLOWS - 1} plows lose 3–12 min to a link drop) on ${N} + ${N} streets of ${((N - 1) * BLOCK) / 1000} km, ${BLOCK} m blocks (${fmt(segments)} segments of 50 m), through the store's writer in ${((performance.now() - setup) / 1000).toFixed(1)} s`,
    );

    const day = await node<DayResult>('tracks-day.ts', { db, device: plowId(0), from: DAY.from, to: DAY.to, toleranceM: 2, warmup: 2, runs: 7 }, v8Flags('gateway'));
    line(
      'tracks.day → simplified GeoJSON',
      `${fmt(day.totalMs)} ms (store read ${fmt(day.readMs)} ms, trackFromRows ${fmt(day.fromRowsMs)} ms, simplify ${fmt(day.simplifyMs)} ms, export ${fmt(day.exportMs)} ms) for ${fmt(day.rows)} samples from InfluxDB → ${fmt(day.points)} points in ${fmt(day.parts)} parts, ${fmt(day.bytes / 1024)} KiB (2 m, split by blade state; as the track route does it, median of ${day.runs} after ${day.warmup} warm-up) (target ≤ 300 ms)`,
    );
    line(
      'tracks.day for comparison, every field in one query by hand',
      `influxd answering SELECT * over the day ${fmt(day.influxMs)} ms (${fmt(day.jsonBytes / 1_048_576)} MiB of JSON, not gzipped), JSON.parse ${fmt(day.parseMs)} ms (medians); the route reads 4 fields in two queries at once`,
    );

    const window = { plows: PLOWS, from: DAY.from, to: DAY.to, stormEnd: DAY.stormEnd };
    const mem = await node<CoverageRunResult>('tracks-coverage.ts', { source: 'memory', ...window } satisfies CoverageSpec, ['--expose-gc']);
    line(
      `tracks.coverage ${PLOWS} plows × 1 day, ${fmt(mem.segments)} segments`,
      `${(mem.totalMs / 1000).toFixed(1)} s, peak RSS ${fmt(mem.peakRssMb)} MB (target ≤ 5 s) — tracks in memory (the same days, generated in the run's process; when the clock started: peak RSS ${fmt(mem.peakBeforeMb)} MB, RSS ${fmt(mem.rssBeforeMb)} MB, heap in use ${fmt(mem.heapBeforeMb)} MB): ` +
        `coverage ${(mem.coverageMs / 1000).toFixed(2)} s, storm report ${fmt(mem.stormMs)} ms, report as JSON ${fmt(mem.serializeMs)} ms (${fmt(mem.jsonBytes / 1024)} KiB), one cold run; ` +
        `${fmt(mem.stats.samples)} samples, ${fmt(mem.stats.bladeDown)} blade-down, ${fmt(mem.stats.matched)} matched, ${fmt(mem.stats.unmatched)} unmatched, ${fmt(mem.stats.noPosition)} without position, ${fmt(mem.stats.passes)} passes; ` +
        `on time ${mem.onTime.map((c) => `class ${c.class} ${pct(c.share)}`).join(', ')}, ${fmt(mem.unserviced)} segments unserviced; network built once (the gateway keeps it) in ${fmt(mem.networkMs)} ms`,
    );
    const db1 = await node<CoverageRunResult>('tracks-coverage.ts', { source: 'influx', db, ...window } satisfies CoverageSpec, v8Flags('gateway'));
    const read = db1.readMs ?? 0;
    line(
      `tracks.coverage as the storm route does it, ${PLOWS} plows × 1 day from InfluxDB`,
      `${((read + db1.totalMs) / 1000).toFixed(1)} s, peak RSS ${fmt(db1.peakRssMb)} MB (${fmt(db1.peakBeforeMb)} MB of it reached while reading) = store read of the ${PLOWS} tracks, two at a time, ${(read / 1000).toFixed(1)} s (trackFromRows ${((db1.fromRowsMs ?? 0) / 1000).toFixed(2)} s of it) + coverage, storm report and JSON ${(db1.totalMs / 1000).toFixed(1)} s`,
    );
  } finally {
    await influxd.stop();
  }
}
