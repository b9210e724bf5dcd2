/**
 * The parameters of a prescription, with their units and defaults, checked
 * all at once: every problem is reported in one HATAKE_ERR_VRT_PARAMS error.
 */
import { VrtError } from './errors.ts';

/** Parameters of a prescription run (units in the names or the comments). */
export interface PrescriptionParams {
  /** How the nitrogen need is set: 'yield-goal' (kg N per tonne of expected yield) or 'target' (one N target, adjusted per cell). */
  nRule: 'yield-goal' | 'target';
  /** kg N per tonne of expected yield (yield-goal rule); 20–25 for wheat. */
  nPerTonne: number;
  /** Expected yield = this × the yield layer (yield-goal rule), e.g. 1.05 for a goal 5 % above history. */
  yieldGoalFactor: number;
  /** kg N/ha before adjustments (target rule). */
  nTarget: number;
  /** Soil moisture (same unit as the moisture layer after its scale, normally %) at which no adjustment is made. */
  moistureOptimum: number;
  /** Relative N change per relative deviation from the optimum: factor = 1 + k·(θ − θopt)/θopt. */
  moistureCoefficient: number;
  /** How growth (NDVI) adjusts N: 'compensate' gives weak growth more, 'reward' gives strong growth more. */
  growthStrategy: 'compensate' | 'reward';
  /** Relative N change per relative NDVI deviation from the field mean. */
  growthCoefficient: number;
  /** Largest relative change any one adjustment may make (0.25 = ±25 %). */
  maxAdjustment: number;
  /** Nitrogen content of the organic matter applied, kg N per tonne. */
  organicNContent: number;
  /** Share of that N available in the first year (0–1). */
  organicAvailability: number;
  /** Product name, for labels and the ISOXML product. */
  productName: string;
  /** Nitrogen share of the product in percent (urea 46). */
  productNPercent: number;
  /** Product rate limits and the spreader's step, kg/ha. */
  minRate: number;
  maxRate: number;
  rateStep: number;
  /** Spreader working width in metres: the output cell size. */
  workingWidth: number;
  /** Smallest zone part the spreader can follow, in cells of working width × working width. */
  minZoneCells: number;
  /** Number of management zones (2–8), or 'auto' to choose 2–5 by FPI and NCE. */
  zones: number | 'auto';
  /** 'zone': one rate per zone (what terminals expect); 'cell': a rate per cell. */
  rateBy: 'zone' | 'cell';
  /** Seed of the k-means initialisation: the same inputs and seed give the same map. */
  seed: number;
}

/** The defaults: urea on winter wheat with a 24 m spreader. */
export const DEFAULT_PARAMS: Readonly<PrescriptionParams> = Object.freeze({
  nRule: 'yield-goal',
  nPerTonne: 22,
  yieldGoalFactor: 1.0,
  nTarget: 120,
  moistureOptimum: 30,
  moistureCoefficient: 0.3,
  growthStrategy: 'compensate',
  growthCoefficient: 0.5,
  maxAdjustment: 0.25,
  organicNContent: 5,
  organicAvailability: 0.3,
  productName: 'Urea 46% N',
  productNPercent: 46,
  minRate: 0,
  maxRate: 400,
  rateStep: 5,
  workingWidth: 24,
  minZoneCells: 4,
  zones: 'auto',
  rateBy: 'zone',
  seed: 1,
});

type Check = [keyof PrescriptionParams, (v: unknown) => boolean, string];
const num = (lo: number, hi: number) => (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
const CHECKS: Check[] = [
  ['nRule', (v) => v === 'yield-goal' || v === 'target', "must be 'yield-goal' or 'target'"],
  ['nPerTonne', num(0, 100), 'must be 0–100 kg N/t'],
  ['yieldGoalFactor', num(0.1, 3), 'must be 0.1–3'],
  ['nTarget', num(0, 500), 'must be 0–500 kg N/ha'],
  ['moistureOptimum', num(0.1, 100), 'must be 0.1–100 (%)'],
  ['moistureCoefficient', num(-5, 5), 'must be −5–5'],
  ['growthStrategy', (v) => v === 'compensate' || v === 'reward', "must be 'compensate' or 'reward'"],
  ['growthCoefficient', num(0, 5), 'must be 0–5'],
  ['maxAdjustment', num(0, 1), 'must be 0–1'],
  ['organicNContent', num(0, 100), 'must be 0–100 kg N/t'],
  ['organicAvailability', num(0, 1), 'must be 0–1'],
  ['productName', (v) => typeof v === 'string' && v.length > 0 && v.length <= 64 && !/[\p{Cc}]/u.test(v), 'must be 1–64 printable characters'],
  ['productNPercent', (v) => num(0, 100)(v) && (v as number) > 0, 'must be above 0 and at most 100 (%)'],
  ['minRate', num(0, 10_000), 'must be 0–10,000 kg/ha'],
  ['maxRate', num(0, 10_000), 'must be 0–10,000 kg/ha'],
  ['rateStep', (v) => num(0, 1000)(v) && (v as number) > 0, 'must be above 0 and at most 1,000 kg/ha'],
  ['workingWidth', num(1, 100), 'must be 1–100 m'],
  ['minZoneCells', (v) => Number.isInteger(v) && num(1, 10_000)(v), 'must be a whole number of cells, 1–10,000'],
  ['zones', (v) => v === 'auto' || (Number.isInteger(v) && num(1, 8)(v)), "must be 'auto' or a whole number 1–8"],
  ['rateBy', (v) => v === 'zone' || v === 'cell', "must be 'zone' or 'cell'"],
  ['seed', (v) => Number.isInteger(v) && num(0, 2 ** 31)(v), 'must be a whole number'],
];

/** The defaults overridden by `given`, checked; throws HATAKE_ERR_VRT_PARAMS listing every problem. */
export function resolveParams(given: Partial<Record<keyof PrescriptionParams, unknown>> = {}): PrescriptionParams {
  const problems: string[] = [];
  for (const key of Object.keys(given)) if (!(key in DEFAULT_PARAMS)) problems.push(`unknown parameter "${key}"`);
  const merged = { ...DEFAULT_PARAMS } as Record<string, unknown>;
  for (const [k, v] of Object.entries(given)) if (v !== undefined && k in DEFAULT_PARAMS) merged[k] = v;
  for (const [key, ok, why] of CHECKS) if (!ok(merged[key])) problems.push(`${key} ${why} (got ${JSON.stringify(merged[key])})`);
  const p = merged as unknown as PrescriptionParams;
  if (typeof p.minRate === 'number' && typeof p.maxRate === 'number' && p.minRate > p.maxRate) problems.push(`minRate (${p.minRate} kg/ha) is above maxRate (${p.maxRate} kg/ha)`);
  if (problems.length > 0) throw new VrtError('HATAKE_ERR_VRT_PARAMS', `bad parameters: ${problems.join('; ')}`, { problems });
  return Object.freeze(p);
}
