/**
 * Nitrogen need per cell, the organic-matter credit, product rates per zone
 * (or per cell) and the summary with its mass balance. The formulas are in
 * the package README ("Method").
 */
import type { PrescriptionParams } from './params.ts';
import type { Grid, ZoneSummary } from './types.ts';

/** The aligned layers on the grid (NaN where a cell has no value). */
export interface Layers {
  yield: Float32Array;
  moisture: Float32Array;
  ndvi?: Float32Array | undefined;
  organic?: Float32Array | undefined;
}

/** Per cell: the gross N need (after adjustments), the organic credit and the net product rate before rounding. */
export interface CellNeeds {
  /** kg N/ha before the organic credit. */
  need: Float32Array;
  /** kg N/ha available from organic matter. */
  credit: Float32Array;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** Mean of the values at cells where `valid` is set and the value is a number. */
export function validMean(values: Float32Array, valid: Uint8Array): number {
  let sum = 0, n = 0;
  for (let i = 0; i < values.length; i++) if (valid[i] && values[i] === values[i]) {
    sum += values[i]!;
    n++;
  }
  return n ? sum / n : NaN;
}

/**
 * need = base × f_moisture × f_growth, where
 * base = nPerTonne × yieldGoalFactor × yield (yield-goal rule) or nTarget,
 * f_moisture = clamp(1 + kM·(θ − θopt)/θopt, 1 ± maxAdjustment),
 * f_growth = clamp(1 ± kG·(1 − NDVI/mean NDVI), 1 ± maxAdjustment) (+ compensates weak growth, − rewards strong);
 * credit = organic t/ha × N content kg/t × availability.
 */
export function cellNeeds(layers: Layers, valid: Uint8Array, p: PrescriptionParams): CellNeeds {
  const n = valid.length;
  const need = new Float32Array(n).fill(NaN);
  const credit = new Float32Array(n).fill(NaN);
  const ndviMean = layers.ndvi ? validMean(layers.ndvi, valid) : NaN;
  const lo = 1 - p.maxAdjustment, hi = 1 + p.maxAdjustment;
  const sign = p.growthStrategy === 'compensate' ? 1 : -1;
  for (let i = 0; i < n; i++) {
    if (!valid[i]) continue;
    const base = p.nRule === 'yield-goal' ? p.nPerTonne * p.yieldGoalFactor * layers.yield[i]! : p.nTarget;
    const fm = clamp(1 + (p.moistureCoefficient * (layers.moisture[i]! - p.moistureOptimum)) / p.moistureOptimum, lo, hi);
    const g = layers.ndvi?.[i];
    const fg = g !== undefined && g === g && ndviMean > 0 ? clamp(1 + sign * p.growthCoefficient * (1 - g / ndviMean), lo, hi) : 1;
    need[i] = Math.max(0, base * fm * fg);
    const o = layers.organic?.[i];
    credit[i] = o !== undefined && o === o ? Math.max(0, o) * p.organicNContent * p.organicAvailability : 0;
  }
  return { need, credit };
}

/** A product rate clamped to [min, max] and rounded to the spreader's step, staying inside the limits. */
export function roundRate(kgHa: number, p: PrescriptionParams): number {
  let r = Math.round(clamp(kgHa, p.minRate, p.maxRate) / p.rateStep) * p.rateStep;
  if (r > p.maxRate) r = Math.floor(p.maxRate / p.rateStep) * p.rateStep;
  if (r < p.minRate) r = Math.ceil(p.minRate / p.rateStep) * p.rateStep;
  return Math.max(0, Number(r.toFixed(6)));
}

/** Rates on the grid, with zones renumbered 1..k in increasing order of rate. */
export interface RateResult {
  zone: Uint8Array;
  rate: Float32Array;
  zones: ZoneSummary[];
}

/** Product rate (kg/ha) needed per cell: net N over the product's N share. */
const productFor = (needN: number, creditN: number, p: PrescriptionParams): number => Math.max(0, needN - creditN) / (p.productNPercent / 100);

/** Rates per zone (mean of its cells' product need, then clamped and rounded) or per cell; zones ordered by rate. */
export function assignRates(labels: Uint8Array, needs: CellNeeds, grid: Grid, p: PrescriptionParams): RateResult {
  const cellHa = (grid.cellSize * grid.cellSize) / 10_000;
  const k = labels.reduce((m, l) => Math.max(m, l), 0);
  const sums = new Float64Array(k + 1), counts = new Float64Array(k + 1);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!l) continue;
    sums[l] = sums[l]! + productFor(needs.need[i]!, needs.credit[i]!, p);
    counts[l] = counts[l]! + 1;
  }
  // zones that still have cells, ordered by their mean need
  const present = [...Array(k).keys()].map((i) => i + 1).filter((l) => counts[l]! > 0).sort((a, b) => sums[a]! / counts[a]! - sums[b]! / counts[b]! || a - b);
  const relabel = new Uint8Array(k + 1);
  present.forEach((l, i) => (relabel[l] = i + 1));
  const zoneRate = present.map((l) => roundRate(sums[l]! / counts[l]!, p));
  const zone = new Uint8Array(labels.length);
  const rate = new Float32Array(labels.length).fill(NaN);
  const kg = new Float64Array(present.length + 1), cells = new Float64Array(present.length + 1);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!l) continue;
    const z = relabel[l]!;
    zone[i] = z;
    const r = p.rateBy === 'zone' ? zoneRate[z - 1]! : roundRate(productFor(needs.need[i]!, needs.credit[i]!, p), p);
    rate[i] = r;
    kg[z] = kg[z]! + r * cellHa;
    cells[z] = cells[z]! + 1;
  }
  const zones = present.map((_, i) => {
    const id = i + 1;
    const areaHa = cells[id]! * cellHa;
    // per-cell rates: the zone's rate is its area-weighted mean
    const r = p.rateBy === 'zone' ? zoneRate[i]! : areaHa > 0 ? kg[id]! / areaHa : 0;
    return { id, rate: r, nRate: (r * p.productNPercent) / 100, cells: cells[id]!, areaHa, productKg: kg[id]! };
  });
  return { zone, rate, zones };
}

/** The totals of step 4 of the method: product, N, savings against the uniform rate, and the mass balance. */
export interface RateSummary {
  areaHa: number;
  cells: number;
  cellSizeM: number;
  totalProductKg: number;
  meanRateKgHa: number;
  minRateKgHa: number;
  maxRateKgHa: number;
  nitrogen: { needKg: number; organicCreditKg: number; appliedKg: number; uniformAppliedKg: number };
  uniform: { rateKgHa: number; totalProductKg: number; rule: string };
  savings: { productKg: number; percent: number };
  massBalance: { zonesProductKg: number; zonesAreaHa: number; cellsProductKg: number; holds: boolean };
}

/** Totals over the field, the uniform comparison and the mass-balance check. */
export function summarise(res: RateResult, needs: CellNeeds, grid: Grid, p: PrescriptionParams): RateSummary {
  const cellHa = (grid.cellSize * grid.cellSize) / 10_000;
  let cells = 0, cellsKg = 0, needKg = 0, creditKg = 0, needSum = 0;
  let minR = Infinity, maxR = -Infinity;
  for (let i = 0; i < res.zone.length; i++) {
    if (!res.zone[i]) continue;
    cells++;
    const r = res.rate[i]!;
    cellsKg += r * cellHa;
    needKg += needs.need[i]! * cellHa;
    creditKg += needs.credit[i]! * cellHa;
    needSum += needs.need[i]!;
    if (r < minR) minR = r;
    if (r > maxR) maxR = r;
  }
  const areaHa = cells * cellHa;
  const zonesKg = res.zones.reduce((s, z) => s + z.productKg, 0);
  const zonesHa = res.zones.reduce((s, z) => s + z.areaHa, 0);
  // the uniform rate a farmer would spread to supply the field's mean need, without crediting the organic N per cell
  const uniformRate = cells ? roundRate(productFor(needSum / cells, 0, p), p) : 0;
  const uniformKg = uniformRate * areaHa;
  const tol = 1e-6 * Math.max(1, cellsKg);
  return {
    areaHa,
    cells,
    cellSizeM: grid.cellSize,
    totalProductKg: cellsKg,
    meanRateKgHa: areaHa ? cellsKg / areaHa : 0,
    minRateKgHa: cells ? minR : 0,
    maxRateKgHa: cells ? maxR : 0,
    nitrogen: { needKg, organicCreditKg: creditKg, appliedKg: (cellsKg * p.productNPercent) / 100, uniformAppliedKg: (uniformKg * p.productNPercent) / 100 },
    uniform: { rateKgHa: uniformRate, totalProductKg: uniformKg, rule: 'mean N need over the field ÷ product N share, clamped and rounded like the variable rates, no organic credit' },
    savings: { productKg: uniformKg - cellsKg, percent: uniformKg > 0 ? ((uniformKg - cellsKg) / uniformKg) * 100 : 0 },
    massBalance: { zonesProductKg: zonesKg, zonesAreaHa: zonesHa, cellsProductKg: cellsKg, holds: Math.abs(zonesKg - cellsKg) <= tol && Math.abs(zonesHa - areaHa) <= 1e-9 * Math.max(1, areaHa) },
  };
}
