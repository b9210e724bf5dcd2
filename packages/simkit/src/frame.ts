/**
 * A local east/north frame in metres around an origin (equirectangular with
 * the WGS84 meridian and parallel scale at the origin latitude). Within a few
 * kilometres — a field, a town's road network — its error is far below GNSS noise.
 */
export type XY = readonly [number, number];
export type LonLat = readonly [number, number];

export class LocalFrame {
  readonly origin: LonLat;
  private readonly mPerDegLat: number;
  private readonly mPerDegLon: number;

  constructor(origin: LonLat) {
    this.origin = origin;
    const phi = (origin[1] * Math.PI) / 180;
    this.mPerDegLat = 111132.92 - 559.82 * Math.cos(2 * phi) + 1.175 * Math.cos(4 * phi) - 0.0023 * Math.cos(6 * phi);
    this.mPerDegLon = 111412.84 * Math.cos(phi) - 93.5 * Math.cos(3 * phi) + 0.118 * Math.cos(5 * phi);
  }

  /** WGS84 → metres east/north of the origin. */
  toXY(p: LonLat): XY {
    return [(p[0] - this.origin[0]) * this.mPerDegLon, (p[1] - this.origin[1]) * this.mPerDegLat];
  }

  /** Metres east/north → WGS84. */
  toLonLat(p: XY): LonLat {
    return [this.origin[0] + p[0] / this.mPerDegLon, this.origin[1] + p[1] / this.mPerDegLat];
  }
}

/** Heading (degrees clockwise from north, [0, 360)) of the vector a → b. */
export function headingOf(a: XY, b: XY): number {
  const deg = (Math.atan2(b[0] - a[0], b[1] - a[1]) * 180) / Math.PI;
  return (deg + 360) % 360;
}

/** Euclidean distance in the frame. */
export function dist(a: XY, b: XY): number {
  return Math.hypot(b[0] - a[0], b[1] - a[1]);
}

/** True when p is inside the ring (even-odd rule); the ring may or may not repeat its first point. */
export function insideRing(p: XY, ring: readonly XY[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i]!;
    const b = ring[j]!;
    if (a[1] > p[1] !== b[1] > p[1] && p[0] < ((b[0] - a[0]) * (p[1] - a[1])) / (b[1] - a[1]) + a[0]) inside = !inside;
  }
  return inside;
}

/** Distance from p to segment ab. */
export function distToSegment(p: XY, a: XY, b: XY): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}
