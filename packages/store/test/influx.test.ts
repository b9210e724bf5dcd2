/**
 * The influx adapter against a real influxd (Debian's 1.6) with auth on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxConfig } from '@hatake/config';
import { EXAMPLE_T0, exampleTractorSample } from '@hatake/protocol';
import { silentLogger } from '@hatake/runtime';
import { InfluxStore, type TelemetryStore } from '@hatake/store';
import { influxSettingsFor, startInfluxd, type Influxd } from '@hatake/testkit';
import { gzipThresholdFor } from '../src/influx/writer.ts';
import { storeContract } from './contract.ts';

let influxd: Influxd;
let n = 0;
const open: TelemetryStore[] = [];

beforeAll(async () => {
  influxd = await startInfluxd();
});
afterAll(async () => {
  await Promise.all(open.map((s) => s.stop()));
  await influxd.stop();
});

function settings(over: Partial<InfluxConfig> = {}): InfluxConfig {
  return influxSettingsFor(influxd, { database: `hatake_${++n}`, maxRetries: 3, maxRetryTimeMs: 10_000, timeoutMs: 5000, ...over });
}

storeContract('influx (real influxd 1.6, auth on)', async () => {
  const s = settings();
  const store = new InfluxStore(s, { logger: silentLogger() });
  await store.start();
  open.push(store);
  return {
    store,
    async reopen() {
      await store.stop();
      const again = new InfluxStore(s, { logger: silentLogger() });
      await again.start();
      open.push(again);
      return again;
    },
  };
});

describe('influx adapter', () => {
  it('gzips write bodies and query answers only for an InfluxDB elsewhere, unless told; both ways work', async () => {
    const at = (url: string, gzip: InfluxConfig['gzip']): number | undefined => gzipThresholdFor({ url, gzip, gzipThreshold: 1000 });
    for (const url of ['http://127.0.0.1:8086', 'http://127.9.0.1:8086', 'http://localhost:8086', 'http://[::1]:8086', 'http://influx.localhost']) expect(at(url, 'auto')).toBeUndefined();
    for (const url of ['http://10.0.0.5:8086', 'https://eu-central-1-1.aws.cloud2.influxdata.com', 'http://127.example.com']) expect(at(url, 'auto')).toBe(1000);
    expect(at('http://127.0.0.1:8086', 'always')).toBe(1000);
    expect(at('https://influx.example.jp', 'never')).toBeUndefined();
    for (const gzip of ['always', 'never'] as const) {
      const s = settings({ gzip });
      const store = new InfluxStore(s, { logger: silentLogger() });
      await store.start();
      open.push(store);
      // 50 samples: a body well over the threshold
      await store.writeSamples(Array.from({ length: 50 }, (_, i) => ({ kind: 'tractor' as const, device: 't1', sample: exampleTractorSample({ seq: i, t: EXAMPLE_T0 + i * 200 }) })));
      expect(JSON.stringify(await influxd.query('SELECT count(seq) FROM hatake.tractor', s.database))).toContain(',50]');
      // and read back, the answer gzipped or not
      expect((await store.samples({ kind: 'tractor', device: 't1', from: EXAMPLE_T0, to: EXAMPLE_T0 + 60_000, limit: 100 })).map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    }
  });

  it('creates the database and a retention policy it can write to', async () => {
    const s = settings({ retentionDays: 30 });
    const store = new InfluxStore(s, { logger: silentLogger() });
    await store.start();
    open.push(store);
    const rps = JSON.stringify(await influxd.query(`SHOW RETENTION POLICIES ON "${s.database}"`));
    expect(rps).toContain('"hatake","720h0m0s"');
    await store.writeSamples([{ kind: 'tractor', device: 't1', sample: exampleTractorSample() }]);
    expect(JSON.stringify(await influxd.query('SELECT count(seq) FROM hatake.tractor', s.database))).toContain(',1]');
  });

  it('refuses wrong credentials with a clear error', async () => {
    const store = new InfluxStore(settings({ password: 'wrong', createDatabase: false, maxRetries: 0 }), { logger: silentLogger() });
    await store.start();
    open.push(store);
    await expect(store.samples({ kind: 'tractor', device: 't1', from: 0, to: 1, limit: 1 })).rejects.toMatchObject({ code: 'HATAKE_ERR_STORE_QUERY', message: expect.stringContaining('401') });
    await expect(store.writeSamples([{ kind: 'tractor', device: 't1', sample: exampleTractorSample() }])).rejects.toMatchObject({ code: 'HATAKE_ERR_STORE_REFUSED' });
    expect(store.counters.failed).toBe(1);
  });

  it('says when InfluxDB refuses points outside the retention policy, and stores the rest', async () => {
    const s = settings({ retentionDays: 1 });
    const store = new InfluxStore(s, { logger: silentLogger() });
    await store.start();
    open.push(store);
    const fresh = exampleTractorSample({ seq: 1, t: Date.now() - 1000 });
    const old = exampleTractorSample({ seq: 2, t: Date.now() - 3 * 86_400_000 });
    await expect(
      store.writeSamples([
        { kind: 'tractor', device: 't1', sample: fresh },
        { kind: 'tractor', device: 't1', sample: old },
      ]),
    ).rejects.toMatchObject({ code: 'HATAKE_ERR_STORE_REFUSED', message: expect.stringContaining('partial write') });
    const rows = await store.samples({ kind: 'tractor', device: 't1', from: Date.now() - 5 * 86_400_000, to: Date.now() + 1000, limit: 10 });
    expect(rows.map((r) => r.seq)).toEqual([1]);
  });

  it('reports a write it could not get stored once the database is gone', async () => {
    const store = new InfluxStore(settings({ url: 'http://127.0.0.1:1', createDatabase: false, maxRetries: 1, maxRetryTimeMs: 2000 }), { logger: silentLogger() });
    await store.start();
    open.push(store);
    expect(await store.health()).toMatch(/does not answer/);
    await expect(store.writeSamples([{ kind: 'tractor', device: 't1', sample: exampleTractorSample({ t: EXAMPLE_T0 }) }])).rejects.toMatchObject({ code: 'HATAKE_ERR_STORE_WRITE' });
    expect(store.counters.retries).toBeGreaterThanOrEqual(1);
    expect(store.inFlight).toBe(0);
  });
});
