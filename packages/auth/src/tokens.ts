/**
 * Session tokens: a user logs in with a password and gets a signed token
 * (JWT, HS256, via `jose`) naming them, valid for a configured time. Every
 * gateway instance that shares the key accepts it; nothing is stored
 * server-side. Roles and scopes are looked up afresh on every use, so a
 * changed configuration applies at once.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';
import { AuthError } from './secrets.ts';

export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: number;
}

const ISSUER = 'hatake';
const AUDIENCE = 'hatake-gateway';

export class TokenIssuer {
  private readonly key: Uint8Array;
  private readonly ttlSeconds: number;

  /** Without a secret, a random one: tokens then die with the process and only this instance accepts them. */
  constructor(opts: { secret?: string; ttlSeconds: number }) {
    this.key = opts.secret !== undefined ? new TextEncoder().encode(opts.secret) : randomBytes(32);
    this.ttlSeconds = opts.ttlSeconds;
  }

  /** A token for `username`, valid from `now` for the configured time. */
  async issue(username: string, now = Date.now()): Promise<IssuedToken> {
    const iat = Math.floor(now / 1000);
    const exp = iat + this.ttlSeconds;
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(username).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(iat).setExpirationTime(exp).sign(this.key);
    return { token, expiresAt: exp * 1000 };
  }

  /**
   * The user a token belongs to (looked up with `find`: users live in the configuration) and until when it holds;
   * throws HATAKE_ERR_AUTH_TOKEN with the reason when the token is not valid now or its user no longer exists.
   */
  async verifyUser<U>(token: string, find: (username: string) => U | undefined, now = Date.now()): Promise<{ readonly user: U; readonly expiresAt: number }> {
    const session = await this.verify(token, now);
    const user = find(session.username);
    if (user === undefined) throw new AuthError('HATAKE_ERR_AUTH_TOKEN', 'the user of this token no longer exists');
    return { user, expiresAt: session.expiresAt };
  }

  /** Who a token was issued to and until when; throws HATAKE_ERR_AUTH_TOKEN with the reason when it is not valid now. */
  async verify(token: string, now = Date.now()): Promise<{ readonly username: string; readonly expiresAt: number }> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw new AuthError('HATAKE_ERR_AUTH_TOKEN', 'no token');
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], currentDate: new Date(now), requiredClaims: ['exp', 'sub'] });
      if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') throw new AuthError('HATAKE_ERR_AUTH_TOKEN', 'token names nobody');
      return { username: payload.sub, expiresAt: payload.exp * 1000 };
    } catch (err) {
      if (err instanceof AuthError) throw err;
      const reason = err instanceof errors.JWTExpired ? 'token expired' : err instanceof errors.JWSSignatureVerificationFailed ? 'token signature is not ours' : 'token is not valid';
      throw new AuthError('HATAKE_ERR_AUTH_TOKEN', reason);
    }
  }
}
