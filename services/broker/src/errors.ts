/**
 * Typed errors of the broker (`HATAKE_ERR_BROKER_*`), matched by `err.code`.
 */
export const BROKER_ERRORS = {
  HATAKE_ERR_BROKER_PACKET_TOO_LARGE: 'a client announced an MQTT packet larger than broker.maxPacketBytes; its connection is cut',
  HATAKE_ERR_BROKER_MALFORMED_PACKET: 'a client sent a remaining length longer than 4 bytes (MQTT 3.1.1 §2.2.3); its connection is cut',
  HATAKE_ERR_BROKER_NOT_STARTED: 'handle() was called before start()',
  HATAKE_ERR_BROKER_PERSISTENCE_LOCKED: 'start(): the persistence directory is held by another broker (another process, or another broker in this one); stop it or give this one its own broker.persistence.dir',
  HATAKE_ERR_BROKER_PERSISTENCE_CORRUPT: 'start(): the persistence directory cannot be read (damaged LevelDB files or records); restore it from a backup, or wipe it (stored sessions, queued messages and retained states are lost)',
  HATAKE_ERR_BROKER_PERSISTENCE_UNAVAILABLE: 'start(): the persistence directory cannot be opened (not a directory, no permission, disk error)',
} as const;
export type BrokerErrorCode = keyof typeof BROKER_ERRORS;

/** An error with a stable `code`. */
export class BrokerError extends Error {
  readonly code: BrokerErrorCode;
  constructor(code: BrokerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerError';
    this.code = code;
  }
}
