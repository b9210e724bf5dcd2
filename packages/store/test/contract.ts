/**
 * The TelemetryStore contract: every adapter passes this same suite.
 */
import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0, exampleEvent, examplePlowSample, exampleSensorSample, exampleTractorSample, type TractorSample } from '@hatake/protocol';
import type { SampleRecord, TelemetryStore } from '@hatake/store';

export interface StoreUnderTest {
  readonly store: TelemetryStore;
  /** Stops and reopens the same database. */
  reopen(): Promise<TelemetryStore>;
}

const T0 = EXAMPLE_T0;
const tractor = (seq: number, over: Partial<TractorSample> = {}): SampleRecord<'tractor'> => ({
  kind: 'tractor',
  device: 't1',
  farm: 'north',
  field: 'n1',
  sample: exampleTractorSample({ seq, t: T0 + seq * 200, speed: seq % 5, ...over }),
});
const all = { from: T0 - 3_600_000, to: T0 + 3_600_000, limit: 100_000 };

export function storeContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name} store contract`, () => {
    it('stores samples and reads back exactly what was written, oldest first', async () => {
      const { store } = await open();
      const records = [tractor(2), tractor(0), tractor(1, { fix: 'none', lat: undefined, lon: undefined, alt: undefined, hdop: undefined, sats: undefined, speed: undefined, heading: undefined, sections: [true, false, true] })];
      await store.writeSamples(records);
      const rows = await store.samples({ kind: 'tractor', device: 't1', ...all });
      expect(rows).toEqual(
        [tractor(0), tractor(1, { fix: 'none', lat: undefined, lon: undefined, alt: undefined, hdop: undefined, sats: undefined, speed: undefined, heading: undefined, sections: [true, false, true] }), tractor(2)].map((r) =>
          JSON.parse(JSON.stringify(r.sample)),
        ),
      );
      await store.writeSamples([
        { kind: 'plow', device: 'p1', sample: examplePlowSample({ seq: 0 }) },
        { kind: 'sensor', device: 's1', farm: 'north', field: 'n1', sample: exampleSensorSample({ seq: 0 }) },
      ]);
      expect(await store.samples({ kind: 'plow', device: 'p1', ...all })).toEqual([examplePlowSample({ seq: 0 })]);
      expect(await store.samples({ kind: 'sensor', device: 's1', ...all })).toEqual([exampleSensorSample({ seq: 0 })]);
    });

    it('stores a sample written twice once; keeps distinct samples of the same millisecond', async () => {
      const { store } = await open();
      const batch = Array.from({ length: 50 }, (_, i) => tractor(i));
      await store.writeSamples(batch);
      await store.writeSamples(batch);
      await store.writeSamples([...batch.slice(0, 10), ...batch.slice(0, 10)]);
      expect(await store.samples({ kind: 'tractor', device: 't1', ...all })).toHaveLength(50);
      // a device whose clock stood still: same t, different seq
      await store.writeSamples([tractor(100, { t: T0 }), tractor(101, { t: T0 })]);
      const same = (await store.samples({ kind: 'tractor', device: 't1', from: T0, to: T0 + 1, limit: 10 })).map((r) => r.seq as number);
      expect(same.sort((a, b) => a - b)).toEqual([0, 100, 101]);
    });

    it('selects [from, to) and honours the limit', async () => {
      const { store } = await open();
      await store.writeSamples(Array.from({ length: 20 }, (_, i) => tractor(i)));
      const mid = await store.samples({ kind: 'tractor', device: 't1', from: T0 + 5 * 200, to: T0 + 10 * 200, limit: 100 });
      expect(mid.map((r) => r.seq)).toEqual([5, 6, 7, 8, 9]);
      expect((await store.samples({ kind: 'tractor', device: 't1', ...all, limit: 3 })).map((r) => r.seq)).toEqual([0, 1, 2]);
      expect(await store.samples({ kind: 'tractor', device: 'nobody', ...all })).toEqual([]);
    });

    it('reads only the fields asked for; a long window in order and within the limit, however it is read', async () => {
      const { store } = await open();
      // a sample every 10 minutes for 12 hours
      await store.writeSamples(Array.from({ length: 72 }, (_, i) => tractor(i, { t: T0 + i * 600_000 })));
      const day = { kind: 'tractor' as const, device: 't1', from: T0, to: T0 + 12 * 3_600_000 };
      const slim = await store.samples({ ...day, limit: 1000, fields: ['lat', 'lon', 'mode', 'nonsense'] });
      expect(slim.map((r) => r.t)).toEqual(Array.from({ length: 72 }, (_, i) => T0 + i * 600_000));
      expect(Object.keys(slim[0]!).sort()).toEqual(['lat', 'lon', 'mode', 't']);
      expect(slim[5]).toEqual({ t: T0 + 5 * 600_000, lat: tractor(5).sample.lat, lon: tractor(5).sample.lon, mode: tractor(5).sample.mode });
      // seq when asked; nothing the kind has asked: seq, so a row still has a column
      expect((await store.samples({ ...day, limit: 2, fields: ['seq', 'fuel'] }))[1]).toEqual({ t: T0 + 600_000, seq: 1, fuel: tractor(1).sample.fuel });
      expect((await store.samples({ ...day, limit: 2, fields: ['nonsense'] }))[1]).toEqual({ t: T0 + 600_000, seq: 1 });
      expect((await store.samples({ ...day, limit: 10 })).map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      expect((await store.samples({ ...day, limit: 50 })).map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });

    it('gives the samples of one millisecond in seq order, also to a read without seq', async () => {
      const { store } = await open();
      await store.writeSamples([tractor(7, { t: T0, speed: 7 }), tractor(3, { t: T0, speed: 3 }), tractor(5, { t: T0, speed: 5 })]);
      expect((await store.samples({ kind: 'tractor', device: 't1', ...all, limit: 10, fields: ['speed'] })).map((r) => r['speed'])).toEqual([3, 5, 7]);
    });

    it('keeps the last of two records with one key in a batch, as InfluxDB does', async () => {
      const { store } = await open();
      await store.writeSamples([tractor(0, { fuel: 10 }), tractor(0, { fuel: 20 })]);
      expect((await store.samples({ kind: 'tractor', device: 't1', ...all })).map((r) => r['fuel'])).toEqual([20]);
    });

    it('downsamples: count, means of numbers, last of the rest, per bucket', async () => {
      const { store } = await open();
      // 20 samples 200 ms apart = 4 s; 1 s buckets of 5 samples each; speed cycles 0..4;
      // in bucket 1 the last fix differs from the most frequent, and the last sample has no position
      const noPosition = { lat: undefined, lon: undefined, alt: undefined, hdop: undefined, sats: undefined, speed: undefined, heading: undefined };
      await store.writeSamples(
        Array.from({ length: 20 }, (_, i) =>
          i === 9 ? tractor(i, { fix: 'none', ...noPosition, fuel: 80 - i, mode: 'paused' }) : tractor(i, { fix: i === 8 ? 'rtk_float' : 'rtk_fixed', fuel: 80 - i }),
        ),
      );
      const buckets = await store.samples({ kind: 'tractor', device: 't1', ...all, every: 1000 });
      expect(buckets).toHaveLength(4);
      expect(buckets.map((b) => b.t)).toEqual([T0, T0 + 1000, T0 + 2000, T0 + 3000]);
      for (const b of buckets) expect(b['n']).toBe(5);
      expect(buckets.map((b) => b['speed'])).toEqual([2, 1.5, 2, 2]);
      expect(buckets[1]!['fuel']).toBeCloseTo(80 - 7, 9);
      // the last value of a string in the bucket, not the most frequent
      expect(buckets[1]!['fix']).toBe('none');
      expect(buckets[1]!['mode']).toBe('paused');
      expect(buckets[0]!['mode']).toBe('auto');
      // a number absent from some samples (no fix): the mean of those that had it
      expect(buckets[1]!['lat']).toBe(43.2312);
    });

    it('knows the latest state and sample of each device', async () => {
      const { store } = await open();
      await store.writeSamples([tractor(0), tractor(5), tractor(3), { kind: 'plow', device: 'p1', sample: examplePlowSample({ seq: 9, t: T0 + 50 }) }]);
      await store.writeStates([
        { kind: 'tractor', device: 't1', t: T0, state: { v: 1, online: true, t: T0, mode: 'auto', firmware: 'fw 1' } },
        { kind: 'tractor', device: 't1', t: T0 + 10_000, state: { v: 1, online: false, reason: 'connection_lost' } },
        { kind: 'sensor', device: 's9', t: T0, state: { v: 1, online: true, t: T0 } },
      ]);
      const latest = await store.latest();
      expect(latest.map((l) => l.device)).toEqual(['p1', 's9', 't1']);
      const t1 = latest.find((l) => l.device === 't1')!;
      expect(t1.kind).toBe('tractor');
      expect(t1.sample?.seq).toBe(5);
      expect(t1.state).toMatchObject({ t: T0 + 10_000, online: false, reason: 'connection_lost' });
      expect(latest.find((l) => l.device === 's9')).toMatchObject({ kind: 'sensor', state: { online: true } });
      expect((await store.latest(['p1'])).map((l) => l.device)).toEqual(['p1']);
      expect(await store.latest([])).toEqual([]);
    });

    it('keeps events, distinct ones of the same millisecond apart, with their data', async () => {
      const { store } = await open();
      const e1 = exampleEvent({ t: T0, type: 'estop', severity: 'critical', message: 'stop "now" \\ quickly' });
      const e2 = exampleEvent({ t: T0, type: 'mode_change', severity: 'info', message: 'auto → estop', data: { from: 'auto', to: 'estop', ok: true, n: 2.5 } });
      await store.writeEvents([
        { kind: 'tractor', device: 't1', farm: 'north', event: e1 },
        { kind: 'tractor', device: 't1', farm: 'north', event: e2 },
        { kind: 'plow', device: 'p1', event: exampleEvent({ t: T0 + 1, type: 'blade_change', severity: 'info', lat: undefined, lon: undefined, data: undefined, message: 'blade down' }) },
      ]);
      await store.writeEvents([{ kind: 'tractor', device: 't1', farm: 'north', event: e1 }]);
      const events = await store.events({ ...all });
      expect(events).toHaveLength(3);
      expect(events.filter((e) => e.device === 't1').map((e) => e.type).sort()).toEqual(['estop', 'mode_change']);
      expect(events.find((e) => e.type === 'estop')).toMatchObject({ message: 'stop "now" \\ quickly', severity: 'critical', lat: e1.lat, lon: e1.lon });
      expect(events.find((e) => e.type === 'mode_change')?.data).toEqual({ from: 'auto', to: 'estop', ok: true, n: 2.5 });
      expect((await store.events({ ...all, devices: ['p1'] })).map((e) => e.type)).toEqual(['blade_change']);
      // by farm, without listing devices
      expect((await store.events({ ...all, scope: { farms: ['north'], farmless: false } })).map((e) => e.device)).toEqual(['t1', 't1']);
      expect((await store.events({ ...all, scope: { farms: [], farmless: true } })).map((e) => e.device)).toEqual(['p1']);
      expect(await store.events({ ...all, scope: { farms: ['south'], farmless: false } })).toEqual([]);
      expect(await store.events({ ...all, scope: { farms: [], farmless: false } })).toEqual([]);
      expect((await store.events({ ...all, scope: { farms: '*', farmless: true } }))).toHaveLength(3);
    });

    it('keeps the command audit', async () => {
      const { store } = await open();
      await store.writeAudit([
        { t: T0, commandId: 'c1', device: 't1', kind: 'tractor', issuer: 'op-north', type: 'pause', status: 'sent' },
        { t: T0 + 40, commandId: 'c1', device: 't1', kind: 'tractor', issuer: 'op-north', type: 'pause', status: 'accepted', latencyMs: 40 },
        { t: T0 + 50, commandId: 'c2', device: 't2', kind: 'tractor', issuer: 'admin', type: 'estop', status: 'rejected', reason: 'expired 3 s ago' },
      ]);
      const c1 = await store.audit({ ...all, commandId: 'c1' });
      expect(c1.map((a) => a.status)).toEqual(['sent', 'accepted']);
      expect(c1[1]).toEqual({ t: T0 + 40, commandId: 'c1', device: 't1', kind: 'tractor', issuer: 'op-north', type: 'pause', status: 'accepted', latencyMs: 40 });
      expect(await store.audit({ ...all, device: 't2' })).toEqual([{ t: T0 + 50, commandId: 'c2', device: 't2', kind: 'tractor', issuer: 'admin', type: 'estop', status: 'rejected', reason: 'expired 3 s ago' }]);
    });

    it('escapes hostile ids and strings, and reads them back unchanged', async () => {
      const { store } = await open();
      const hostile = ['a,b', 'a=b', 'a b', 'a"b', "a'b", 'x,y=z "q" w', '装置-1', 'drop; measurement', 'a/b', '+#$'];
      await store.writeSamples(hostile.map((device, seq) => ({ kind: 'sensor' as const, device, farm: `farm ${device}`, sample: exampleSensorSample({ seq }) })));
      for (const [seq, device] of hostile.entries()) {
        const rows = await store.samples({ kind: 'sensor', device, ...all });
        expect(rows.map((r) => r.seq), device).toEqual([seq]);
      }
      const latest = await store.latest(hostile);
      expect(latest.map((l) => l.device).sort()).toEqual([...hostile].sort());
      await store.writeEvents([{ kind: 'sensor', device: 'x,y=z "q" w', event: exampleEvent({ message: `quotes " ' and \\ backslash, emoji 🚜, 日本語` }) }]);
      const ev = await store.events({ ...all, devices: ['x,y=z "q" w'] });
      expect(ev[0]?.message).toBe(`quotes " ' and \\ backslash, emoji 🚜, 日本語`);
    });

    it('refuses what it cannot store faithfully, and writes nothing of that batch', async () => {
      const { store } = await open();
      for (const device of ['a\nb', 'a\\b', '', 'tab\there']) {
        await expect(store.writeSamples([tractor(0), { ...tractor(1), device }])).rejects.toMatchObject({ code: 'HATAKE_ERR_STORE_INVALID_RECORD' });
      }
      await expect(store.writeSamples([tractor(0, { speed: Number.NaN })])).rejects.toMatchObject({ code: 'HATAKE_ERR_STORE_INVALID_RECORD', message: expect.stringContaining('speed') });
      await expect(store.writeEvents([{ kind: 'tractor', device: 't1', event: exampleEvent({ message: 'line\nbreak' }) }])).rejects.toMatchObject({ code: 'HATAKE_ERR_STORE_INVALID_RECORD' });
      expect(await store.samples({ kind: 'tractor', device: 't1', ...all })).toEqual([]);
    });

    it('keeps what it stored across a restart', async () => {
      const sut = await open();
      await sut.store.writeSamples(Array.from({ length: 30 }, (_, i) => tractor(i)));
      await sut.store.writeStates([{ kind: 'tractor', device: 't1', t: T0, state: { v: 1, online: true, t: T0 } }]);
      const again = await sut.reopen();
      expect(await again.samples({ kind: 'tractor', device: 't1', ...all })).toHaveLength(30);
      expect((await again.latest()).find((l) => l.device === 't1')?.state?.online).toBe(true);
      expect(await again.health()).toBeUndefined();
    });
  });
}
