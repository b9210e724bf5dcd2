import { silentLogger } from '@hatake/runtime';
import { InfluxStore } from '@hatake/store';
import { startInfluxd } from '@hatake/testkit';
import { examplePlowSample } from '@hatake/protocol';
import { influxSettings } from './tracks.ts';
const db = await startInfluxd();
const settings = influxSettings(db);
const store = new InfluxStore(settings, { logger: silentLogger() });
await store.start();
const T0 = Date.UTC(2025, 0, 15);
const recs = Array.from({ length: 86_400 }, (_, i) => ({ kind: 'plow' as const, device: 'p01', sample: examplePlowSample({ seq: i, t: T0 + i * 1000, lat: 43.19 + i * 1e-6, lon: 141.77 + i * 1e-6, blade: i % 600 < 400 ? 'down' : 'up' }) }));
for (let i = 0; i < recs.length; i += 10000) await store.writeSamples(recs.slice(i, i + 10000));
const q = async (sel: string, from: number, to: number): Promise<number> => {
  const params = new URLSearchParams({ q: `SELECT ${sel} FROM "hatake"."hatake"."plow" WHERE "device"='p01' AND time >= ${from}ms AND time < ${to}ms`, db: 'hatake', epoch: 'ms' });
  const res = await fetch(`${db.url}/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${db.username}:${db.password}`).toString('base64')}` }, body: params.toString() });
  const body = (await res.json()) as { results: { series?: { values: unknown[][] }[] }[] };
  if (!body.results) console.log(JSON.stringify(body).slice(0, 300)); return body.results[0]!.series?.[0]?.values.length ?? 0;
};
const day = 86_400_000;
for (const [label, sel] of [['*', '*'], ['lat,lon,blade,fix', 'lat,lon,blade,fix']] as const) {
  for (const parts of [1, 2, 4, 8]) {
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t = performance.now();
      const n = await Promise.all(Array.from({ length: parts }, (_, i) => q(sel, T0 + (i * day) / parts, T0 + ((i + 1) * day) / parts)));
      times.push(performance.now() - t);
      if (n.reduce((a, b) => a + b, 0) !== 86_400) console.log('count', n);
    }
    times.sort((a, b) => a - b);
    console.log(label, parts, 'parts', times[2]!.toFixed(0), 'ms');
  }
}
await store.stop();
await db.stop();
