import { describe, expect, it } from 'vitest';
import { chooseZoneCount, clusterCells, fuzzyScores, majorityFilter, normalise, sieve } from '@hatake/vrt';

/** A grid from rows of digits (0 = outside). */
const grid = (rows: string[]): { labels: Uint8Array; w: number; h: number } => ({ labels: Uint8Array.from(rows.join('').split('').map(Number)), w: rows[0]!.length, h: rows.length });
const show = (labels: Uint8Array, w: number): string[] => Array.from({ length: labels.length / w }, (_, r) => [...labels.slice(r * w, (r + 1) * w)].join(''));

describe('zone count by FPI and NCE', () => {
  it('is 0 for crisp memberships and grows as points sit between centres', () => {
    const centres = [[0], [10]];
    expect(fuzzyScores([[0], [10], [0], [10]], centres)).toEqual({ fpi: 0, nce: 0 });
    const between = fuzzyScores([[5], [5]], centres);
    expect(between.fpi).toBeCloseTo(1, 9); // all memberships 0.5: maximally fuzzy
    expect(between.nce).toBeCloseTo(1, 9);
    const near = fuzzyScores([[1], [9]], centres);
    expect(near.fpi).toBeGreaterThan(0);
    expect(near.fpi).toBeLessThan(between.fpi);
  });

  it('picks the count with the lowest sum of ranks, ties to fewer zones', () => {
    expect(chooseZoneCount([{ zones: 2, fpi: 0.3, nce: 0.3 }, { zones: 3, fpi: 0.1, nce: 0.2 }, { zones: 4, fpi: 0.2, nce: 0.1 }])).toBe(3);
    expect(chooseZoneCount([{ zones: 2, fpi: 0.1, nce: 0.2 }, { zones: 3, fpi: 0.2, nce: 0.1 }])).toBe(2);
  });

  it('finds three well separated groups, and the same labels for the same seed', () => {
    const n = 300;
    const a = new Float32Array(n), b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const g = i % 3;
      a[i] = g * 10 + ((i * 7919) % 13) / 13;
      b[i] = (g === 1 ? 5 : 0) + ((i * 104729) % 11) / 11;
    }
    const valid = new Uint8Array(n).fill(1);
    const features = normalise([a, b], valid);
    const one = clusterCells(features, valid, 'auto', 1);
    expect(one.zones).toBe(3);
    expect(one.scores.map((s) => s.zones)).toEqual([2, 3, 4, 5]);
    // every member of a group has one label, and groups differ
    const byGroup = [0, 1, 2].map((g) => new Set([...one.labels].filter((_, i) => i % 3 === g)));
    expect(byGroup.map((s) => s.size)).toEqual([1, 1, 1]);
    expect(new Set(byGroup.map((s) => [...s][0])).size).toBe(3);
    expect(clusterCells(features, valid, 'auto', 1).labels).toEqual(one.labels);
    expect(clusterCells(features, valid, 2, 1).zones).toBe(2);
  });

  it('leaves cells without features unlabelled, and copes with a constant field', () => {
    const valid = Uint8Array.from([1, 1, 0, 1]);
    const features = normalise([Float32Array.from([5, 5, NaN, 5])], valid);
    const c = clusterCells(features, valid, 'auto', 1);
    expect(c.zones).toBe(1);
    expect([...c.labels]).toEqual([1, 1, 0, 1]);
  });
});

describe('cleaning zones for a spreader', () => {
  it('the majority filter removes a lone cell and leaves the outside alone', () => {
    const g = grid(['11111', '11211', '11111', '00000']);
    expect(show(majorityFilter(g.labels, g.w, g.h), g.w)).toEqual(['11111', '11111', '11111', '00000']);
  });

  it('the sieve merges parts below the minimum into the neighbour with the longest border', () => {
    const g = grid(['1111333', '1122333', '1122333', '1111333']);
    // the 2-block (4 cells) borders 1 on 6 edges and 3 on 2 edges
    expect(show(sieve(g.labels, g.w, g.h, 5), g.w)).toEqual(['1111333', '1111333', '1111333', '1111333']);
    expect(show(sieve(g.labels, g.w, g.h, 4), g.w)).toEqual(['1111333', '1122333', '1122333', '1111333']);
  });

  it('a small part with no labelled neighbour stays', () => {
    const g = grid(['100', '000', '002']);
    expect(show(sieve(g.labels, g.w, g.h, 3), g.w)).toEqual(['100', '000', '002']);
  });
});
