/**
 * Typed errors of track review (`HATAKE_ERR_TRACKS_*`), matched by `err.code`.
 */
export const TRACKS_ERRORS = {
  HATAKE_ERR_TRACKS_RANGE: 'a time window is not one: from not before to, or longer than the limit',
  HATAKE_ERR_TRACKS_OPTIONS: 'an option (tolerance, thresholds, segment length, speed, format) is missing or out of range',
  HATAKE_ERR_TRACKS_NETWORK: 'the road network is not usable: not a FeatureCollection of LineStrings with id, name and class, or a broken geometry; the message says which road and why',
  HATAKE_ERR_TRACKS_CLAIMS: 'a contractor claims file is not usable: not CSV, a missing column, or a line that cannot be read; the message says which line and why',
} as const;
export type TracksErrorCode = keyof typeof TRACKS_ERRORS;

/** An error with a stable `code`. */
export class TracksError extends Error {
  readonly code: TracksErrorCode;
  constructor(code: TracksErrorCode, message: string) {
    super(message);
    this.name = 'TracksError';
    this.code = code;
  }
}
