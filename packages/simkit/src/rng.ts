/**
 * Seeded randomness (xoroshiro128+ from pure-rand). Every simulated device
 * draws from its own stream, derived from the fleet seed and its id, so the
 * same seed gives the same output whatever else runs in the process.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

type Generator = ReturnType<typeof xoroshiro128plus>;

/** FNV-1a, 32 bit: a stable number from a label. */
export function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  private readonly gen: Generator;
  private spare: number | undefined;

  /** A stream for `seed` and an optional label (device id, purpose). */
  constructor(seed: number, label = '') {
    this.gen = xoroshiro128plus((seed ^ hashLabel(label)) | 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return Math.min(max, Math.floor(this.uniform(min, max + 1)));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Normal(mean, sd) by Box–Muller. */
  normal(mean = 0, sd = 1): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return mean + sd * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** A child stream for a purpose, independent of this one's future draws. */
  fork(label: string): Rng {
    return new Rng(this.int(0, 2 ** 31 - 1), label);
  }
}
