/**
 * A live client's `maxRate`: at most so many messages per second per device.
 * Nothing queues: a message that comes too soon is held, replacing what was
 * held for that device before (the latest wins), and the one held is
 * delivered as soon as the device's interval has passed — also when the
 * device has gone quiet meanwhile, so its last value always arrives.
 */

interface Gate<T> {
  /** When the device's last message went out (the limiter's clock). */
  last: number;
  held: T | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** What became of an offered message. */
export const OFFER = { now: 'now', held: 'held', superseded: 'superseded' } as const;
export type Offer = (typeof OFFER)[keyof typeof OFFER];

/** Per device, at most one message per `1000 / maxRate` ms; see the module comment. */
export class DeviceRateLimiter<T> {
  readonly intervalMs: number;
  private readonly release: (device: string, item: T) => void;
  private readonly now: () => number;
  private readonly gates = new Map<string, Gate<T>>();

  /** `release` receives each held message when its turn comes. */
  constructor(maxRate: number, release: (device: string, item: T) => void, now: () => number) {
    this.intervalMs = 1000 / maxRate;
    this.release = release;
    this.now = now;
  }

  /**
   * `now`: send it now (and the device's interval starts); `held`: it will be
   * released later; `superseded`: it replaced a message held before (which is
   * thus never sent).
   */
  offer(device: string, item: T): Offer {
    const t = this.now();
    let gate = this.gates.get(device);
    if (gate === undefined) {
      gate = { last: t, held: undefined, timer: undefined };
      this.gates.set(device, gate);
      return OFFER.now;
    }
    if (gate.timer !== undefined) {
      const superseded = gate.held !== undefined;
      gate.held = item;
      return superseded ? OFFER.superseded : OFFER.held;
    }
    if (t - gate.last >= this.intervalMs) {
      gate.last = t;
      return OFFER.now;
    }
    gate.held = item;
    const g = gate;
    // whole milliseconds: Node keeps one timer list per distinct delay
    gate.timer = setTimeout(() => this.due(device, g), Math.ceil(gate.last + this.intervalMs - t));
    return OFFER.held;
  }

  /** Devices with a gate (held or within their interval). */
  get size(): number {
    return this.gates.size;
  }

  /** Drops the gates of devices whose interval has passed with nothing held: they would let the next message through anyway. */
  sweep(): void {
    const t = this.now();
    for (const [device, gate] of this.gates) if (gate.timer === undefined && t - gate.last >= this.intervalMs) this.gates.delete(device);
  }

  /** Forgets everything held (its timers too). */
  clear(): void {
    for (const gate of this.gates.values()) clearTimeout(gate.timer);
    this.gates.clear();
  }

  private due(device: string, gate: Gate<T>): void {
    gate.timer = undefined;
    const item = gate.held;
    gate.held = undefined;
    if (item === undefined) return;
    gate.last = this.now();
    this.release(device, item);
  }
}
