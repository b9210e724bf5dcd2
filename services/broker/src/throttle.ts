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
