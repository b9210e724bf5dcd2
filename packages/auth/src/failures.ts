/**
 * Failed logins per key — (address, account) pairs and whole addresses. An
 * attempt counts as a failure from the moment it starts (`begin`) and is
 * given back if it succeeds (`release`), so a burst of simultaneous attempts
 * cannot slip past the limit while their passwords are being checked.
 */
export class FailureTracker {
  private readonly entries = new Map<string, { count: number; since: number; blockedUntil: number }>();
  private readonly opts: { maxAttempts: number; windowMs: number; blockMs: number; maxEntries: number };

  constructor(opts: { maxAttempts: number; windowMs: number; blockMs: number; maxEntries?: number }) {
    this.opts = { maxEntries: 10_000, ...opts };
  }

  /** True while the key is blocked. */
  blocked(key: string, now: number): boolean {
    const e = this.entries.get(key);
    return e !== undefined && e.blockedUntil > now;
  }

  /** Counts an attempt as failed until released; returns true when it starts a block. */
  begin(key: string, now: number): boolean {
    let e = this.entries.get(key);
    if (!e || (now - e.since > this.opts.windowMs && e.blockedUntil <= now)) {
      if (this.entries.size >= this.opts.maxEntries) this.evict(now);
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

  /**
   * Makes room: the oldest entry that is not blocking anything. Blocks are
   * never evicted to make room — flooding the table with fresh keys must not
   * lift them — unless every entry is a block, when the one ending first goes.
   */
  private evict(now: number): void {
    let soonest: [string, number] | undefined;
    for (const [key, e] of this.entries) {
      if (e.blockedUntil <= now) {
        this.entries.delete(key);
        return;
      }
      if (!soonest || e.blockedUntil < soonest[1]) soonest = [key, e.blockedUntil];
    }
    if (soonest) this.entries.delete(soonest[0]);
  }

  /** Gives back an attempt that succeeded (lifting a block it alone caused). */
  release(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.count = Math.max(0, e.count - 1);
    if (e.count < this.opts.maxAttempts) e.blockedUntil = 0;
    if (e.count === 0) this.entries.delete(key);
  }
}
