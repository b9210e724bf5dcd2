/**
 * Password hashing for devices, users and service accounts: scrypt from
 * Node's own crypto (OpenSSL), stored as a PHC string
 * `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` so the cost travels with the hash and
 * can be raised without invalidating existing credentials.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Typed errors of the auth package (`HATAKE_ERR_AUTH_*`), matched by `err.code`. */
export const AUTH_ERRORS = {
  HATAKE_ERR_AUTH_COST: 'a hash was asked for with a scrypt cost outside 2^10…2^22',
  HATAKE_ERR_AUTH_TOKEN: 'a session token is missing, expired, or not signed with this deployment\'s key',
} as const;

/** An error with a stable `code`. */
export class AuthError extends Error {
  readonly code: keyof typeof AUTH_ERRORS;
  constructor(code: keyof typeof AUTH_ERRORS, message: string) {
    super(message);
    this.name = 'AuthError';
    this.code = code;
  }
}

/** Shape of a stored hash; the config schema validates against it. */
export const PHC_SCRYPT_PATTERN = '^\\$scrypt\\$ln=\\d{1,2},r=\\d{1,2},p=\\d{1,2}\\$[A-Za-z0-9+/]{16,}={0,2}\\$[A-Za-z0-9+/]{32,}={0,2}$';
const PHC_RE = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,}={0,2})\$([A-Za-z0-9+/]{32,}={0,2})$/;

/** Cost parameters. The default (2^15, 8, 1: 32 MiB, tens of ms) suits a broker that authenticates fleets. */
export interface ScryptCost {
  /** log2 of N */
  readonly ln: number;
  readonly r: number;
  readonly p: number;
}
export const DEFAULT_SCRYPT_COST: ScryptCost = Object.freeze({ ln: 15, r: 8, p: 1 });
/** Cheap parameters for tests only; hashes carry their cost, so verification needs no setting. */
export const TEST_SCRYPT_COST: ScryptCost = Object.freeze({ ln: 10, r: 8, p: 1 });

const KEY_LENGTH = 32;
const MAX_SECRET_BYTES = 1024;

function scryptAsync(secret: string, salt: Buffer, cost: ScryptCost, keylen: number): Promise<Buffer> {
  const N = 2 ** cost.ln;
  const opts: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 128 * N * cost.r * 2 + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a secret with a fresh random salt. */
export async function hashSecret(secret: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<string> {
  if (cost.ln < 10 || cost.ln > 22) throw new AuthError('HATAKE_ERR_AUTH_COST', `scrypt ln must be within 10..22 (got ${cost.ln})`);
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, cost, KEY_LENGTH);
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${salt.toString('base64').replace(/=+$/, '')}$${key.toString('base64').replace(/=+$/, '')}`;
}

/** True when `hash` is a well-formed hatake scrypt hash. */
export function isSecretHash(hash: unknown): hash is string {
  return typeof hash === 'string' && PHC_RE.test(hash);
}

/** Checks a secret against a stored hash in constant time. A malformed hash or an oversized secret is a mismatch. */
export async function verifySecret(secret: string, hash: string): Promise<boolean> {
  const m = PHC_RE.exec(hash);
  if (!m || Buffer.byteLength(secret) > MAX_SECRET_BYTES) return false;
  const cost = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (cost.ln < 10 || cost.ln > 22 || cost.r < 1 || cost.p < 1) return false;
  const salt = Buffer.from(m[4]!, 'base64');
  const expected = Buffer.from(m[5]!, 'base64');
  const actual = await scryptAsync(secret, salt, cost, expected.length);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A new random secret (URL-safe, 128 bits by default) for generated demo credentials. */
export function generateSecret(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Verifies secrets with a bounded memory of recent successes, so a fleet that
 * reconnects after a broker restart costs one scrypt per device, not one per
 * connect. Only an HMAC (per-process random key) of hash and secret is kept —
 * never the secret. Failures are never cached.
 */
export class SecretVerifier {
  private readonly key = randomBytes(32);
  private readonly recent = new Map<string, true>();
  private readonly maxEntries: number;
  /** scrypt runs saved by the memory. */
  hits = 0;

  constructor(maxEntries = 10_000) {
    this.maxEntries = maxEntries;
  }

  /** Same contract as {@link verifySecret}. */
  async verify(secret: string, hash: string): Promise<boolean> {
    if (Buffer.byteLength(secret) > MAX_SECRET_BYTES) return false;
    const tag = createHmac('sha256', this.key).update(hash).update('\0').update(secret).digest('base64');
    if (this.recent.has(tag)) {
      this.hits++;
      return true;
    }
    const ok = await verifySecret(secret, hash);
    if (ok) {
      if (this.recent.size >= this.maxEntries) {
        const oldest = this.recent.keys().next().value;
        if (oldest !== undefined) this.recent.delete(oldest);
      }
      this.recent.set(tag, true);
    }
    return ok;
  }
}
