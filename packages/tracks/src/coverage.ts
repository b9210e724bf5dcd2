/**
 * Blade-aware road coverage: which segments were plowed, when, in which
 * direction and by whom, from matched blade-down samples grouped into passes.
 */
import type { Feature, FeatureCollection, LineString } from 'geojson';
import { TracksError } from './errors.ts';
import { matchTrack, resolveMatchOptions, SampleState, type MatchOptions, type MatchedTrack } from './match.ts';
import { endTouching, type RoadNetwork, type Segment } from './network.ts';
import type { Track } from './types.ts';

/** One pass of one vehicle over one segment in one direction. */
export interface Pass {
  readonly device: string;
  /** 'forward' is the segment's digitisation direction. */
  readonly direction: 'forward' | 'backward';
  /** Time of the pass's first and last sample on the segment, ms. A pass counts at its `end`. */
  readonly start: number;
  readonly end: number;
}

/** Coverage of one segment over the window. */
export interface SegmentCoverage {
  readonly segment: Segment;
  /** `end` of the earliest and latest pass, ms; undefined when never passed. */
  readonly firstPass: number | undefined;
  readonly lastPass: number | undefined;
  readonly passesForward: number;
  readonly passesBackward: number;
  /** Devices with at least one pass, sorted. */
  readonly vehicles: readonly string[];
  /** Every pass, by `end`. */
  readonly passes: readonly Pass[];
}

/** A blade-down sample with a position that no segment fits. */
export interface UnmatchedSample {
  readonly device: string;
  readonly t: number;
  readonly lon: number;
  readonly lat: number;
}

export interface CoverageOptions extends MatchOptions {
  /** Window start and end, ms (inclusive); samples outside are ignored. */
  readonly from: number;
  readonly to: number;
  /** Share of a segment's length a run must cover to count as a pass (default 0.5; 0.05–1). */
  readonly minPassShare?: number;
  /** Backing up less than this, m, within a segment is not a change of direction (default 15). */
  readonly reverseToleranceM?: number;
  /**
   * A reversal shorter than this, m, that turns back again before leaving the
   * segment was shunting: the reversed stretch is dropped and the run before
   * it continues (default 40).
   */
  readonly maxShuntM?: number;
}

export interface CoverageResult {
  readonly from: number;
  readonly to: number;
  /** One entry per network segment, in `network.segments` order. */
  readonly segments: readonly SegmentCoverage[];
  readonly unmatched: readonly UnmatchedSample[];
  readonly stats: {
    readonly vehicles: number;
    readonly samples: number;
    /** Blade-down samples inside the window. */
    readonly bladeDown: number;
    readonly matched: number;
    readonly unmatched: number;
    readonly noPosition: number;
    /** Breaks in continuity between blade-down samples longer than maxGapS. */
    readonly gaps: number;
    readonly passes: number;
  };
}

/** Properties of each feature of `coverageGeoJSON`. */
export interface CoverageProperties {
  readonly id: string;
  readonly road: string;
  readonly name: string;
  readonly class: number;
  readonly lengthM: number;
  readonly firstPass: string | null;
  readonly lastPass: string | null;
  readonly minutesSinceLastPass: number | null;
  readonly passesForward: number;
  readonly passesBackward: number;
  readonly vehicles: readonly string[];
}

/** A skipped segment is bridged only when the two samples around it are this close in time, ms. */
const BRIDGE_MS = 5000;
/** A run's direction is taken from its movement along the segment once it has moved this far, m. */
const DIRECTION_M = 3;

function checkWindow(from: unknown, to: unknown): void {
  if (typeof from !== 'number' || typeof to !== 'number' || !Number.isFinite(from) || !Number.isFinite(to) || !(from < to)) {
    throw new TracksError('HATAKE_ERR_TRACKS_RANGE', `coverage window must be two finite times in ms with from before to (got from ${String(from)}, to ${String(to)})`);
  }
}

/** A run of consecutive matched samples of one vehicle on one segment (reused, never reallocated per sample). */
class Run {
  active = false;
  seg = -1;
  /** Segment the vehicle came from without a break, or -1. */
  from = -1;
  /** 1 forward, -1 backward, 0 not yet known. */
  dir = 0;
  /** Where the run started, fraction of the segment. */
  f0 = 0;
  lo = 0;
  hi = 0;
  /** Farthest point reached in the run's direction: how far it covered. */
  head = 0;
  /** Farthest point in the run's direction since it last (re)started that way: what backing up is measured from. */
  peak = 0;
  t0 = 0;
  t1 = 0;
  /** Sum of per-sample direction hints, for a run that never moved far enough. */
  hint = 0;

  set(seg: number, from: number, f: number, t: number, dir: number, hint: number): void {
    this.active = true;
    this.seg = seg;
    this.from = from;
    this.dir = dir;
    this.f0 = f;
    this.lo = f;
    this.hi = f;
    this.head = f;
    this.peak = f;
    this.t0 = t;
    this.t1 = t;
    this.hint = hint;
  }

  copyFrom(r: Run): void {
    this.active = r.active;
    this.seg = r.seg;
    this.from = r.from;
    this.dir = r.dir;
    this.f0 = r.f0;
    this.lo = r.lo;
    this.hi = r.hi;
    this.head = r.head;
    this.peak = r.peak;
    this.t0 = r.t0;
    this.t1 = r.t1;
    this.hint = r.hint;
  }
}

/** Builds passes from one matched track; see `roadCoverage` for the rules. */
class PassBuilder {
  private readonly network: RoadNetwork;
  private readonly passes: (Pass[] | undefined)[];
  private readonly minShare: number;
  private readonly reverseM: number;
  private readonly shuntM: number;
  private readonly cur = new Run();
  /** The run before a U-turn, held until it is clear whether the turn was a shunt. */
  private readonly sus = new Run();
  private readonly next = new Run();
  private device = '';
  /** Passes emitted so far. */
  count = 0;

  constructor(network: RoadNetwork, passes: (Pass[] | undefined)[], minShare: number, reverseM: number, shuntM: number) {
    this.network = network;
    this.passes = passes;
    this.minShare = minShare;
    this.reverseM = reverseM;
    this.shuntM = shuntM;
  }

  private emit(seg: number, dir: number, start: number, end: number): void {
    let list = this.passes[seg];
    if (list === undefined) {
      list = [];
      this.passes[seg] = list;
    }
    list.push({ device: this.device, direction: dir > 0 ? 'forward' : 'backward', start, end });
    this.count++;
  }

  /** Ends a run; `exitTo` is the segment the vehicle went on to without a break, or -1. Emits a pass if it is one. */
  private finish(r: Run, exitTo: number): void {
    if (!r.active) return;
    r.active = false;
    if (!this.isPass(r, exitTo)) return;
    this.emit(r.seg, this.resolvedDir(r, exitTo), r.t0, r.t1);
  }

  private resolvedDir(r: Run, exitTo: number): number {
    if (r.dir !== 0) return r.dir;
    const adj = this.network.adjacency;
    const fromEnd = r.from >= 0 ? endTouching(adj, r.seg, r.from) : -1;
    const toEnd = exitTo >= 0 ? endTouching(adj, r.seg, exitTo) : -1;
    if (fromEnd >= 0) return fromEnd === 0 ? 1 : -1;
    if (toEnd >= 0) return toEnd === 1 ? 1 : -1;
    return r.hint >= 0 ? 1 : -1;
  }

  private isPass(r: Run, exitTo: number): boolean {
    const adj = this.network.adjacency;
    const dir = this.resolvedDir(r, exitTo);
    const entered = r.from >= 0 && endTouching(adj, r.seg, r.from) === (dir > 0 ? 0 : 1);
    const exited = exitTo >= 0 && endTouching(adj, r.seg, exitTo) === (dir > 0 ? 1 : 0);
    const reach = r.dir === 0 ? (dir > 0 ? r.hi : r.lo) : r.head;
    let extent: number;
    if (dir > 0) extent = (exited ? 1 : reach) - (entered ? 0 : Math.min(r.f0, reach));
    else extent = (entered ? 1 : Math.max(r.f0, reach)) - (exited ? 0 : reach);
    return extent >= this.minShare - 1e-9;
  }

  /** Ends every open run (a break, an unmatched sample, the end of the track). */
  close(exitTo: number): void {
    this.finish(this.sus, -1);
    this.finish(this.cur, exitTo);
  }

  /** A segment no sample fell on, between two that touch it, crossed in under BRIDGE_MS: a pass over it. */
  private bridge(a: number, b: number, t0: number, t1: number): number {
    if (t1 - t0 > BRIDGE_MS) return -1;
    const adj = this.network.adjacency;
    for (let end = 0; end < 2; end++) {
      for (let k = adj.off[2 * a + end]!; k < adj.off[2 * a + end + 1]!; k++) {
        const m = adj.nbr[k]! >> 2;
        if (m === b) continue;
        const ea = endTouching(adj, m, a);
        const eb = endTouching(adj, m, b);
        if (ea >= 0 && eb >= 0 && ea !== eb) {
          this.emit(m, ea === 0 ? 1 : -1, t0, t1);
          return m;
        }
      }
    }
    return -1;
  }

  /** Feeds one matched track's samples, in order. */
  feed(track: Track, m: MatchedTrack): void {
    this.device = track.device;
    const { state, segment, along, direction, breakBefore } = m;
    const points = track.points;
    const segLen = this.network.segmentLength;
    const adj = this.network.adjacency;
    const cur = this.cur;
    const sus = this.sus;
    for (let i = 0; i < points.length; i++) {
      const st = state[i]!;
      if (st === SampleState.skipped) {
        if (cur.active) this.close(-1);
        continue;
      }
      if (breakBefore[i] === 1 || st !== SampleState.matched) {
        if (cur.active) this.close(-1);
        if (st !== SampleState.matched) continue;
      }
      const s = segment[i]!;
      const f = along[i]!;
      const t = points[i]!.t;
      const hint = direction[i]!;
      if (!cur.active) {
        cur.set(s, -1, f, t, 0, hint);
        continue;
      }
      if (s !== cur.seg) {
        const prev = cur.seg;
        let via = -1;
        if (endTouching(adj, prev, s) < 0 && endTouching(adj, s, prev) < 0) via = this.bridge(prev, s, cur.t1, t);
        this.close(via >= 0 ? via : s);
        cur.set(s, via >= 0 ? via : prev, f, t, 0, hint);
        continue;
      }
      // same segment: progress, a brief reversal, or a U-turn
      const L = segLen[s]!;
      if (cur.dir === 0) {
        cur.t1 = t;
        cur.hint += hint;
        if (f < cur.lo) cur.lo = f;
        if (f > cur.hi) cur.hi = f;
        const moved = (f - cur.f0) * L;
        if (moved >= DIRECTION_M || moved <= -DIRECTION_M) {
          cur.dir = moved > 0 ? 1 : -1;
          cur.head = cur.dir > 0 ? cur.hi : cur.lo;
          cur.peak = cur.head;
        }
        continue;
      }
      const back = cur.dir > 0 ? cur.peak - f : f - cur.peak;
      if (back * L <= this.reverseM) {
        cur.t1 = t;
        if (f < cur.lo) cur.lo = f;
        if (f > cur.hi) cur.hi = f;
        if (cur.dir > 0 ? f > cur.peak : f < cur.peak) cur.peak = f;
        if (cur.dir > 0 ? f > cur.head : f < cur.head) cur.head = f;
        continue;
      }
      // backed up beyond the tolerance: a U-turn. The run so far waits (it may resume if this turns out to be a shunt).
      const turnT = cur.t1;
      const turnF = cur.peak;
      const newDir = -cur.dir;
      if (sus.active && sus.seg === s && sus.dir === newDir && (Math.abs(cur.f0 - cur.head) * L < this.shuntM || !this.isPass(cur, -1))) {
        // back and forth again on the segment, the reversed stretch short or not a pass: a shunt; resume the earlier run
        cur.copyFrom(sus);
        sus.active = false;
        cur.t1 = t;
        cur.peak = f;
        continue;
      }
      this.finish(sus, -1);
      sus.copyFrom(cur);
      this.next.set(s, -1, turnF, turnT, newDir, 0);
      this.next.head = f;
      this.next.peak = f;
      this.next.lo = Math.min(f, turnF);
      this.next.hi = Math.max(f, turnF);
      this.next.t1 = t;
      cur.copyFrom(this.next);
    }
    this.close(-1);
  }
}

/**
 * Road coverage of the network by the tracks' blade-down samples in
 * [from, to]. A pass is a run of consecutive matched samples of one vehicle
 * on one segment in one direction that covers at least `minPassShare` of the
 * segment's length, counting a run that came in through the segment's entry
 * end from a touching segment as starting there and one that left through its
 * exit end onto a touching segment as ending there (so entering and leaving
 * is a full pass, however few samples fell on it).
 */
export function roadCoverage(network: RoadNetwork, tracks: readonly Track[], options: CoverageOptions): CoverageResult {
  checkWindow(options.from, options.to);
  const mo = resolveMatchOptions(options);
  const minShare = options.minPassShare ?? 0.5;
  if (typeof minShare !== 'number' || !(minShare >= 0.05 && minShare <= 1)) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `minPassShare must be a number from 0.05 to 1 (got ${String(minShare)})`);
  }
  const reverseM = options.reverseToleranceM ?? 15;
  if (typeof reverseM !== 'number' || !(reverseM >= 0 && reverseM <= 1000)) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `reverseToleranceM must be a number from 0 to 1000 (got ${String(reverseM)})`);
  }
  const shuntM = options.maxShuntM ?? 40;
  if (typeof shuntM !== 'number' || !(shuntM >= 0 && shuntM <= 10_000)) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `maxShuntM must be a number from 0 to 10000 (got ${String(shuntM)})`);
  }
  const segs = network.segments;
  const passes: (Pass[] | undefined)[] = new Array<Pass[] | undefined>(segs.length).fill(undefined);
  const builder = new PassBuilder(network, passes, minShare, reverseM, shuntM);
  const unmatched: UnmatchedSample[] = [];
  let samples = 0;
  let bladeDown = 0;
  let matched = 0;
  let noPosition = 0;
  let gaps = 0;
  for (const track of tracks) {
    const m = matchTrack(network, track, { from: options.from, to: options.to }, mo);
    builder.feed(track, m);
    samples += track.points.length;
    bladeDown += m.counts.considered;
    matched += m.counts.matched;
    noPosition += m.counts.noPosition;
    gaps += m.counts.gaps;
    for (let i = 0; i < m.state.length; i++) {
      if (m.state[i] !== SampleState.unmatched) continue;
      const p = track.points[i]!;
      unmatched.push({ device: track.device, t: p.t, lon: p.lon!, lat: p.lat! });
    }
  }
  const segments = segs.map((segment, i): SegmentCoverage => {
    const list = (passes[i] ?? []).sort((a, b) => a.end - b.end || a.device.localeCompare(b.device));
    let forward = 0;
    for (const p of list) if (p.direction === 'forward') forward++;
    return {
      segment,
      firstPass: list[0]?.end,
      lastPass: list[list.length - 1]?.end,
      passesForward: forward,
      passesBackward: list.length - forward,
      vehicles: [...new Set(list.map((p) => p.device))].sort(),
      passes: list,
    };
  });
  unmatched.sort((a, b) => a.t - b.t || a.device.localeCompare(b.device));
  return {
    from: options.from,
    to: options.to,
    segments,
    unmatched,
    stats: { vehicles: tracks.length, samples, bladeDown, matched, unmatched: unmatched.length, noPosition, gaps, passes: builder.count },
  };
}

/** Every segment as a GeoJSON LineString with its last pass (ISO), minutes since it at `to`, passes per direction and vehicles. */
export function coverageGeoJSON(result: CoverageResult): FeatureCollection<LineString, CoverageProperties> {
  return {
    type: 'FeatureCollection',
    features: result.segments.map((c): Feature<LineString, CoverageProperties> => ({
      type: 'Feature',
      properties: {
        id: c.segment.id,
        road: c.segment.road,
        name: c.segment.name,
        class: c.segment.class,
        lengthM: c.segment.lengthM,
        firstPass: c.firstPass === undefined ? null : new Date(c.firstPass).toISOString(),
        lastPass: c.lastPass === undefined ? null : new Date(c.lastPass).toISOString(),
        minutesSinceLastPass: c.lastPass === undefined ? null : Math.round((result.to - c.lastPass) / 6000) / 10,
        passesForward: c.passesForward,
        passesBackward: c.passesBackward,
        vehicles: c.vehicles,
      },
      geometry: { type: 'LineString', coordinates: c.segment.coordinates.map((p) => [p[0], p[1]]) },
    })),
  };
}
