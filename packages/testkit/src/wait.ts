/**
 * Waiting for events in tests, with a deadline instead of a sleep.
 */

/** Resolves when `check()` returns a value other than undefined; rejects with `what` after the deadline. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}

/** Collects `count` events from an emitter-like source, or rejects after the deadline. */
export function collect<T>(subscribe: (push: (v: T) => void) => () => void, count: number, what: string, timeoutMs = 10_000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    let unsubscribe: () => void = () => undefined;
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting for ${count} ${what} (got ${got.length})`));
    }, timeoutMs);
    unsubscribe = subscribe((v) => {
      got.push(v);
      if (got.length === count) {
        clearTimeout(timer);
        unsubscribe();
        resolve(got);
      }
    });
  });
}
