/**
 * Remote supervision, as Japan's guideline for automated farm machinery asks:
 * a lost supervisor link stops the tractor by itself, it never restarts on
 * its own, and a stop from working speed ends within a braking distance.
 * Also the `drift` fault that lets zone tests push a tractor off its field.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findField, loadConfig, type DeviceDef, type TractorSpec } from '@hatake/config';
import type { Command } from '@hatake/protocol';
import { insideRing, Rng, type ModelEvent } from '@hatake/simkit';
import { TRACTOR_ESTOP_DECEL, TRACTOR_LIMITS, TractorModel } from '@hatake/tractor';
import { supervisedStep } from './supervisor.ts';

const repoConfig = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/hatake.yaml');
const config = await loadConfig({ file: repoConfig, requireCredentials: false });
const tractors = config.devices.filter((d) => d.kind === 'tractor' && d.group === undefined);
const kita1 = tractors.find((d) => d.id === 't-kita-1')!;
const DT = 0.2;

function tractor(device: DeviceDef = kita1, seed = 1, spec: Partial<TractorSpec> = {}): TractorModel {
  const field = findField(config, device.farm!, device.field!)!;
  return new TractorModel({ field: field.boundary, spec: { ...device.tractor!, ...spec }, ...(device.home ? { home: device.home } : {}) }, new Rng(seed, device.id));
}

const cmd = (type: Command['type'], extra: Partial<Command> = {}): Command => ({ v: 1, id: `c-${type}`, type, issuer: 'op', issuedAt: 0, expiresAt: 1, ...extra });

/** Supervised steps until the tractor is on a swath at its working speed. */
function atWorkSpeed(model: TractorModel, workSpeed: number): void {
  for (let i = 0; i < 20_000; i++) {
    supervisedStep(model);
    const t = model.truth()!;
    if (t.phase === 'swath' && t.speed === workSpeed && t.implement === 'lowered') return;
  }
  throw new Error('never reached working speed on a swath');
}

const lost = (events: ModelEvent[]): ModelEvent[] => events.filter((e) => e.type === 'link_lost');

describe('supervisor heartbeat', () => {
  it('keeps working while heartbeats come a little faster than linkLossSeconds', () => {
    const model = tractor();
    expect(kita1.tractor!.linkLossSeconds).toBe(3); // the schema's default, used by the sample deployment
    // a beat every 14 steps (2.8 s), for ten minutes
    for (let i = 1; i <= 3000; i++) {
      model.step(DT);
      if (i % 14 === 0) model.heartbeat(i * 200);
    }
    expect(model.mode()).toBe('auto');
    expect(lost(model.drainEvents())).toEqual([]);
  });

  it('stops by itself exactly linkLossSeconds after the last heartbeat: normal braking, implement raised, link_lost', () => {
    const model = tractor();
    atWorkSpeed(model, kita1.tractor!.workSpeed);
    model.drainEvents();
    model.heartbeat(0); // the last one
    const modes: string[] = [];
    for (let i = 0; i < 15; i++) {
      model.step(DT);
      modes.push(model.mode());
    }
    // 14 steps (2.8 s) without a beat: still working; the 15th (3 s): stopped
    expect(modes).toEqual([...new Array<string>(14).fill('auto'), 'stopped']);
    const events = model.drainEvents();
    expect(lost(events)).toEqual([
      { type: 'link_lost', severity: 'alarm', message: 'supervisor heartbeat lost for 3 s: stopping, implement raised; resume to continue', data: { cause: 'heartbeat_lost', seconds: 3 } },
    ]);
    expect(events.find((e) => e.type === 'mode_change')?.message).toBe('auto → stopped: supervisor heartbeat lost for 3 s');
    // brakes at its normal deceleration (not the emergency one) to a standstill, implement up, sections off
    let v = model.truth()!.speed;
    expect(v).toBeCloseTo(kita1.tractor!.workSpeed - TRACTOR_LIMITS.decel * DT, 9);
    while (v > 0) {
      expect(model.truth()!.implement).toBe('raised');
      expect(model.truth()!.sections.every((on) => !on)).toBe(true);
      model.step(DT);
      const next = model.truth()!.speed;
      expect(v - next).toBeLessThanOrEqual(TRACTOR_LIMITS.decel * DT + 1e-9);
      v = next;
    }
    expect(model.mode()).toBe('stopped');
  });

  it('does not resume when heartbeats return; only a resume command restarts it', () => {
    const model = tractor();
    atWorkSpeed(model, kita1.tractor!.workSpeed);
    for (let i = 0; i < 50; i++) model.step(DT); // 10 s without beats
    expect(model.mode()).toBe('stopped');
    const where = model.truth()!.xy;
    // the supervisor is back and beats for a minute: the tractor stays where it stopped
    for (let i = 0; i < 300; i++) supervisedStep(model);
    expect(model.mode()).toBe('stopped');
    expect(model.truth()!.speed).toBe(0);
    expect(model.truth()!.xy).toEqual(where);
    expect(model.drainEvents().filter((e) => e.message?.includes('→ auto'))).toEqual([]);
    // the operator resumes it
    expect(model.command(cmd('resume'))).toMatchObject({ status: 'accepted' });
    for (let i = 0; i < 50; i++) supervisedStep(model);
    expect(model.mode()).toBe('auto');
    expect(model.truth()!.speed).toBeGreaterThan(1);
  });

  it('counts from entering automatic mode: a fresh tractor, and one resumed long after the last beat, each get linkLossSeconds', () => {
    // never heard a supervisor: stops linkLossSeconds after it started (it starts in auto)
    const fresh = tractor(kita1, 2, { linkLossSeconds: 1 });
    const steps = (model: TractorModel): number => {
      let n = 0;
      while (model.mode() === 'auto' && n < 1000) {
        model.step(DT);
        n++;
      }
      return n;
    };
    expect(steps(fresh)).toBe(5);
    // resumed 60 s after its last beat: a full second again, not an instant stop
    for (let i = 0; i < 300; i++) fresh.step(DT);
    expect(fresh.command(cmd('resume')).status).toBe('accepted');
    expect(steps(fresh)).toBe(5);
    expect(lost(fresh.drainEvents())).toHaveLength(2);
  });

  it.each([['pause'], ['stop'], ['estop']] as const)('does nothing on heartbeat loss after %s', (type) => {
    const model = tractor(kita1, 3);
    atWorkSpeed(model, kita1.tractor!.workSpeed);
    expect(model.command(cmd(type)).status).toBe('accepted');
    const mode = model.mode();
    model.drainEvents();
    for (let i = 0; i < 300; i++) model.step(DT); // a minute without beats
    expect(model.mode()).toBe(mode);
    expect(model.drainEvents().filter((e) => e.type === 'link_lost' || e.type === 'mode_change')).toEqual([]);
  });

  it('is deterministic: the same beats and seed give the same telemetry', () => {
    const run = (): unknown[] => {
      const model = tractor(kita1, 9);
      return Array.from({ length: 400 }, (_, i) => (i < 200 ? supervisedStep(model) : model.step(DT)));
    };
    expect(run()).toEqual(run());
  });
});

describe('stopping distance from working speed', () => {
  // the bound for a stop from v at deceleration a, stepped every DT: v²/(2a) plus one step at v
  const cases = tractors.flatMap((d) => [
    [d.id, 'stop', TRACTOR_LIMITS.decel, d] as const,
    [d.id, 'estop', TRACTOR_ESTOP_DECEL, d] as const,
  ]);
  it.each(cases)('%s: %s from working speed ends within v²/(2·%s) + v·dt, implement raised at once', (_id, type, decel, device) => {
    const model = tractor(device, 4);
    const v = device.tractor!.workSpeed;
    atWorkSpeed(model, v);
    let prev = model.truth()!.xy;
    expect(model.command(cmd(type)).status).toBe('accepted');
    let distance = 0;
    let steps = 0;
    do {
      supervisedStep(model);
      steps++;
      const t = model.truth()!;
      distance += Math.hypot(t.xy[0] - prev[0], t.xy[1] - prev[1]);
      prev = t.xy;
      expect(t.implement).toBe('raised');
      expect(t.sections.every((on) => !on)).toBe(true);
    } while (model.truth()!.speed > 0 && steps < 1000);
    expect(model.truth()!.speed).toBe(0);
    expect(steps).toBe(Math.ceil(v / (decel * DT) - 1e-9));
    expect(distance).toBeLessThanOrEqual((v * v) / (2 * decel) + v * DT);
    // and it is braking, not a wall: no shorter than the continuous distance less one step
    expect(distance).toBeGreaterThanOrEqual((v * v) / (2 * decel) - v * DT);
  });
});

describe('drift fault', () => {
  it('shifts the true and the reported position across the swaths, only while moving, until the tractor leaves its field', () => {
    const straight = tractor(kita1, 5);
    const drifting = tractor(kita1, 5);
    drifting.lateralDrift(0.5);
    const h = (drifting.plan.sweepHeading * Math.PI) / 180;
    const right = [Math.cos(h), -Math.sin(h)] as const;
    let movingS = 0;
    let leftField: number | undefined;
    for (let i = 0; i < 3000 && leftField === undefined; i++) {
      const a = supervisedStep(straight);
      const b = supervisedStep(drifting);
      const ta = straight.truth()!;
      const tb = drifting.truth()!;
      if (tb.speed > 0.05) movingS += DT;
      // the same machine, shifted to the right of the sweep direction by 0.5 m/s × time moving
      const d = [tb.xy[0] - ta.xy[0], tb.xy[1] - ta.xy[1]] as const;
      expect(d[0] * right[0] + d[1] * right[1]).toBeCloseTo(0.5 * movingS, 6);
      expect(Math.abs(d[0] * right[1] - d[1] * right[0])).toBeLessThan(1e-6);
      // the receiver reports the shifted position too (same noise: same seed)
      if (a.lat !== undefined && b.lat !== undefined) {
        const pa = straight.plan.frame.toXY([a.lon!, a.lat]);
        const pb = drifting.plan.frame.toXY([b.lon!, b.lat]);
        expect(Math.hypot(pb[0] - pa[0] - d[0], pb[1] - pa[1] - d[1])).toBeLessThan(0.05);
      }
      if (!insideRing(tb.xy, drifting.plan.boundary)) leftField = i;
    }
    expect(leftField).toBeDefined();
    expect(insideRing(straight.truth()!.xy, straight.plan.boundary)).toBe(true);
  });

  it('does not grow while the tractor stands', () => {
    const model = tractor(kita1, 6);
    model.lateralDrift(-0.3);
    for (let i = 0; i < 100; i++) supervisedStep(model);
    model.command(cmd('pause'));
    for (let i = 0; i < 50; i++) supervisedStep(model);
    const where = model.truth()!.xy;
    for (let i = 0; i < 300; i++) supervisedStep(model);
    expect(model.truth()!.xy).toEqual(where);
  });
});
