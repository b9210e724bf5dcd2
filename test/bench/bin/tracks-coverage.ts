/**
 * tracks.coverage: 20 plows' storm day → road coverage and storm report
 * (roadCoverage, stormReport, the report as JSON, as the gateway's storm
 * route does them), once, in a process of its own so the peak RSS is the
 * run's alone. The network is built first and timed apart (the gateway builds
 * it once and keeps it). The tracks come
 *
 * - `memory`: generated here plow by plow, each through trackFromRows, then a
 *   full GC after each (run with --expose-gc);
 * - `influx`: read from InfluxDB as the storm route reads them (two plows at
 *   a time, each track made from its rows as they arrive), timed apart, with
 *   the store's default timeout.
 *
 * Spec as JSON in argv[2]; prints the figures as JSON.
 */
import { performance } from 'node:perf_hooks';
import { silentLogger } from '@hatake/runtime';
import { influxSettingsFor } from '@hatake/testkit';
import { InfluxStore } from '@hatake/store';
import { TRACK_MATCH_FIELDS } from '@hatake/gateway';
import { gridRoads, loadTracks, plowDay, plowId, type BenchTrack, type CoverageRunResult, type CoverageSpec } from '../tracks.ts';

const spec = JSON.parse(process.argv[2]!) as CoverageSpec;
const MAX_POINTS = 100_000; // gateway.api.maxPoints (default)
/** The store's default request timeout, as the gateway runs it. */
const TIMEOUT_MS = 10_000;
/** With --expose-gc. */
const gc = (globalThis as { gc?: () => void }).gc;
const peakMb = (): number => process.resourceUsage().maxRSS / 1024;
const tracks = await loadTracks();

const n0 = performance.now();
const network = tracks.RoadNetwork.build(tracks.parseRoadNetwork(gridRoads()));
const networkMs = performance.now() - n0;

let list: BenchTrack[];
let readMs: number | undefined;
let fromRowsMs = 0;
if (spec.source === 'influx') {
  const store = new InfluxStore(influxSettingsFor(spec.db!, { timeoutMs: TIMEOUT_MS }), { logger: silentLogger() });
  await store.start();
  const r0 = performance.now();
  const read: BenchTrack[] = new Array<BenchTrack>(spec.plows);
  let next = 0;
  // two reads at a time, as the gateway's road routes do
  const reader = async (): Promise<void> => {
    while (next < spec.plows) {
      const i = next++;
      const rows = await store.samples({ kind: 'plow', device: plowId(i), from: spec.from, to: spec.to, limit: MAX_POINTS + 1, fields: TRACK_MATCH_FIELDS });
      const s = performance.now();
      read[i] = tracks.trackFromRows(plowId(i), 'plow', rows as unknown as Record<string, unknown>[]);
      fromRowsMs += performance.now() - s;
    }
  };
  await Promise.all([reader(), reader()]);
  list = read;
  readMs = performance.now() - r0;
  await store.stop();
} else {
  // each day's rows collected before the next is made: what stays is the tracks
  list = Array.from({ length: spec.plows }, (_, i) => {
    const track = tracks.trackFromRows(plowId(i), 'plow', plowDay(i) as unknown as Record<string, unknown>[]);
    gc?.();
    return track;
  });
}
gc?.();
const heapBeforeMb = process.memoryUsage().heapUsed / 1_048_576;
const peakBeforeMb = peakMb();
const rssBeforeMb = process.memoryUsage().rss / 1_048_576;

// the timed part
const t0 = performance.now();
const coverage = tracks.roadCoverage(network, list, { from: spec.from, to: spec.to });
const t1 = performance.now();
const report = tracks.stormReport(coverage, { stormStart: spec.from, stormEnd: spec.stormEnd });
const t2 = performance.now();
const json = JSON.stringify(report);
const t3 = performance.now();

const result: CoverageRunResult = {
  source: spec.source,
  totalMs: t3 - t0,
  coverageMs: t1 - t0,
  stormMs: t2 - t1,
  serializeMs: t3 - t2,
  jsonBytes: Buffer.byteLength(json),
  ...(readMs !== undefined ? { readMs, fromRowsMs, timeoutMs: TIMEOUT_MS } : {}),
  networkMs,
  segments: network.segments.length,
  peakRssMb: peakMb(),
  peakBeforeMb,
  rssBeforeMb,
  heapBeforeMb,
  stats: coverage.stats,
  onTime: report.classes.map((c) => ({ class: c.class, share: c.onTimeShare })),
  unserviced: report.unserviced.length,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
