/**
 * Typed errors of the store (`HATAKE_ERR_STORE_*`), matched by `err.code`.
 */
export const STORE_ERRORS = {
  HATAKE_ERR_STORE_INVALID_RECORD: 'a record cannot be stored as given (an id or string with control characters, a non-finite number); nothing of its batch was written',
  HATAKE_ERR_STORE_WRITE: 'the database did not confirm a write after retrying (it is down, slow or unreachable)',
  HATAKE_ERR_STORE_REFUSED: 'the database refused a write as given (e.g. InfluxDB "partial write": points outside the retention policy); retrying will not help, and part of the batch may be stored',
  HATAKE_ERR_STORE_QUERY: 'a read failed at the database',
  HATAKE_ERR_STORE_SETUP: 'the database, retention policy or tables could not be created or opened',
  HATAKE_ERR_STORE_CLOSED: 'the store was used before start() or after stop()',
} as const;
export type StoreErrorCode = keyof typeof STORE_ERRORS;

/** An error with a stable `code`. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}
