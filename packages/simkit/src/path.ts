/**
 * A vehicle driving a planned path: position at a distance, heading, and a
 * speed profile that respects each leg's speed, slows for corners and brakes
 * in time for what comes next (one backward pass over the vertices, then
 * O(1) per step).
 */
import { SimError } from './errors.ts';
import { dist, headingOf, type XY } from './frame.ts';

export interface Leg<A> {
  readonly points: readonly XY[];
  /** Target speed on this leg, m/s. */
  readonly speed: number;
  readonly attrs: A;
}

interface Segment<A> {
  readonly a: XY;
  readonly b: XY;
  readonly start: number;
  readonly length: number;
  readonly heading: number;
  readonly speed: number;
  readonly leg: number;
  readonly attrs: A;
}

export interface PathPosition<A> {
  readonly xy: XY;
  /** True heading of the path here, degrees. */
  readonly heading: number;
  readonly attrs: A;
  readonly leg: number;
}

export interface DriveLimits {
  /** m/s² */
  readonly accel: number;
  /** m/s², positive */
  readonly decel: number;
  /** Speed through a corner of more than `cornerDeg`. */
  readonly cornerSpeed: number;
  readonly cornerDeg: number;
}

export class Path<A> {
  readonly length: number;
  private readonly segments: Segment<A>[] = [];
  /** Highest speed allowed at the end of each segment. */
  private readonly endCap: number[];

  constructor(legs: readonly Leg<A>[], limits: DriveLimits) {
    let s = 0;
    let last: XY | undefined;
    legs.forEach((leg, li) => {
      // a leg that does not start where the previous one ended is joined to it: vehicles do not jump
      const points = last && leg.points.length > 0 && dist(last, leg.points[0]!) > 1e-3 ? [last, ...leg.points] : leg.points;
      if (points.length > 0) last = points[points.length - 1];
      for (let i = 1; i < points.length; i++) {
        const a = points[i - 1]!;
        const b = points[i]!;
        const length = dist(a, b);
        if (length < 1e-6) continue;
        this.segments.push({ a, b, start: s, length, heading: headingOf(a, b), speed: leg.speed, leg: li, attrs: leg.attrs });
        s += length;
      }
    });
    if (this.segments.length === 0) throw new SimError('HATAKE_ERR_SIM_PATH', 'a path needs at least one segment of non-zero length');
    this.length = s;
    const n = this.segments.length;
    this.endCap = new Array<number>(n).fill(0);
    for (let i = n - 1; i >= 0; i--) {
      const seg = this.segments[i]!;
      const next = this.segments[i + 1];
      if (!next) {
        this.endCap[i] = 0; // stop at the end of the path
        continue;
      }
      let turn = Math.abs(next.heading - seg.heading) % 360;
      if (turn > 180) turn = 360 - turn;
      let cap = Math.min(seg.speed, next.speed);
      if (turn > limits.cornerDeg) cap = Math.min(cap, limits.cornerSpeed * Math.max(0.25, 1 - (turn - limits.cornerDeg) / 180));
      // brake in time for the cap at the end of the next segment
      cap = Math.min(cap, Math.sqrt(this.endCap[i + 1]! ** 2 + 2 * limits.decel * next.length));
      this.endCap[i] = cap;
    }
  }

  private index(s: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.start <= s) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Where the path is at distance `s` (clamped to the path). */
  at(s: number): PathPosition<A> {
    const clamped = Math.max(0, Math.min(this.length, s));
    const seg = this.segments[this.index(clamped)]!;
    const t = Math.min(1, (clamped - seg.start) / seg.length);
    return { xy: [seg.a[0] + t * (seg.b[0] - seg.a[0]), seg.a[1] + t * (seg.b[1] - seg.a[1])], heading: seg.heading, attrs: seg.attrs, leg: seg.leg };
  }

  /** The highest speed allowed at distance `s`, given what lies ahead and the braking limit. */
  speedLimit(s: number, decel: number): number {
    const i = this.index(Math.max(0, Math.min(this.length, s)));
    const seg = this.segments[i]!;
    const remaining = Math.max(0, seg.start + seg.length - s);
    return Math.min(seg.speed, Math.sqrt(this.endCap[i]! ** 2 + 2 * decel * remaining));
  }

  /** Every vertex of the path (for tests and previews). */
  points(): XY[] {
    return [this.segments[0]!.a, ...this.segments.map((s) => s.b)];
  }
}

/** Advances speed towards `target` within the acceleration limits. */
export function approachSpeed(v: number, target: number, dt: number, limits: Pick<DriveLimits, 'accel' | 'decel'>): number {
  if (v < target) return Math.min(target, v + limits.accel * dt);
  return Math.max(target, v - limits.decel * dt);
}
