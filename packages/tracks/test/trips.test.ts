import { describe, expect, test } from 'vitest';
import { trackFromRows, tripsAndStops, type Track } from '@hatake/tracks';

const LAT0 = 43.196;
const LON0 = 141.776;
const T0 = Date.UTC(2025, 0, 15, 20, 0, 0); // 05:00 in Iwamizawa

/** Longitude `x` metres east of LON0 along the parallel LAT0 (WGS84 prime-vertical radius). */
function east(x: number): number {
  const phi = (LAT0 * Math.PI) / 180;
  const e2 = (1 / 298.257223563) * (2 - 1 / 298.257223563);
  const nu = 6378137 / Math.sqrt(1 - e2 * Math.sin(phi) ** 2);
  return LON0 + ((x / (nu * Math.cos(phi))) * 180) / Math.PI;
}

type Row = Record<string, unknown>;
/** One row a second for s in [from, to], at x(s) metres east. */
function drive(from: number, to: number, x: (s: number) => number, fields: Row): Row[] {
  const rows: Row[] = [];
  for (let s = from; s <= to; s++) rows.push({ t: T0 + s * 1000, seq: s, fix: 'rtk_fixed', lat: LAT0, lon: east(x(s)), heading: 90, ...fields });
  return rows;
}

/**
 * The scripted plow: 600 s at 10 m/s due east blade down (salt), 300 s stopped,
 * 400 s blade up at 10 m/s (10 s of it without a fix), a 120 s data gap, then
 * 300 s blade down (salt and sand).
 */
function scriptedPlow(): Track {
  const rows = [
    ...drive(0, 599, (s) => 10 * s, { speed: 10, blade: 'down', spread: 20, material: 'salt', width: 3 }),
    ...drive(600, 899, () => 6000, { speed: 0, blade: 'up', spread: 0, material: 'salt', width: 3 }),
    ...drive(900, 1300, (s) => 6000 + 10 * (s - 900), { speed: 10, blade: 'up', spread: 0, material: 'salt', width: 3 }).map((r) =>
      (r['seq'] as number) >= 1000 && (r['seq'] as number) < 1010 ? { ...r, fix: 'none', lat: undefined, lon: undefined } : r,
    ),
    ...drive(1420, 1720, (s) => 11200 + 10 * (s - 1420), { speed: 10, blade: 'down', spread: 30, material: 'salt_sand', width: 3 }),
  ];
  return trackFromRows('plow-1', 'plow', rows);
}

const at = (s: number): number => T0 + s * 1000;

describe('tripsAndStops', () => {
  test('the scripted plow: three trips, one stop, one gap, exact boundaries and distances', () => {
    const { trips, stops, gaps } = tripsAndStops(scriptedPlow());
    expect(trips.map((t) => [t.from, t.to, t.durationS])).toEqual([
      [at(0), at(600), 600],
      [at(900), at(1300), 400],
      [at(1420), at(1720), 300],
    ]);
    const expected = [
      [6000, 6000],
      [4000, 0],
      [3000, 3000],
    ];
    trips.forEach((t, i) => {
      expect(t.distanceM).toBeCloseTo(expected[i]![0]!, 6);
      expect(t.bladeDownM).toBeCloseTo(expected[i]![1]!, 6);
      expect(t.maxSpeedMps).toBe(10);
      expect(t.meanSpeedMps).toBeCloseTo(10, 9);
    });
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({ from: at(600), to: at(900), durationS: 300, lat: LAT0 });
    expect(stops[0]!.lon).toBeCloseTo(east(6000), 12);
    expect(gaps).toEqual([{ from: at(1300), to: at(1420), durationS: 120 }]);
  });

  test('a pause shorter than minStopS is part of the trip', () => {
    const rows = [
      ...drive(0, 99, (s) => 10 * s, { speed: 10, blade: 'down' }),
      ...drive(100, 159, () => 1000, { speed: 0, blade: 'down' }), // 60 s at a red light
      ...drive(160, 260, (s) => 1000 + 10 * (s - 160), { speed: 10, blade: 'down' }),
    ];
    const { trips, stops, gaps } = tripsAndStops(trackFromRows('plow-1', 'plow', rows));
    expect(stops).toEqual([]);
    expect(gaps).toEqual([]);
    expect(trips).toHaveLength(1);
    expect(trips[0]).toMatchObject({ from: at(0), to: at(260), durationS: 260 });
    expect(trips[0]!.distanceM).toBeCloseTo(2000, 6);
    expect(trips[0]!.meanSpeedMps).toBeCloseTo(2000 / 260, 9);
    // the same pause is a stop when minStopS allows it
    const split = tripsAndStops(trackFromRows('plow-1', 'plow', rows), { minStopS: 60 });
    expect(split.stops.map((s) => [s.from, s.to])).toEqual([[at(100), at(160)]]);
    expect(split.trips.map((t) => [t.from, t.to])).toEqual([
      [at(0), at(100)],
      [at(160), at(260)],
    ]);
  });

  test('without a reported speed, the speed comes from the positions', () => {
    const rows = [...drive(0, 149, (s) => 0.2 * s, { blade: 'up' }), ...drive(150, 250, (s) => 30 + 5 * (s - 150), { blade: 'up' })];
    const { trips, stops } = tripsAndStops(trackFromRows('plow-1', 'plow', rows));
    expect(stops.map((s) => [s.from, s.to])).toEqual([[at(0), at(150)]]);
    expect(trips).toHaveLength(1);
    expect(trips[0]!.maxSpeedMps).toBeCloseTo(5, 6);
  });

  test('a slow run cut short by a gap is not a stop; a gap also splits a stop', () => {
    const rows = [
      ...drive(0, 200, () => 0, { speed: 0, blade: 'up' }),
      ...drive(230, 300, () => 0, { speed: 0, blade: 'up' }), // 30 s gap at 60 s limit: no gap
      ...drive(400, 450, () => 0, { speed: 0, blade: 'up' }), // 100 s gap
    ];
    const { trips, stops, gaps } = tripsAndStops(trackFromRows('plow-1', 'plow', rows));
    expect(gaps.map((g) => [g.from, g.to])).toEqual([[at(300), at(400)]]);
    expect(stops.map((s) => [s.from, s.to])).toEqual([[at(0), at(300)]]);
    expect(trips).toEqual([]);
  });

  test('options out of range are options errors', () => {
    const track = scriptedPlow();
    for (const opts of [{ stopSpeedMps: -1 }, { minStopS: Number.NaN }, { maxGapS: 0 }]) {
      expect(() => tripsAndStops(track, opts)).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
    }
  });

  test('an empty track has nothing', () => {
    expect(tripsAndStops({ device: 'x', kind: 'plow', points: [] })).toEqual({ trips: [], stops: [], gaps: [] });
  });
});
