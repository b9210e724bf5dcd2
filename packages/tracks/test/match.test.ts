import { describe, expect, it } from 'vitest';
import { matchTrack, parseRoadNetwork, RoadNetwork, SampleState, type Track } from '../src/index.ts';
import { drive, fixtureIn, ll, T0 } from './fixtures/walk.ts';

const network = RoadNetwork.build(parseRoadNetwork(fixtureIn('hand-network.geojson')));
const roadOf = (m: ReturnType<typeof matchTrack>, i: number): string | undefined => network.segments[m.segment[i]!]?.road;

describe('matchTrack', () => {
  it('matches every sample of a noisy drive to the road driven, none to the parallel one 15 m away', () => {
    const track = drive('p1', [{ path: [[0, 0], [600, 0]] }], { noiseM: 4, seed: 3 });
    const m = matchTrack(network, track);
    expect([...m.state].every((s) => s === SampleState.matched)).toBe(true);
    // (the last sample, at 600 m where main meets east street, may fall either side of the junction)
    expect(new Set(track.points.slice(0, -1).map((_, i) => roadOf(m, i)))).toEqual(new Set(['main']));
    expect(Math.max(...m.distance)).toBeLessThanOrEqual(4 * Math.SQRT2 + 0.01);
    expect([...m.direction].every((d) => d === 1)).toBe(true);
    // positions along grow with the drive, segment by segment
    expect(m.along[5]).toBeCloseTo(1, 0);
    expect(network.segments[m.segment[30]!]!.id).toBe('main#5');
  });

  it('tells the direction of travel against the digitisation', () => {
    const m = matchTrack(network, drive('p1', [{ path: [[600, 0], [0, 0]] }]));
    expect([...m.direction].every((d) => d === -1)).toBe(true);
  });

  it('does not match a road crossed at right angles', () => {
    // across main at 450 m, north to south, with no road there
    const m = matchTrack(network, drive('p1', [{ path: [[450, 60], [450, -60]], speed: 5 }]));
    const onMain = track(m).filter((i) => roadOf(m, i) === 'main');
    expect(onMain).toEqual([]);
    expect(m.counts.unmatched).toBe(m.counts.considered);
  });

  it('prefers the road it was on where two roads come within reach', () => {
    // 7.6 m north of main is 7.4 m from the frontage road: continuity keeps the plow on main
    const m = matchTrack(network, drive('p1', [{ path: [[0, 0], [200, 0], [200, 7.6], [300, 7.6]] }]));
    const last = m.segment.length - 1;
    expect(roadOf(m, last)).toBe('main');
  });

  it('matches only blade-down samples in the window', () => {
    const track = drive('p1', [{ path: [[0, 0], [100, 0]], blade: 'up' }, { path: [[100, 0], [200, 0]] }]);
    const m = matchTrack(network, track, { to: T0 + 15_000 });
    expect([...m.state.slice(0, 11)].every((s) => s === SampleState.skipped)).toBe(true);
    expect(m.state[11]).toBe(SampleState.matched);
    expect(m.breakBefore[11]).toBe(1);
    expect(m.breakBefore[12]).toBe(0);
    expect([...m.state.slice(16)].every((s) => s === SampleState.skipped)).toBe(true);
  });

  it('breaks continuity at a gap and at a sample without a position', () => {
    const track: Track = {
      device: 'p1',
      kind: 'plow',
      points: [
        { t: T0, lon: ll(0, 0)[0], lat: ll(0, 0)[1], blade: 'down', speed: 5, heading: 90 },
        { t: T0 + 1000, lon: ll(5, 0)[0], lat: ll(5, 0)[1], blade: 'down', speed: 5, heading: 90 },
        { t: T0 + 32_000, lon: ll(10, 0)[0], lat: ll(10, 0)[1], blade: 'down', speed: 5, heading: 90 },
        { t: T0 + 33_000, blade: 'down', fix: 'none' },
        { t: T0 + 34_000, lon: ll(20, 0)[0], lat: ll(20, 0)[1], blade: 'down', speed: 5, heading: 90 },
      ],
    };
    const m = matchTrack(network, track);
    expect([...m.breakBefore]).toEqual([1, 0, 1, 1, 1]);
    expect([...m.state]).toEqual([SampleState.matched, SampleState.matched, SampleState.matched, SampleState.noPosition, SampleState.matched]);
    expect(m.counts).toEqual({ considered: 5, noPosition: 1, matched: 4, unmatched: 0, gaps: 1 });
  });

  it('uses the movement, not the reported heading, of a slow vehicle', () => {
    const slow = drive('p1', [{ path: [[0, 0], [40, 0]], speed: 0.8 }]);
    const wrong: Track = { ...slow, points: slow.points.map((p) => ({ ...p, heading: 0 })) }; // says north, moves east
    const m = matchTrack(network, wrong);
    // the first few samples have no movement yet; after that every one is matched
    expect(track(m).filter((i) => i >= 4 && m.state[i] !== SampleState.matched)).toEqual([]);
    // at speed the heading is trusted: the same wrong heading at 10 m/s matches nothing
    const fast = drive('p1', [{ path: [[0, 0], [100, 0]] }]);
    const m2 = matchTrack(network, { ...fast, points: fast.points.map((p) => ({ ...p, heading: 0 })) });
    expect(m2.counts.matched).toBe(0);
  });

  it('refuses options out of range', () => {
    expect(() => matchTrack(network, drive('p1', []), {}, { maxHeadingDiffDeg: 120 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
  });
});

function track(m: ReturnType<typeof matchTrack>): number[] {
  return [...m.state.keys()];
}
