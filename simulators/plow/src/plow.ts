/**
 * A snow plow as a stepwise model: it leaves the depot, drives its route road
 * by road (each road turned to meet the previous one), blade down and
 * spreader on along the roads assigned to it and blade up in transit, then
 * drives the route back (clearing the other side) and returns to the depot.
 * Road speeds, slower corners, and stops at some junctions (traffic lights,
 * give-way) that trip and stop detection will see.
 */
import type { PlowSpec, RoadDef } from '@hatake/config';
import {
  EventQueue,
  GnssModel,
  SimError,
  LocalFrame,
  Path,
  RTK_PROFILE,
  approachSpeed,
  dist,
  positionFields,
  roundTo,
  type DeviceModel,
  type DriveLimits,
  type Leg,
  type LonLat,
  type ModelEvent,
  type Rng,
  type SampleBody,
  type XY,
} from '@hatake/simkit';

export interface PlowParams {
  readonly roads: readonly RoadDef[];
  readonly route: readonly string[];
  readonly assigned: readonly string[];
  readonly spec: PlowSpec;
  /** Depot; the route starts at the road end nearest to it. */
  readonly home?: LonLat;
}

export interface RoadLegAttrs {
  readonly road: string;
  readonly blade: 'up' | 'down';
}

export interface PlowTruth {
  readonly xy: XY;
  readonly lonLat: LonLat;
  readonly speed: number;
  readonly blade: 'up' | 'down';
  readonly road: string;
}

export const PLOW_LIMITS: DriveLimits = { accel: 1.0, decel: 1.5, cornerSpeed: 4, cornerDeg: 30 };
const BREAK_AT_DEPOT_S = 120;
/** The road id of the legs between the depot and the route. */
export const DEPOT = 'depot';


/** Chains the route's roads end to end (out and back) as legs in `frame`. */
export function buildRoute(params: PlowParams, frame: LocalFrame): Leg<RoadLegAttrs>[] {
  const byId = new Map(params.roads.map((r) => [r.id, r]));
  const out: Leg<RoadLegAttrs>[] = [];
  let here: XY | undefined = params.home ? frame.toXY(params.home) : undefined;
  for (const id of params.route) {
    const road = byId.get(id);
    if (!road) throw new SimError('HATAKE_ERR_SIM_ROUTE', `route names unknown road ${id}`);
    let pts = road.geometry.coordinates.map((c) => frame.toXY([c[0]!, c[1]!]));
    if (here && dist(here, pts[pts.length - 1]!) < dist(here, pts[0]!)) pts = [...pts].reverse();
    const blade = params.assigned.includes(id) ? 'down' : 'up';
    const speed = blade === 'down' ? params.spec.workSpeed : params.spec.transitSpeed;
    out.push({ points: pts, speed, attrs: { road: id, blade } });
    here = pts[pts.length - 1]!;
  }
  const back = [...out].reverse().map((l) => ({ ...l, points: [...l.points].reverse() }));
  // from the depot to the first road and home again, blade up
  const first = out[0]?.points[0];
  if (!params.home || !first) return [...out, ...back];
  const yard = frame.toXY(params.home);
  const attrs: RoadLegAttrs = { road: DEPOT, blade: 'up' };
  return [{ points: [yard, first], speed: params.spec.transitSpeed, attrs }, ...out, ...back, { points: [first, yard], speed: params.spec.transitSpeed, attrs }];
}

export class PlowModel implements DeviceModel<'plow'> {
  readonly kind = 'plow' as const;
  readonly periodMs = 1000;
  readonly frame: LocalFrame;
  readonly path: Path<RoadLegAttrs>;
  private readonly spec: PlowSpec;
  private readonly rng: Rng;
  private readonly gnss: GnssModel;
  private readonly roadNames: Map<string, string>;
  private s = 0;
  private v = 0;
  private hold = 0;
  private leg = -1;
  private blade: 'up' | 'down' | undefined;
  private readonly events = new EventQueue();
  private lastTruth: PlowTruth | undefined;

  constructor(params: PlowParams, rng: Rng) {
    const first = params.roads.find((r) => r.id === params.route[0]);
    if (!first) throw new SimError('HATAKE_ERR_SIM_ROUTE', `route names unknown road ${String(params.route[0])}`);
    const c = first.geometry.coordinates[0]!;
    this.frame = new LocalFrame(params.home ?? [c[0]!, c[1]!]);
    this.path = new Path(buildRoute(params, this.frame), PLOW_LIMITS);
    this.spec = params.spec;
    this.rng = rng;
    this.gnss = new GnssModel(rng.fork('gnss'), { profile: RTK_PROFILE, initialFix: 'rtk_fixed' });
    this.roadNames = new Map(params.roads.map((r) => [r.id, r.name]));
  }

  drainEvents(): ModelEvent[] {
    return this.events.drain();
  }

  gnssDropout(seconds: number): void {
    this.gnss.dropout(seconds);
  }

  truth(): PlowTruth | undefined {
    return this.lastTruth;
  }

  step(dt: number): SampleBody<'plow'> {
    let target = 0;
    if (this.hold > 0) this.hold -= dt;
    else target = Math.min(this.path.speedLimit(this.s, PLOW_LIMITS.decel), this.path.speedLimit(this.s + this.v * dt, PLOW_LIMITS.decel));
    this.v = approachSpeed(this.v, target, dt, PLOW_LIMITS);
    this.s = Math.min(this.path.length, this.s + this.v * dt);
    const pos = this.path.at(this.s);
    if (pos.leg !== this.leg) {
      // a junction: sometimes a red light or give-way
      if (this.leg >= 0 && this.rng.chance(0.3)) this.hold = this.rng.uniform(8, 40);
      this.leg = pos.leg;
    }
    if (this.s >= this.path.length - 1e-6 && this.v < 0.05) {
      // back at the depot: a break, then the next round
      this.events.push({ type: 'mode_change', severity: 'info', message: `round complete; next round in ${BREAK_AT_DEPOT_S} s` });
      this.hold = BREAK_AT_DEPOT_S;
      this.s = 0;
      this.leg = -1;
    }
    const blade = pos.attrs.blade;
    if (blade !== this.blade) {
      if (this.blade !== undefined) {
        const name = this.roadNames.get(pos.attrs.road) ?? pos.attrs.road;
        this.events.push({ type: 'blade_change', severity: 'info', message: `blade ${blade} on ${name}`.slice(0, 256), data: { blade, road: pos.attrs.road } });
      }
      this.blade = blade;
    }
    const lonLat = this.frame.toLonLat(pos.xy);
    const fix = this.gnss.read(dt, pos.xy, 18 + 0.001 * pos.xy[1], this.frame);
    this.lastTruth = { xy: pos.xy, lonLat, speed: this.v, blade, road: pos.attrs.road };
    const moving = this.v > 0.05;
    const spreading = blade === 'down' && moving && this.spec.material !== 'none';
    return {
      fix: fix.fix,
      ...positionFields(fix, { speed: this.v, heading: pos.heading }, this.rng, { speedSd: 0.05, headingSd: 0.5 }),
      blade,
      spread: spreading ? roundTo(this.spec.spreadRate * (1 + this.rng.normal(0, 0.03)), 1) : 0,
      material: this.spec.material,
      width: this.spec.width,
    };
  }
}
