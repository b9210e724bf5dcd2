/**
 * tracks.day: one plow's day read from InfluxDB and exported as simplified
 * GeoJSON split by blade state, stage by stage as the gateway's track route
 * does it (store.samples → trackFromRows → simplifyTrack → exportTrack), a
 * few warm-up runs then the medians; and the store's query sent by hand, to
 * tell influxd's time from the store's. Spec as JSON in argv[2]; prints the
 * figures as JSON.
 */
import { performance } from 'node:perf_hooks';
import { silentLogger } from '@hatake/runtime';
import { InfluxStore, influxIdent, influxLiteral } from '@hatake/store';
import { TRACK_GEOJSON_FIELDS } from '@hatake/gateway';
import { influxSettingsFor } from '@hatake/testkit';
import { loadTracks, type DayResult } from '../tracks.ts';

const spec = JSON.parse(process.argv[2]!) as { db: { url: string; username: string; password: string }; device: string; from: number; to: number; toleranceM: number; warmup: number; runs: number };
const MAX_POINTS = 100_000; // gateway.api.maxPoints (default)
const tracks = await loadTracks();
const settings = influxSettingsFor(spec.db);
const store = new InfluxStore(settings, { logger: silentLogger() });
await store.start();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The store's query for raw samples, sent by hand: influxd's answer to its last byte, then JSON.parse. */
async function byHand(): Promise<{ influxMs: number; parseMs: number; bytes: number }> {
  const q = `SELECT * FROM ${influxIdent(settings.database)}.${influxIdent(settings.retentionPolicy)}.${influxIdent('plow')} WHERE "device" = ${influxLiteral(spec.device)} AND time >= ${spec.from}ms AND time < ${spec.to}ms ORDER BY time ASC LIMIT ${MAX_POINTS + 1}`;
  const t0 = performance.now();
  const res = await fetch(`${settings.url}/query`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${settings.username}:${settings.password}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded', 'accept-encoding': 'identity' },
    body: new URLSearchParams({ q, epoch: 'ms', db: settings.database }).toString(),
  });
  const text = await res.text();
  const t1 = performance.now();
  JSON.parse(text);
  return { influxMs: t1 - t0, parseMs: performance.now() - t1, bytes: Buffer.byteLength(text) };
}

const runs: { total: number; read: number; fromRows: number; simplify: number; export: number; rows: number; points: number; parts: number; bytes: number }[] = [];
const hand: { influxMs: number; parseMs: number; bytes: number }[] = [];
for (let r = 0; r < spec.warmup + spec.runs; r++) {
  const t0 = performance.now();
  // the fields the track route reads for GeoJSON
  const rows = await store.samples({ kind: 'plow', device: spec.device, from: spec.from, to: spec.to, limit: MAX_POINTS + 1, fields: TRACK_GEOJSON_FIELDS });
  const t1 = performance.now();
  const track = tracks.trackFromRows(spec.device, 'plow', rows as unknown as Record<string, unknown>[]);
  const t2 = performance.now();
  const simplified = tracks.simplifyTrack(track, spec.toleranceM);
  const t3 = performance.now();
  const file = tracks.exportTrack(simplified, 'geojson', { split: true, name: spec.device });
  const t4 = performance.now();
  const parts = (JSON.parse(file.body) as { features: unknown[] }).features.length;
  if (r >= spec.warmup) {
    runs.push({ total: t4 - t0, read: t1 - t0, fromRows: t2 - t1, simplify: t3 - t2, export: t4 - t3, rows: rows.length, points: simplified.points.length, parts, bytes: Buffer.byteLength(file.body) });
    hand.push(await byHand());
  }
}
await store.stop();
const result: DayResult = {
  runs: spec.runs,
  warmup: spec.warmup,
  rows: runs[0]!.rows,
  points: runs[0]!.points,
  parts: runs[0]!.parts,
  bytes: runs[0]!.bytes,
  totalMs: median(runs.map((x) => x.total)),
  readMs: median(runs.map((x) => x.read)),
  fromRowsMs: median(runs.map((x) => x.fromRows)),
  simplifyMs: median(runs.map((x) => x.simplify)),
  exportMs: median(runs.map((x) => x.export)),
  influxMs: median(hand.map((x) => x.influxMs)),
  parseMs: median(hand.map((x) => x.parseMs)),
  jsonBytes: hand[0]!.bytes,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
