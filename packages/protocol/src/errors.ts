/**
 * Typed errors of the protocol package (`HATAKE_ERR_PROTOCOL_*`), matched by `err.code`.
 */
export const PROTOCOL_ERRORS = {
  HATAKE_ERR_PROTOCOL_INVALID_ID: 'an identifier does not match the id pattern',
  HATAKE_ERR_PROTOCOL_UNKNOWN_KIND: 'a device kind is not tractor, plow or sensor',
} as const;
export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;

/** An error with a stable `code`. */
export class ProtocolError extends TypeError {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}
