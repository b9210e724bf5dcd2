import { describe, expect, it } from 'vitest';
import { coverageGeoJSON, parseRoadNetwork, RoadNetwork, roadCoverage, type CoverageResult, type Track } from '../src/index.ts';
import { drive, expectGolden, fixtureIn, iwamizawaRoads, roadPath, T0, type Leg } from './fixtures/walk.ts';

const network = RoadNetwork.build(parseRoadNetwork(fixtureIn('hand-network.geojson')));
const DAY = { from: T0 - 3_600_000, to: T0 + 86_400_000 };

/** `road#n` → [forward, backward] for every segment with a pass. */
function passed(result: CoverageResult): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const c of result.segments) if (c.passes.length > 0) out[c.segment.id] = [c.passesForward, c.passesBackward];
  return out;
}

/** Each of `road#from` … `road#to` with the same counts. */
function range(road: string, from: number, to: number, counts: [number, number]): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (let i = from; i <= to; i++) out[`${road}#${i}`] = counts;
  return out;
}

function cover(tracks: Track[], extra: Partial<Parameters<typeof roadCoverage>[2]> = {}): CoverageResult {
  return roadCoverage(network, tracks, { ...DAY, ...extra });
}

describe('roadCoverage on the hand-built network', () => {
  it('the network is what the tests assume', () => {
    const count = (road: string): number => network.roadSegments.get(road)!.length;
    expect([count('main'), count('parallel'), count('cross'), count('north'), count('east'), count('link'), count('beyond')]).toEqual([12, 11, 6, 6, 6, 1, 6]);
  });

  it('blade-up driving covers nothing', () => {
    const r = cover([drive('p1', [{ path: [[0, 0], [600, 0]], blade: 'up' }])]);
    expect(passed(r)).toEqual({});
    expect(r.stats.bladeDown).toBe(0);
    expect(r.unmatched).toEqual([]);
  });

  it('blade down covers exactly the segments driven, in their direction', () => {
    // main eastwards to the cross street, then south down it (cross is digitised northwards)
    const r = cover([drive('p1', [{ path: [[0, 0], [300, 0], [300, -300]] }], { noiseM: 2 })]);
    expect(passed(r)).toEqual({ ...range('main', 0, 5, [1, 0]), ...range('cross', 0, 5, [0, 1]) });
    expect(r.unmatched).toEqual([]);
    const seg = r.segments[network.indexOf('main#0')]!;
    expect(seg.vehicles).toEqual(['p1']);
    expect(seg.passes).toEqual([{ device: 'p1', direction: 'forward', start: T0, end: T0 + 5000 }]);
    expect(seg.firstPass).toBe(T0 + 5000);
    expect(seg.lastPass).toBe(T0 + 5000);
  });

  it('a parallel road 15 m away is not credited', () => {
    const there = drive('p1', [{ path: [[0, 0], [600, 0]] }], { noiseM: 3, seed: 7 });
    const back = drive('p2', [{ path: [[550, 15], [0, 15]] }], { noiseM: 3, seed: 9, t0: T0 + 3_600_000 });
    expect(passed(cover([there]))).toEqual(range('main', 0, 11, [1, 0]));
    expect(passed(cover([back]))).toEqual(range('parallel', 0, 10, [0, 1]));
  });

  it('a U-turn at the end of the road counts one pass each way', () => {
    const r = cover([drive('p1', [{ path: [[0, 0], [600, 0]] }, { path: [[600, 0], [0, 0]], pauseS: 20 }])]);
    expect(passed(r)).toEqual(range('main', 0, 11, [1, 1]));
  });

  it('a U-turn in the middle of a segment counts one pass each way on it too', () => {
    const r = cover([drive('p1', [{ path: [[0, 0], [340, 0], [0, 0]] }])]);
    expect(passed(r)).toEqual(range('main', 0, 6, [1, 1]));
  });

  it('backing up briefly, or shunting back and forth, adds no passes', () => {
    const brief: Leg[] = [{ path: [[0, 0], [130, 0]] }, { path: [[130, 0], [120, 0]], speed: 2 }, { path: [[120, 0], [600, 0]] }];
    expect(passed(cover([drive('p1', brief)]))).toEqual(range('main', 0, 11, [1, 0]));
    const shunt: Leg[] = [{ path: [[0, 0], [140, 0]] }, { path: [[140, 0], [115, 0]], speed: 3 }, { path: [[115, 0], [600, 0]] }];
    expect(passed(cover([drive('p1', shunt)]))).toEqual(range('main', 0, 11, [1, 0]));
    // a longer shunt, then creeping forward again through GPS jitter
    const creep: Leg[] = [{ path: [[0, 0], [140, 0]] }, { path: [[140, 0], [105, 0]], speed: 3 }, { path: [[105, 0], [160, 0]], speed: 1 }, { path: [[160, 0], [600, 0]] }];
    expect(passed(cover([drive('p1', creep, { noiseM: 1, seed: 5 })]))).toEqual(range('main', 0, 11, [1, 0]));
    const acrossEnd: Leg[] = [{ path: [[0, 0], [155, 0]] }, { path: [[155, 0], [145, 0]], speed: 2 }, { path: [[145, 0], [600, 0]] }];
    expect(passed(cover([drive('p1', acrossEnd)]))).toEqual(range('main', 0, 11, [1, 0]));
  });

  it('a GNSS gap does not credit the segments it skipped', () => {
    // 200 m → 400 m without samples: 40 s at 5 m/s
    const gap = drive('p1', [{ path: [[0, 0], [200, 0]], speed: 5 }, { path: [[400, 0], [600, 0]], speed: 5, pauseS: 40 }]);
    const r = cover([gap]);
    expect(passed(r)).toEqual({ ...range('main', 0, 3, [1, 0]), ...range('main', 8, 11, [1, 0]) });
    expect(r.stats.gaps).toBe(1);
    // samples without a position in between break continuity the same way
    const noFix = drive('p1', [{ path: [[0, 0], [200, 0]], speed: 5 }, { path: [[200, 0], [400, 0]], speed: 5, noFix: true }, { path: [[400, 0], [600, 0]], speed: 5 }]);
    const r2 = cover([noFix]);
    expect(passed(r2)).toEqual({ ...range('main', 0, 3, [1, 0]), ...range('main', 8, 11, [1, 0]) });
    expect(r2.stats.noPosition).toBe(41);
  });

  it('a short segment crossed between two samples is still credited', () => {
    const r = cover([drive('p1', [{ path: [[600, 0], [1210, 0]], speed: 15 }])]);
    expect(passed(r)).toEqual({ ...range('east', 0, 5, [1, 0]), 'link#0': [1, 0], ...range('beyond', 0, 5, [1, 0]) });
  });

  it('blade-down samples off the network are reported, not dropped', () => {
    const track = drive('p7', [{ path: [[0, 0], [100, 0]] }, { path: [[100, -100], [200, -100]], pauseS: 5 }]);
    const r = cover([track]);
    expect(r.unmatched).toHaveLength(11);
    expect(r.unmatched[0]).toEqual({ device: 'p7', t: T0 + 15_000, lon: track.points[11]!.lon, lat: track.points[11]!.lat });
    expect(passed(r)).toEqual(range('main', 0, 1, [1, 0]));
    expect(r.stats).toMatchObject({ vehicles: 1, samples: 22, bladeDown: 22, matched: 11, unmatched: 11 });
  });

  it('a slow plow with an unreliable heading is matched by its movement', () => {
    const track = drive('p1', [{ path: [[0, 0], [100, 0]], speed: 1 }]);
    // receivers report junk headings when nearly stopped
    const junk: Track = { ...track, points: track.points.map((p, i) => ({ ...p, heading: (i * 97) % 360 })) };
    expect(passed(cover([junk]))).toEqual(range('main', 0, 1, [1, 0]));
  });

  it('passes outside the window are not counted', () => {
    const r = cover([drive('p1', [{ path: [[0, 0], [600, 0]] }])], { from: T0 + 31_000, to: T0 + 86_400_000 });
    expect(Object.keys(passed(r))).toEqual(['main#6', 'main#7', 'main#8', 'main#9', 'main#10', 'main#11']);
  });

  it('lists every vehicle that served a segment, and both passes', () => {
    const a = drive('p1', [{ path: [[0, 0], [100, 0]] }]);
    const b = drive('p2', [{ path: [[100, 0], [0, 0]] }], { t0: T0 + 600_000 });
    const c = cover([b, a]).segments[network.indexOf('main#1')]!;
    expect(c.vehicles).toEqual(['p1', 'p2']);
    expect(c.passes.map((p) => [p.device, p.direction])).toEqual([
      ['p1', 'forward'],
      ['p2', 'backward'],
    ]);
    expect([c.firstPass, c.lastPass]).toEqual([T0 + 10_000, T0 + 605_000]);
  });

  it('refuses a window that is not one, and bad options', () => {
    expect(() => roadCoverage(network, [], { from: T0, to: T0 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_RANGE' }));
    expect(() => roadCoverage(network, [], { ...DAY, maxDistanceM: -1 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS', message: expect.stringContaining('maxDistanceM') }));
    expect(() => roadCoverage(network, [], { ...DAY, minPassShare: 2 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
  });
});

describe('coverageGeoJSON', () => {
  it('gives every segment with its last pass and minutes since it', () => {
    const r = roadCoverage(network, [drive('p1', [{ path: [[0, 0], [100, 0]] }])], { from: T0, to: T0 + 3_600_000 });
    const fc = coverageGeoJSON(r);
    expect(fc.features).toHaveLength(network.segments.length);
    const f = fc.features.find((x) => x.properties.id === 'main#1')!;
    expect(f.properties).toMatchObject({ road: 'main', class: 1, lastPass: new Date(T0 + 10_000).toISOString(), minutesSinceLastPass: 59.8, passesForward: 1, passesBackward: 0, vehicles: ['p1'] });
    expect(fc.features.find((x) => x.properties.id === 'main#2')!.properties).toMatchObject({ lastPass: null, minutesSinceLastPass: null, passesForward: 0, vehicles: [] });
  });

  it('matches the golden map of a plow run on the Iwamizawa sample network', () => {
    const roads = iwamizawaRoads();
    const net = RoadNetwork.build(parseRoadNetwork(roads));
    // north up Route 12, east along Kita 4-jō, back west along Ekimae-dōri east
    const track = drive(
      'plow-03',
      [
        { path: [...roadPath(roads, 'r12-1'), ...roadPath(roads, 'r12-2').slice(1), ...roadPath(roads, 'r12-3').slice(1)], lonLat: true, speed: 12 },
        { path: roadPath(roads, 'kita4-e'), lonLat: true, speed: 8 },
        { path: roadPath(roads, 'higashi-n', true), lonLat: true, speed: 8 },
        { path: roadPath(roads, 'ekimae-e', true), lonLat: true, speed: 8, blade: 'up' },
      ],
      { noiseM: 2 },
    );
    const r = roadCoverage(net, [track], { from: T0, to: T0 + 2 * 3_600_000 });
    const served = new Set(r.segments.filter((c) => c.passes.length > 0).map((c) => c.segment.road));
    expect([...served].sort()).toEqual(['higashi-n', 'kita4-e', 'r12-1', 'r12-2', 'r12-3']);
    for (const c of r.segments) {
      if (served.has(c.segment.road)) expect(c.passes.length, c.segment.id).toBe(1);
    }
    expect(r.unmatched).toEqual([]);
    expectGolden('coverage-iwamizawa-plow-03.geojson', coverageGeoJSON(r));
  });
});
