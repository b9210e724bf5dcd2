/**
 * What an upload's form fields and files must be, checked before a job is
 * queued, with the engine's own rules where it has them: parameters
 * (`resolveParams`), the field boundary (`parseField`); and that each layer
 * at least starts like a TIFF (the engine reads the rest when the job runs).
 */
import { jsonErrorWithoutContent } from '@hatake/config';
import { DEFAULT_PARAMS, TERMINAL_PROFILES, VrtError, parseField, resolveParams, type PrescriptionParams } from '@hatake/vrt';

/** The raster layers of an upload, as multipart file field names. */
export const LAYERS = ['yield', 'moisture', 'ndvi', 'organic'] as const;
export type Layer = (typeof LAYERS)[number];
export const REQUIRED_LAYERS: readonly Layer[] = ['yield', 'moisture'];

/** Form fields that are not engine parameters. */
export const CONTROL_FIELDS = ['farm', 'fieldId', 'title', 'profiles'] as const;

/** True when `name` is one of the engine's parameters. */
export function isParamName(name: string): name is keyof PrescriptionParams {
  return Object.hasOwn(DEFAULT_PARAMS, name);
}

/**
 * A parameter from its form text: numbers where the default is a number
 * (`zones` also takes `auto`), text otherwise. Text that is not a number is
 * passed on as it is, so the engine's check names it.
 */
export function paramValue(name: keyof PrescriptionParams, text: string): unknown {
  const def = DEFAULT_PARAMS[name];
  const t = text.trim();
  if (name === 'zones' && t === 'auto') return 'auto';
  if (typeof def === 'number' || name === 'zones') {
    const n = t === '' ? Number.NaN : Number(t);
    return Number.isFinite(n) ? n : text;
  }
  return text;
}

/** Checks parameters with the engine's rules: the resolved set, or every problem. */
export function checkParams(given: Partial<Record<keyof PrescriptionParams, unknown>>): { params: PrescriptionParams } | { problems: string[] } {
  try {
    return { params: resolveParams(given) };
  } catch (err) {
    if (err instanceof VrtError) return { problems: [...err.problems] };
    throw err;
  }
}

const TIFF_MAGICS = ['49492a00', '4d4d002a', '49492b00', '4d4d002b'];

/** True when the first bytes are a TIFF (or BigTIFF) header, either byte order. */
export function isTiffHeader(head: Uint8Array): boolean {
  return head.length >= 8 && TIFF_MAGICS.includes(Buffer.from(head.subarray(0, 4)).toString('hex'));
}

/**
 * Parses an uploaded boundary with the engine's own rules (`parseField`): a
 * WGS84 Polygon/MultiPolygon geometry, a Feature of one, or a
 * FeatureCollection of them. The parsed value, or why not.
 */
export function parseBoundary(text: string): { boundary: unknown } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: `field is not JSON: ${jsonErrorWithoutContent(err)}` };
  }
  try {
    parseField(value);
  } catch (err) {
    if (err instanceof VrtError) return { problem: err.message };
    throw err;
  }
  return { boundary: value };
}

/** The problem with a list of terminal profiles, if any: every name must be one of the engine's. */
export function profilesProblem(profiles: readonly string[]): string | undefined {
  const unknown = profiles.filter((p) => !Object.hasOwn(TERMINAL_PROFILES, p));
  if (profiles.length === 0) return 'profiles is empty: name at least one terminal profile, or leave it out for the default';
  return unknown.length > 0 ? `unknown terminal profile${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => JSON.stringify(u.slice(0, 64))).join(', ')}; known: ${Object.keys(TERMINAL_PROFILES).join(', ')}` : undefined;
}
