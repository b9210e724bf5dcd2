import { booleanPointInPolygon, pointToLineDistance, polygonToLine } from '@turf/turf';
import type { Feature, LineString, MultiLineString } from 'geojson';
import { describe, expect, it } from 'vitest';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { buildZone, corridorZone, type LatLon, type Zone } from '@hatake/geofence';
import { L_FIELD, RECT, RECT_EDGES, ROAD, at, eastOfRect, expectGolden, offset } from './geo.ts';

const NE = { lat: RECT_EDGES.north, lon: RECT_EDGES.east };

function expectSigned(zone: Zone, p: LatLon, meters: number, tol = 0.01): void {
  expect(Math.abs(zone.signedDistanceMeters(p) - meters)).toBeLessThanOrEqual(tol);
  expect(zone.contains(p)).toBe(meters < 0);
}

describe('a 300 m × 200 m field near Iwamizawa', () => {
  it('margin 0: inside and outside, with metres to the edge', () => {
    const zone = buildZone(RECT, { id: 'rect', marginMeters: 0 });
    expect(zone.geometry).toEqual(RECT.geometry);
    expectSigned(zone, at(150, 100), -100); // centre: 100 m from the north and south edges
    expectSigned(zone, eastOfRect(-5), -5);
    expectSigned(zone, eastOfRect(5), 5);
    expectSigned(zone, eastOfRect(0.3), 0.3);
    expectSigned(zone, at(150, -2), 2); // south of the south edge
    expectSigned(zone, offset(NE, 3, 4), 5); // off the corner: to the corner itself
  });

  it('margin 10: grown by 10 m, with round corners', () => {
    const zone = buildZone(RECT, { id: 'rect', marginMeters: 10 });
    expect(zone.marginMeters).toBe(10);
    expectSigned(zone, eastOfRect(5), -5);
    expectSigned(zone, eastOfRect(15), 5);
    expectSigned(zone, eastOfRect(-5), -15);
    expectSigned(zone, at(150, -12), 2);
    // 8 m east and 8 m north of the corner is 11.31 m from it: outside a round-cornered zone, inside a square one
    expectSigned(zone, offset(NE, 8, 8), Math.hypot(8, 8) - 10, 0.02);
    expectSigned(zone, offset(NE, 6, 6), Math.hypot(6, 6) - 10, 0.02);
  });

  it('takes a bare Polygon as well as a Feature, and positions with altitude', () => {
    const withAlt = { type: 'Polygon' as const, coordinates: [RECT.geometry.coordinates[0]!.map((p) => [p[0]!, p[1]!, 12.5])] };
    const zone = buildZone(withAlt, { id: 'rect', marginMeters: 0 });
    expectSigned(zone, eastOfRect(5), 5);
    expect(zone.bbox).toEqual([RECT_EDGES.west, RECT_EDGES.south, RECT_EDGES.east, RECT_EDGES.north]);
  });
});

describe('an L-shaped field of two parcels (MultiPolygon)', () => {
  it('margin 0: the parcels are merged, so their shared edge is no edge of the zone', () => {
    const zone = buildZone(L_FIELD, { id: 'l', marginMeters: 0 });
    expect(zone.geometry.type).toBe('Polygon');
    expectSigned(zone, at(550, 100), -50); // on the shared edge: 50 m from the west edge and from the inner corner
    expectSigned(zone, at(650, 50), -50);
    expectSigned(zone, at(700, 200), 100); // in the notch
    expectSigned(zone, at(605, 103), 3); // in the notch, 3 m from the long parcel
  });

  it('margin 10: distances are to the grown edge (sharp at the inner corner), not the boundary\'s minus 10', () => {
    const zone = buildZone(L_FIELD, { id: 'l', marginMeters: 10 });
    expectSigned(zone, at(605, 105), -Math.hypot(5, 5), 0.02);
    expectSigned(zone, at(700, 150), 40, 0.02);
    expectSigned(zone, at(495, 200), -5, 0.02);
    expectSigned(zone, at(450, 200), 40, 0.02);
  });
});

describe('distances', () => {
  const rng = xoroshiro128plus(20240607);
  const uniform = (a: number, b: number): number => a + (b - a) * uniformFloat64(rng);

  function turfSigned(zone: Zone, p: LatLon): number {
    const lines = polygonToLine(zone.geometry) as Feature<LineString | MultiLineString>;
    const rings = lines.geometry.type === 'LineString' ? [lines.geometry.coordinates] : lines.geometry.coordinates;
    const d = Math.min(...rings.map((r) => pointToLineDistance([p.lon, p.lat], { type: 'LineString', coordinates: r }, { units: 'meters' })));
    return booleanPointInPolygon([p.lon, p.lat], zone.geometry) ? -d : d;
  }

  it('agree with turf (pointToLineDistance, booleanPointInPolygon) to 0.5 % or 1 cm', () => {
    for (const zone of [buildZone(RECT, { id: 'r', marginMeters: 0 }), buildZone(L_FIELD, { id: 'l', marginMeters: 10 }), corridorZone(ROAD, 8, 'road')]) {
      for (let i = 0; i < 300; i++) {
        const p = at(uniform(-150, 950), uniform(-100, 600));
        const ours = zone.signedDistanceMeters(p);
        const theirs = turfSigned(zone, p);
        expect(Math.abs(ours - theirs), `${zone.id} at ${p.lat},${p.lon}: ${ours} vs ${theirs}`).toBeLessThanOrEqual(Math.max(0.01, Math.abs(theirs) * 0.005));
      }
    }
  });

  it('the bounding-box distance is 0 inside the box and never more than the distance to the edge', () => {
    const zone = buildZone(L_FIELD, { id: 'l', marginMeters: 10 });
    expect(zone.bboxDistanceMeters(at(700, 200))).toBe(0); // in the notch: inside the box, outside the zone
    let far = 0;
    for (let i = 0; i < 300; i++) {
      const p = at(uniform(-500, 1500), uniform(-500, 800));
      const lb = zone.bboxDistanceMeters(p);
      expect(lb).toBeLessThanOrEqual(Math.abs(zone.signedDistanceMeters(p)) + 1e-9);
      if (lb > 100) far++;
    }
    expect(far).toBeGreaterThan(100);
    expect(zone.bboxDistanceMeters(at(1810, 150))).toBeCloseTo(1000, 1); // 1000 m east of the grown east edge
  });
});

describe('golden zones (REGEN=1 rewrites test/fixtures/out)', () => {
  it('field grown by 10 m', () => expectGolden('iwamizawa-rect-m10.geojson', buildZone(RECT, { id: 'r', marginMeters: 10 }).geometry));
  it('L field grown by 10 m', () => expectGolden('iwamizawa-l-m10.geojson', buildZone(L_FIELD, { id: 'l', marginMeters: 10 }).geometry));
  it('road corridor 8 m either side', () => expectGolden('iwamizawa-road-8.geojson', corridorZone(ROAD, 8, 'road').geometry));
});
