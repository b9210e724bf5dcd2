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

  /** Gives back an attempt that succeeded (lifting a block it alone caused). */
  release(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.count = Math.max(0, e.count - 1);
    if (e.count < this.opts.maxAttempts) e.blockedUntil = 0;
    if (e.count === 0) this.entries.delete(key);
  }
}

/** Runs at most `limit` tasks at once; up to `maxQueued` wait, more are refused. */
export class Limiter {
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private readonly limit: number;
  private readonly maxQueued: number;

  constructor(limit: number, maxQueued: number) {
    this.limit = limit;
    this.maxQueued = maxQueued;
  }

  /** Runs `task` when a slot is free; undefined when the queue is full. */
  run<T>(task: () => Promise<T>): Promise<T> | undefined {
    if (this.running >= this.limit && this.queue.length >= this.maxQueued) return undefined;
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.running++;
        task()
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            this.queue.shift()?.();
          });
      };
      if (this.running < this.limit) start();
      else this.queue.push(start);
    });
  }
}
