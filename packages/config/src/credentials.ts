/**
 * The credentials file: password hashes by principal, kept apart from the
 * deployment so the deployment can be committed and the hashes cannot.
 *
 * ```json
 * { "version": 1, "devices": { "t-kita-1": "$scrypt$..." }, "groups": {}, "users": {}, "services": {} }
 * ```
 */
import Type, { type Static } from 'typebox';
import { PHC_SCRYPT_PATTERN } from '@hatake/auth';
import { ID_PATTERN } from '@hatake/protocol';

const Hashes = Type.Record(Type.String({ pattern: ID_PATTERN }), Type.String({ pattern: PHC_SCRYPT_PATTERN }), { default: {}, additionalProperties: false });

export const CredentialsFileSchema = Type.Object(
  {
    version: Type.Literal(1),
    devices: Hashes,
    groups: Hashes,
    users: Hashes,
    services: Hashes,
  },
  { additionalProperties: false },
);
export type CredentialsFile = Static<typeof CredentialsFileSchema>;

const SECTIONS = ['devices', 'groups', 'users', 'services'] as const;
const ID_RE = new RegExp(ID_PATTERN);
const HASH_RE = new RegExp(PHC_SCRYPT_PATTERN);

/**
 * Reads a parsed credentials file entry by entry: the well-formed entries,
 * and every problem (never echoing a value). One bad entry does not void the rest.
 */
export function readCredentials(value: unknown): { credentials: CredentialsFile; problems: { path: string; message: string }[] } {
  const credentials = emptyCredentials();
  const problems: { path: string; message: string }[] = [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { credentials, problems: [{ path: '', message: 'must be a JSON object' }] };
  }
  const obj = value as Record<string, unknown>;
  if (obj['version'] !== 1) problems.push({ path: '/version', message: 'must be 1' });
  for (const key of Object.keys(obj)) {
    if (key !== 'version' && !(SECTIONS as readonly string[]).includes(key)) problems.push({ path: `/${key}`, message: 'is not a section (devices, groups, users, services)' });
  }
  for (const section of SECTIONS) {
    const entries = obj[section];
    if (entries === undefined) continue;
    if (entries === null || typeof entries !== 'object' || Array.isArray(entries)) {
      problems.push({ path: `/${section}`, message: 'must be an object of name: hash' });
      continue;
    }
    for (const [name, hash] of Object.entries(entries as Record<string, unknown>)) {
      if (!ID_RE.test(name)) problems.push({ path: `/${section}`, message: `an entry name is not a valid id` });
      else if (typeof hash !== 'string' || !HASH_RE.test(hash)) problems.push({ path: `/${section}/${name}`, message: 'must be a scrypt hash ($scrypt$ln=..,r=..,p=..$salt$hash)' });
      else credentials[section][name] = hash;
    }
  }
  return { credentials, problems };
}
/** An empty credentials file. */
export function emptyCredentials(): CredentialsFile {
  return { version: 1, devices: {}, groups: {}, users: {}, services: {} };
}
