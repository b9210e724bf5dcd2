/**
 * The nanosecond keys that make a rewrite idempotent: the text form used on
 * the hot path equals the BigInt definition for every time and discriminator.
 */
import { expect, it } from 'vitest';
import { nanoKey, nanoKeyText } from '@hatake/store';

it('nanoKeyText is nanoKey as text, for ordinary, edge and hostile values', () => {
  let x = 42; // a seeded LCG: the same cases every run
  const next = (): number => (x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
  const cases: [number, number][] = [
    [1, 0],
    [0, 5],
    [-1000, 7],
    [1_795_448_354_052, 999_999],
    [1_795_448_354_052, 1_000_000],
    [1_795_448_354_052, -1],
    [1_795_448_354_052.9, 12],
    [Number.MAX_SAFE_INTEGER, 3],
  ];
  for (let i = 0; i < 10_000; i++) cases.push([Math.floor(next() * 4e12) - 1e12, Math.floor(next() * 4e6) - 2e6]);
  for (const [t, d] of cases) expect(nanoKeyText(t, d)).toBe(nanoKey(t, d).toString());
});
