/**
 * Typed errors of the gateway (`HATAKE_ERR_GATEWAY_*`): every 4xx/5xx body is
 * `{ "error": { "code", "message", "details"? } }`.
 */
export const GATEWAY_ERRORS = {
  HATAKE_ERR_GATEWAY_BAD_REQUEST: 'a parameter or body is malformed; `details` lists every problem',
  HATAKE_ERR_GATEWAY_UNAUTHORIZED: 'no valid session token (missing, expired, or not ours), or a wrong password at login',
  HATAKE_ERR_GATEWAY_FORBIDDEN: "the user's roles and farms do not cover this device or farm",
  HATAKE_ERR_GATEWAY_NOT_FOUND: 'no such device or route',
  HATAKE_ERR_GATEWAY_TOO_MANY_ATTEMPTS: 'too many failed logins for this user from this address; wait and try again',
  HATAKE_ERR_GATEWAY_CONFLICT: 'the machine is controlled by someone else (take it over with a reason), or a confirmation has no live arm',
  HATAKE_ERR_GATEWAY_UNAVAILABLE: 'the store did not answer',
  HATAKE_ERR_GATEWAY_TOO_MANY_CLIENTS: 'the live stream has as many clients as it is configured for',
  HATAKE_ERR_GATEWAY_INTERNAL: 'a fault of the gateway itself (logged with its details; the answer says nothing more)',
} as const;
export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

const STATUS: Record<GatewayErrorCode, number> = {
  HATAKE_ERR_GATEWAY_BAD_REQUEST: 400,
  HATAKE_ERR_GATEWAY_UNAUTHORIZED: 401,
  HATAKE_ERR_GATEWAY_FORBIDDEN: 403,
  HATAKE_ERR_GATEWAY_NOT_FOUND: 404,
  HATAKE_ERR_GATEWAY_TOO_MANY_ATTEMPTS: 429,
  HATAKE_ERR_GATEWAY_CONFLICT: 409,
  HATAKE_ERR_GATEWAY_UNAVAILABLE: 503,
  HATAKE_ERR_GATEWAY_TOO_MANY_CLIENTS: 503,
  HATAKE_ERR_GATEWAY_INTERNAL: 500,
};

/** An HTTP error with a stable code. */
export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly statusCode: number;
  readonly details: readonly string[] | undefined;
  constructor(code: GatewayErrorCode, message: string, details?: readonly string[]) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.statusCode = STATUS[code];
    this.details = details;
  }

  /** The response body. */
  body(): { error: { code: GatewayErrorCode; message: string; details?: readonly string[] } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}
