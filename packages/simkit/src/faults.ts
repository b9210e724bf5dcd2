/**
 * Faults a simulated device can be told to have, and their command-line form:
 * `gnss-dropout[=EVERY/DURATION]`, `link-drop[=EVERY/DURATION]`,
 * `clock-skew[=SECONDS]`, `malformed[=PROBABILITY]`, `oversized[=PROBABILITY]`,
 * `wrong-credentials`, `ignore-commands`, `ack-delay[=SECONDS]`,
 * `drift[=METRES_PER_SECOND]`, comma-separated (`gnss-dropout=60/8,malformed=0.05`).
 */
import { SimError } from './errors.ts';
import type { Rng } from './rng.ts';

export interface Faults {
  /** No fix for `durationS`, on average once every `everyS` (simulated seconds). */
  readonly gnssDropout?: { readonly everyS: number; readonly durationS: number };
  /** The connection dies (no DISCONNECT, so the last will fires) and stays down for `durationS`. */
  readonly linkDrop?: { readonly everyS: number; readonly durationS: number };
  /** Added to every device time. */
  readonly clockSkewMs?: number;
  /** Probability per telemetry message of also sending a malformed one. */
  readonly malformed?: number;
  /** Probability per telemetry message of also sending one over the payload limit. */
  readonly oversized?: number;
  /** Log in with a wrong password (and keep retrying, as real firmware does). */
  readonly wrongCredentials?: boolean;
  /** Receive commands and never acknowledge or carry them out (firmware hung in its command task). */
  readonly ignoreCommands?: boolean;
  /** Handle each command message (validate, execute, acknowledge) this many real milliseconds after it arrives. */
  readonly ackDelayMs?: number;
  /** Lateral drift, m/s while moving: an offset across the working direction (positive: to its right) that the true and reported position share. */
  readonly driftMps?: number;
}

/** The fault names `parseFaults` knows, in the order of the README table. */
export const FAULT_NAMES = ['gnss-dropout', 'link-drop', 'clock-skew', 'malformed', 'oversized', 'wrong-credentials', 'ignore-commands', 'ack-delay', 'drift'] as const;

function specError(message: string): SimError {
  return new SimError('HATAKE_ERR_SIM_FAULT_SPEC', message);
}

function period(name: string, value: string | undefined, def: [number, number]): { everyS: number; durationS: number } {
  if (value === undefined) return { everyS: def[0], durationS: def[1] };
  const m = /^(\d+(?:\.\d+)?)s?\/(\d+(?:\.\d+)?)s?$/.exec(value);
  if (!m) throw specError(`${name}=${value}: expected EVERY/DURATION in seconds, e.g. ${name}=${def[0]}/${def[1]}`);
  const everyS = Number(m[1]);
  const durationS = Number(m[2]);
  if (!(everyS > 0) || !(durationS > 0)) throw specError(`${name}=${value}: both numbers must be positive`);
  return { everyS, durationS };
}

function probability(name: string, value: string | undefined, def: number): number {
  if (value === undefined) return def;
  const p = Number(value);
  if (!(p >= 0 && p <= 1)) throw specError(`${name}=${value}: expected a probability between 0 and 1`);
  return p;
}

function seconds(name: string, value: string | undefined, def: number, max: number): number {
  if (value === undefined) return def;
  const s = Number(value.replace(/s$/, ''));
  if (!(s > 0 && s <= max)) throw specError(`${name}=${value}: expected seconds above 0 and at most ${max}, e.g. ${name}=${def}`);
  return s;
}

function noValue(name: string, value: string | undefined): true {
  if (value !== undefined) throw specError(`${name} takes no value`);
  return true;
}

/** Parses a comma-separated fault list; throws HATAKE_ERR_SIM_FAULT_SPEC naming what is wrong. */
export function parseFaults(spec: string): Faults {
  const faults: { -readonly [K in keyof Faults]: Faults[K] } = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, value] = part.split('=', 2) as [string, string | undefined];
    switch (name) {
      case 'gnss-dropout':
        faults.gnssDropout = period(name, value, [120, 10]);
        break;
      case 'link-drop':
        faults.linkDrop = period(name, value, [300, 15]);
        break;
      case 'clock-skew': {
        const s = value === undefined ? 120 : Number(value.replace(/s$/, ''));
        if (!Number.isFinite(s)) throw specError(`clock-skew=${value}: expected seconds, e.g. clock-skew=-90`);
        faults.clockSkewMs = s * 1000;
        break;
      }
      case 'malformed':
        faults.malformed = probability(name, value, 0.02);
        break;
      case 'oversized':
        faults.oversized = probability(name, value, 0.005);
        break;
      case 'wrong-credentials':
        faults.wrongCredentials = noValue(name, value);
        break;
      case 'ignore-commands':
        faults.ignoreCommands = noValue(name, value);
        break;
      case 'ack-delay':
        faults.ackDelayMs = seconds(name, value, 5, 3600) * 1000;
        break;
      case 'drift': {
        const mps = value === undefined ? 0.1 : Number(value.replace(/m\/s$/, ''));
        if (!(Number.isFinite(mps) && mps !== 0 && Math.abs(mps) <= 5)) throw specError(`drift=${value}: expected metres per second, not 0, at most 5 either way (negative: to the left), e.g. drift=0.2`);
        faults.driftMps = mps;
        break;
      }
      default:
        throw specError(`unknown fault ${JSON.stringify(name)} (known: ${FAULT_NAMES.join(', ')})`);
    }
  }
  return faults;
}

/** The kinds of malformed message the `malformed` fault sends, each refused by validation for a different reason. */
export const MALFORMED_KINDS = ['truncated_json', 'nan_literal', 'wrong_type', 'lat_out_of_range', 'missing_field', 'unknown_field', 'negative_speed'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/** Builds a malformed payload from a good sample (a plain JSON object including `v`). */
export function malformedPayload(kind: MalformedKind, good: Record<string, unknown>): string {
  switch (kind) {
    case 'truncated_json':
      return JSON.stringify(good).slice(0, 25);
    case 'nan_literal':
      return JSON.stringify({ ...good, lat: 0 }).replace('"lat":0', '"lat":NaN');
    case 'wrong_type':
      return JSON.stringify({ ...good, seq: String(good['seq']) });
    case 'lat_out_of_range':
      return JSON.stringify({ ...good, lat: 200 });
    case 'missing_field': {
      const { t: _t, ...rest } = good;
      return JSON.stringify(rest);
    }
    case 'unknown_field':
      return JSON.stringify({ ...good, firmwareDebug: 'x' });
    case 'negative_speed':
      return JSON.stringify({ ...good, speed: -3 });
  }
}

/** Picks a malformed kind. */
export function pickMalformed(rng: Rng): MalformedKind {
  return MALFORMED_KINDS[rng.int(0, MALFORMED_KINDS.length - 1)]!;
}
