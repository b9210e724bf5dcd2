import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { parseRoadNetwork, RoadNetwork, roadCoverage, STORM_CSV_COLUMNS, stormReport, stormReportCsv, unservicedGeoJSON } from '../src/index.ts';
import { drive, fixtureIn, T0 } from './fixtures/walk.ts';

const H = 3_600_000;
const network = RoadNetwork.build(parseRoadNetwork(fixtureIn('hand-network.geojson')));

// A storm from T0 (06:00 JST) to T0 + 12 h, reviewed at T0 + 40 h:
// main (class 1) plowed 1 h in, east (class 2) 5 h in, cross (class 3) 30 h in;
// the frontage road (class 2) only before the storm; north, link and beyond (classes 4, 5) not at all.
const tracks = [
  drive('p1', [{ path: [[0, 0], [600, 0]] }], { t0: T0 + H }),
  drive('p1b', [{ path: [[600, 0], [900, 0]] }], { t0: T0 + 5 * H }),
  drive('p2', [{ path: [[300, -300], [300, 0]] }], { t0: T0 + 30 * H }),
  drive('p3', [{ path: [[0, 15], [550, 15]] }], { t0: T0 - 0.5 * H }),
];
const coverage = roadCoverage(network, tracks, { from: T0 - H, to: T0 + 40 * H });
const report = stormReport(coverage, { stormStart: T0, stormEnd: T0 + 12 * H, worst: 20 });

describe('stormReport on a scripted storm', () => {
  it('gives each class its share served in time and its times to first pass', () => {
    const byClass = Object.fromEntries(report.classes.map((c) => [c.class, c]));
    expect(byClass[1]).toMatchObject({ levelH: 4, segments: 12, onTimeShare: 1, lateLengthM: 0, meanTimeToFirstPassMin: 60.5, maxTimeToFirstPassMin: 61 });
    expect(byClass[1]!.lengthM).toBeCloseTo(600, 0);
    expect(byClass[2]).toMatchObject({ levelH: 12, segments: 17, meanTimeToFirstPassMin: 300.3, maxTimeToFirstPassMin: 300.5 });
    expect(byClass[2]!.onTimeShare).toBeCloseTo(300 / 850, 3);
    expect(byClass[2]!.unservicedLengthM).toBeCloseTo(550, 0);
    expect(byClass[3]).toMatchObject({ levelH: 24, onTimeShare: 0, meanTimeToFirstPassMin: 1800.3, maxTimeToFirstPassMin: 1800.5 });
    expect(byClass[3]!.lateLengthM).toBeCloseTo(300, 0);
    expect(byClass[4]).toMatchObject({ levelH: 48, onTimeShare: 0, meanTimeToFirstPassMin: undefined });
    expect(byClass[4]!.pendingLengthM).toBeCloseTo(300, 0);
    expect(byClass[5]!.pendingLengthM).toBeCloseTo(310, 0);
    expect(report.total.onTimeShare).toBeCloseTo(900 / 2360, 3);
    expect(report.asOf).toBe(T0 + 40 * H);
  });

  it('rates each segment', () => {
    const seg = (id: string): (typeof report.segments)[number] => report.segments.find((s) => s.id === id)!;
    expect(seg('main#0')).toMatchObject({ status: 'on_time', firstPass: T0 + H + 5000, timeToFirstPassMin: 60.1, deadline: T0 + 4 * H, passesInStorm: 1, vehicles: ['p1'] });
    expect(seg('cross#5')).toMatchObject({ status: 'late', firstPass: T0 + 30 * H + 30_000, passesInStorm: 0, vehicles: ['p2'] });
    // passed before the storm only: not served
    expect(seg('parallel#3')).toMatchObject({ status: 'unserviced', firstPass: undefined, vehicles: [] });
    expect(seg('north#0')).toMatchObject({ status: 'pending' });
  });

  it('lists the worst breaches, longest overdue first, and the segments never served', () => {
    expect(report.worst.slice(0, 11).every((b) => b.road === 'parallel' && b.status === 'unserviced' && b.waitMin === 2400 && b.overdueMin === 1680)).toBe(true);
    // the cross street was plowed from its south end: its segment at main waited longest
    expect(report.worst.slice(11).map((b) => b.id)).toEqual(['cross#5', 'cross#4', 'cross#3', 'cross#2', 'cross#1', 'cross#0']);
    expect(report.worst[11]).toMatchObject({ status: 'late', levelH: 24, waitMin: 1800.5, overdueMin: 360.5 });
    expect(stormReport(coverage, { stormStart: T0, stormEnd: T0 + 12 * H }).worst).toHaveLength(10);
    expect(report.unserviced.map((u) => u.road)).toEqual([...Array(11).fill('parallel'), ...Array(6).fill('north'), 'link', ...Array(6).fill('beyond')]);
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('can run the clock from the storm end, with other levels', () => {
    const fromEnd = stormReport(coverage, { stormStart: T0, stormEnd: T0 + 12 * H, clock: 'end' });
    expect(fromEnd.segments.find((s) => s.id === 'cross#0')!.status).toBe('on_time');
    const strict = stormReport(coverage, { stormStart: T0, stormEnd: T0 + 12 * H, levels: { 1: 1 } });
    expect(strict.classes[0]).toMatchObject({ class: 1, levelH: 1, onTimeShare: 0 });
  });

  it('refuses a window it cannot judge', () => {
    expect(() => stormReport(coverage, { stormStart: T0, stormEnd: T0 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_RANGE' }));
    expect(() => stormReport(coverage, { stormStart: T0 - 2 * H, stormEnd: T0 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_RANGE', message: expect.stringContaining('after the storm') }));
    expect(() => stormReport(coverage, { stormStart: T0, stormEnd: T0 + H, levels: { 2: -1 } })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
  });
});

describe('stormReportCsv and unservicedGeoJSON', () => {
  it('writes one line per segment with the documented columns', () => {
    const csv = stormReportCsv(report);
    const rows = parse(csv, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([...STORM_CSV_COLUMNS]);
    expect(rows).toHaveLength(network.segments.length);
    expect(rows[0]).toEqual({
      segment_id: 'main#0',
      road_id: 'main',
      road_name: 'Hand main street (west–east)',
      class: '1',
      length_m: '50.0',
      level_h: '4',
      deadline: '2025-01-15T01:00:00.000Z',
      first_pass: '2025-01-14T22:00:05.000Z',
      time_to_first_pass_min: '60.1',
      status: 'on_time',
      passes_in_storm: '1',
      vehicles: 'p1',
    });
    expect(csv).toContain('link#0,link,"Link, 10 m",5,');
    expect(rows.find((r) => r.segment_id === 'north#0')).toMatchObject({ first_pass: '', time_to_first_pass_min: '', status: 'pending', vehicles: '' });
  });

  it('maps the segments never served', () => {
    const fc = unservicedGeoJSON(report);
    expect(fc.features).toHaveLength(24);
    expect(fc.features[0]!.properties).toMatchObject({ id: 'parallel#0', class: 2, status: 'unserviced' });
    expect(fc.features[0]!.geometry.coordinates).toEqual(network.segments[network.indexOf('parallel#0')]!.coordinates);
  });
});
