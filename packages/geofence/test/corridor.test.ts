import type { LineString } from 'geojson';
import { describe, expect, it } from 'vitest';
import { GeofenceError, ZoneWatcher, corridorZone, type LatLon, type PositionSample, type ZoneEvent } from '@hatake/geofence';
import { ROAD, at } from './geo.ts';

/** Points every `step` metres along a polyline given in the fixtures' local metres. */
function drive(vertices: readonly (readonly [number, number])[], step: number): LatLon[] {
  const out: LatLon[] = [];
  let carry = 0;
  for (let i = 1; i < vertices.length; i++) {
    const [x0, y0] = vertices[i - 1]!;
    const [x1, y1] = vertices[i]!;
    const len = Math.hypot(x1 - x0, y1 - y0);
    let s = carry;
    for (; s < len; s += step) out.push(at(x0 + ((x1 - x0) * s) / len, y0 + ((y1 - y0) * s) / len));
    carry = s - len;
  }
  return out;
}

/** A DGPS plow sample (±2 m), one per second. */
const dgps = (p: LatLon, k: number): PositionSample => ({ t: 1000 * k, lat: p.lat, lon: p.lon, fix: 'dgps', hdop: 0.9 });

describe('a plow and a road segment corridor', () => {
  it('enters when it drives onto the segment and exits when it goes straight on where the road bends', () => {
    const corridor = corridorZone(ROAD, 8, 'road-kita-3');
    expect(corridor.kind).toBe('corridor');
    const watcher = new ZoneWatcher(corridor);
    // 10 m/s due east along y = 400 from x = −200; the road (y = 400 from x = −100, round end 8 m further) bends north-east at x = 400
    const events = drive([[-200, 400], [1000, 400]], 10).map((p, k) => watcher.update(dgps(p, k))).filter((e) => e !== undefined);
    // x = −100 (k = 10) is 8 m inside: first vote; x = −90 second. After the bend the edge is (x − 400)/√5 − 8 away:
    // x = 420 (k = 62) 0.9 m out (undecided), x = 430 5.4 m out, x = 440 9.9 m out: exit
    expect(events.map((e) => [e.type, e.t, e.rule])).toEqual([
      ['enter', 11_000, 'consecutive'],
      ['exit', 64_000, 'consecutive'],
    ]);
    expect(events[1]!.distanceMeters).toBeCloseTo(40 / Math.sqrt(5) - 8, 1);
  });

  it('two segments of interest, one watcher each: the plow follows the road through the bend, then turns off', () => {
    const [a, bend, b] = ROAD.geometry.coordinates as [number[], number[], number[]];
    const segA: LineString = { type: 'LineString', coordinates: [a, bend] };
    const segB: LineString = { type: 'LineString', coordinates: [bend, b] };
    const watchers = [new ZoneWatcher(corridorZone(segA, 8, 'seg-a')), new ZoneWatcher(corridorZone(segB, 8, 'seg-b'))];
    const path = drive([[-200, 400], [400, 400], [600, 500], [600, 800]], 10); // north off the road at its end
    const events: (ZoneEvent & { k: number })[] = [];
    path.forEach((p, k) => {
      for (const w of watchers) {
        const e = w.update(dgps(p, k));
        if (e) events.push({ ...e, k });
      }
    });
    expect(events.map((e) => `${e.type} ${e.zoneId}`)).toEqual(['enter seg-a', 'enter seg-b', 'exit seg-a', 'exit seg-b']);
    // each within two samples (20 m) of where the true path crosses the corridor's edge by more than the 2 m uncertainty
    const arcB = 600 + Math.hypot(200, 100); // path metres at the end of segment B
    const expected = [100 - 8 + 2, 600 - 8 + 2, 600 + 8 + 2, arcB + 8 + 2]; // past the bend, A's edge is its round end 8 m around the bend point
    events.forEach((e, i) => {
      expect(e.k * 10 - expected[i]!, `${e.type} ${e.zoneId} at ${e.k * 10} m`).toBeGreaterThanOrEqual(0);
      expect(e.k * 10 - expected[i]!, `${e.type} ${e.zoneId} at ${e.k * 10} m`).toBeLessThanOrEqual(20);
    });
    expect(watchers.map((w) => w.state)).toEqual(['outside', 'outside']);
  });

  it('bad lines and widths give typed errors', () => {
    const cases: [unknown, number, string, string, RegExp][] = [
      [{ type: 'LineString', coordinates: [[141.76, 43.2]] }, 8, 'r', 'HATAKE_ERR_GEOFENCE_LINE', /at least 2 positions/],
      [{ type: 'LineString', coordinates: [[141.76, 43.2], [141.76, 43.2]] }, 8, 'r', 'HATAKE_ERR_GEOFENCE_LINE', /no length/],
      [{ type: 'LineString', coordinates: [[141.76, 43.2], [141.77, 143.2]] }, 8, 'r', 'HATAKE_ERR_GEOFENCE_LINE', /coordinates\[1\]: latitude 143.2/],
      [{ type: 'LineString', coordinates: [[141.76, 43.2], [Number.NaN, 43.2]] }, 8, 'r', 'HATAKE_ERR_GEOFENCE_LINE', /finite/],
      [{ type: 'Polygon', coordinates: [] }, 8, 'r', 'HATAKE_ERR_GEOFENCE_LINE', /LineString/],
      [ROAD, 0, 'r', 'HATAKE_ERR_GEOFENCE_OPTIONS', /halfWidthMeters/],
      [ROAD, 1001, 'r', 'HATAKE_ERR_GEOFENCE_OPTIONS', /halfWidthMeters/],
      [ROAD, 8, '', 'HATAKE_ERR_GEOFENCE_OPTIONS', /zone id/],
    ];
    for (const [line, half, id, code, message] of cases) {
      let caught: unknown;
      try {
        corridorZone(line as LineString, half, id);
      } catch (err) {
        caught = err;
      }
      expect(caught, String(message)).toBeInstanceOf(GeofenceError);
      expect((caught as GeofenceError).code).toBe(code);
      expect((caught as GeofenceError).message).toMatch(message);
    }
  });
});
