import { length, lineString } from '@turf/turf';
import { describe, expect, it } from 'vitest';
import { parseRoadNetwork, RoadNetwork, type TracksError } from '../src/index.ts';
import { expectGolden, fixtureIn, iwamizawaRoads, ll } from './fixtures/walk.ts';

function road(id: unknown, coordinates: unknown, extra: Record<string, unknown> = {}, geometryType = 'LineString'): unknown {
  return { type: 'Feature', properties: { id, name: `Road ${String(id)}`, class: 2, ...extra }, geometry: { type: geometryType, coordinates } };
}
const fc = (...features: unknown[]): unknown => ({ type: 'FeatureCollection', features });

/** The error `fn` throws. */
function thrown(fn: () => unknown): TracksError {
  try {
    fn();
  } catch (err) {
    return err as TracksError;
  }
  throw new Error('did not throw');
}

describe('parseRoadNetwork', () => {
  it('reads the sample network', () => {
    const roads = parseRoadNetwork(iwamizawaRoads());
    expect(roads).toHaveLength(14);
    expect(roads[0]).toMatchObject({ id: 'r12-1', class: 1, name: 'National Route 12 (Minami 8-jō – Minami 3-jō)' });
    expect(roads[0]!.coordinates[0]).toEqual([141.769609, 43.1843583]);
  });

  it('drops a position repeated at once', () => {
    const [r] = parseRoadNetwork(fc(road('a', [ll(0, 0), ll(0, 0), ll(100, 0)])));
    expect(r!.coordinates).toHaveLength(2);
  });

  it.each([
    ['not a LineString', road('a', [[ll(0, 0), ll(100, 0)]], {}, 'MultiLineString'), "road 'a' (feature 0): not a LineString (got MultiLineString)"],
    ['one position', road('a', [ll(0, 0)]), "road 'a' (feature 0): a LineString needs at least 2 positions"],
    ['a NaN coordinate', road('a', [ll(0, 0), [141.77, Number.NaN]]), "road 'a' (feature 0): position 1 is not [lon, lat] of finite numbers"],
    ['latitude first', road('a', [[43.2, 141.77], [43.2, 141.78]]), "road 'a' (feature 0): position 0 [43.2, 141.77] is outside WGS84 (longitude first)"],
    ['zero length', road('a', [ll(0, 0), ll(0.1, 0)]), "road 'a' (feature 0): zero length (0.10 m; a road must be at least 1 m long)"],
    ['a spike', road('a', [ll(0, 0), ll(100, 0), ll(40, 0)]), "road 'a' (feature 0): doubles back on itself at position 1"],
    ['a part drawn twice', road('a', [ll(0, 0), ll(100, 0), ll(100, 50), ll(60, 50), ll(60, 0), ll(20, 0)]), "road 'a' (feature 0): overlaps itself (pieces from positions 0 and 4 lie on each other)"],
    ['a bad class', road('a', [ll(0, 0), ll(100, 0)], { class: 7 }), "road 'a' (feature 0): class must be an integer 1 (highest) to 5 (got 7)"],
    ['no id', road(undefined, [ll(0, 0), ll(100, 0)]), "feature 0: id must be a string of 1 to 128 characters without '#'"],
  ])('refuses a road with %s, naming it and why', (_what, feature, message) => {
    const err = thrown(() => parseRoadNetwork(fc(feature)));
    expect(err.code).toBe('HATAKE_ERR_TRACKS_NETWORK');
    expect(err.message).toBe(`road network: ${message}`);
  });

  it('lists every bad road at once, duplicates included', () => {
    const err = thrown(() => parseRoadNetwork(fc(road('a', [ll(0, 0), ll(100, 0)]), road('a', [ll(0, 10), ll(100, 10)]), road('b', [ll(0, 0)]))));
    expect(err.code).toBe('HATAKE_ERR_TRACKS_NETWORK');
    expect(err.message).toContain("road 'a' (feature 1): duplicate id (also feature 0)");
    expect(err.message).toContain("road 'b' (feature 2): a LineString needs at least 2 positions");
  });

  it('refuses what is not a FeatureCollection', () => {
    expect(thrown(() => parseRoadNetwork({ type: 'Feature' })).code).toBe('HATAKE_ERR_TRACKS_NETWORK');
    expect(thrown(() => parseRoadNetwork(fc())).message).toBe('road network: no roads');
  });
});

describe('RoadNetwork.build', () => {
  const roads = parseRoadNetwork(iwamizawaRoads());
  const net = RoadNetwork.build(roads);

  it('cuts every road into segments of about 50 m, none tiny, lengths adding up', () => {
    for (const r of roads) {
      const segs = net.roadSegments.get(r.id)!.map((i) => net.segments[i]!);
      const turf = length(lineString(r.coordinates.map((p) => [p[0], p[1]])), { units: 'meters' });
      const total = segs.reduce((a, s) => a + s.lengthM, 0);
      expect(Math.abs(total - turf) / turf, r.id).toBeLessThan(0.005); // turf's sphere vs the ellipsoid
      expect(segs.length, r.id).toBe(Math.max(1, Math.round(total / 50)));
      segs.forEach((s, i) => {
        expect(s.id).toBe(`${r.id}#${i}`);
        expect(s.index).toBe(i);
        expect(s.lengthM).toBeGreaterThan(33);
        expect(s.lengthM).toBeLessThan(75);
      });
      // consecutive segments share their cut point, and the road's ends are kept
      expect(segs[0]!.coordinates[0]).toEqual(r.coordinates[0]);
      expect(segs[segs.length - 1]!.coordinates.at(-1)).toEqual(r.coordinates.at(-1));
      for (let i = 1; i < segs.length; i++) expect(segs[i]!.coordinates[0]).toEqual(segs[i - 1]!.coordinates.at(-1));
    }
  });

  it('honours segmentLengthM, and refuses a silly one', () => {
    const coarse = RoadNetwork.build(roads, { segmentLengthM: 200 });
    expect(coarse.segments.length).toBeLessThan(net.segments.length / 3);
    expect(thrown(() => RoadNetwork.build(roads, { segmentLengthM: 0 })).code).toBe('HATAKE_ERR_TRACKS_OPTIONS');
  });

  it('finds nearby segments with distance, position along and local bearing', () => {
    const hand = RoadNetwork.build(parseRoadNetwork(fixtureIn('hand-network.geojson')));
    const [x, y] = hand.toXY(...ll(125, 5));
    const near = hand.near(x, y, 12);
    expect(near.map((n) => n.segment.id)).toEqual(['main#2', 'parallel#2']);
    expect(near[0]!.distanceM).toBeCloseTo(5, 2);
    expect(near[0]!.alongM).toBeCloseTo(25, 1);
    expect(near[0]!.bearing).toBeCloseTo(90, 0);
    expect(near[1]!.distanceM).toBeCloseTo(10, 2);
    expect(hand.near(x, y, 4)).toEqual([]);
  });

  it('knows which segment ends touch which', () => {
    const hand = RoadNetwork.build(parseRoadNetwork(fixtureIn('hand-network.geojson')));
    const nbrs = (id: string): string[] => {
      const s = hand.indexOf(id);
      const { off, nbr } = hand.adjacency;
      return [...nbr.subarray(off[2 * s]!, off[2 * s + 2]!)].map((v) => hand.segments[v >> 2]!.id).sort();
    };
    expect(nbrs('main#11')).toEqual(['east#0', 'main#10', 'north#0']);
    // the cross street ends on main's interior vertex at 300 m, where main#5 and main#6 meet
    expect(nbrs('cross#5')).toEqual(['cross#4', 'main#5', 'main#6']);
    expect(nbrs('parallel#0')).toEqual(['parallel#1']);
  });

  it('gives the segments as GeoJSON (golden)', () => {
    expectGolden('iwamizawa-segments.geojson', net.segmentsGeoJSON());
  });
});
