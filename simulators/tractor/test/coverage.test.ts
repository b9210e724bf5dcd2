/**
 * The tractor drives its field: it stays inside, covers it, and the same
 * seed gives the same telemetry.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findField, loadConfig, type Config, type DeviceDef } from '@hatake/config';
import { Decoder, EXAMPLE_T0, telemetryTopic } from '@hatake/protocol';
import { insideRing, Rng, type XY } from '@hatake/simkit';
import { TractorModel, planCoverage } from '@hatake/tractor';
import { supervisedStep } from './supervisor.ts';

const repoConfig = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/hatake.yaml');

interface Run {
  readonly model: TractorModel;
  readonly samples: ReturnType<TractorModel['step']>[];
  readonly truth: NonNullable<ReturnType<TractorModel['truth']>>[];
}

function drive(config: Config, device: DeviceDef, seed: number, maxSteps = 200_000): Run {
  const field = findField(config, device.farm!, device.field!)!;
  const model = new TractorModel({ field: field.boundary, spec: device.tractor!, ...(device.home ? { home: device.home } : {}) }, new Rng(seed, device.id));
  const samples: Run['samples'] = [];
  const truth: Run['truth'][number][] = [];
  // one full pass, under a supervisor that keeps beating: until the model announces the field is covered
  for (let i = 0; i < maxSteps; i++) {
    samples.push(supervisedStep(model));
    truth.push(model.truth()!);
    if (model.drainEvents().some((e) => e.message?.startsWith('field covered'))) break;
  }
  return { model, samples, truth };
}

/** Share of the field's 1 m cells swept by a working section. */
function coverageRatio(run: Run, workingWidth: number, sections: number): number {
  const ring = run.model.plan.boundary;
  const xs = ring.map((p) => p[0]);
  const ys = ring.map((p) => p[1]);
  const x0 = Math.floor(Math.min(...xs));
  const y0 = Math.floor(Math.min(...ys));
  const nx = Math.ceil(Math.max(...xs)) - x0 + 1;
  const ny = Math.ceil(Math.max(...ys)) - y0 + 1;
  const covered = new Uint8Array(nx * ny);
  const sectionWidth = workingWidth / sections;
  for (const t of run.truth) {
    const h = (t.heading * Math.PI) / 180;
    const right: XY = [Math.cos(h), -Math.sin(h)];
    const fwd: XY = [Math.sin(h), Math.cos(h)];
    t.sections.forEach((on, j) => {
      if (!on) return;
      const off0 = -workingWidth / 2 + j * sectionWidth;
      // each step advances speed × 0.2 s; paint that strip behind the section
      const len = Math.max(0.5, t.speed * 0.2);
      for (let a = 0; a <= len; a += 0.5) {
        for (let b = 0; b <= sectionWidth; b += 0.5) {
          const px = t.xy[0] - fwd[0] * a + right[0] * (off0 + b);
          const py = t.xy[1] - fwd[1] * a + right[1] * (off0 + b);
          const cx = Math.floor(px) - x0;
          const cy = Math.floor(py) - y0;
          if (cx >= 0 && cy >= 0 && cx < nx && cy < ny) covered[cy * nx + cx] = 1;
        }
      }
    });
  }
  let inside = 0;
  let hit = 0;
  for (let cy = 0; cy < ny; cy++) {
    for (let cx = 0; cx < nx; cx++) {
      if (!insideRing([x0 + cx + 0.5, y0 + cy + 0.5], ring)) continue;
      inside++;
      hit += covered[cy * nx + cx]!;
    }
  }
  return hit / inside;
}

describe('tractor coverage of the sample fields', async () => {
  const config = await loadConfig({ file: repoConfig, requireCredentials: false });
  const tractors = config.devices.filter((d) => d.kind === 'tractor' && d.group === undefined);

  it.each(tractors.map((d) => [d.id, d] as const))('%s stays inside its field and covers it', (_id, device) => {
    const run = drive(config, device, 1);
    const ring = run.model.plan.boundary;
    const outside = run.truth.filter((t) => !insideRing(t.xy, ring));
    expect(outside).toEqual([]);
    // with RTK fixed, the reported position is within centimetres of the truth, so telemetry stays inside too
    const ratio = coverageRatio(run, device.tractor!.workingWidth, device.tractor!.sections);
    expect(ratio).toBeGreaterThan(0.97);
    // working speeds within 1.5–3 m/s; turns slower
    const swathSpeeds = run.truth.filter((t) => t.phase === 'swath' && t.speed > 0).map((t) => t.speed);
    expect(Math.max(...swathSpeeds)).toBeCloseTo(device.tractor!.workSpeed, 5);
    expect(device.tractor!.workSpeed).toBeGreaterThanOrEqual(1.5);
    expect(device.tractor!.workSpeed).toBeLessThanOrEqual(3);
    expect(Math.max(...run.truth.filter((t) => t.phase === 'turn').map((t) => t.speed))).toBeLessThanOrEqual(1.5 + 1e-9);
    // the implement is raised in every turn and lowered on swaths
    expect(run.truth.filter((t) => t.phase === 'turn').every((t) => t.implement === 'raised')).toBe(true);
    expect(run.truth.filter((t) => t.phase === 'swath').every((t) => t.implement === 'lowered')).toBe(true);
    // fuel only goes down
    const fuel = run.samples.map((s) => s.fuel);
    expect(fuel.every((f, i) => i === 0 || f <= fuel[i - 1]!)).toBe(true);
  });

  it('sweeps along the longest edge with the planned number of swaths', () => {
    const device = tractors.find((d) => d.id === 't-kita-1')!;
    const field = findField(config, device.farm!, device.field!)!;
    const plan = planCoverage(field.boundary, { workingWidth: 12, workSpeed: 2.4 });
    // kita-1 is ~322 m × 110 m; inside a 24 m headland that leaves ~62 m: 6 swaths of 12 m
    expect(plan.swaths).toBe(6);
    expect(plan.legs.filter((l) => l.attrs.phase === 'headland')).toHaveLength(2);
  });

  it('is deterministic: same seed, same telemetry; another seed, other telemetry', () => {
    const device = tractors[0]!;
    const a = drive(config, device, 42, 3000).samples;
    const b = drive(config, device, 42, 3000).samples;
    const c = drive(config, device, 43, 3000).samples;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('produces telemetry the protocol accepts, at 5 Hz', () => {
    const device = tractors[1]!;
    const run = drive(config, device, 3, 20_000);
    const decoder = new Decoder();
    const bad = run.samples
      .map((s, seq) => decoder.decode(telemetryTopic('tractor', device.id), Buffer.from(JSON.stringify({ v: 1, t: EXAMPLE_T0 + seq * 200, seq, ...s }))))
      .filter((r) => !r.ok);
    expect(bad).toEqual([]);
    expect(run.model.periodMs).toBe(200);
  });

  it('refuses a field too small for its implement', () => {
    const tiny = { type: 'Feature' as const, properties: {}, geometry: { type: 'Polygon' as const, coordinates: [[[141.7, 43.2], [141.7003, 43.2], [141.7003, 43.2002], [141.7, 43.2002], [141.7, 43.2]]] } };
    expect(() => planCoverage(tiny, { workingWidth: 24, workSpeed: 2 })).toThrowError(expect.objectContaining({ code: 'HATAKE_ERR_SIM_COVERAGE' }));
  });
});

describe('tractor commands', async () => {
  const config = await loadConfig({ file: repoConfig, requireCredentials: false });
  const device = config.devices.find((d) => d.id === 't-kita-1')!;
  const field = findField(config, device.farm!, device.field!)!;
  const cmd = (type: string, extra: object = {}) => ({ v: 1 as const, id: `c-${type}`, type, issuer: 'op', issuedAt: 0, expiresAt: 1, ...extra }) as Parameters<TractorModel['command']>[0];

  it('returns home, then resumes by driving back to its pattern without a jump', () => {
    const model = new TractorModel({ field: field.boundary, spec: device.tractor!, home: device.home! }, new Rng(5, 't'));
    for (let i = 0; i < 500; i++) supervisedStep(model);
    expect(model.command(cmd('return_home')).status).toBe('accepted');
    let maxJump = 0;
    let prev = model.truth()!.xy;
    const step = (): void => {
      supervisedStep(model);
      const xy = model.truth()!.xy;
      maxJump = Math.max(maxJump, Math.hypot(xy[0] - prev[0], xy[1] - prev[1]));
      prev = xy;
    };
    for (let i = 0; i < 3000 && model.mode() !== 'stopped'; i++) step();
    expect(model.mode()).toBe('stopped');
    const home = model.plan.frame.toXY(device.home!);
    expect(Math.hypot(prev[0] - home[0], prev[1] - home[1])).toBeLessThan(0.5);
    expect(model.truth()!.implement).toBe('raised');
    expect(model.command(cmd('resume')).status).toBe('accepted');
    for (let i = 0; i < 3000; i++) step();
    // back on the pattern, working, and never faster than 3 m/s × 0.2 s per step
    expect(model.truth()!.phase).not.toBe('home');
    expect(maxJump).toBeLessThan(0.61);
  });

  it('stops hard on an e-stop and refuses to resume until reset at the machine', () => {
    const model = new TractorModel({ field: field.boundary, spec: device.tractor! }, new Rng(6, 't'));
    for (let i = 0; i < 200; i++) supervisedStep(model);
    expect(model.truth()!.speed).toBeGreaterThan(1);
    const outcome = model.command(cmd('estop'));
    expect(outcome.status).toBe('accepted');
    let steps = 0;
    while (!outcome.done!() && steps < 100) {
      supervisedStep(model);
      steps++;
    }
    expect(model.truth()!.speed).toBe(0);
    expect(steps).toBeLessThanOrEqual(5);
    expect(model.truth()!.sections.every((on) => !on)).toBe(true);
    expect(model.command(cmd('resume'))).toEqual({ status: 'rejected', reason: 'emergency stop engaged: reset it at the machine' });
    expect(model.drainEvents().some((e) => e.type === 'estop' && e.severity === 'critical')).toBe(true);
  });

  it('refuses a speed the machine cannot do', () => {
    const model = new TractorModel({ field: field.boundary, spec: device.tractor! }, new Rng(7, 't'));
    expect(model.command(cmd('set_speed', { params: { speed: 9 } })).status).toBe('rejected');
    expect(model.command(cmd('set_speed', { params: { speed: 1.6 } })).status).toBe('accepted');
  });
});
