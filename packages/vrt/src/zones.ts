/**
 * Management zones: k-means on the normalised layer stack, the number of
 * zones chosen by FPI and NCE when automatic (Fridgen et al. 2004, MZA), then
 * cleaned so a spreader can follow them: a 3 × 3 majority filter and a sieve
 * that merges every part smaller than the minimum into its neighbour.
 */
import { kmeans } from 'ml-kmeans';

/** Fuzziness exponent for FPI and NCE, MZA's default. */
export const FUZZINESS = 1.3;
/** Most cells the clustering is fitted on; the rest are assigned to the nearest centre. */
export const FIT_SAMPLE = 20_000;

/** How the number of zones was chosen, per candidate count. */
export interface ZoneCountScore {
  zones: number;
  /** Fuzziness performance index, 0 (crisp) … 1. */
  fpi: number;
  /** Normalised classification entropy, 0 (crisp) … 1. */
  nce: number;
}

/** Clustering result: a label 1..k per cell (0 where a cell has no features). */
export interface Clustering {
  labels: Uint8Array;
  zones: number;
  scores: ZoneCountScore[];
}

/** Each column standardised to mean 0 and standard deviation 1 over valid cells (a constant column becomes 0). */
export function normalise(columns: Float32Array[], valid: Uint8Array): Float32Array[] {
  return columns.map((col) => {
    let n = 0, sum = 0, sq = 0;
    for (let i = 0; i < col.length; i++) if (valid[i]) {
      n++;
      sum += col[i]!;
      sq += col[i]! * col[i]!;
    }
    const mean = n ? sum / n : 0;
    const sd = n ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : 0;
    const out = new Float32Array(col.length);
    for (let i = 0; i < col.length; i++) out[i] = valid[i] && sd > 1e-12 ? (col[i]! - mean) / sd : 0;
    return out;
  });
}

/** Fuzzy memberships of points to fixed centres (fuzzy c-means formula), then FPI and NCE. */
export function fuzzyScores(points: number[][], centroids: number[][], m = FUZZINESS): { fpi: number; nce: number } {
  const c = centroids.length;
  const n = points.length;
  const exp = 2 / (m - 1);
  let sumSq = 0, entropy = 0;
  const d = new Float64Array(c);
  for (const p of points) {
    let zero = -1;
    for (let k = 0; k < c; k++) {
      let s = 0;
      for (let j = 0; j < p.length; j++) s += (p[j]! - centroids[k]![j]!) ** 2;
      d[k] = Math.sqrt(s);
      if (d[k] === 0) zero = k;
    }
    for (let k = 0; k < c; k++) {
      let u: number;
      if (zero >= 0) u = k === zero ? 1 : 0;
      else {
        let denom = 0;
        for (let l = 0; l < c; l++) denom += (d[k]! / d[l]!) ** exp;
        u = 1 / denom;
      }
      sumSq += u * u;
      if (u > 0) entropy -= u * Math.log(u);
    }
  }
  // F = Σu²/n (partition coefficient); FPI = 1 − (c·F − 1)/(c − 1); NCE = (−Σ u·ln u / n) / ln c
  const fpi = 1 - (c * (sumSq / n) - 1) / (c - 1);
  const nce = entropy / n / Math.log(c);
  return { fpi, nce };
}

/** The candidate with both indices lowest: the sum of its ranks by FPI and by NCE, ties to fewer zones (MZA's reading of Fridgen et al.). */
export function chooseZoneCount(scores: ZoneCountScore[]): number {
  const rank = (key: 'fpi' | 'nce'): Map<number, number> => new Map([...scores].sort((a, b) => a[key] - b[key]).map((s, i) => [s.zones, i]));
  const byFpi = rank('fpi'), byNce = rank('nce');
  return [...scores].sort((a, b) => byFpi.get(a.zones)! + byNce.get(a.zones)! - (byFpi.get(b.zones)! + byNce.get(b.zones)!) || a.zones - b.zones)[0]!.zones;
}

/** k-means zones of the valid cells; `zones` fixed or 'auto' (2–5 by FPI/NCE). Deterministic for a seed. */
export function clusterCells(features: Float32Array[], valid: Uint8Array, zones: number | 'auto', seed: number): Clustering {
  const idx: number[] = [];
  for (let i = 0; i < valid.length; i++) if (valid[i]) idx.push(i);
  const labels = new Uint8Array(valid.length);
  if (idx.length === 0) return { labels, zones: 0, scores: [] };
  const point = (i: number): number[] => features.map((f) => f[i]!);
  const stride = Math.max(1, Math.ceil(idx.length / FIT_SAMPLE));
  const sample: number[][] = [];
  for (let s = 0; s < idx.length; s += stride) sample.push(point(idx[s]!));
  const distinct = new Set(sample.map((p) => p.join(','))).size;
  const candidates = zones === 'auto' ? [2, 3, 4, 5] : [zones];
  const usable = candidates.filter((k) => k <= distinct);
  const fits = (usable.length ? usable : [Math.max(1, Math.min(distinct, candidates[0]!))]).map((k) => {
    const centroids = k === 1 ? [features.map(() => 0)] : kmeans(sample, k, { seed, initialization: 'kmeans++', maxIterations: 100 }).centroids;
    const score = k === 1 ? { fpi: 0, nce: 0 } : fuzzyScores(sample, centroids);
    return { k, centroids, score: { zones: k, ...score } };
  });
  const chosen = zones === 'auto' && fits.length > 1 ? chooseZoneCount(fits.map((f) => f.score)) : fits[0]!.k;
  const { centroids } = fits.find((f) => f.k === chosen)!;
  for (const i of idx) {
    let best = 0, bestD = Infinity;
    for (let k = 0; k < centroids.length; k++) {
      let s = 0;
      for (let j = 0; j < features.length; j++) s += (features[j]![i]! - centroids[k]![j]!) ** 2;
      if (s < bestD) {
        bestD = s;
        best = k;
      }
    }
    labels[i] = best + 1;
  }
  return { labels, zones: chosen, scores: fits.map((f) => f.score) };
}

/** One pass of a 3 × 3 majority filter over labelled cells (0 = outside, never changed or counted); a tie keeps the cell's label. */
export function majorityFilter(labels: Uint8Array, width: number, height: number): Uint8Array {
  const out = labels.slice();
  const counts = new Uint16Array(256);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const own = labels[r * width + c]!;
      if (!own) continue;
      const seen: number[] = [];
      for (let dr = -1; dr <= 1; dr++) {
        const rr = r + dr;
        if (rr < 0 || rr >= height) continue;
        for (let dc = -1; dc <= 1; dc++) {
          const cc = c + dc;
          if (cc < 0 || cc >= width) continue;
          const l = labels[rr * width + cc]!;
          if (!l) continue;
          if (counts[l] === 0) seen.push(l);
          counts[l] = counts[l]! + 1;
        }
      }
      let best = own;
      for (const l of seen) if (counts[l]! > counts[best]!) best = l;
      out[r * width + c] = best;
      for (const l of seen) counts[l] = 0;
    }
  }
  return out;
}

/**
 * Merges every 4-connected part with fewer than `minCells` cells into the
 * neighbouring label it shares the longest border with (like GDAL's sieve),
 * smallest parts first, until none is left or nothing can merge (a part with
 * no labelled neighbour stays).
 */
export function sieve(labels: Uint8Array, width: number, height: number, minCells: number): Uint8Array {
  const out = labels.slice();
  if (minCells <= 1) return out;
  for (let pass = 0; pass < 8; pass++) {
    const comp = new Int32Array(out.length).fill(-1);
    const parts: { label: number; cells: number[] }[] = [];
    const stack: number[] = [];
    for (let s = 0; s < out.length; s++) {
      if (!out[s] || comp[s] !== -1) continue;
      const id = parts.length;
      const cells: number[] = [];
      comp[s] = id;
      stack.push(s);
      while (stack.length) {
        const i = stack.pop()!;
        cells.push(i);
        const r = (i / width) | 0, c = i - r * width;
        for (const j of [c > 0 ? i - 1 : -1, c < width - 1 ? i + 1 : -1, r > 0 ? i - width : -1, r < height - 1 ? i + width : -1]) {
          if (j >= 0 && comp[j] === -1 && out[j] === out[s]) {
            comp[j] = id;
            stack.push(j);
          }
        }
      }
      parts.push({ label: out[s]!, cells });
    }
    const small = parts.map((p, id) => ({ ...p, id })).filter((p) => p.cells.length < minCells).sort((a, b) => a.cells.length - b.cells.length);
    if (small.length === 0) break;
    let merged = 0;
    const changed = new Set<number>(); // parts whose cells changed this pass: their borders are stale
    for (const p of small) {
      if (changed.has(p.id)) continue;
      const border = new Map<number, number>();
      for (const i of p.cells) {
        const r = (i / width) | 0, c = i - r * width;
        for (const j of [c > 0 ? i - 1 : -1, c < width - 1 ? i + 1 : -1, r > 0 ? i - width : -1, r < height - 1 ? i + width : -1]) {
          if (j < 0 || !out[j] || comp[j] === p.id) continue;
          border.set(comp[j]!, (border.get(comp[j]!) ?? 0) + 1);
        }
      }
      let target = -1, best = 0;
      for (const [part, len] of border) if (len > best || (len === best && parts[part]!.cells.length > parts[target]!.cells.length)) [target, best] = [part, len];
      if (target < 0 || changed.has(target)) continue;
      for (const i of p.cells) {
        out[i] = parts[target]!.label;
        comp[i] = target;
      }
      parts[target]!.cells.push(...p.cells);
      changed.add(p.id);
      merged++;
    }
    if (merged === 0) break;
  }
  return out;
}
