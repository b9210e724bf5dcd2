import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseClaims, parseRoadNetwork, reconcile, RoadNetwork, type TracksError } from '../src/index.ts';
import { drive, fixtureIn, T0, type Leg } from './fixtures/walk.ts';

const H = 3_600_000;
const network = RoadNetwork.build(parseRoadNetwork(fixtureIn('hand-network.geojson')));
const claimsFile = (name: string): string => readFileSync(new URL(`fixtures/in/${name}`, import.meta.url), 'utf8');

// P-01 plows main back and forth for exactly one hour from 07:00 JST, then drives off east with the blade up.
const legs: Leg[] = Array.from({ length: 60 }, (_, i) => ({ path: i % 2 === 0 ? [[0, 0], [600, 0]] : [[600, 0], [0, 0]] }));
const plowing = drive('P-01', legs, { t0: T0 + H });
const hour = plowing.points.filter((p) => p.t <= T0 + 2 * H);
// (the hour ends 10 m into a westward run, at 590 m)
const away = drive('P-01', [{ path: [[590, 0], [600, 0], [1210, 0]], blade: 'up' }], { t0: T0 + 2 * H + 1000 });
const tracks = new Map([['P-01', { ...plowing, points: [...hour, ...away.points] }]]);

function thrown(fn: () => unknown): TracksError {
  try {
    fn();
  } catch (err) {
    return err as TracksError;
  }
  throw new Error('did not throw');
}

describe('parseClaims', () => {
  it('reads a claims file', () => {
    const claims = parseClaims(claimsFile('claims-good.csv'));
    expect(claims).toHaveLength(5);
    expect(claims[0]).toEqual({ line: 2, vehicle: 'P-01', start: T0 + H, end: T0 + 5 * H, claimedHours: 1, claimedKm: 36.5, route: ['main'] });
    expect(claims[2]!.route).toEqual([]);
    expect(claims[4]!.route).toEqual(['main', 'east']);
  });

  it('names every bad line and why', () => {
    const err = thrown(() => parseClaims(claimsFile('claims-bad-lines.csv')));
    expect(err.code).toBe('HATAKE_ERR_TRACKS_CLAIMS');
    expect(err.message).toBe(
      'claims: line 3: end 2025-01-15T07:00:00+09:00 is not after start 2025-01-15T11:00:00+09:00; ' +
        "line 4: claimed_hours 'six' is not a number; " +
        "line 5: start '2025-01-15 07:00' has no UTC offset (write e.g. +09:00 or Z); " +
        'line 6: claimed_hours 5 exceeds the claim window of 4.00 h; ' +
        "line 7: end '2025-02-30T10:00:00+09:00' is not a valid date-time, claimed_km -3 is negative; " +
        'line 8: 4 fields, the header has 6',
    );
  });

  it('refuses a file without the columns, or not CSV', () => {
    expect(thrown(() => parseClaims('vehicle,start,end,hours\nP-01,a,b,1\n')).message).toBe(
      'claims: line 1: header lacks column(s) claimed_hours, claimed_km, route (expected vehicle,start,end,claimed_hours,claimed_km,route)',
    );
    expect(thrown(() => parseClaims('')).code).toBe('HATAKE_ERR_TRACKS_CLAIMS');
    expect(thrown(() => parseClaims('vehicle,start,end,claimed_hours,claimed_km,route\n"P-01,x\n')).message).toMatch(/^claims: not CSV/);
  });

  it('takes times without an offset when told which one, CRLF and a BOM', () => {
    const csv = '\uFEFFvehicle,start,end,claimed_hours,claimed_km,route\r\nP-01,2025-01-15 07:00,2025-01-15T08:30:00.5,1.5,10, main ; east \r\n';
    const [c] = parseClaims(csv, { defaultOffset: '+09:00' });
    expect(c).toEqual({ line: 2, vehicle: 'P-01', start: T0 + H, end: T0 + 2.5 * H + 500, claimedHours: 1.5, claimedKm: 10, route: ['main', 'east'] });
  });
});

describe('reconcile', () => {
  const results = reconcile(parseClaims(claimsFile('claims-good.csv')), tracks, network);

  it('a claim that matches the GPS', () => {
    const r = results[0]!;
    expect(r.verdict).toBe('matches');
    expect(r.differences).toEqual([]);
    expect(r.gpsBladeDownHours).toBe(1);
    expect(r.gpsBladeDownKm).toBeCloseTo(35.41, 2); // 3,600 s at 10 m/s but for 59 pauses of a second at the turns
    expect(r.gpsKm).toBeCloseTo(35.41 + 0.62, 2); // and the drive away, blade up
    expect(r.routeShare).toBe(1);
    expect(r.routeLengthM).toBeCloseTo(600, 0);
  });

  it('a claim inflated by 2 h', () => {
    const r = results[1]!;
    expect(r.verdict).toBe('differs');
    expect(r.differences).toEqual(['claimed 3.0 h, GPS shows 1.0 h blade down (differs by 2.0 h)']);
  });

  it('a claim for a vehicle without GPS in the window', () => {
    expect(results[2]).toMatchObject({ verdict: 'no_gps', samples: 0, differences: ['no GPS samples for vehicle P-09 from 2025-01-14T22:00:00.000Z to 2025-01-15T02:00:00.000Z'] });
    // P-01 has a track, but not at noon
    expect(results[3]).toMatchObject({ verdict: 'no_gps', samples: 0 });
  });

  it('a claimed route only partly plowed, and km that differ', () => {
    const r = results[4]!;
    expect(r.verdict).toBe('differs');
    expect(r.routeShare).toBeCloseTo(600 / 900, 3);
    expect(r.differences).toEqual([
      'claimed 60.0 km, GPS shows 36.0 km driven (differs by 24.0 km)',
      'claimed route main;east is 67 % plowed by this vehicle in the window (expected at least 80 %)',
    ]);
  });

  it('tolerances are options', () => {
    const lax = reconcile(parseClaims(claimsFile('claims-good.csv')), tracks, network, { hoursToleranceH: 2.5, kmToleranceShare: 1, minRouteShare: 0.5 });
    expect(lax.map((r) => r.verdict)).toEqual(['matches', 'matches', 'no_gps', 'no_gps', 'matches']);
    expect(() => reconcile([], tracks, network, { kmToleranceShare: -1 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
  });

  it('refuses a route naming a road not in the network', () => {
    const claims = parseClaims('vehicle,start,end,claimed_hours,claimed_km,route\nP-01,2025-01-15T07:00:00+09:00,2025-01-15T08:00:00+09:00,1,1,main;kita99\n');
    expect(thrown(() => reconcile(claims, tracks, network)).message).toBe("claims: line 2: route names road 'kita99', which is not in the network");
  });
});
