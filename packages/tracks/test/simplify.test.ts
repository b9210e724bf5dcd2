import { describe, expect, test } from 'vitest';
import { localProjection, simplifyTrack, splitTrack, type Blade, type Track, type TrackPoint } from '@hatake/tracks';

const LAT0 = 43.196;
const LON0 = 141.776;
const T0 = Date.UTC(2025, 0, 15, 20, 0, 0);
const proj = localProjection(LON0, LAT0);

/** A sample `s` seconds after T0 at (x, y) metres east/north of the centre. */
function pt(s: number, x: number, y: number, blade: Blade = 'down', extra: Partial<TrackPoint> = {}): TrackPoint {
  const [lon, lat] = proj.toLonLat(x, y);
  return { t: T0 + s * 1000, lon, lat, blade, fix: 'rtk_fixed', ...extra };
}

function track(points: TrackPoint[]): Track {
  return { device: 'plow-1', kind: 'plow', points };
}

/** Seconds after T0 of the kept samples. */
function keptS(t: Track): number[] {
  return t.points.map((p) => (p.t - T0) / 1000);
}

/** Distance in metres from each original point to the simplified line (segment by segment, in time order). */
function maxDeviationM(orig: Track, simple: Track): number {
  const kept = simple.points.filter((p) => p.lon !== undefined);
  let worst = 0;
  let seg = 0;
  for (const p of orig.points) {
    if (p.lon === undefined || p.lat === undefined) continue;
    while (seg + 1 < kept.length && kept[seg + 1]!.t < p.t) seg++;
    const a = kept[seg]!;
    const b = kept[Math.min(seg + 1, kept.length - 1)]!;
    const [ax, ay] = proj.toXY(a.lon!, a.lat!);
    const [bx, by] = proj.toXY(b.lon!, b.lat!);
    const [px, py] = proj.toXY(p.lon, p.lat);
    const dx = bx - ax;
    const dy = by - ay;
    const l2 = dx * dx + dy * dy;
    const u = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / l2));
    worst = Math.max(worst, Math.hypot(px - ax - u * dx, py - ay - u * dy));
  }
  return worst;
}

/** A day-like drive: random turns, speed changes, blade toggles, stops and a few gaps. */
function wanderingTrack(n: number, seed = 7): Track {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const points: TrackPoint[] = [];
  let x = 0;
  let y = 0;
  let heading = 0;
  let speed = 8;
  let blade: Blade = 'down';
  let t = 0;
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.002) blade = blade === 'down' ? 'up' : 'down';
    if (rnd() < 0.01) heading += (rnd() - 0.5) * 2; // a turn
    heading += (rnd() - 0.5) * 0.02;
    if (rnd() < 0.001) speed = speed === 0 ? 8 : 0;
    x += Math.sin(heading) * speed + (rnd() - 0.5) * 0.3;
    y += Math.cos(heading) * speed + (rnd() - 0.5) * 0.3;
    t += rnd() < 0.0005 ? 300 : 1;
    const noFix = rnd() < 0.001;
    const p = pt(t, x, y, blade, { speed, spread: blade === 'down' ? 20 : 0, material: 'salt' });
    points.push(noFix ? { t: p.t, blade, fix: 'none' } : p);
  }
  return track(points);
}

describe('simplifyTrack', () => {
  test('tolerance 0 returns the track; negative or NaN tolerance is an options error', () => {
    const t = track([pt(0, 0, 0), pt(1, 5, 0.1), pt(2, 10, 0)]);
    expect(simplifyTrack(t, 0)).toBe(t);
    for (const bad of [-1, Number.NaN]) {
      expect(() => simplifyTrack(t, bad)).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
    }
    expect(() => simplifyTrack(t, 1, { maxGapS: 0 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_TRACKS_OPTIONS' }));
  });

  test('a straight line collapses to its ends', () => {
    const t = track(Array.from({ length: 50 }, (_, i) => pt(i, i * 10, i * 2)));
    expect(keptS(simplifyTrack(t, 0.5))).toEqual([0, 49]);
  });

  test('tolerance is in metres: a 3 m zig-zag survives 1 m and collapses at 5 m', () => {
    const t = track(Array.from({ length: 21 }, (_, i) => pt(i, i * 10, i % 2 === 0 ? 0 : 3)));
    expect(simplifyTrack(t, 1).points).toHaveLength(21);
    expect(keptS(simplifyTrack(t, 5))).toEqual([0, 20]);
  });

  test('keeps both samples of every blade change', () => {
    const t = track(Array.from({ length: 40 }, (_, i) => pt(i, i * 10, 0, i >= 10 && i < 25 ? 'up' : 'down')));
    expect(keptS(simplifyTrack(t, 5))).toEqual([0, 9, 10, 24, 25, 39]);
  });

  test('keeps both samples where the spreader starts or stops or the material changes', () => {
    const t = track(
      Array.from({ length: 30 }, (_, i) => pt(i, i * 10, 0, 'down', { spread: i >= 10 ? 20 : 0, material: i >= 20 ? 'sand' : 'salt' })),
    );
    expect(keptS(simplifyTrack(t, 5))).toEqual([0, 9, 10, 19, 20, 29]);
  });

  test('keeps the samples next to a data gap and the ends of a run without position', () => {
    const points = Array.from({ length: 40 }, (_, i) => pt(i < 20 ? i : i + 100, i * 10, 0));
    // samples 30..34 have no fix
    for (let i = 30; i < 35; i++) points[i] = { t: points[i]!.t, blade: 'down', fix: 'none' };
    const kept = keptS(simplifyTrack(track(points), 5));
    expect(kept).toEqual([0, 19, 120, 129, 130, 134, 135, 139]);
  });

  test('keeps a sample at least every maxGapS inside a part, so the parts survive', () => {
    const t = track(Array.from({ length: 601 }, (_, i) => pt(i, i * 10, 0)));
    const kept = keptS(simplifyTrack(t, 5));
    expect(kept[0]).toBe(0);
    expect(kept.at(-1)).toBe(600);
    for (let i = 1; i < kept.length; i++) expect(kept[i]! - kept[i - 1]!).toBeLessThanOrEqual(60);
    expect(kept.length).toBeLessThanOrEqual(12);
    expect(keptS(simplifyTrack(t, 5, { maxGapS: Infinity }))).toEqual([0, 600]);
  });

  test('keeps a turn-back that a line-distance rule would drop', () => {
    // out 100 m and back along the same road
    const t = track([...Array.from({ length: 11 }, (_, i) => pt(i, i * 10, 0)), ...Array.from({ length: 10 }, (_, i) => pt(11 + i, 90 - i * 10, 0))]);
    expect(keptS(simplifyTrack(t, 1))).toEqual([0, 10, 20]);
  });

  test('a wandering day: every dropped point within tolerance, same parts, far fewer points', () => {
    const t = wanderingTrack(20_000);
    for (const tol of [1, 5]) {
      const s = simplifyTrack(t, tol);
      expect(maxDeviationM(t, s)).toBeLessThanOrEqual(tol + 1e-9);
      const parts = (x: Track): unknown[] => splitTrack(x).map((p) => [p.blade, p.from, p.to]);
      expect(parts(s)).toEqual(parts(t));
      expect(s.points.length).toBeLessThan(t.points.length / 4);
    }
  });

  test('a day at 1 Hz (86,400 samples) simplifies', () => {
    const t = wanderingTrack(86_400, 11);
    const s = simplifyTrack(t, 2);
    expect(s.points.length).toBeGreaterThan(1440); // at least one a minute
    expect(s.points.length).toBeLessThan(20_000);
    expect(s.points[0]).toBe(t.points[0]);
    expect(s.points.at(-1)).toBe(t.points.at(-1));
  });
});
