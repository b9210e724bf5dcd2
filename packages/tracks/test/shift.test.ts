import { parse } from 'csv-parse/sync';
import { describe, expect, test } from 'vitest';
import { SHIFT_CSV_COLUMNS, shiftReport, shiftReportCsv, trackFromRows, type Track } from '@hatake/tracks';

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
function drive(from: number, to: number, x: (s: number) => number, fields: Row): Row[] {
  const rows: Row[] = [];
  for (let s = from; s <= to; s++) rows.push({ t: T0 + s * 1000, seq: s, fix: 'rtk_fixed', lat: LAT0, lon: east(x(s)), heading: 90, ...fields });
  return rows;
}

/** As in trips.test.ts: 600 s blade down with salt, 300 s stop, 400 s blade up (10 s without fix), 120 s gap, 300 s blade down with salt and sand. */
function scriptedPlow(): Track {
  return trackFromRows('plow-1', 'plow', [
    ...drive(0, 599, (s) => 10 * s, { speed: 10, blade: 'down', spread: 20, material: 'salt', width: 3 }),
    ...drive(600, 899, () => 6000, { speed: 0, blade: 'up', spread: 0, material: 'salt', width: 3 }),
    ...drive(900, 1300, (s) => 6000 + 10 * (s - 900), { speed: 10, blade: 'up', spread: 0, material: 'salt', width: 3 }).map((r) =>
      (r['seq'] as number) >= 1000 && (r['seq'] as number) < 1010 ? { ...r, fix: 'none' } : r,
    ),
    ...drive(1420, 1720, (s) => 11200 + 10 * (s - 1420), { speed: 10, blade: 'down', spread: 30, material: 'salt_sand', width: 3 }),
  ]);
}

const at = (s: number): number => T0 + s * 1000;
const H = 3600;

describe('shiftReport', () => {
  test('the scripted plow over a 30 min shift: exact km, hours and kg', () => {
    const r = shiftReport(scriptedPlow(), { from: at(0), to: at(1800) });
    expect(r).toMatchObject({ device: 'plow-1', kind: 'plow', from: at(0), to: at(1800), trips: 3, stops: 1, gaps: 1 });
    expect(r.drivenKm).toBeCloseTo(13, 9);
    expect(r.bladeDownKm).toBeCloseTo(9, 9);
    expect(r.deadheadKm).toBeCloseTo(4, 9);
    expect(r.workingH).toBeCloseTo(900 / H, 12);
    expect(r.idleH).toBeCloseTo(300 / H, 12);
    expect(r.transitH).toBeCloseTo(400 / H, 12);
    expect(r.noDataH).toBeCloseTo(200 / H, 12); // the 120 s gap and the 80 s after the last sample
    expect(r.workingH + r.idleH + r.transitH + r.noDataH).toBeCloseTo(0.5, 12);
    // 20 g/m² × 3 m × 6000 m = 360 kg salt; 30 g/m² × 3 m × 3000 m = 270 kg salt and sand
    expect(r.saltKg).toBeCloseTo(630, 6);
    expect(Object.keys(r.spreadKg).sort()).toEqual(['salt', 'salt_sand']);
    expect(r.spreadKg['salt']).toBeCloseTo(360, 6);
    expect(r.spreadKg['salt_sand']).toBeCloseTo(270, 6);
    expect(r.maxSpeedKmh).toBe(36);
    expect(r.meanSpeedKmh).toBeCloseTo(36, 9);
  });

  test('a shift that cuts through steps, a stop and the start of the track', () => {
    // 05:05 to 05:16:40: 300 s working, 300 s stopped, 100 s transit
    const r = shiftReport(scriptedPlow(), { from: at(300), to: at(1000) });
    expect(r.drivenKm).toBeCloseTo(4, 9);
    expect(r.bladeDownKm).toBeCloseTo(3, 9);
    expect(r.workingH).toBeCloseTo(300 / H, 12);
    expect(r.idleH).toBeCloseTo(300 / H, 12);
    expect(r.transitH).toBeCloseTo(100 / H, 12);
    expect(r.noDataH).toBeCloseTo(0, 12);
    expect(r.saltKg).toBeCloseTo(180, 6);
    expect([r.trips, r.stops, r.gaps]).toEqual([2, 1, 0]);
    // half a step: 0.5 s into a 10 m/s step counts 5 m
    expect(shiftReport(scriptedPlow(), { from: at(10), to: at(10.5) }).drivenKm * 1000).toBeCloseTo(5, 6);
    // an hour before the track: all no data
    const before = shiftReport(scriptedPlow(), { from: at(-3600), to: at(0) });
    expect([before.noDataH, before.drivenKm, before.trips]).toEqual([1, 0, 0]);
  });

  test('a mean over moving time: a short pause lowers it, a stop does not', () => {
    const rows = [
      ...drive(0, 99, (s) => 10 * s, { speed: 10, blade: 'up' }),
      ...drive(100, 159, () => 1000, { speed: 0, blade: 'up' }), // 60 s pause: part of the trip
      ...drive(160, 259, (s) => 1000 + 10 * (s - 160), { speed: 10, blade: 'up' }),
      ...drive(260, 559, () => 2000, { speed: 0, blade: 'up' }), // 300 s stop
      ...drive(560, 660, (s) => 2000 + 20 * (s - 560), { speed: 20, blade: 'up' }),
    ];
    const r = shiftReport(trackFromRows('plow-1', 'plow', rows), { from: at(0), to: at(660) });
    expect(r.drivenKm).toBeCloseTo(4, 9);
    expect(r.transitH).toBeCloseTo(360 / H, 12);
    expect(r.idleH).toBeCloseTo(300 / H, 12);
    expect(r.meanSpeedKmh).toBeCloseTo(4 / (360 / H), 9);
    expect(r.maxSpeedKmh).toBe(72);
    expect(r.deadheadKm).toBeCloseTo(4, 9);
    expect(r.bladeDownKm).toBe(0);
  });

  test('a tractor has no blade: no blade-down or deadhead km, all moving time is transit', () => {
    const rows = drive(0, 600, (s) => 2 * s, { speed: 2, blade: 'down', spread: 10, material: 'sand', width: 6 });
    const r = shiftReport(trackFromRows('tractor-7', 'tractor', rows), { from: at(0), to: at(600) });
    expect(r.kind).toBe('tractor');
    expect(r.drivenKm).toBeCloseTo(1.2, 9);
    expect(r.bladeDownKm).toBe(0);
    expect(r.deadheadKm).toBe(0);
    expect(r.workingH).toBe(0);
    expect(r.transitH).toBeCloseTo(600 / H, 12);
    expect(r.saltKg).toBe(0);
    expect(r.spreadKg['sand']).toBeCloseTo(72, 6); // 10 g/m² × 6 m × 1200 m
  });

  test('GNSS wander during a stop is not distance', () => {
    const rows = [
      ...drive(0, 99, (s) => 10 * s, { speed: 10, blade: 'up' }),
      ...drive(100, 700, (s) => 1000 + (s % 2) * 2, { speed: 0.1, blade: 'up' }), // 2 m jitter for 10 min
    ];
    const r = shiftReport(trackFromRows('plow-1', 'plow', rows), { from: at(0), to: at(700) });
    expect(r.drivenKm).toBeCloseTo(1, 9);
    expect(r.idleH).toBeCloseTo(600 / H, 12);
  });

  test('a shift must run forwards and last at most 48 h', () => {
    const track = scriptedPlow();
    for (const [from, to] of [
      [at(10), at(10)],
      [at(10), at(0)],
      [Number.NaN, at(0)],
      [at(0), at(0) + 49 * H * 1000],
    ] as const) {
      expect(() => shiftReport(track, { from, to })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_RANGE' }));
    }
  });
});

describe('shiftReportCsv', () => {
  test('one row per report, documented columns, rounded figures, RFC 4180 quoting', () => {
    const plow = shiftReport(scriptedPlow(), { from: at(0), to: at(1800) });
    const other = { ...plow, device: 'plow "2", east', spreadKg: { brine: 12.34, gravel: 5 } };
    const csv = shiftReportCsv([plow, other]);
    expect(csv.endsWith('\r\n')).toBe(true);
    const rows = parse(csv, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([...SHIFT_CSV_COLUMNS]);
    expect(rows[0]).toEqual({
      device: 'plow-1',
      kind: 'plow',
      from: '2025-01-15T20:00:00Z',
      to: '2025-01-15T20:30:00Z',
      driven_km: '13.000',
      blade_down_km: '9.000',
      deadhead_km: '4.000',
      working_h: '0.250',
      transit_h: '0.111',
      idle_h: '0.083',
      no_data_h: '0.056',
      salt_kg: '630.0',
      spread_salt_kg: '360.0',
      spread_sand_kg: '0.0',
      spread_brine_kg: '0.0',
      spread_salt_sand_kg: '270.0',
      spread_other_kg: '0.0',
      max_speed_kmh: '36.0',
      mean_speed_kmh: '36.0',
      trips: '3',
      stops: '1',
      gaps: '1',
    });
    expect(rows[1]).toMatchObject({ device: 'plow "2", east', spread_brine_kg: '12.3', spread_other_kg: '5.0', spread_salt_kg: '0.0' });
  });
});
