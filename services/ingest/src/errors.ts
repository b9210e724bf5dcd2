/**
 * Typed errors of ingest (`HATAKE_ERR_INGEST_*`), matched by `err.code`.
 */
export const INGEST_ERRORS = {
  HATAKE_ERR_INGEST_SPOOL_FULL: 'the write-ahead spool has reached ingest.spool.maxBytes; ingest stops acknowledging until the store takes the backlog',
  HATAKE_ERR_INGEST_SPOOL_IO: 'the spool directory could not be written, read or synced (disk full, permissions, I/O error)',
  HATAKE_ERR_INGEST_SPOOL_CORRUPT: 'a spool file holds a frame that fails its checksum; the file is set aside as .corrupt and the frames before it are replayed',
  HATAKE_ERR_INGEST_SPOOL_LOCKED: 'another ingest instance uses this spool directory (give each instance its own ingest.spool.dir)',
  HATAKE_ERR_INGEST_MQTT_CLIENT: 'the installed mqtt.js lacks the hook ingest uses to acknowledge only durable messages (pin the catalog version)',
} as const;
export type IngestErrorCode = keyof typeof INGEST_ERRORS;

/** An error with a stable `code`. */
export class IngestError extends Error {
  readonly code: IngestErrorCode;
  constructor(code: IngestErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IngestError';
    this.code = code;
  }
}
