/**
 * Typed errors of the prescription service (`HATAKE_ERR_PRESCRIPTION_*`):
 * every 4xx/5xx body is `{ "error": { "code", "message", "details"? } }`.
 * A failed job carries one of these codes (`INTERRUPTED`, `TIMEOUT`,
 * `INTERNAL`) or the engine's own `HATAKE_ERR_VRT_*` code.
 */
export const PRESCRIPTION_ERRORS = {
  HATAKE_ERR_PRESCRIPTION_BAD_REQUEST: 'the upload or a parameter is malformed: a required layer missing, a file that is not a TIFF, a bad boundary, a parameter out of range; `details` lists every problem',
  HATAKE_ERR_PRESCRIPTION_UNAUTHORIZED: 'no valid session token (missing, expired, or not signed with the gateway key)',
  HATAKE_ERR_PRESCRIPTION_FORBIDDEN: 'the user may not do this: only agronomists and admins create or delete prescriptions, and only for farms in their scope',
  HATAKE_ERR_PRESCRIPTION_NOT_FOUND: 'no such job (or not one you may see), no such file of the job, or no such route',
  HATAKE_ERR_PRESCRIPTION_TOO_LARGE: 'a file or the whole upload is larger than the configured limit; nothing of it was kept',
  HATAKE_ERR_PRESCRIPTION_QUEUE_FULL: 'as many jobs are waiting as the service is configured for; try again later',
  HATAKE_ERR_PRESCRIPTION_INTERRUPTED: 'a failed job: the service died during its run twice (a run cut short is run again once; a graceful stop does not count)',
  HATAKE_ERR_PRESCRIPTION_TIMEOUT: 'a failed job: its run took longer than `prescription.jobTimeoutMinutes`',
  HATAKE_ERR_PRESCRIPTION_DATA_DIR_LOCKED: 'start(): the jobs directory is in use by another prescription service; give each its own `prescription.dataDir`',
  HATAKE_ERR_PRESCRIPTION_INTERNAL: 'a fault of the service or an unexpected engine failure (logged with its details; the answer says nothing more)',
} as const;
export type PrescriptionErrorCode = keyof typeof PRESCRIPTION_ERRORS;

const STATUS: Record<PrescriptionErrorCode, number> = {
  HATAKE_ERR_PRESCRIPTION_BAD_REQUEST: 400,
  HATAKE_ERR_PRESCRIPTION_UNAUTHORIZED: 401,
  HATAKE_ERR_PRESCRIPTION_FORBIDDEN: 403,
  HATAKE_ERR_PRESCRIPTION_NOT_FOUND: 404,
  HATAKE_ERR_PRESCRIPTION_TOO_LARGE: 413,
  HATAKE_ERR_PRESCRIPTION_QUEUE_FULL: 503,
  HATAKE_ERR_PRESCRIPTION_INTERRUPTED: 500,
  HATAKE_ERR_PRESCRIPTION_TIMEOUT: 500,
  HATAKE_ERR_PRESCRIPTION_DATA_DIR_LOCKED: 500,
  HATAKE_ERR_PRESCRIPTION_INTERNAL: 500,
};

/** The JSON body of every error answer. */
export interface ErrorReply {
  readonly error: { readonly code: string; readonly message: string; readonly details?: readonly string[] };
}

/** An error with a stable code and the HTTP status that goes with it. */
export class PrescriptionError extends Error {
  readonly code: PrescriptionErrorCode;
  readonly statusCode: number;
  readonly details: readonly string[] | undefined;
  constructor(code: PrescriptionErrorCode, message: string, details?: readonly string[]) {
    super(message);
    this.name = 'PrescriptionError';
    this.code = code;
    this.statusCode = STATUS[code];
    this.details = details;
  }

  /** The response body. */
  body(): ErrorReply {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}
