/**
 * How much a GNSS position is worth: its horizontal uncertainty from the fix
 * type and HDOP, and whether it counts at all. README "How a sample is
 * judged" explains the numbers.
 */

/** GNSS fix quality, worst to best (as in `@hatake/protocol`). */
export const FIX_TYPES = ['none', 'gps', 'dgps', 'rtk_float', 'rtk_fixed'] as const;
export type FixType = (typeof FIX_TYPES)[number];
/** A fix that gives a position. */
export type PositionFix = Exclude<FixType, 'none'>;

export interface FixRule {
  /** Horizontal error per fix type at HDOP 1 (user equivalent range error), metres. */
  readonly uereMeters: Readonly<Record<PositionFix, number>>;
  /** Multiplier turning HDOP × UERE (≈ 1 DRMS) into a ≈ 95 % bound; 2 gives 2DRMS. */
  readonly confidence: number;
  /** HDOP below this is taken as this: the UERE figures already assume good geometry. */
  readonly minHdop: number;
  /** No position is taken as better than this, metres; also the width of the edge band where nothing is decided. */
  readonly minUncertaintyMeters: number;
  /** Plain GPS (no correction) counts only with an HDOP at or below this, and never without one. */
  readonly maxGpsHdop: number;
}

/** The default rule (README "How a sample is judged"). */
export const DEFAULT_FIX_RULE: FixRule = Object.freeze({
  uereMeters: Object.freeze({ rtk_fixed: 0.02, rtk_float: 0.3, dgps: 1, gps: 3 }),
  confidence: 2,
  minHdop: 1,
  minUncertaintyMeters: 0.1,
  maxGpsHdop: 5,
});

/** A fix's uncertainty in metres, or why it does not count. */
export type FixVerdict = { readonly uncertaintyMeters: number } | { readonly reason: 'unknown_fix' | 'no_fix' | 'bad_hdop' | 'weak_fix' };

function isFix(v: unknown): v is FixType {
  return typeof v === 'string' && (FIX_TYPES as readonly string[]).includes(v);
}

/**
 * The horizontal uncertainty of a fix in metres,
 * max(minUncertainty, confidence × max(hdop, minHdop) × UERE(fix)), or why
 * it does not count: no fix, an unknown fix type, an HDOP that is not a
 * positive number, or plain GPS without an HDOP or with one above the limit.
 * A differential fix without an HDOP is taken at HDOP = minHdop. Never throws.
 */
export function judgeFix(fix: unknown, hdop: unknown, rule: FixRule = DEFAULT_FIX_RULE): FixVerdict {
  if (!isFix(fix)) return { reason: 'unknown_fix' };
  if (fix === 'none') return { reason: 'no_fix' };
  if (hdop !== undefined && (typeof hdop !== 'number' || !Number.isFinite(hdop) || hdop <= 0)) return { reason: 'bad_hdop' };
  if (fix === 'gps' && (hdop === undefined || hdop > rule.maxGpsHdop)) return { reason: 'weak_fix' };
  const dop = Math.max(hdop ?? rule.minHdop, rule.minHdop);
  return { uncertaintyMeters: Math.max(rule.minUncertaintyMeters, rule.confidence * dop * rule.uereMeters[fix]) };
}
