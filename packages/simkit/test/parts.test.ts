import { describe, expect, it } from 'vitest';
import { GnssModel, LocalFrame, Path, Rng, STANDALONE_PROFILE, approachSpeed, parseFaults, positionFields, roundTo } from '@hatake/simkit';

describe('parseFaults', () => {
  it('reads every fault with defaults and values', () => {
    expect(parseFaults('gnss-dropout,link-drop=60/5,clock-skew=-90,malformed=0.1,oversized,wrong-credentials,ignore-commands,ack-delay=2.5,drift=-0.3')).toEqual({
      gnssDropout: { everyS: 120, durationS: 10 },
      linkDrop: { everyS: 60, durationS: 5 },
      clockSkewMs: -90_000,
      malformed: 0.1,
      oversized: 0.005,
      wrongCredentials: true,
      ignoreCommands: true,
      ackDelayMs: 2500,
      driftMps: -0.3,
    });
    expect(parseFaults('')).toEqual({});
  });

  it.each([
    ['ignore-commands', { ignoreCommands: true }],
    ['ack-delay', { ackDelayMs: 5000 }],
    ['ack-delay=0.25', { ackDelayMs: 250 }],
    ['ack-delay=12s', { ackDelayMs: 12_000 }],
    ['drift', { driftMps: 0.1 }],
    ['drift=0.4', { driftMps: 0.4 }],
    ['drift=-1.5m/s', { driftMps: -1.5 }],
  ])('reads %j', (spec, faults) => {
    expect(parseFaults(spec)).toEqual(faults);
  });

  it.each([
    ['teleport', /unknown fault "teleport"/],
    ['malformed=2', /expected a probability between 0 and 1/],
    ['link-drop=60', /expected EVERY\/DURATION/],
    ['link-drop=0/5', /both numbers must be positive/],
    ['clock-skew=soon', /expected seconds/],
    ['wrong-credentials=yes', /takes no value/],
    ['ignore-commands=1', /ignore-commands takes no value/],
    ['ack-delay=0', /ack-delay=0: expected seconds above 0 and at most 3600/],
    ['ack-delay=soon', /ack-delay=soon: expected seconds/],
    ['ack-delay=7200', /at most 3600/],
    ['drift=0', /drift=0: expected metres per second, not 0/],
    ['drift=sideways', /drift=sideways: expected metres per second/],
    ['drift=9', /at most 5 either way/],
  ])('refuses %j with a reason', (spec, message) => {
    expect(() => parseFaults(spec)).toThrowError(message);
    expect(() => parseFaults(spec)).toThrowError(expect.objectContaining({ code: 'HATAKE_ERR_SIM_FAULT_SPEC' }));
  });
});

describe('Rng', () => {
  it('repeats per seed and label, and differs across them', () => {
    const a = new Rng(1, 'x');
    const b = new Rng(1, 'x');
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => new Rng(1, 'y').next())).not.toEqual(seqA);
  });

  it('draws normals with the asked mean and spread', () => {
    const r = new Rng(3);
    const xs = Array.from({ length: 20_000 }, () => r.normal(5, 2));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(mean).toBeCloseTo(5, 1);
    expect(sd).toBeCloseTo(2, 1);
  });
});

describe('LocalFrame', () => {
  it('round-trips positions to well under a millimetre within kilometres', () => {
    const f = new LocalFrame([141.7755, 43.1962]);
    for (const xy of [[0, 0], [1500, -2300], [-3000, 800]] as const) {
      const back = f.toXY(f.toLonLat(xy));
      expect(Math.hypot(back[0] - xy[0], back[1] - xy[1])).toBeLessThan(1e-6);
    }
    // one degree of latitude is ~111.1 km here
    expect(f.toXY([141.7755, 44.1962])[1]).toBeCloseTo(111_137, -2);
  });
});

describe('GnssModel', () => {
  it('keeps RTK fixed error at centimetres and reports nothing during a dropout', () => {
    const frame = new LocalFrame([141.7, 43.2]);
    const g = new GnssModel(new Rng(1), { profile: { rtk_fixed: [] } });
    for (let i = 0; i < 2000; i++) {
      const r = g.read(0.2, [0, 0], 30, frame);
      expect(r.fix).toBe('rtk_fixed');
      expect(Math.hypot(...r.error)).toBeLessThan(0.09);
    }
    g.dropout(1);
    expect(g.read(0.2, [0, 0], 30, frame)).toEqual({ fix: 'none', error: [0, 0] });
    expect(positionFields({ fix: 'none', error: [0, 0] }, { speed: 2, heading: 90 }, new Rng(1), { speedSd: 0, headingSd: 0 })).toEqual({});
  });

  it('gives a stand-alone receiver metre-level error', () => {
    const frame = new LocalFrame([141.7, 43.2]);
    const g = new GnssModel(new Rng(2), { profile: STANDALONE_PROFILE, initialFix: 'gps' });
    const errs = Array.from({ length: 3000 }, () => Math.hypot(...g.read(1, [0, 0], 30, frame).error));
    expect(Math.max(...errs)).toBeGreaterThan(0.5);
    expect(Math.max(...errs)).toBeLessThan(12);
  });
});

describe('Path', () => {
  const limits = { accel: 1, decel: 1, cornerSpeed: 2, cornerDeg: 30 };
  it('stops at the end, slows for a right-angle corner, and keeps each leg speed', () => {
    const p = new Path(
      [
        { points: [[0, 0], [100, 0]], speed: 10, attrs: 'a' },
        { points: [[100, 0], [100, 100]], speed: 5, attrs: 'b' },
      ],
      limits,
    );
    expect(p.length).toBe(200);
    expect(p.speedLimit(200, 1)).toBe(0);
    expect(p.speedLimit(99.999, 1)).toBeLessThanOrEqual(2.01);
    expect(p.speedLimit(90, 1)).toBeLessThan(5);
    expect(p.speedLimit(10, 1)).toBe(10);
    expect(p.speedLimit(150, 1)).toBe(5);
    expect(p.at(150)).toMatchObject({ xy: [100, 50], heading: 0, attrs: 'b', leg: 1 });
    expect(p.at(50).heading).toBe(90);
  });

  it('refuses an empty path', () => {
    expect(() => new Path([{ points: [[0, 0], [0, 0]], speed: 1, attrs: 0 }], limits)).toThrowError(expect.objectContaining({ code: 'HATAKE_ERR_SIM_PATH' }));
  });

  it('joins legs that do not meet instead of jumping', () => {
    const p = new Path(
      [
        { points: [[0, 0], [10, 0]], speed: 5, attrs: 'a' },
        { points: [[10, 20], [20, 20]], speed: 5, attrs: 'b' },
      ],
      limits,
    );
    expect(p.length).toBe(40);
    expect(p.at(20)).toMatchObject({ xy: [10, 10], attrs: 'b' });
  });

  it('accelerates and brakes within limits', () => {
    expect(approachSpeed(0, 5, 1, limits)).toBe(1);
    expect(approachSpeed(5, 0, 2, limits)).toBe(3);
    expect(roundTo(1.23456, 2)).toBe(1.23);
  });
});
