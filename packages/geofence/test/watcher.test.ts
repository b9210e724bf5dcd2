import { describe, expect, it } from 'vitest';
import { DEFAULT_FIX_RULE, GeofenceError, ZoneWatcher, buildZone, judgeFix, type PositionSample, type ZoneEvent } from '@hatake/geofence';
import { RECT, eastOfRect, rtk } from './geo.ts';

const field = buildZone(RECT, { id: 'iwamizawa-rect', marginMeters: 0 });
const fenced = buildZone(RECT, { id: 'iwamizawa-rect-10', marginMeters: 10 });

function feed(watcher: ZoneWatcher, samples: readonly PositionSample[]): ZoneEvent[] {
  return samples.map((s) => watcher.update(s)).filter((e): e is ZoneEvent => e !== undefined);
}

/** Drives east across the east edge at 1 m/s, one rtk_fixed sample per second, from `start` m (negative: inside). */
function drift(start: number, seconds: number): PositionSample[] {
  return Array.from({ length: seconds + 1 }, (_, k) => rtk(1000 * k, eastOfRect(start + k)));
}

describe('the fix rule', () => {
  it('uncertainty is max(0.1 m, 2 × max(hdop, 1) × UERE)', () => {
    const u = (fix: string, hdop: number | undefined): number => {
      const v = judgeFix(fix, hdop);
      return 'uncertaintyMeters' in v ? Math.round(v.uncertaintyMeters * 1e9) / 1e9 : Number.NaN;
    };
    expect(u('rtk_fixed', 0.8)).toBe(0.1); // 2 × 1 × 0.02 = 0.04, raised to the floor
    expect(u('rtk_fixed', 4)).toBe(0.16);
    expect(u('rtk_float', 1.5)).toBe(0.9);
    expect(u('dgps', 0.6)).toBe(2);
    expect(u('dgps', undefined)).toBe(2);
    expect(u('gps', 3)).toBe(18);
    expect(u('gps', 5)).toBe(30);
  });

  it('plain GPS needs an HDOP of at most 5; no fix, unknown fixes and bad HDOPs never count', () => {
    expect(judgeFix('gps', 5.1)).toEqual({ reason: 'weak_fix' });
    expect(judgeFix('gps', undefined)).toEqual({ reason: 'weak_fix' });
    expect(judgeFix('none', 1)).toEqual({ reason: 'no_fix' });
    expect(judgeFix('rtk', 1)).toEqual({ reason: 'unknown_fix' });
    expect(judgeFix('rtk_fixed', Number.NaN)).toEqual({ reason: 'bad_hdop' });
    expect(judgeFix('rtk_fixed', 0)).toEqual({ reason: 'bad_hdop' });
    expect(judgeFix('dgps', '1' as unknown as number)).toEqual({ reason: 'bad_hdop' });
  });

  it('is frozen', () => {
    expect(Object.isFrozen(DEFAULT_FIX_RULE) && Object.isFrozen(DEFAULT_FIX_RULE.uereMeters)).toBe(true);
  });
});

describe('exit', () => {
  it('a drift out of the field at 1 m/s with rtk_fixed raises exactly one exit, on the 2nd sample outside by more than 0.1 m', () => {
    const watcher = new ZoneWatcher(field, { initial: 'inside' });
    const events = feed(watcher, drift(-20, 60)); // x = −20 … +40 m; x = 0 at t = 20 s is on the edge (undecided)
    expect(events).toEqual([{ type: 'exit', zoneId: 'iwamizawa-rect', t: 22_000, distanceMeters: 2, uncertaintyMeters: 0.1, rule: 'consecutive', lat: expect.any(Number), lon: expect.any(Number), fix: 'rtk_fixed' }]);
    expect(watcher.state).toBe('outside');
    expect(watcher.stats).toMatchObject({ samples: 61, counted: 60, undecided: 1 });
  });

  it('the count is configurable', () => {
    expect(feed(new ZoneWatcher(field, { initial: 'inside', exitSamples: 4 }), drift(-20, 60)).map((e) => [e.type, e.t])).toEqual([['exit', 24_000]]);
    expect(feed(new ZoneWatcher(field, { initial: 'inside', exitSamples: 1 }), drift(-20, 60)).map((e) => [e.type, e.t])).toEqual([['exit', 21_000]]);
  });

  it('with the default initial state (outside), the machine first enters, then exits', () => {
    expect(feed(new ZoneWatcher(field), drift(-20, 60)).map((e) => [e.type, e.t, e.distanceMeters])).toEqual([
      ['enter', 1000, 19],
      ['exit', 22_000, 2],
    ]);
  });

  it('a noisy GPS sample (hdop 3) 2 m outside the edge does not raise, however often it comes', () => {
    const watcher = new ZoneWatcher(field, { initial: 'inside' });
    const samples = Array.from({ length: 10 }, (_, k): PositionSample => ({ t: k, ...eastOfRect(2), fix: 'gps', hdop: 3 }));
    expect(feed(watcher, samples)).toEqual([]);
    expect(watcher.stats).toMatchObject({ counted: 0, undecided: 10 });
    // the same fix 20 m out is beyond its 18 m uncertainty: two of them are an exit
    expect(feed(watcher, [20, 21].map((t): PositionSample => ({ t, ...eastOfRect(20), fix: 'gps', hdop: 3 })))).toMatchObject([{ type: 'exit', t: 21, rule: 'consecutive', uncertaintyMeters: 18 }]);
  });

  it('an rtk_fixed sample 0.5 m outside raises on the second one', () => {
    const watcher = new ZoneWatcher(field, { initial: 'inside' });
    expect(watcher.update(rtk(1, eastOfRect(0.5)))).toBeUndefined();
    expect(watcher.state).toBe('inside');
    expect(watcher.update(rtk(2, eastOfRect(0.5)))).toMatchObject({ type: 'exit', t: 2, distanceMeters: 0.5, rule: 'consecutive' });
  });

  it('distances count from the grown edge: 0.5 m outside the boundary is 9.5 m inside a 10 m margin', () => {
    const watcher = new ZoneWatcher(fenced, { initial: 'inside' });
    expect(feed(watcher, [rtk(1, eastOfRect(0.5)), rtk(2, eastOfRect(0.5))])).toEqual([]);
    expect(feed(watcher, [rtk(3, eastOfRect(10.5)), rtk(4, eastOfRect(10.5))])).toMatchObject([{ type: 'exit', zoneId: 'iwamizawa-rect-10', distanceMeters: 0.5 }]);
  });

  it('one sample beyond the hard limit (5 m past its uncertainty) is an exit at once', () => {
    const watcher = new ZoneWatcher(field, { initial: 'inside' });
    expect(watcher.update(rtk(1, eastOfRect(5.2)))).toMatchObject({ type: 'exit', rule: 'hard_limit', distanceMeters: 5.2 });
    // 5.05 m with rtk_fixed is only 4.95 m beyond its 0.1 m uncertainty
    const near = new ZoneWatcher(field, { initial: 'inside' });
    expect(near.update(rtk(1, eastOfRect(5.05)))).toBeUndefined();
    // with a GPS fix (hdop 1, ±6 m), 10 m out is not enough for a single sample; 11.5 m is
    const gps = new ZoneWatcher(field, { initial: 'inside' });
    expect(gps.update({ t: 1, ...eastOfRect(10), fix: 'gps', hdop: 1 })).toBeUndefined();
    const gps2 = new ZoneWatcher(field, { initial: 'inside' });
    expect(gps2.update({ t: 1, ...eastOfRect(11.5), fix: 'gps', hdop: 1 })).toMatchObject({ type: 'exit', rule: 'hard_limit' });
    const custom = new ZoneWatcher(field, { initial: 'inside', hardLimitMeters: 2 });
    expect(custom.update(rtk(1, eastOfRect(2.5)))).toMatchObject({ type: 'exit', rule: 'hard_limit' });
  });

  it('a sample too close to the edge for its fix breaks a run of outside votes; an ignored one does not', () => {
    const watcher = new ZoneWatcher(field, { initial: 'inside' });
    const dgps = (t: number, x: number): PositionSample => ({ t, ...eastOfRect(x), fix: 'dgps', hdop: 1 }); // ±2 m
    expect(feed(watcher, [dgps(1, 3), dgps(2, 1), dgps(3, 3)])).toEqual([]); // 1 m out is undecided: the run restarts
    expect(feed(watcher, [{ t: 4, fix: 'none' }, dgps(5, 3)])).toMatchObject([{ type: 'exit', t: 5 }]); // the dropout does not
  });
});

describe('re-entry', () => {
  it('needs consecutive inside votes: a single one, or one broken by an outside vote, is not enough', () => {
    const watcher = new ZoneWatcher(field, { initial: 'inside' });
    feed(watcher, [rtk(1, eastOfRect(3)), rtk(2, eastOfRect(3))]);
    expect(watcher.state).toBe('outside');
    expect(feed(watcher, [rtk(3, eastOfRect(-1)), rtk(4, eastOfRect(1)), rtk(5, eastOfRect(-1)), rtk(6, eastOfRect(0.05)), rtk(7, eastOfRect(-1))])).toEqual([]);
    expect(watcher.state).toBe('outside');
    expect(watcher.update(rtk(8, eastOfRect(-1.5)))).toMatchObject({ type: 'enter', t: 8, distanceMeters: 1.5, rule: 'consecutive' });
    expect(watcher.state).toBe('inside');
  });

  it('enterSamples is configurable', () => {
    const watcher = new ZoneWatcher(field, { enterSamples: 3 });
    expect(feed(watcher, [1, 2, 3, 4].map((t) => rtk(t, eastOfRect(-10)))).map((e) => e.t)).toEqual([3]);
  });

  it('a machine hugging the edge within its fix uncertainty never toggles', () => {
    const watcher = new ZoneWatcher(field, { initial: 'inside' });
    // dgps ±2 m, alternating 1.5 m either side of the edge for 10 minutes
    const samples = Array.from({ length: 600 }, (_, k): PositionSample => ({ t: k, ...eastOfRect(k % 2 === 0 ? 1.5 : -1.5), fix: 'dgps', hdop: 0.9 }));
    expect(feed(watcher, samples)).toEqual([]);
    expect(watcher.stats.undecided).toBe(600);
    expect(watcher.lastCountedAt).toBeUndefined();
  });
});

describe('bad samples', () => {
  it('are ignored, counted by reason, and never throw', () => {
    const watcher = new ZoneWatcher(field, { initial: 'inside' });
    const out = eastOfRect(3);
    const bad: unknown[] = [
      { t: 1, lat: Number.NaN, lon: out.lon, fix: 'rtk_fixed', hdop: 1 },
      { t: 2, lat: 200, lon: out.lon, fix: 'rtk_fixed', hdop: 1 },
      { t: 3, lat: out.lat, lon: 181, fix: 'rtk_fixed', hdop: 1 },
      { t: 4, lat: out.lat, lon: Infinity, fix: 'rtk_fixed', hdop: 1 },
      { t: 5, lat: '43.2', lon: out.lon, fix: 'rtk_fixed', hdop: 1 },
      { t: 6, lat: out.lat, lon: out.lon, fix: 'none' },
      { t: 7, fix: 'none' },
      { t: 8, lat: out.lat, lon: out.lon, fix: 'rtk', hdop: 1 },
      { t: 9, lat: out.lat, lon: out.lon, fix: 'rtk_fixed', hdop: -1 },
      { t: 10, lat: out.lat, lon: out.lon, fix: 'gps', hdop: 9 },
      { t: 11, lat: out.lat, lon: out.lon, fix: 'gps' },
      { t: Number.NaN, lat: out.lat, lon: out.lon, fix: 'rtk_fixed', hdop: 1 },
      { lat: out.lat, lon: out.lon, fix: 'rtk_fixed', hdop: 1 },
      { t: 11, lat: out.lat, lon: out.lon, fix: 'rtk_fixed', hdop: 1 }, // not after the last time seen
      { t: 3, lat: out.lat, lon: out.lon, fix: 'rtk_fixed', hdop: 1 },
      null,
      'sample',
      undefined,
    ];
    for (const s of bad) expect(() => watcher.update(s as PositionSample)).not.toThrow();
    expect(watcher.state).toBe('inside');
    expect(watcher.stats).toEqual({
      samples: 18,
      counted: 0,
      undecided: 0,
      ignored: { malformed: 3, bad_time: 2, out_of_order: 2, unknown_fix: 1, no_fix: 2, bad_coordinates: 5, bad_hdop: 1, weak_fix: 2 },
    });
    // good samples after them still work
    expect(feed(watcher, [rtk(20, out), rtk(21, out)])).toMatchObject([{ type: 'exit', t: 21 }]);
    expect(watcher.stats.counted).toBe(2);
    expect(watcher.lastCountedAt).toBe(21);
  });

  it('a sample already outside and far from the zone\'s box is an outside vote without an exact distance', () => {
    const watcher = new ZoneWatcher(field);
    expect(feed(watcher, [1, 2, 3].map((t) => rtk(t, eastOfRect(5000))))).toEqual([]);
    expect(watcher.stats).toMatchObject({ counted: 3, undecided: 0 });
  });
});

describe('watcher options', () => {
  it('out of range options throw HATAKE_ERR_GEOFENCE_OPTIONS', () => {
    const bad: object[] = [
      { exitSamples: 0 },
      { exitSamples: 1.5 },
      { enterSamples: 101 },
      { hardLimitMeters: -1 },
      { hardLimitMeters: Number.NaN },
      { initial: 'unknown' },
      { fixRule: { confidence: 0.5 } },
      { fixRule: { uereMeters: { gps: -3 } } },
      { fixRule: { maxGpsHdop: Number.POSITIVE_INFINITY } },
    ];
    for (const opts of bad) {
      expect(() => new ZoneWatcher(field, opts), JSON.stringify(opts)).toThrow(GeofenceError);
      try {
        new ZoneWatcher(field, opts);
      } catch (err) {
        expect((err as GeofenceError).code).toBe('HATAKE_ERR_GEOFENCE_OPTIONS');
      }
    }
  });

  it('the fix rule can be changed per watcher', () => {
    // a receiver whose DGPS is known to be good to 0.3 m at HDOP 1
    const watcher = new ZoneWatcher(field, { initial: 'inside', fixRule: { uereMeters: { dgps: 0.3 } } });
    expect(feed(watcher, [1, 2].map((t): PositionSample => ({ t, ...eastOfRect(1), fix: 'dgps', hdop: 1 })))).toMatchObject([{ type: 'exit', uncertaintyMeters: 0.6 }]);
  });
});
