/**
 * `pnpm hatake tracks …`: track review to files — a vehicle's track (GeoJSON,
 * GPX, CSV, KML), road coverage, shift reports, storm compliance and contractor
 * reconciliation — the same results as the gateway's REST routes
 * (services/gateway/src/tracks-routes.ts), read from the store the
 * configuration names, one hour of device time per query, with a progress bar
 * on a terminal and a readable summary at the end.
 * Exit codes: 0 done; 2 bad usage, input or configuration (the reason, with its
 * HATAKE_ERR_* code where there is one); 1 the store cannot be opened or read,
 * an output cannot be written, or a bug.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ENV_CONFIG_FILE, loadConfig, type Config, type DeviceDef } from '@hatake/config';
import { TIME } from '@hatake/gateway';
import { createLogger, type Logger } from '@hatake/runtime';
import { createStore, type SampleRow, type TelemetryStore } from '@hatake/store';
import {
  EXPORT_FORMATS,
  MAX_SHIFT_H,
  RoadNetwork,
  TracksError,
  coverageGeoJSON,
  exportTrack,
  parseClaims,
  parseRoadNetwork,
  reconcile,
  roadCoverage,
  shiftReport,
  shiftReportCsv,
  simplifyTrack,
  stormReport,
  stormReportCsv,
  trackFromRows,
  unservicedGeoJSON,
  type ClaimReconciliation,
  type ExportFormat,
  type StormReport,
  type Track,
  type TrackPoint,
} from '@hatake/tracks';

/** Longest window one run reads, days (a month of 1 Hz data is 2.7 M samples per vehicle). */
export const TRACKS_MAX_RANGE_DAYS = 31;
/** Device time per store query: one hour (3,600 samples at 1 Hz). */
export const TRACKS_CHUNK_MS = 3_600_000;
/** Most rows one store query returns; a fuller hour is read in pages. */
export const TRACKS_PAGE_ROWS = 50_000;

/** Usage of the tracks command. */
export const TRACKS_USAGE = `hatake tracks <export|coverage|report|storm|reconcile> [options] --out FILE

Track review to files, reading the store the configuration names — the same results as the
gateway's REST routes. Times: ISO 8601 with a zone (2026-01-15T06:00:00+09:00) or epoch ms;
windows are [from, to), at most ${TRACKS_MAX_RANGE_DAYS} days, read one hour per query.

  tracks export --device ID --from T --to T [--format geojson|gpx|csv|kml] [--simplify M] [--split] --out FILE
      a vehicle's track; --format takes a list (geojson,gpx) to write one file per format,
      named like --out with each format's extension; default: from --out's extension, else geojson
  tracks coverage --from T --to T [--devices a,b] [--segment-length M] --out FILE.geojson
      road segments with the last pass, passes per direction and vehicles (blade down only)
  tracks report --from T --to T [--devices a,b] [--format json|csv] --out FILE
      shift report per plow (at most ${MAX_SHIFT_H} h)
  tracks storm --from T --to T [--storm-end T] [--levels 1:4,2:12] [--devices a,b] [--format json|csv|geojson] --out FILE
      storm compliance from --from (also: tracks report --storm …); geojson: the unserviced segments
  tracks reconcile --claims FILE.csv [--offset +09:00] [--format json|csv] --out FILE
      a contractor's claims (vehicle,start,end,claimed_hours,claimed_km,route) against the GPS

Options:
  --devices a,b          plows (default: every configured plow)
  --config FILE          configuration (default: $HATAKE_CONFIG or config/hatake.yaml)
  --verbose              log at info level (default: warnings only, on stderr)
  --help

The embedded store (a DuckDB file) opens in one process at a time: while the demo runs, stop it
or use the REST API (GET /api/v1/devices/:id/track, /api/v1/roads/coverage, …).

Exit codes: 0 done; 2 bad usage, input or configuration; 1 the store cannot be read, an output cannot be written.`;

/** Where output goes; `isTTY` draws a progress bar instead of stage lines. */
export interface TracksWriter {
  write(s: string): unknown;
  readonly isTTY?: boolean;
}

/** What the command needs from main.ts. */
export interface TracksDeps {
  /** `HATAKE_*` overrides and `HATAKE_CONFIG`; usually process.env. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The configuration used without --config and $HATAKE_CONFIG. */
  readonly defaultConfig: string;
  readonly stdout?: TracksWriter;
  readonly stderr?: TracksWriter;
}

type Sub = 'export' | 'coverage' | 'report' | 'storm' | 'reconcile';
type Vehicle = DeviceDef & { readonly kind: 'plow' | 'tractor' };
const SUBS: readonly Sub[] = ['export', 'coverage', 'report', 'storm', 'reconcile'];

/** Bad usage: printed with the usage, exit 2. */
class UsageError extends Error {}
/** The store cannot be opened or read: exit 1. */
class StoreUnavailable extends Error {}
/** An output file cannot be written: exit 1. */
class OutputError extends Error {}

const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;
const COMMON = { config: str, verbose: bool, help: bool, out: str, format: str } as const;
const WINDOW = { from: str, to: str } as const;
const STORM = { devices: str, 'storm-end': str, levels: str } as const;
const OPTIONS = {
  export: { ...COMMON, ...WINDOW, device: str, simplify: str, split: bool },
  coverage: { ...COMMON, ...WINDOW, devices: str, 'segment-length': str },
  report: { ...COMMON, ...WINDOW, ...STORM, storm: bool },
  storm: { ...COMMON, ...WINDOW, ...STORM },
  reconcile: { ...COMMON, claims: str, offset: str },
} as const;
type Values = Record<string, string | boolean | undefined>;

const FORMATS: Record<Sub, readonly string[]> = { export: EXPORT_FORMATS, coverage: ['geojson'], report: ['json', 'csv'], storm: ['json', 'csv', 'geojson'], reconcile: ['json', 'csv'] };
const DEFAULT_FORMAT: Record<Sub, string> = { export: 'geojson', coverage: 'geojson', report: 'json', storm: 'json', reconcile: 'json' };
const REST: Record<Sub, string> = {
  export: 'GET /api/v1/devices/:id/track?from=…&to=…&format=…',
  coverage: 'GET /api/v1/roads/coverage?from=…&to=…',
  report: 'GET /api/v1/reports/shifts?from=…&to=…&format=…',
  storm: 'GET /api/v1/roads/storm?from=…&to=…&format=…',
  reconcile: 'POST /api/v1/roads/reconcile (body text/csv)',
};
const LEVELS = /^[1-5]:\d+(\.\d+)?(,[1-5]:\d+(\.\d+)?)*$/;
const OFFSET = /^[+-]\d{2}:\d{2}$/;
const TIME_RE = new RegExp(TIME);
/** Times the stores can hold (InfluxDB's nanosecond timestamps end in 2262), as the gateway checks them. */
const LATEST = Date.UTC(2200, 0, 1);
const H = 3_600_000;

/** ISO 8601 UTC, with milliseconds only when they are not 0 (as the tracks files write it). */
const iso = (t: number): string => new Date(t).toISOString().replace('.000Z', 'Z');
const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (share: number): string => `${fmt(share * 100)} %`;

/** `--from`/`--to` (ISO 8601 with a zone, or epoch ms) → a checked [from, to) window; every problem at once. */
export function parseWindow(fromText: string | undefined, toText: string | undefined, maxDays = TRACKS_MAX_RANGE_DAYS): { from: number; to: number } {
  const problems: string[] = [];
  const one = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) {
      problems.push(`--${name} is required`);
      return undefined;
    }
    const t = TIME_RE.test(v) ? (/^\d+$/.test(v) ? Number(v) : Date.parse(v)) : NaN;
    if (!Number.isFinite(t)) problems.push(`--${name} ${JSON.stringify(v)} is not a time (ISO 8601 with a zone, e.g. 2026-01-15T06:00:00+09:00, or epoch milliseconds)`);
    else if (t < 0 || t > LATEST) problems.push(`--${name} is outside the times hatake stores (1970-01-01 to 2200-01-01)`);
    else return t;
    return undefined;
  };
  const from = one('from', fromText);
  const to = one('to', toText);
  if (problems.length > 0) throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', problems.join('; '));
  if (!(from! < to!)) throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `--from must be before --to (got ${iso(from!)} – ${iso(to!)})`);
  if (to! - from! > maxDays * 86_400_000) {
    throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `the window is ${fmt((to! - from!) / 86_400_000)} days, longer than ${maxDays} days: ask for less, run it in parts`);
  }
  return { from: from!, to: to! };
}

/** A number option within [lo, hi], or undefined when not given. */
function numberOption(v: Values, name: string, lo: number, hi: number, unit: string): number | undefined {
  const s = v[name];
  if (typeof s !== 'string') return undefined;
  const n = s.trim() === '' ? NaN : Number(s);
  if (!(n >= lo && n <= hi)) throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `--${name} must be a number from ${lo} to ${hi} ${unit} (got ${JSON.stringify(s)})`);
  return n;
}

/** The formats asked for (a list only for export), or the one --out's extension names, or the default. */
function formatsOf(sub: Sub, v: Values, out: string): string[] {
  const allowed = FORMATS[sub];
  const given = v['format'];
  if (typeof given !== 'string') {
    const ext = extname(out).slice(1).toLowerCase();
    const named = ext === 'json' && sub === 'export' ? 'geojson' : ext;
    return [allowed.includes(named) ? named : DEFAULT_FORMAT[sub]];
  }
  const list = given.split(',').map((f) => f.trim().toLowerCase());
  const bad = list.filter((f) => !allowed.includes(f));
  if (bad.length > 0 || list.length === 0 || (list.length > 1 && sub !== 'export')) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `--format must be ${sub === 'export' ? 'one or more (comma-separated) of' : 'one of'} ${allowed.join(', ')} (got ${JSON.stringify(given)})`);
  }
  return [...new Set(list)];
}

/** A configured device that has a track (not a sensor). */
function vehicleOf(config: Config, id: string, configFile: string): Vehicle {
  const d = config.devices.find((x) => x.id === id);
  if (!d) throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `no device ${JSON.stringify(id)} in ${configFile}`);
  if (d.kind === 'sensor') throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `${id} is a sensor: it has no track`);
  return d as Vehicle;
}

/** The plows asked for, or every configured plow (members of device groups excepted), as the gateway picks them. */
function plowsOf(config: Config, devices: string | boolean | undefined, configFile: string): Vehicle[] {
  if (typeof devices !== 'string') {
    const all = config.devices.filter((d): d is Vehicle => d.kind === 'plow' && d.group === undefined);
    if (all.length === 0) throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `${configFile} has no plows`);
    return all;
  }
  const ids = [...new Set(devices.split(',').map((s) => s.trim()).filter(Boolean))];
  if (ids.length === 0) throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', '--devices names no device');
  return ids.map((id) => {
    const d = vehicleOf(config, id, configFile);
    if (d.kind !== 'plow') throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `${id} is a ${d.kind}, not a plow`);
    return d;
  });
}

/** The configured roads as a network of segments (the configuration checked them when it loaded). */
function networkOf(config: Config, segmentLengthM = 50): RoadNetwork {
  const roads = parseRoadNetwork({ type: 'FeatureCollection', features: config.roads.map((r) => ({ type: 'Feature', properties: { id: r.id, name: r.name, class: r.class }, geometry: r.geometry })) });
  return RoadNetwork.build(roads, { segmentLengthM });
}

/**
 * A vehicle's track in [from, to), one `chunkMs` of device time per store
 * query, so a long window never arrives in one response; an hour with more
 * than `pageRows` samples is read in pages. `onChunk` is called after each chunk.
 */
export async function readTrack(
  store: TelemetryStore,
  vehicle: { readonly id: string; readonly kind: 'plow' | 'tractor' },
  from: number,
  to: number,
  opts: { chunkMs?: number; pageRows?: number; onChunk?: (chunkEnd: number) => void } = {},
): Promise<Track> {
  const chunkMs = opts.chunkMs ?? TRACKS_CHUNK_MS;
  const pageRows = Math.max(2, opts.pageRows ?? TRACKS_PAGE_ROWS);
  const points: TrackPoint[] = [];
  const add = (rows: readonly SampleRow[]): void => {
    for (const p of trackFromRows(vehicle.id, vehicle.kind, rows as unknown as Record<string, unknown>[]).points) points.push(p);
  };
  for (let a = from; a < to; a += chunkMs) {
    const b = Math.min(a + chunkMs, to);
    let cursor = a;
    for (;;) {
      const rows = (await store.samples({ kind: vehicle.kind, device: vehicle.id, from: cursor, to: b, limit: pageRows })) as SampleRow[];
      if (rows.length < pageRows) {
        add(rows);
        break;
      }
      const lastT = rows[rows.length - 1]!.t;
      if (lastT === cursor) {
        // a whole page in one millisecond (a stuck clock): a track keeps the first sample of a time anyway
        add(rows);
        cursor = lastT + 1;
      } else {
        // the rest of the last millisecond comes with the next page, so no time is split across pages
        add(rows.filter((r) => r.t < lastT));
        cursor = lastT;
      }
      if (cursor >= b) break;
    }
    opts.onChunk?.(b);
  }
  return { device: vehicle.id, kind: vehicle.kind, points };
}

/** A one-line progress bar on a terminal; stage lines otherwise. */
function progressWriter(stream: TracksWriter, total: number): { stage(message: string): void; step(message: string): void; end(): void } {
  let done = 0;
  let lastDraw = 0;
  let drawn = false;
  const draw = (message: string): void => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const width = 30;
    const full = Math.round(fraction * width);
    stream.write(`\r[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(fraction * 100).toFixed(0).padStart(3)} % ${message.padEnd(40).slice(0, 40)}`);
    drawn = true;
  };
  return {
    stage(message) {
      if (stream.isTTY) draw(message);
      else stream.write(`${message}\n`);
    },
    step(message) {
      done++;
      if (!stream.isTTY) return;
      const now = Date.now();
      if (now - lastDraw < 100 && done < total) return;
      lastDraw = now;
      draw(message);
    },
    end() {
      if (stream.isTTY && drawn) stream.write('\n');
    },
  };
}

/** Writes a file whole or not at all (a temporary file renamed into place). */
async function writeOut(path: string, body: string): Promise<number> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, body);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new OutputError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return Buffer.byteLength(body);
}

const size = (bytes: number): string => (bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${fmt(bytes / 1024)} kB` : `${fmt(bytes / 1024 / 1024)} MB`);

/** Opens the store the configuration names; says why not (the demo holding the DuckDB file, most often). */
async function openStore(config: Config, logger: Logger, sub: Sub): Promise<TelemetryStore> {
  const rest = `ask the running gateway instead: ${REST[sub]} (services/gateway/README.md)`;
  let path: string | undefined;
  if (config.store.adapter === 'embedded') {
    if (config.store.embedded.file === ':memory:') throw new StoreUnavailable("the embedded store is ':memory:' in this configuration: it keeps nothing to read");
    path = resolve(config.deployment.dataDir, config.store.embedded.file);
    // opening a file that is not there would create an empty store and report nothing
    if (!(await stat(path).then((s) => s.isFile(), () => false))) {
      throw new StoreUnavailable(`no embedded store at ${path}: nothing was recorded with this configuration (check --config, deployment.dataDir and store.embedded.file)`);
    }
  }
  const store = createStore(config, { logger });
  try {
    await store.start();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const message = (err as Error).message;
    if (path !== undefined && /lock/i.test(message)) {
      const pid = /PID (\d+)/.exec(message)?.[1];
      throw new StoreUnavailable(
        `${String(code)}: the embedded store ${path} is open in another process${pid ? ` (PID ${pid})` : ''} — the demo (pnpm start) keeps it open while it runs, and DuckDB lets one process at a time open the file. Stop the demo, or ${rest}`,
      );
    }
    throw new StoreUnavailable(`${String(code)}: ${message}${config.store.adapter === 'influx' ? '' : `; or ${rest}`}`);
  }
  return store;
}

/** Reads the tracks of the vehicles, each in its window, with progress per vehicle × hour. */
async function readTracks(store: TelemetryStore, jobs: readonly { vehicle: Vehicle; from: number; to: number }[], bar: ReturnType<typeof progressWriter>): Promise<Track[]> {
  const tracks: Track[] = [];
  for (const { vehicle, from, to } of jobs) {
    bar.stage(`reading ${vehicle.id}: ${iso(from)} – ${iso(to)}, ${Math.ceil((to - from) / TRACKS_CHUNK_MS)} chunk(s) of 1 h`);
    try {
      tracks.push(await readTrack(store, vehicle, from, to, { onChunk: (t) => bar.step(`${vehicle.id} ${iso(t).slice(0, 16)}Z`) }));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new StoreUnavailable(`${typeof code === 'string' ? `${code}: ` : ''}reading ${vehicle.id} from the store failed: ${(err as Error).message}`);
    }
  }
  return tracks;
}

const chunks = (from: number, to: number): number => Math.ceil((to - from) / TRACKS_CHUNK_MS);
const positioned = (t: Track): number => t.points.reduce((n, p) => n + (p.lon !== undefined ? 1 : 0), 0);

/** One run's outputs and summary. */
interface Outcome {
  readonly files: readonly { readonly path: string; readonly body: string; readonly note: string }[];
  readonly summary: readonly string[];
}

/** A plan: what to read, then what to make of it. */
interface Plan {
  readonly jobs: readonly { vehicle: Vehicle; from: number; to: number }[];
  make(tracks: readonly Track[], bar: ReturnType<typeof progressWriter>): Outcome;
}

/** `export`: one vehicle's track in one or more formats. */
function planExport(v: Values, config: Config, configFile: string, out: string): Plan {
  const formats = formatsOf('export', v, out) as ExportFormat[];
  const { from, to } = parseWindow(v['from'] as string | undefined, v['to'] as string | undefined);
  const tolerance = numberOption(v, 'simplify', 0, 1000, 'm');
  if (typeof v['device'] !== 'string') throw new UsageError('missing --device');
  const vehicle = vehicleOf(config, v['device'], configFile);
  return {
    jobs: [{ vehicle, from, to }],
    make([raw]) {
      const track = tolerance ? simplifyTrack(raw!, tolerance) : raw!;
      const files = formats.map((format) => {
        const file = exportTrack(track, format, { split: v['split'] === true, name: vehicle.name ?? vehicle.id });
        const path = formats.length === 1 ? out : `${out.slice(0, out.length - extname(out).length)}.${file.extension}`;
        const points = format === 'csv' ? track.points.length : positioned(track);
        return { path, body: file.body, note: `${points} ${format === 'csv' ? 'rows' : 'points'} (${format}${v['split'] === true && format !== 'csv' ? ', split' : ''})` };
      });
      const summary = [
        `${vehicle.id} (${vehicle.name}), ${iso(from)} – ${iso(to)}: ${raw!.points.length} samples read, ${positioned(raw!)} with a position, in ${chunks(from, to)} chunk(s)`,
        ...(tolerance ? [`  simplified at ${tolerance} m: ${track.points.length} of ${raw!.points.length} samples kept`] : []),
        ...(raw!.points.length === 0 ? [`  note: no samples of ${vehicle.id} in this window`] : []),
      ];
      return { files, summary };
    },
  };
}

/** `coverage`: the road network in segments with passes, as the gateway's GeoJSON. */
function planCoverage(v: Values, config: Config, configFile: string, out: string): Plan {
  formatsOf('coverage', v, out);
  const { from, to } = parseWindow(v['from'] as string | undefined, v['to'] as string | undefined);
  const segmentLengthM = numberOption(v, 'segment-length', 5, 1000, 'm');
  const plows = plowsOf(config, v['devices'], configFile);
  const network = networkOf(config, segmentLengthM);
  return {
    jobs: plows.map((vehicle) => ({ vehicle, from, to })),
    make(tracks, bar) {
      bar.stage(`matching ${tracks.length} track(s) to ${network.segments.length} road segments`);
      const result = roadCoverage(network, [...tracks], { from, to });
      const fc = coverageGeoJSON(result);
      const body = JSON.stringify({ ...fc, from: iso(from), to: iso(to), unmatched: result.unmatched.length, unmatchedSamples: result.unmatched.slice(0, 1000) });
      const served = result.segments.filter((s) => s.lastPass !== undefined);
      const len = (list: typeof result.segments): number => list.reduce((m, s) => m + s.segment.lengthM, 0);
      const roads = [...new Set(result.segments.map((s) => s.segment.road))];
      const byRoad = roads.map((r) => {
        const segs = result.segments.filter((s) => s.segment.road === r);
        return `${r} ${segs.filter((s) => s.lastPass !== undefined).length}/${segs.length}`;
      });
      const s = result.stats;
      return {
        files: [{ path: out, body, note: `${result.segments.length} segments (geojson)` }],
        summary: [
          `coverage ${iso(from)} – ${iso(to)}, ${plows.length} plow(s): ${plows.map((p) => p.id).join(', ')}`,
          `  segments served  ${served.length} / ${result.segments.length} (${fmt(len(served) / 1000, 2)} of ${fmt(len(result.segments) / 1000, 2)} km, ${pct(len(result.segments) > 0 ? len(served) / len(result.segments) : 0)} of the length)`,
          `  by road          ${byRoad.slice(0, 30).join(', ')}${byRoad.length > 30 ? `, … (${byRoad.length} roads)` : ''}`,
          `  blade-down samples ${s.bladeDown}: ${s.matched} matched, ${s.unmatched} unmatched, ${s.noPosition} without position; ${s.passes} passes`,
        ],
      };
    },
  };
}

/** `report`: a shift report per plow (JSON as the gateway's, or CSV). */
function planShifts(v: Values, config: Config, configFile: string, out: string): Plan {
  const [format] = formatsOf('report', v, out);
  for (const k of ['storm-end', 'levels']) if (typeof v[k] === 'string') throw new UsageError(`--${k} applies to storm reports: add --storm (or use tracks storm)`);
  const { from, to } = parseWindow(v['from'] as string | undefined, v['to'] as string | undefined);
  // the limit shiftReport enforces, checked before reading anything
  if (to - from > MAX_SHIFT_H * H) throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `a shift is at most ${MAX_SHIFT_H} h, got ${fmt((to - from) / H)} h`);
  const plows = plowsOf(config, v['devices'], configFile);
  return {
    jobs: plows.map((vehicle) => ({ vehicle, from, to })),
    make(tracks) {
      const reports = tracks.map((t) => shiftReport(t, { from, to }));
      const body = format === 'csv' ? shiftReportCsv(reports) : JSON.stringify({ from, to, reports });
      const rows = reports.map((r) => `  ${r.device.padEnd(12)} ${fmt(r.drivenKm, 2).padStart(9)} ${fmt(r.bladeDownKm, 2).padStart(9)} ${fmt(r.deadheadKm, 2).padStart(9)} ${fmt(r.workingH, 2).padStart(8)} ${fmt(r.transitH, 2).padStart(8)} ${fmt(r.idleH, 2).padStart(7)} ${fmt(r.noDataH, 2).padStart(8)} ${fmt(r.saltKg).padStart(8)}`);
      return {
        files: [{ path: out, body, note: `${reports.length} shift report(s) (${format})` }],
        summary: [
          `shifts ${iso(from)} – ${iso(to)}`,
          `  ${'device'.padEnd(12)} ${'driven km'.padStart(9)} ${'blade km'.padStart(9)} ${'dead km'.padStart(9)} ${'work h'.padStart(8)} ${'transit'.padStart(8)} ${'idle h'.padStart(7)} ${'no data'.padStart(8)} ${'salt kg'.padStart(8)}`,
          ...rows,
        ],
      };
    },
  };
}

/** `storm` (or `report --storm`): storm compliance from --from, as the gateway's. */
function planStorm(v: Values, config: Config, configFile: string, out: string): Plan {
  const [format] = formatsOf('storm', v, out);
  const { from, to } = parseWindow(v['from'] as string | undefined, v['to'] as string | undefined);
  const stormEnd = typeof v['storm-end'] === 'string' ? parseWindow(String(from), v['storm-end']).to : to;
  const levelsText = v['levels'];
  if (typeof levelsText === 'string' && !LEVELS.test(levelsText)) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `--levels must be class:hours pairs, classes 1–5, e.g. 1:4,2:12 (got ${JSON.stringify(levelsText)})`);
  }
  const levels = typeof levelsText === 'string' ? Object.fromEntries(levelsText.split(',').map((kv) => kv.split(':').map(Number) as [number, number])) : undefined;
  const plows = plowsOf(config, v['devices'], configFile);
  const network = networkOf(config);
  return {
    jobs: plows.map((vehicle) => ({ vehicle, from, to })),
    make(tracks, bar) {
      bar.stage(`matching ${tracks.length} track(s) to ${network.segments.length} road segments`);
      const report = stormReport(roadCoverage(network, [...tracks], { from, to }), { stormStart: from, stormEnd, ...(levels ? { levels } : {}) });
      const body = format === 'csv' ? stormReportCsv(report) : format === 'geojson' ? JSON.stringify(unservicedGeoJSON(report)) : JSON.stringify(report);
      const counts = { on_time: 0, late: 0, unserviced: 0, pending: 0 };
      for (const s of report.segments) counts[s.status]++;
      return {
        files: [{ path: out, body, note: format === 'geojson' ? `${report.unserviced.length} unserviced segment(s) (geojson)` : `${report.segments.length} segments (${format})` }],
        summary: [
          `storm from ${iso(from)} to ${iso(stormEnd)}, as of ${iso(to)}, ${plows.length} plow(s): ${pct(report.total.onTimeShare)} of ${fmt(report.total.lengthM / 1000, 2)} km served on time`,
          `  segments: ${counts.on_time} on time, ${counts.late} late, ${counts.unserviced} unserviced, ${counts.pending} pending`,
          '  class  level h  on time   length km  late km  unserviced km  pending km',
          ...report.classes.map((c) => `  ${String(c.class).padStart(5)}  ${fmt(c.levelH, 0).padStart(7)}  ${pct(c.onTimeShare).padStart(7)}  ${fmt(c.lengthM / 1000, 2).padStart(10)}  ${fmt(c.lateLengthM / 1000, 2).padStart(7)}  ${fmt(c.unservicedLengthM / 1000, 2).padStart(13)}  ${fmt(c.pendingLengthM / 1000, 2).padStart(10)}`),
          ...behindByRoad(report).slice(0, 10),
        ],
      };
    },
  };
}

/** Roads with late or unserviced segments, longest overdue first: one line each rather than one per segment. */
function behindByRoad(report: StormReport): string[] {
  const roads = new Map<string, { name: string; class: number; segments: number; late: number; unserviced: number; lengthM: number; overdueMin: number }>();
  for (const s of report.segments) {
    const r = roads.get(s.road) ?? { name: s.name, class: s.class, segments: 0, late: 0, unserviced: 0, lengthM: 0, overdueMin: 0 };
    roads.set(s.road, r);
    r.segments++;
    if (s.status !== 'late' && s.status !== 'unserviced') continue;
    r[s.status]++;
    r.lengthM += s.lengthM;
    r.overdueMin = Math.max(r.overdueMin, ((s.status === 'late' ? s.firstPass! : report.asOf) - s.deadline) / 60_000);
  }
  return [...roads.entries()]
    .filter(([, r]) => r.late + r.unserviced > 0)
    .sort((a, b) => b[1].overdueMin - a[1].overdueMin)
    .map(([id, r]) => `  behind: ${id} (${r.name}, class ${r.class}): ${[r.late ? `${r.late} late` : '', r.unserviced ? `${r.unserviced} unserviced` : ''].filter(Boolean).join(', ')} of ${r.segments} segments, ${fmt(r.lengthM / 1000, 2)} km, up to ${fmt(r.overdueMin, 0)} min overdue`);
}

/** Reconciliation lines as CSV (RFC 4180, CRLF). */
export const RECONCILE_CSV_COLUMNS = ['line', 'vehicle', 'start', 'end', 'claimed_hours', 'claimed_km', 'route', 'samples', 'gps_blade_down_hours', 'gps_km', 'gps_blade_down_km', 'route_length_m', 'route_covered_m', 'route_share', 'verdict', 'differences'] as const;

/** One CSV line per claim: what was claimed, what the GPS shows, the verdict and why. */
export function reconcileCsv(lines: readonly ClaimReconciliation[]): string {
  const field = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = lines.map((l) =>
    [
      String(l.claim.line),
      l.claim.vehicle,
      iso(l.claim.start),
      iso(l.claim.end),
      String(l.claim.claimedHours),
      String(l.claim.claimedKm),
      l.claim.route.join(';'),
      String(l.samples),
      l.gpsBladeDownHours.toFixed(3),
      l.gpsKm.toFixed(3),
      l.gpsBladeDownKm.toFixed(3),
      l.routeLengthM.toFixed(1),
      l.routeCoveredM.toFixed(1),
      l.routeShare === undefined ? '' : l.routeShare.toFixed(3),
      l.verdict,
      l.differences.join(' '),
    ]
      .map(field)
      .join(','),
  );
  return [RECONCILE_CSV_COLUMNS.join(','), ...rows].map((r) => `${r}\r\n`).join('');
}

/** `reconcile`: a contractor's claims against the GPS, as the gateway's. */
async function planReconcile(v: Values, config: Config, configFile: string, out: string): Promise<Plan> {
  const [format] = formatsOf('reconcile', v, out);
  const offset = v['offset'];
  if (typeof offset === 'string' && !OFFSET.test(offset)) throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `--offset must be a UTC offset like +09:00 (got ${JSON.stringify(offset)})`);
  const claimsFile = v['claims'];
  if (typeof claimsFile !== 'string') throw new UsageError('missing --claims');
  let text: string;
  try {
    text = await readFile(claimsFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TracksError('HATAKE_ERR_TRACKS_CLAIMS', `cannot read ${claimsFile}: ${code === 'ENOENT' ? 'no such file' : String(code ?? err)}`);
  }
  const claims = parseClaims(text, typeof offset === 'string' ? { defaultOffset: offset } : {});
  const jobs = [...new Set(claims.map((c) => c.vehicle))].map((id) => {
    const vehicle = vehicleOf(config, id, configFile);
    const mine = claims.filter((c) => c.vehicle === id);
    const from = Math.min(...mine.map((c) => c.start));
    const to = Math.max(...mine.map((c) => c.end));
    if (to - from > TRACKS_MAX_RANGE_DAYS * 86_400_000) throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `the claims of ${id} span more than ${TRACKS_MAX_RANGE_DAYS} days: reconcile them in parts`);
    return { vehicle, from, to };
  });
  const network = networkOf(config);
  return {
    jobs,
    make(tracks, bar) {
      bar.stage(`reconciling ${claims.length} claim line(s) of ${tracks.length} vehicle(s)`);
      const lines = reconcile(claims, new Map(tracks.map((t) => [t.device, t])), network);
      const body = format === 'csv' ? reconcileCsv(lines) : JSON.stringify({ lines });
      const count = (verdict: ClaimReconciliation['verdict']): number => lines.filter((l) => l.verdict === verdict).length;
      return {
        files: [{ path: out, body, note: `${lines.length} line(s) (${format})` }],
        summary: [
          `${lines.length} claim line(s) of ${claimsFile}: ${count('matches')} matches, ${count('differs')} differs, ${count('no_gps')} no GPS`,
          ...lines.filter((l) => l.verdict !== 'matches').map((l) => `  line ${l.claim.line} ${l.claim.vehicle}: ${l.verdict === 'no_gps' ? 'no GPS' : 'differs'}${l.differences.length ? ` — ${l.differences.join(' ')}` : ''}`),
        ],
      };
    },
  };
}

/** Runs `hatake tracks …`; returns the exit code. */
export async function tracksCommand(argv: readonly string[], deps: TracksDeps): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    (first === undefined ? stderr : stdout).write(`${TRACKS_USAGE}\n`);
    return first === undefined ? 2 : 0;
  }
  if (!SUBS.includes(first as Sub)) {
    stderr.write(`unknown tracks command: ${first}\n\n${TRACKS_USAGE}\n`);
    return 2;
  }
  let sub = first as Sub;
  let v: Values;
  try {
    v = parseArgs({ args: argv.slice(1), allowPositionals: false, options: OPTIONS[sub] }).values as Values;
  } catch (err) {
    stderr.write(`${(err as Error).message}\n\n${TRACKS_USAGE}\n`);
    return 2;
  }
  if (v['help']) {
    stdout.write(`${TRACKS_USAGE}\n`);
    return 0;
  }
  if (sub === 'report' && v['storm'] === true) sub = 'storm';
  const configFile = typeof v['config'] === 'string' ? v['config'] : (deps.env[ENV_CONFIG_FILE] ?? deps.defaultConfig);
  const logger = createLogger({ name: 'hatake', level: v['verbose'] ? 'info' : 'warn' }, stderr as { write(msg: string): void });
  let store: TelemetryStore | undefined;
  let bar: ReturnType<typeof progressWriter> | undefined;
  try {
    const out = v['out'];
    if (typeof out !== 'string' || out === '') throw new UsageError('missing --out');
    const config = await loadConfig({ file: configFile, env: deps.env, requireCredentials: false });
    const plan =
      sub === 'export'
        ? planExport(v, config, configFile, out)
        : sub === 'coverage'
          ? planCoverage(v, config, configFile, out)
          : sub === 'report'
            ? planShifts(v, config, configFile, out)
            : sub === 'storm'
              ? planStorm(v, config, configFile, out)
              : await planReconcile(v, config, configFile, out);
    store = await openStore(config, logger, sub);
    bar = progressWriter(stderr, plan.jobs.reduce((n, j) => n + chunks(j.from, j.to), 0));
    const tracks = await readTracks(store, plan.jobs, bar);
    await store.stop();
    store = undefined;
    let outcome: Outcome;
    try {
      outcome = plan.make(tracks, bar);
    } catch (err) {
      // a string longer than V8 allows: a month of 1 Hz GPX is about 900 MB
      if (err instanceof RangeError && /string length/i.test(err.message)) throw new TracksError('HATAKE_ERR_TRACKS_RANGE', 'the output is too large for one file: use a shorter window or --simplify');
      throw err;
    }
    const written: string[] = [];
    for (const f of outcome.files) {
      bar.stage(`writing ${f.path}`);
      written.push(`  wrote ${f.note} → ${f.path} (${size(await writeOut(f.path, f.body))})`);
    }
    bar.end();
    stdout.write(`${[...outcome.summary, ...written].join('\n')}\n`);
    return 0;
  } catch (err) {
    bar?.end();
    if (err instanceof UsageError) {
      stderr.write(`${err.message}\n\n${TRACKS_USAGE}\n`);
      return 2;
    }
    if (err instanceof TracksError) {
      stderr.write(`${err.code}: ${err.message}\n`);
      return 2;
    }
    if (String((err as { code?: unknown }).code).startsWith('HATAKE_ERR_CONFIG')) {
      stderr.write(`${(err as Error).message}\n`);
      return 2;
    }
    if (err instanceof StoreUnavailable || err instanceof OutputError) {
      stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await store?.stop().catch(() => undefined);
  }
}
