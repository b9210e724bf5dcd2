/**
 * Who may connect: the password check (scrypt, a bounded number at a time),
 * failed-login blocking per (address, account) and per address, client-id
 * binding, the last will, and the session policy.
 */
import { DEFAULT_SCRYPT_COST, FailureTracker, SecretVerifier, hashSecret, verifySecret } from '@hatake/auth';
import type { Config } from '@hatake/config';
import { clientIdAllowed } from '@hatake/protocol';
import { willRefusal, type AclRefusal, type Principal } from './acl.ts';
import { Limiter } from './throttle.ts';

/** Refusal reasons at CONNECT (a metrics label). */
export type ConnectRefusal =
  | 'no_credentials'
  | 'unknown_user'
  | 'bad_credentials'
  | 'client_id_not_allowed'
  | 'blocked'
  | 'busy'
  | 'persistent_session_not_allowed'
  | AclRefusal;

/** MQTT 3.1.1 CONNACK return codes used for refusals. */
export type ConnackCode = 2 | 3 | 4 | 5;

export type AuthOutcome = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly reason: ConnectRefusal; readonly code: ConnackCode };

export interface ConnectAttempt {
  readonly remote: string;
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly clean: boolean;
  readonly will: { readonly topic: string; readonly qos?: number } | undefined;
}

interface Account {
  readonly principal: Principal;
  readonly hash: string | undefined;
}

/** A failing address may try this many times more often than one account. */
const ADDRESS_FACTOR = 10;
/** Persistent sessions: a service's own name, or its name and an instance number. */
const PERSISTENT_CLIENT_ID = /^[^:]+(:\d{1,2})?$/;

export class Authenticator {
  private readonly accounts = new Map<string, Account>();
  private readonly verifier = new SecretVerifier();
  private readonly pairs: FailureTracker;
  private readonly addresses: FailureTracker;
  // scrypt runs on libuv's 4 threads; more at once only queue there, starving other I/O
  private readonly checks = new Limiter(4, 2000);
  private dummyHash: string | undefined;

  constructor(config: Config) {
    for (const d of config.devices) this.accounts.set(d.id, { principal: { type: 'device', name: d.id, kind: d.kind }, hash: d.passwordHash });
    for (const s of config.services) this.accounts.set(s.username, { principal: { type: 'service', name: s.username, role: s.role }, hash: s.passwordHash });
    const f = config.broker.authFailures;
    this.pairs = new FailureTracker({ maxAttempts: f.maxAttempts, windowMs: f.windowSeconds * 1000, blockMs: f.blockSeconds * 1000 });
    this.addresses = new FailureTracker({ maxAttempts: f.maxAttempts * ADDRESS_FACTOR, windowMs: f.windowSeconds * 1000, blockMs: f.blockSeconds * 1000 });
  }

  /** Prepares the dummy hash that unknown accounts are checked against, at the real cost, so timing does not tell which accounts exist. */
  async prepare(): Promise<void> {
    this.dummyHash ??= await hashSecret('not a password', DEFAULT_SCRYPT_COST);
  }

  /** Decides a CONNECT. */
  async authenticate(a: ConnectAttempt, now: number): Promise<AuthOutcome> {
    if (!a.username || !a.password) return { ok: false, reason: 'no_credentials', code: 4 };
    const pair = `${a.remote}|${a.username}`;
    const address = `${a.remote}|*`;
    if (this.pairs.blocked(pair, now) || this.addresses.blocked(address, now)) return { ok: false, reason: 'blocked', code: 5 };
    this.pairs.begin(pair, now);
    this.addresses.begin(address, now);
    const account = this.accounts.get(a.username);
    const secret = a.password.toString('utf8');
    const hash = account?.hash ?? this.dummyHash;
    const checking = this.checks.run(async () => (hash === undefined ? false : (account?.hash !== undefined ? this.verifier.verify(secret, hash) : verifySecret(secret, hash).then(() => false))));
    if (!checking) return { ok: false, reason: 'busy', code: 3 };
    const ok = await checking;
    if (!ok || !account) return { ok: false, reason: account ? 'bad_credentials' : 'unknown_user', code: 4 };
    // the password was right: this attempt is not a failure
    this.pairs.release(pair);
    this.addresses.release(address);
    if (!clientIdAllowed(a.username, a.clientId)) return { ok: false, reason: 'client_id_not_allowed', code: 2 };
    const will = willRefusal(account.principal, a.will);
    if (will) return { ok: false, reason: will, code: 5 };
    if (!a.clean && (account.principal.type === 'device' || !PERSISTENT_CLIENT_ID.test(a.clientId))) {
      // a stored session queues every QoS 1 message while its owner is away: only services, with a bounded set of client ids
      return { ok: false, reason: 'persistent_session_not_allowed', code: 5 };
    }
    return { ok: true, principal: account.principal };
  }
}
