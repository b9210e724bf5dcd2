import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findRoad, loadConfig, type Config, type DeviceDef } from '@hatake/config';
import { Decoder, EXAMPLE_T0, telemetryTopic } from '@hatake/protocol';
import { Rng, distToSegment, type XY } from '@hatake/simkit';
import { PlowModel } from '@hatake/plow';

const repoConfig = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/hatake.yaml');

function drive(config: Config, d: DeviceDef, seed: number, steps: number) {
  const model = new PlowModel({ roads: config.roads, route: d.route!, assigned: d.assigned ?? [], spec: d.plow!, ...(d.home ? { home: d.home } : {}) }, new Rng(seed, d.id));
  const samples = [];
  const truth = [];
  for (let i = 0; i < steps; i++) {
    samples.push(model.step(1));
    truth.push(model.truth()!);
  }
  return { model, samples, truth };
}

function distanceToRoads(config: Config, model: PlowModel, ids: readonly string[], xy: XY): number {
  let best = Infinity;
  for (const id of ids) {
    const pts = findRoad(config, id)!.geometry.coordinates.map((c) => model.frame.toXY([c[0]!, c[1]!]));
    for (let i = 1; i < pts.length; i++) best = Math.min(best, distToSegment(xy, pts[i - 1]!, pts[i]!));
  }
  return best;
}

describe('snow plows on the sample road network', async () => {
  const config = await loadConfig({ file: repoConfig, requireCredentials: false });
  const plows = config.devices.filter((d) => d.kind === 'plow' && d.group === undefined);

  it.each(plows.map((d) => [d.id, d] as const))('%s stays on its roads, blade down exactly on its assigned roads', (_id, d) => {
    const { model, samples, truth } = drive(config, d, 1, 3600);
    // it gets round: within the hour it reaches the far end of its route and comes back to the depot
    expect(truth.some((t) => t.road === d.route![d.route!.length - 1])).toBe(true);
    expect(model.drainEvents().some((e) => e.message?.startsWith('round complete'))).toBe(true);
    for (const t of truth) {
      expect(distanceToRoads(config, model, d.route!, t.xy)).toBeLessThan(0.01);
      expect(t.blade).toBe(d.assigned!.includes(t.road) ? 'down' : 'up');
    }
    // the reported (RTK) positions stay within decimetres of the road too
    for (const s of samples) {
      if (s.fix !== 'rtk_fixed') continue;
      expect(distanceToRoads(config, model, d.route!, model.frame.toXY([s.lon!, s.lat!]))).toBeLessThan(0.2);
    }
    // road speeds: never above the transit speed, and it really moves
    const speeds = truth.map((t) => t.speed);
    expect(Math.max(...speeds)).toBeLessThanOrEqual(d.plow!.transitSpeed + 1e-9);
    expect(Math.max(...speeds)).toBeGreaterThan(d.plow!.workSpeed * 0.9);
    // the spreader works only with the blade down
    expect(samples.every((s) => s.blade === 'down' || s.spread === 0)).toBe(true);
    expect(samples.some((s) => s.spread > 0)).toBe(true);
  });

  it('a plow with a transit road raises the blade in transit', () => {
    const d = plows.find((p) => p.id === 'p-iwa-2')!;
    const { truth, model } = drive(config, d, 2, 1200);
    expect(truth.filter((t) => t.road === 'r12-1').every((t) => t.blade === 'up')).toBe(true);
    expect(truth.some((t) => t.blade === 'down')).toBe(true);
    expect(model.drainEvents().some((e) => e.type === 'blade_change')).toBe(true);
  });

  it('stops at some junctions (stop detection has something to find)', () => {
    const d = plows[0]!;
    const model = new PlowModel({ roads: config.roads, route: d.route!, assigned: d.assigned ?? [], spec: d.plow!, ...(d.home ? { home: d.home } : {}) }, new Rng(3, d.id));
    // count standstills out on the road, before the first break at the depot
    let stops = 0;
    let wasMoving = false;
    for (let i = 0; i < 3600; i++) {
      model.step(1);
      if (model.drainEvents().some((e) => e.message?.startsWith('round complete'))) break;
      const speed = model.truth()!.speed;
      if (wasMoving && speed === 0) stops++;
      wasMoving = speed > 0;
    }
    expect(stops).toBeGreaterThanOrEqual(2);
  });

  it('is deterministic and produces valid telemetry', () => {
    const d = plows[1]!;
    const a = drive(config, d, 9, 900).samples;
    expect(drive(config, d, 9, 900).samples).toEqual(a);
    expect(drive(config, d, 10, 900).samples).not.toEqual(a);
    const decoder = new Decoder();
    const bad = a.map((s, seq) => decoder.decode(telemetryTopic('plow', d.id), Buffer.from(JSON.stringify({ v: 1, t: EXAMPLE_T0 + seq * 1000, seq, ...s })))).filter((r) => !r.ok);
    expect(bad).toEqual([]);
  });
});
