import { describe, expect, it } from 'vitest';
import { assignRates, cellNeeds, resolveParams, roundRate, summarise, type Grid } from '@hatake/vrt';

const grid: Grid = { epsg: 32654, originX: 562_000, originY: 4_783_000, cellSize: 10, width: 4, height: 1 };

describe('rates', () => {
  it('rounds to the step inside the limits', () => {
    const p = resolveParams({ minRate: 50, maxRate: 212, rateStep: 25 });
    expect(roundRate(0, p)).toBe(50);
    expect(roundRate(112, p)).toBe(100);
    expect(roundRate(113, p)).toBe(125);
    expect(roundRate(1000, p)).toBe(200); // 212 is not on the step: the largest step below it
    expect(roundRate(49, resolveParams({ minRate: 40, rateStep: 25 }))).toBe(50); // 40 is not on the step: the smallest step above it
  });

  it('computes need, credit, product and the summary by hand', () => {
    const p = resolveParams({ nPerTonne: 20, moistureOptimum: 30, moistureCoefficient: 0.3, maxAdjustment: 0.25, growthCoefficient: 0.5, organicNContent: 5, organicAvailability: 0.4, productNPercent: 50, minRate: 0, maxRate: 1000, rateStep: 1, rateBy: 'cell' });
    const valid = Uint8Array.from([1, 1, 1, 0]);
    const needs = cellNeeds({
      yield: Float32Array.from([5, 10, 5, 7]),
      moisture: Float32Array.from([30, 30, 40, 30]),
      ndvi: Float32Array.from([0.5, 0.5, 0.8, 0.5]), // mean over valid cells 0.6
      organic: Float32Array.from([0, 20, 0, 0]),
    }, valid, p);
    // cell 0: 20·5 = 100, f_m 1, f_g = 1 + 0.5·(1 − 0.5/0.6) = 1.0833
    expect(needs.need[0]).toBeCloseTo(108.333, 2);
    // cell 1: 200 × 1.0833; credit 20 t/ha × 5 kg/t × 0.4 = 40
    expect(needs.need[1]).toBeCloseTo(216.667, 2);
    expect(needs.credit[1]).toBeCloseTo(40, 6);
    // cell 2: f_m = 1 + 0.3·(10/30) = 1.1; f_g = 1 + 0.5·(1 − 0.8/0.6) = 0.8333 → 100·1.1·0.8333
    expect(needs.need[2]).toBeCloseTo(91.667, 2);
    expect(Number.isNaN(needs.need[3])).toBe(true);
    const labels = Uint8Array.from([2, 1, 2, 0]);
    const res = assignRates(labels, needs, grid, p);
    // product = (need − credit) / 0.5, rounded to 1 kg/ha
    expect([...res.rate].slice(0, 3)).toEqual([217, 353, 183]);
    // zones renumbered by rate: the old zone 2 (mean 200) becomes 1, old 1 (353) becomes 2
    expect([...res.zone]).toEqual([1, 2, 1, 0]);
    const s = summarise(res, needs, grid, p);
    const cellHa = 0.01;
    expect(s.totalProductKg).toBeCloseTo((217 + 353 + 183) * cellHa, 9);
    expect(s.massBalance.holds).toBe(true);
    expect(s.massBalance.zonesProductKg).toBeCloseTo(s.totalProductKg, 9);
    expect(s.areaHa).toBeCloseTo(0.03, 12);
    // uniform: mean need (108.33 + 216.67 + 91.67)/3 = 138.89 kg N → 277.8 → 278 kg/ha, no organic credit
    expect(s.uniform.rateKgHa).toBe(278);
    expect(s.savings.productKg).toBeCloseTo(278 * 0.03 - s.totalProductKg, 9);
    expect(s.nitrogen.organicCreditKg).toBeCloseTo(40 * cellHa, 9);
  });

  it('zone rates are the rounded mean of their cells, and the reward strategy turns growth around', () => {
    const p = resolveParams({ nRule: 'target', nTarget: 100, growthStrategy: 'reward', growthCoefficient: 1, maxAdjustment: 0.5, productNPercent: 100, rateStep: 10, moistureCoefficient: 0 });
    const valid = Uint8Array.from([1, 1, 1, 1]);
    const needs = cellNeeds({ yield: new Float32Array(4).fill(1), moisture: new Float32Array(4).fill(30), ndvi: Float32Array.from([0.4, 0.8, 0.6, 0.6]) }, valid, p);
    expect([...needs.need].map((v) => Math.round(v))).toEqual([67, 133, 100, 100]); // reward: strong growth gets more
    const res = assignRates(Uint8Array.from([1, 1, 2, 2]), needs, grid, p);
    expect(res.zones.map((z) => z.rate)).toEqual([100, 100]);
    expect(res.zones.map((z) => z.areaHa)).toEqual([0.02, 0.02]);
  });
});

describe('parameters', () => {
  it('reports every problem at once, min above max among them', () => {
    let msg = '';
    try {
      resolveParams({ minRate: 300, maxRate: 100, rateStep: 0, zones: 12, bogus: 1 } as never);
    } catch (err) {
      expect((err as { code: string }).code).toBe('HATAKE_ERR_VRT_PARAMS');
      msg = (err as Error).message;
    }
    expect(msg).toContain('minRate (300 kg/ha) is above maxRate (100 kg/ha)');
    expect(msg).toContain('rateStep must be above 0');
    expect(msg).toContain('zones must be');
    expect(msg).toContain('unknown parameter "bogus"');
  });

  it('refuses NaN and strings where numbers belong', () => {
    expect(() => resolveParams({ workingWidth: NaN })).toThrow(/workingWidth must be 1–100 m/);
    expect(() => resolveParams({ maxRate: '200' })).toThrow(/maxRate/);
  });
});
