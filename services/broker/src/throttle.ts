/**
 * Per-device publish rate: a token bucket whose deficit becomes a delay before
 * the publish is authorized. aedes reads a client's next packets only after
 * the current ones are handled, so the delay slows the device through TCP
 * back-pressure instead of dropping its data. A device too far behind its
 * rate is refused (and so disconnected).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly rate: number;
  private readonly burst: number;

  constructor(ratePerSecond: number, burst: number, now: number) {
    this.rate = ratePerSecond;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; returns how long (ms) the caller must wait before it is really available. */
  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** Gives a token back (a publish that was refused after all). */
  refund(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }
}

/**
 * Failed logins per (address, username): after `maxAttempts` within
 * `windowMs`, that pair is blocked for `blockMs`. Keyed by the pair, not the
 * address alone, so one misconfigured device behind a shared address (a farm
 * router, the simulator fleet) does not lock out its neighbours.
 */
export class FailureTracker {
  private readonly entries = new Map<string, { count: number; since: number; blockedUntil: number }>();
  private readonly opts: { maxAttempts: number; windowMs: number; blockMs: number; maxEntries: number };

  constructor(opts: { maxAttempts: number; windowMs: number; blockMs: number; maxEntries?: number }) {
    this.opts = { maxEntries: 10_000, ...opts };
  }

  /** True while the pair is blocked. */
  blocked(key: string, now: number): boolean {
    const e = this.entries.get(key);
    return e !== undefined && e.blockedUntil > now;
  }

  /** Records a failure; returns true when it starts a block. */
  fail(key: string, now: number): boolean {
    let e = this.entries.get(key);
    if (!e || now - e.since > this.opts.windowMs) {
      if (this.entries.size >= this.opts.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      e = { count: 0, since: now, blockedUntil: 0 };
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    e.count++;
    if (e.count >= this.opts.maxAttempts && e.blockedUntil <= now) {
      e.blockedUntil = now + this.opts.blockMs;
      return true;
    }
    return false;
  }

  /** Forgets a pair after a successful login. */
  succeed(key: string): void {
    this.entries.delete(key);
  }
}
