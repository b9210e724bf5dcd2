/**
 * Typed errors of the broker (`HATAKE_ERR_BROKER_*`), matched by `err.code`.
 */
export const BROKER_ERRORS = {
  HATAKE_ERR_BROKER_PACKET_TOO_LARGE: 'a client announced an MQTT packet larger than broker.maxPacketBytes; its connection is cut',
  HATAKE_ERR_BROKER_MALFORMED_PACKET: 'a client sent a remaining length longer than 4 bytes (MQTT 3.1.1 §2.2.3); its connection is cut',
  HATAKE_ERR_BROKER_NOT_STARTED: 'handle() was called before start()',
} as const;
export type BrokerErrorCode = keyof typeof BROKER_ERRORS;

/** An error with a stable `code`. */
export class BrokerError extends Error {
  readonly code: BrokerErrorCode;
  constructor(code: BrokerErrorCode, message: string) {
    super(message);
    this.name = 'BrokerError';
    this.code = code;
  }
}
