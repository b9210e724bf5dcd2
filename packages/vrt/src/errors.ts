/**
 * Typed errors of the prescription engine (`HATAKE_ERR_VRT_*`), matched by
 * `err.code`. Each is an input or output the engine refuses, with the reason
 * in the message; `exitCode` is what the CLI exits with.
 */
export const VRT_ERRORS = {
  HATAKE_ERR_VRT_RASTER: 'a layer is not a readable TIFF: not a TIFF at all, truncated, or its data cannot be decoded',
  HATAKE_ERR_VRT_RASTER_SIZE: 'a layer claims more cells than the configured limit (`maxCells`), a dimension of 0, or strips/tiles too large to decode in bounded memory (over 256 MiB each)',
  HATAKE_ERR_VRT_GEOREF: 'a layer has no georeferencing (no ModelTiepoint + ModelPixelScale or ModelTransformation), or a rotated one',
  HATAKE_ERR_VRT_CRS: 'a layer\'s coordinate reference system is missing, user-defined or not one of the EPSG codes hatake ships',
  HATAKE_ERR_VRT_NO_OVERLAP: 'a required layer has no valid cell inside the field (wrong place, wrong CRS, or all nodata)',
  HATAKE_ERR_VRT_BOUNDARY: 'the field boundary is not a usable WGS84 GeoJSON Polygon or MultiPolygon',
  HATAKE_ERR_VRT_PARAMS: 'a parameter is missing, of the wrong unit or out of range (e.g. minimum rate above maximum)',
  HATAKE_ERR_VRT_PROFILE: 'the prescription breaks a limit of the chosen terminal profile (zones, field names, file size, units); nothing was written for it',
  HATAKE_ERR_VRT_OUTPUT: 'an output did not pass its own check after writing (read back by an independent reader)',
} as const;
export type VrtErrorCode = keyof typeof VRT_ERRORS;

/** Exit codes of the CLI: 2 for bad input, 3 for a terminal profile refusal, 4 for an output that failed its check. */
const EXIT_CODES: Record<VrtErrorCode, number> = {
  HATAKE_ERR_VRT_RASTER: 2,
  HATAKE_ERR_VRT_RASTER_SIZE: 2,
  HATAKE_ERR_VRT_GEOREF: 2,
  HATAKE_ERR_VRT_CRS: 2,
  HATAKE_ERR_VRT_NO_OVERLAP: 2,
  HATAKE_ERR_VRT_BOUNDARY: 2,
  HATAKE_ERR_VRT_PARAMS: 2,
  HATAKE_ERR_VRT_PROFILE: 3,
  HATAKE_ERR_VRT_OUTPUT: 4,
};

/** An error with a stable `code` and the CLI exit code that goes with it. */
export class VrtError extends Error {
  readonly code: VrtErrorCode;
  readonly exitCode: number;
  /** Each problem on its own, when one error reports several (bad parameters). */
  readonly problems: readonly string[];
  constructor(code: VrtErrorCode, message: string, options?: { cause?: unknown; problems?: readonly string[] }) {
    super(message, options);
    this.name = 'VrtError';
    this.code = code;
    this.exitCode = EXIT_CODES[code];
    this.problems = options?.problems ?? [message];
  }
}

/** True for an error the engine raised on purpose (as opposed to a bug). */
export function isVrtError(err: unknown): err is VrtError {
  return err instanceof VrtError;
}
