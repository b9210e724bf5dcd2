/**
 * Coverage path planning for one field: the boustrophedon ("ox-turning")
 * pattern robot tractors drive.
 *
 * 1. Sweep parallel to the field's longest edge (fewest turns).
 * 2. Leave a headland of `headlandPasses` × working width along the boundary
 *    for turning; swaths cover the interior, one working width apart, in
 *    alternating directions.
 * 3. Between swaths, a U-turn in the headland: a semicircle of half the
 *    swath spacing, implement raised.
 * 4. Finally the headland passes, innermost first, implement lowered; then a
 *    transit back to the first swath so the pattern can repeat.
 *
 * Works in a local metric frame; insets come from turf's buffer. Fields are
 * assumed convex or nearly so (as Hokkaido's are); on a concave line only the
 * longest run is worked (README, "Limits").
 */
import { buffer, polygon as turfPolygon } from '@turf/turf';
import type { Feature, MultiPolygon, Polygon, Position } from 'geojson';
import { LocalFrame, SimError, type Leg, type XY } from '@hatake/simkit';

export type Phase = 'swath' | 'turn' | 'headland' | 'transit';

export interface LegAttrs {
  readonly phase: Phase;
  readonly implement: 'lowered' | 'raised';
}

export interface CoveragePlan {
  readonly frame: LocalFrame;
  /** The field's outer ring in the frame. */
  readonly boundary: readonly XY[];
  /** Where swaths may apply (inside the headland), in the frame. */
  readonly swathArea: readonly XY[];
  readonly legs: readonly Leg<LegAttrs>[];
  readonly swaths: number;
  /** Sweep direction, degrees clockwise from north. */
  readonly sweepHeading: number;
}

export interface CoverageOptions {
  readonly workingWidth: number;
  readonly headlandPasses?: number;
  readonly workSpeed: number;
  readonly turnSpeed?: number;
  readonly transitSpeed?: number;
}

function coverageError(message: string): SimError {
  return new SimError('HATAKE_ERR_SIM_COVERAGE', message);
}

/** The largest polygon's outer ring of a Polygon or MultiPolygon. */
function outerRing(field: Feature<Polygon | MultiPolygon>): Position[] {
  const g = field.geometry;
  if (g.type === 'Polygon') return g.coordinates[0]!;
  let best: Position[] = g.coordinates[0]![0]!;
  let bestArea = 0;
  for (const poly of g.coordinates) {
    const ring = poly[0]!;
    let a = 0;
    for (let i = 1; i < ring.length; i++) a += ring[i - 1]![0]! * ring[i]![1]! - ring[i]![0]! * ring[i - 1]![1]!;
    if (Math.abs(a) > bestArea) {
      bestArea = Math.abs(a);
      best = ring;
    }
  }
  return best;
}

function inset(ring: Position[], metres: number): Position[] | undefined {
  const shrunk = buffer(turfPolygon([ring]), -metres, { units: 'meters' });
  if (!shrunk) return undefined;
  const g = shrunk.geometry;
  if (g.type === 'Polygon') return g.coordinates[0];
  return outerRing({ type: 'Feature', properties: {}, geometry: g });
}

const rotate = (p: XY, a: number): XY => [p[0] * Math.cos(a) - p[1] * Math.sin(a), p[0] * Math.sin(a) + p[1] * Math.cos(a)];

/** x-intervals where the horizontal line y crosses the ring. */
function crossings(ring: readonly XY[], y: number): number[] {
  const xs: number[] = [];
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i]!;
    const b = ring[j]!;
    if (a[1] > y !== b[1] > y) xs.push(a[0] + ((y - a[1]) * (b[0] - a[0])) / (b[1] - a[1]));
  }
  return xs.sort((p, q) => p - q);
}

function semicircle(end: XY, start: XY, side: 1 | -1): XY[] {
  const cx = end[0];
  const cy = (end[1] + start[1]) / 2;
  const r = Math.abs(start[1] - end[1]) / 2;
  const up = start[1] > end[1] ? 1 : -1;
  const pts: XY[] = [];
  const steps = 12;
  for (let i = 1; i < steps; i++) {
    const a = (Math.PI * i) / steps; // 0 → π
    pts.push([cx + side * r * Math.sin(a), cy - up * r * Math.cos(a)]);
  }
  return pts;
}

/** Plans the coverage path for a field. Throws HATAKE_ERR_SIM_COVERAGE when the field is too small for the implement. */
export function planCoverage(field: Feature<Polygon | MultiPolygon>, opts: CoverageOptions): CoveragePlan {
  const w = opts.workingWidth;
  const passes = opts.headlandPasses ?? 2;
  const ringLL = outerRing(field);
  let cx = 0;
  let cy = 0;
  for (const p of ringLL.slice(0, -1)) {
    cx += p[0]!;
    cy += p[1]!;
  }
  const n = ringLL.length - 1;
  const frame = new LocalFrame([cx / n, cy / n]);
  const toXY = (ring: Position[]): XY[] => ring.map((p) => frame.toXY([p[0]!, p[1]!]));
  const boundary = toXY(ringLL);

  // sweep along the longest edge
  let angle = 0;
  let longest = 0;
  for (let i = 1; i < boundary.length; i++) {
    const a = boundary[i - 1]!;
    const b = boundary[i]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (len > longest) {
      longest = len;
      angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
    }
  }
  const toSweep = (p: XY): XY => rotate(p, -angle);
  const fromSweep = (p: XY): XY => rotate(p, angle);

  const swathRingLL = inset(ringLL, passes * w);
  if (!swathRingLL) throw coverageError(`field is too small for ${passes} headland passes of ${w} m`);
  const swathArea = toXY(swathRingLL);
  const area = swathArea.map(toSweep);
  const ys = area.map((p) => p[1]);
  const ymin = Math.min(...ys);
  const ymax = Math.max(...ys);
  const lines: number[] = [];
  for (let y = ymin + w / 2; y < ymax; y += w) lines.push(y);
  if (lines.length === 0) lines.push((ymin + ymax) / 2);
  if (ymax - lines[lines.length - 1]! > w / 2 + 0.01) lines.push(ymax - w / 2);

  const legs: Leg<LegAttrs>[] = [];
  const turnSpeed = opts.turnSpeed ?? 1.5;
  const transitSpeed = opts.transitSpeed ?? 1.8;
  let prevEnd: XY | undefined;
  let dir: 1 | -1 = 1;
  let swaths = 0;
  for (const y of lines) {
    const xs = crossings(area, y);
    let best: [number, number] | undefined;
    for (let i = 0; i + 1 < xs.length; i += 2) {
      if (!best || xs[i + 1]! - xs[i]! > best[1] - best[0]) best = [xs[i]!, xs[i + 1]!];
    }
    if (!best || best[1] - best[0] < 1) continue;
    const start: XY = dir === 1 ? [best[0], y] : [best[1], y];
    const end: XY = dir === 1 ? [best[1], y] : [best[0], y];
    if (prevEnd) {
      // U-turn on the side we arrived at: square up to the outermost of the two ends, then a semicircle
      const side: 1 | -1 = dir === 1 ? -1 : 1;
      const x = side === 1 ? Math.max(prevEnd[0], start[0]) : Math.min(prevEnd[0], start[0]);
      const a: XY = [x, prevEnd[1]];
      const b: XY = [x, start[1]];
      legs.push({ points: [prevEnd, a, ...semicircle(a, b, side), b, start].map(fromSweep), speed: turnSpeed, attrs: { phase: 'turn', implement: 'raised' } });
    }
    legs.push({ points: [start, end].map(fromSweep), speed: opts.workSpeed, attrs: { phase: 'swath', implement: 'lowered' } });
    prevEnd = end;
    dir = dir === 1 ? -1 : 1;
    swaths++;
  }
  if (!prevEnd) throw coverageError('no swath fits inside the headland');

  // headland passes, innermost first
  let here = fromSweep(prevEnd);
  for (let k = passes - 1; k >= 0; k--) {
    const lapLL = inset(ringLL, (k + 0.5) * w);
    if (!lapLL) continue;
    const lap = toXY(lapLL).slice(0, -1);
    let nearest = 0;
    for (let i = 1; i < lap.length; i++) {
      if (Math.hypot(lap[i]![0] - here[0], lap[i]![1] - here[1]) < Math.hypot(lap[nearest]![0] - here[0], lap[nearest]![1] - here[1])) nearest = i;
    }
    const ordered = [...lap.slice(nearest), ...lap.slice(0, nearest)];
    ordered.push(ordered[0]!);
    legs.push({ points: [here, ordered[0]!], speed: transitSpeed, attrs: { phase: 'transit', implement: 'raised' } });
    legs.push({ points: ordered, speed: opts.workSpeed * 0.8, attrs: { phase: 'headland', implement: 'lowered' } });
    here = ordered[0]!;
  }
  // back to the first swath, ready to repeat
  const first = legs.find((l) => l.attrs.phase === 'swath')!.points[0]!;
  legs.push({ points: [here, first], speed: transitSpeed, attrs: { phase: 'transit', implement: 'raised' } });

  const deg = (90 - (angle * 180) / Math.PI + 360) % 360;
  return { frame, boundary, swathArea, legs, swaths, sweepHeading: deg };
}
