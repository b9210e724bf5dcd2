import { gpx, kml } from '@tmcw/togeojson';
import { DOMParser, onWarningStopParsing, type Document as XmlDocument } from '@xmldom/xmldom';
import { parse } from 'csv-parse/sync';
import type { Feature, FeatureCollection, LineString, MultiLineString, Point } from 'geojson';
import { describe, expect, test } from 'vitest';
import {
  exportTrack,
  localProjection,
  simplifyTrack,
  splitTrack,
  TRACK_CSV_COLUMNS,
  trackLengthM,
  type Blade,
  type Track,
  type TrackPoint,
} from '@hatake/tracks';

const LAT0 = 43.196;
const LON0 = 141.776;
const T0 = Date.UTC(2025, 0, 15, 20, 0, 0);
const proj = localProjection(LON0, LAT0);

function pt(s: number, x: number, blade: Blade, extra: Partial<TrackPoint> = {}): TrackPoint {
  const [lon, lat] = proj.toLonLat(x, x / 3);
  return { t: T0 + s * 1000, lon, lat, blade, fix: 'rtk_fixed', speed: 5, heading: 71.6, spread: blade === 'down' ? 20 : 0, material: 'salt', width: 3, ...extra };
}

/**
 * Parts: A [0..5] down (shares sample 5 with B), B [5..9] up, two samples
 * without a fix, C [12..14.25] up, a time gap, D [200] up (a lone fix).
 */
const TRACK: Track = {
  device: 'plow, "north" 1',
  kind: 'plow',
  points: [
    ...[0, 1, 2, 3, 4].map((s) => pt(s, s * 5, 'down')),
    ...[5, 6, 7, 8, 9].map((s) => pt(s, s * 5, 'up')),
    { t: T0 + 10_000, blade: 'up', fix: 'none' },
    { t: T0 + 11_000, blade: 'up', fix: 'none' },
    ...[12, 13, 14.25].map((s) => pt(s, s * 5, 'up', { material: 'salt_sand' })),
    pt(200, 1000, 'up', { speed: undefined, heading: undefined, spread: undefined, material: undefined }),
  ],
};
const POSITIONED = TRACK.points.filter((p) => p.lon !== undefined);
const NAME = 'Plow <1> & "岩見沢"';

function xml(body: string): XmlDocument {
  return new DOMParser({ onError: onWarningStopParsing }).parseFromString(body, 'text/xml');
}

const r7 = (v: number): number => Math.round(v * 1e7) / 1e7;
const coordsOf = (pts: readonly TrackPoint[]): number[][] => pts.map((p) => [r7(p.lon!), r7(p.lat!)]);
const timesOf = (pts: readonly TrackPoint[]): number[] => pts.map((p) => p.t);

describe('splitTrack', () => {
  test('splits at blade changes (sharing the first sample of the new state), at samples without position and at long steps', () => {
    const parts = splitTrack(TRACK);
    expect(parts.map((p) => [p.blade, (p.from - T0) / 1000, (p.to - T0) / 1000, p.points.length])).toEqual([
      ['down', 0, 5, 6],
      ['up', 5, 9, 5],
      ['up', 12, 14.25, 3],
      ['up', 200, 200, 1],
    ]);
    // the parts' lengths add up to the driven line (gaps excluded)
    const sum = parts.reduce((acc, p) => acc + trackLengthM(p.points), 0);
    expect(sum).toBeCloseTo(trackLengthM(TRACK.points.slice(0, 10)) + trackLengthM(TRACK.points.slice(12, 15)), 9);
    // with a gap limit above 186 s, D joins C
    expect(splitTrack(TRACK, { maxGapS: 200 })).toHaveLength(3);
    expect(() => splitTrack(TRACK, { maxGapS: -5 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
  });
});

describe('exportTrack', () => {
  test('geojson: one LineString with parallel timestamps (ms), from/to and length', () => {
    const out = exportTrack(TRACK, 'geojson', { name: NAME });
    expect(out.contentType).toBe('application/geo+json');
    expect(out.extension).toBe('geojson');
    const f = JSON.parse(out.body) as Feature<LineString>;
    expect(f.geometry.type).toBe('LineString');
    expect(f.geometry.coordinates).toEqual(coordsOf(POSITIONED));
    expect(f.properties).toMatchObject({
      device: TRACK.device,
      kind: 'plow',
      name: NAME,
      from: '2025-01-15T20:00:00Z',
      to: '2025-01-15T20:03:20Z',
      timestamps: timesOf(POSITIONED),
    });
    expect(f.properties?.['lengthM']).toBeCloseTo(trackLengthM(TRACK.points), 2);
  });

  test('geojson split: a LineString per part, a lone fix as a Point', () => {
    const fc = JSON.parse(exportTrack(TRACK, 'geojson', { split: true }).body) as FeatureCollection<LineString | Point>;
    expect(fc.features.map((f) => [f.geometry.type, f.properties?.['blade'], f.properties?.['from'], f.properties?.['to']])).toEqual([
      ['LineString', 'down', '2025-01-15T20:00:00Z', '2025-01-15T20:00:05Z'],
      ['LineString', 'up', '2025-01-15T20:00:05Z', '2025-01-15T20:00:09Z'],
      ['LineString', 'up', '2025-01-15T20:00:12Z', '2025-01-15T20:00:14.250Z'],
      ['Point', 'up', '2025-01-15T20:03:20Z', '2025-01-15T20:03:20Z'],
    ]);
    const parts = splitTrack(TRACK);
    fc.features.forEach((f, i) => {
      expect(f.properties?.['timestamps']).toEqual(timesOf(parts[i]!.points));
      expect(f.properties?.['part']).toBe(i);
      if (f.geometry.type === 'LineString') expect(f.geometry.coordinates).toEqual(coordsOf(parts[i]!.points));
      else expect(f.geometry.coordinates).toEqual(coordsOf(parts[i]!.points)[0]);
    });
  });

  test('geojson of a track without positions: null geometry', () => {
    const empty: Track = { device: 'p', kind: 'plow', points: [{ t: T0, blade: 'up', fix: 'none' }] };
    expect(JSON.parse(exportTrack(empty, 'geojson').body)).toMatchObject({ type: 'Feature', geometry: null, properties: { from: null, timestamps: [] } });
    expect(JSON.parse(exportTrack(empty, 'geojson', { split: true }).body)).toEqual({ type: 'FeatureCollection', features: [] });
  });

  test('gpx: valid GPX 1.1 that togeojson reads back with the same coordinates, times, speeds and blade states', () => {
    const out = exportTrack(TRACK, 'gpx', { name: NAME });
    expect(out).toMatchObject({ contentType: 'application/gpx+xml', extension: 'gpx' });
    const doc = xml(out.body);
    expect(doc.documentElement?.getAttribute('version')).toBe('1.1');
    expect(doc.getElementsByTagName('name')[0]?.textContent).toBe(NAME);
    const fc = gpx(doc);
    expect(fc.features).toHaveLength(1);
    const f = fc.features[0] as Feature<LineString>;
    expect(f.properties?.['name']).toBe(NAME);
    expect(f.geometry.coordinates).toEqual(coordsOf(POSITIONED));
    const cp = f.properties?.['coordinateProperties'] as Record<string, unknown[]>;
    expect((cp['times'] as string[]).map((s) => Date.parse(s))).toEqual(timesOf(POSITIONED));
    expect(cp['hatake:blades']).toEqual(POSITIONED.map((p) => p.blade));
    expect(cp['speeds']).toEqual(POSITIONED.map((p) => p.speed ?? null));
    expect(cp['courses']).toEqual(POSITIONED.map((p) => p.heading ?? null));
    expect(cp['hatake:materials']).toEqual(POSITIONED.map((p) => p.material ?? null));
  });

  test('gpx split: a trkseg per part with its blade state', () => {
    const body = exportTrack(TRACK, 'gpx', { split: true }).body;
    const doc = xml(body);
    const segs = Array.from(doc.getElementsByTagName('trkseg'));
    expect(segs.map((s) => s.getElementsByTagName('trkpt').length)).toEqual([6, 5, 3, 1]);
    // a trkseg's own <extensions> is its last child
    expect(segs.map((s) => s.getElementsByTagName('hatake:blade')[s.getElementsByTagName('hatake:blade').length - 1]?.textContent)).toEqual([
      'down',
      'up',
      'up',
      'up',
    ]);
    const f = gpx(doc).features[0] as Feature<MultiLineString>;
    const parts = splitTrack(TRACK);
    // togeojson drops the one-point segment (not a GeoJSON line)
    expect(f.geometry.coordinates).toEqual(parts.slice(0, 3).map((p) => coordsOf(p.points)));
    const times = (f.properties?.['coordinateProperties'] as { times: string[][] }).times;
    expect(times.map((seg) => seg.map((s) => Date.parse(s)))).toEqual(parts.slice(0, 3).map((p) => timesOf(p.points)));
  });

  test('kml: a styled LineString placemark per part and a timed gx:Track twin that togeojson reads back', () => {
    const out = exportTrack(TRACK, 'kml', { split: true, name: NAME });
    expect(out).toMatchObject({ contentType: 'application/vnd.google-earth.kml+xml', extension: 'kml' });
    const doc = xml(out.body);
    expect(doc.getElementsByTagName('name')[0]?.textContent).toBe(NAME);
    const features = kml(doc).features;
    const parts = splitTrack(TRACK);
    const lines = features.filter((f) => f.properties?.['visibility'] !== false);
    const timed = features.filter((f) => f.properties?.['visibility'] === false);
    expect(lines.map((f) => [f.geometry?.type, f.properties?.['blade'], f.properties?.['styleUrl']])).toEqual([
      ['LineString', 'down', '#blade-down'],
      ['LineString', 'up', '#blade-up'],
      ['LineString', 'up', '#blade-up'],
      ['Point', 'up', '#blade-up'],
    ]);
    expect(lines.map((f) => f.properties?.['stroke'])).toEqual(['#0066ff', '#999999', '#999999', '#999999']);
    lines.forEach((f, i) => {
      const c = coordsOf(parts[i]!.points);
      expect((f.geometry as LineString | Point).coordinates).toEqual(f.geometry?.type === 'Point' ? c[0] : c);
      expect(f.properties?.['timespan']).toEqual({ begin: new Date(parts[i]!.from).toISOString().replace('.000Z', 'Z'), end: new Date(parts[i]!.to).toISOString().replace('.000Z', 'Z') });
    });
    expect(timed).toHaveLength(4);
    timed.forEach((f, i) => {
      const c = coordsOf(parts[i]!.points).map((p) => [...p, 0]);
      expect((f.geometry as LineString | Point).coordinates).toEqual(f.geometry?.type === 'Point' ? c[0] : c);
      const times = (f.properties?.['coordinateProperties'] as { times: string[] }).times;
      expect(times.map((s) => Date.parse(s))).toEqual(timesOf(parts[i]!.points));
    });
  });

  test('kml whole: one line over every positioned sample', () => {
    const features = kml(xml(exportTrack(TRACK, 'kml').body)).features;
    expect(features).toHaveLength(2);
    expect((features[0]!.geometry as LineString).coordinates).toEqual(coordsOf(POSITIONED));
  });

  test('csv: the documented header, one row per sample, RFC 4180 quoting, units', () => {
    const out = exportTrack(TRACK, 'csv');
    expect(out).toMatchObject({ contentType: 'text/csv; charset=utf-8; header=present', extension: 'csv' });
    expect(out.body.split('\r\n')[0]).toBe('time,device,lat,lon,speed_kmh,heading_deg,blade,spread_g_m2,material,fix');
    const rows = parse(out.body, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([...TRACK_CSV_COLUMNS]);
    expect(rows).toHaveLength(TRACK.points.length);
    rows.forEach((r, i) => {
      const p = TRACK.points[i]!;
      expect(Date.parse(r['time']!)).toBe(p.t);
      expect(r['device']).toBe(TRACK.device);
      expect(r['lat']).toBe(p.lat === undefined ? '' : String(r7(p.lat)));
      expect(r['lon']).toBe(p.lon === undefined ? '' : String(r7(p.lon)));
      expect(r['speed_kmh']).toBe(p.speed === undefined ? '' : String(p.speed * 3.6));
      expect(r['heading_deg']).toBe(p.heading === undefined ? '' : String(p.heading));
      expect(r['blade']).toBe(p.blade);
      expect(r['spread_g_m2']).toBe(p.spread === undefined ? '' : String(p.spread));
      expect(r['material']).toBe(p.material ?? '');
      expect(r['fix']).toBe(p.fix ?? '');
    });
    expect(out.body).toContain('"plow, ""north"" 1"');
  });

  test('an unknown format is an options error', () => {
    expect(() => exportTrack(TRACK, 'shp' as 'csv')).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
  });

  test('names with control characters still make well-formed XML', () => {
    const doc = xml(exportTrack(TRACK, 'gpx', { name: 'a\u0001b\u0007c' }).body);
    expect(doc.getElementsByTagName('name')[0]?.textContent).toBe('abc');
  });

  test('a day at 1 Hz exports and simplifies to GeoJSON that reads back', () => {
    const points: TrackPoint[] = [];
    for (let i = 0; i < 86_400; i++) {
      const [lon, lat] = proj.toLonLat(Math.sin(i / 3000) * 8000, Math.cos(i / 2000) * 5000);
      points.push({ t: T0 + i * 1000, lon, lat, blade: Math.floor(i / 3600) % 2 === 0 ? 'down' : 'up', speed: 8, heading: 10, fix: 'rtk_fixed' });
    }
    const day: Track = { device: 'plow-1', kind: 'plow', points };
    const full = JSON.parse(exportTrack(day, 'geojson').body) as Feature<LineString>;
    expect(full.geometry.coordinates).toHaveLength(86_400);
    expect(full.properties?.['timestamps']).toHaveLength(86_400);
    const simple = simplifyTrack(day, 2);
    const fc = JSON.parse(exportTrack(simple, 'geojson', { split: true }).body) as FeatureCollection<LineString>;
    expect(fc.features).toHaveLength(24);
    expect(fc.features.map((f) => f.properties?.['from'])).toEqual(splitTrack(day).map((p) => new Date(p.from).toISOString().replace('.000Z', 'Z')));
  });
});
