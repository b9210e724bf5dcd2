import proj4 from 'proj4';
import { describe, expect, test } from 'vitest';
import { localProjection, projectionForExtent, stepDistanceM, trackFromRows, trackLengthM, TracksError } from '@hatake/tracks';

const LAT0 = 43.196;
const LON0 = 141.776;
const T0 = Date.UTC(2025, 0, 15, 20, 0, 0);

describe('trackFromRows', () => {
  test('sorts by time, drops duplicate times (first by seq wins) and rows without a time', () => {
    const track = trackFromRows('plow-1', 'plow', [
      { t: T0 + 2000, seq: 3, fix: 'gps', lat: LAT0, lon: LON0 + 0.0002, blade: 'down' },
      { t: T0, seq: 1, fix: 'gps', lat: LAT0, lon: LON0, blade: 'up' },
      { t: T0 + 1000, seq: 5, fix: 'gps', lat: LAT0, lon: LON0 + 0.00015, blade: 'up' },
      { t: T0 + 1000, seq: 2, fix: 'gps', lat: LAT0, lon: LON0 + 0.0001, blade: 'up' },
      { t: 'yesterday', seq: 9, fix: 'gps', lat: LAT0, lon: LON0, blade: 'up' },
      { t: Number.NaN, seq: 9, fix: 'gps', lat: LAT0, lon: LON0, blade: 'up' },
    ]);
    expect(track.points.map((p) => p.t - T0)).toEqual([0, 1000, 2000]);
    expect(track.points[1]?.lon).toBe(LON0 + 0.0001);
    expect(track.points.map((p) => p.blade)).toEqual(['up', 'up', 'down']);
  });

  test('samples without a fix keep time, blade and spreader but no position', () => {
    const track = trackFromRows('plow-1', 'plow', [
      { t: T0, fix: 'none', lat: LAT0, lon: LON0, speed: 3, heading: 90, blade: 'down', spread: 20, material: 'salt', width: 3 },
      { t: T0 + 1000, fix: 'rtk_fixed', lat: 0, lon: 0, blade: 'down' },
      { t: T0 + 2000, lat: LAT0, lon: LON0, blade: 'down' },
      { t: T0 + 3000, fix: 'dgps', lat: 91, lon: LON0, blade: 'down' },
      { t: T0 + 4000, fix: 'rtk_float', lat: LAT0, lon: LON0, speed: 2.5, heading: -90, blade: 'sideways', spread: 0, material: 'salt', width: 3.2, alt: 20 },
    ]);
    const [a, b, c, d, e] = track.points;
    expect(a).toEqual({ t: T0, fix: 'none', blade: 'down', spread: 20, material: 'salt', width: 3 });
    expect(b?.lon).toBeUndefined();
    expect(c?.lon).toBeUndefined();
    expect(d?.lat).toBeUndefined();
    expect(e).toEqual({ t: T0 + 4000, lon: LON0, lat: LAT0, speed: 2.5, heading: 270, fix: 'rtk_float', blade: 'none', spread: 0, material: 'salt', width: 3.2 });
  });

  test("tractors have blade 'none' whatever the row says", () => {
    const track = trackFromRows('tractor-7', 'tractor', [{ t: T0, fix: 'gps', lat: LAT0, lon: LON0, blade: 'down' }]);
    expect(track).toEqual({ device: 'tractor-7', kind: 'tractor', points: [{ t: T0, fix: 'gps', lat: LAT0, lon: LON0, blade: 'none' }] });
  });
});

describe('trackLengthM', () => {
  test('sums the steps between positioned samples, skipping samples without one', () => {
    const proj = localProjection(LON0, LAT0);
    const at = (x: number, y: number): { lon: number; lat: number } => {
      const [lon, lat] = proj.toLonLat(x, y);
      return { lon, lat };
    };
    const points = [
      { t: 0, blade: 'up' as const, ...at(0, 0) },
      { t: 1, blade: 'up' as const, ...at(300, 0) },
      { t: 2, blade: 'up' as const },
      { t: 3, blade: 'up' as const, ...at(300, 400) },
    ];
    // 300 m east then 400 m north; TM scale within 300 m of the centre is 1 + 1e-9
    expect(trackLengthM(points)).toBeCloseTo(700, 3);
    expect(trackLengthM([])).toBe(0);
  });
});

describe('localProjection', () => {
  test('is proj4 tmerc k=1 centred on the point, to a tenth of a millimetre within 100 km', () => {
    const proj = localProjection(LON0, LAT0);
    const ref = proj4('EPSG:4326', `+proj=tmerc +lat_0=${LAT0} +lon_0=${LON0} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs`);
    for (let i = -5; i <= 5; i++) {
      for (let j = -5; j <= 5; j++) {
        const lon = LON0 + i * 0.2;
        const lat = LAT0 + j * 0.1;
        const [x, y] = proj.toXY(lon, lat);
        const [rx, ry] = ref.forward([lon, lat]);
        expect(Math.hypot(x - rx, y - ry)).toBeLessThan(1e-4);
        const [lon2, lat2] = proj.toLonLat(x, y);
        expect(Math.abs(lon2 - lon)).toBeLessThan(1e-10);
        expect(Math.abs(lat2 - lat)).toBeLessThan(1e-10);
      }
    }
    // beyond 2° of the central meridian the exact Krüger series takes over, seamlessly
    for (const dLon of [-5, -3, -2.0001, -1.9999, 1.9999, 2.0001, 3, 5]) {
      const [x, y] = proj.toXY(LON0 + dLon, LAT0 + 0.5);
      const [rx, ry] = ref.forward([LON0 + dLon, LAT0 + 0.5]);
      expect(Math.hypot(x - rx, y - ry)).toBeLessThan(1e-4);
    }
    expect(proj.toXY(LON0, LAT0)).toEqual([0, 0]);
    const [, north] = proj.toXY(LON0, LAT0 + 0.01);
    expect(north).toBeGreaterThan(1110); // y grows north, in metres
  });

  test('toXYArrays gives what toXY gives; projectionForExtent centres on the bounding box', () => {
    const lons = Float64Array.of(141.7, 141.8, 141.75);
    const lats = Float64Array.of(43.1, 43.3, 43.2);
    const proj = projectionForExtent(lons, lats);
    expect(proj.lon0).toBeCloseTo(141.75, 12);
    expect(proj.lat0).toBeCloseTo(43.2, 12);
    const { x, y } = proj.toXYArrays(lons, lats);
    for (let i = 0; i < 3; i++) expect([x[i], y[i]]).toEqual(proj.toXY(lons[i]!, lats[i]!));
  });

  test('an impossible centre is an options error', () => {
    expect(() => localProjection(Number.NaN, 43)).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
    expect(() => localProjection(141, 90)).toThrow(TracksError);
  });

  test('stepDistanceM agrees with the projection for short steps', () => {
    const proj = localProjection(LON0, LAT0);
    const [lon1, lat1] = proj.toLonLat(-20, 35);
    const [lon2, lat2] = proj.toLonLat(40, -45);
    expect(stepDistanceM(lon1, lat1, lon2, lat2)).toBeCloseTo(100, 4);
  });
});
