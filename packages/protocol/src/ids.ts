/**
 * Identifiers that travel in topics, client ids and InfluxDB tags.
 *
 * One pattern for device ids, service accounts and user names: ASCII letters,
 * digits, `_` and `-`, starting with a letter or digit, at most 64 characters.
 * It excludes everything that has a meaning somewhere downstream: MQTT
 * wildcards and level separators (`+ # /`), line-protocol delimiters
 * (`, = space newline "`), `$` (broker-reserved topics) and `:` (which
 * hatake uses to suffix client ids, see {@link clientIdAllowed}).
 */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';

const ID_RE = new RegExp(ID_PATTERN);

/** True when `id` is a well-formed hatake identifier. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_RE.test(id);
}

/** Explains why `id` is not a valid identifier, or returns undefined when it is. */
export function explainInvalidId(id: unknown): string | undefined {
  if (typeof id !== 'string') return 'must be a string';
  if (id.length === 0) return 'must not be empty';
  if (id.length > 64) return `must be at most 64 characters (got ${id.length})`;
  if (!ID_RE.test(id)) {
    return `must match ${ID_PATTERN} (letters, digits, "_" and "-"; no spaces, quotes, commas, "=", "/", "+", "#", "$" or control characters)`;
  }
  return undefined;
}

/**
 * An MQTT client id a principal may use: its own name, or its name followed by
 * `:` and a free suffix (e.g. `ingest:1`, `ingest:host-b`). Binding client ids
 * to the authenticated name stops one principal from taking over another's
 * session, which MQTT would otherwise allow [MQTT-3.1.4-2].
 */
export function clientIdAllowed(principal: string, clientId: string): boolean {
  if (clientId === principal) return true;
  if (!clientId.startsWith(`${principal}:`)) return false;
  const suffix = clientId.slice(principal.length + 1);
  return suffix.length > 0 && suffix.length <= 64 && /^[A-Za-z0-9_.-]+$/.test(suffix);
}
