/**
 * Aligns a layer onto the working grid. Each grid node (cell corner) is
 * transformed once into the layer's pixel space; inside a cell, positions are
 * interpolated between its four corners, so any CRS pair costs one proj4
 * transform per node, not per sample.
 *
 * - A layer finer than the grid (more than ~1.5 pixels per cell side) is
 *   averaged over the cell's footprint: n × n samples (n = pixels per cell
 *   side, at most 16), each the pixel it falls in, nodata skipped.
 * - A coarser layer is interpolated bilinearly at the cell centre, the
 *   weights of nodata neighbours dropped and the rest renormalised.
 *
 * Only cells inside the field are computed. The layer is read in row bands
 * (window reads, about `bandRows` source rows at a time), never whole.
 */
import type { AlignJob } from './align-worker.ts';
import { transformer } from './crs.ts';
import { startWorker } from './worker.ts';
import { VRT_ERRORS, VrtError, type VrtErrorCode } from './errors.ts';
import type { Raster } from './raster.ts';
import type { Grid } from './types.ts';

/** Options of {@link alignLayer}. */
export interface AlignOptions {
  /** Source rows read per window (rounded up to whole blocks); default 1024. */
  bandRows?: number;
  /** Called after each band with the share of grid rows done. */
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

/** What aligning found, for the summary's provenance. */
export interface AlignStats {
  method: 'average' | 'bilinear';
  /** Source pixels per grid cell side (mean). */
  pixelsPerCell: number;
  /** Field cells that got a value. */
  validCells: number;
}

/** The pixel-space position of every grid node: [px, py] pairs, (width+1)·(height+1) of them, row-major. */
function nodePixels(grid: Grid, raster: Raster): Float64Array {
  const nx = grid.width + 1;
  const ny = grid.height + 1;
  const xy = new Float64Array(nx * ny * 2);
  for (let r = 0; r < ny; r++) {
    for (let c = 0; c < nx; c++) {
      const i = (r * nx + c) * 2;
      xy[i] = grid.originX + c * grid.cellSize;
      xy[i + 1] = grid.originY - r * grid.cellSize;
    }
  }
  transformer(grid.epsg, raster.epsg).forwardAll(xy);
  const [t0, t1, , t3, , t5] = raster.transform;
  for (let i = 0; i < xy.length; i += 2) {
    xy[i] = (xy[i]! - t0) / t1;
    xy[i + 1] = (xy[i + 1]! - t3) / t5;
  }
  return xy;
}

/** The layer's values on the grid (NaN outside the field, outside the layer, or where it has no data). */
export async function alignLayer(raster: Raster, grid: Grid, mask: Uint8Array, opts: AlignOptions = {}): Promise<{ values: Float32Array; stats: AlignStats }> {
  const { width: W, height: H } = grid;
  const nx = W + 1;
  const nodes = nodePixels(grid, raster);
  const out = new Float32Array(W * H).fill(NaN);
  // pixels per cell side, from the grid's diagonal in pixel space
  const last = (H * nx + W) * 2;
  const diagPx = Math.hypot(nodes[last]! - nodes[0]!, nodes[last + 1]! - nodes[1]!);
  const pixelsPerCell = diagPx / Math.hypot(W, H);
  const average = pixelsPerCell > 1.5;
  const n = average ? Math.min(16, Math.ceil(pixelsPerCell)) : 0;
  const block = Math.max(1, raster.blockHeight);
  const bandRows = Math.ceil((opts.bandRows ?? 1024) / block) * block;
  const rowsPerBand = Math.max(1, Math.floor(bandRows / Math.max(pixelsPerCell, 1e-9)));
  let valid = 0;

  for (let r0 = 0; r0 < H; r0 += rowsPerBand) {
    opts.signal?.throwIfAborted();
    const r1 = Math.min(H, r0 + rowsPerBand);
    // the source window these grid rows need (plus one pixel for bilinear)
    let px0 = Infinity, px1 = -Infinity, py0 = Infinity, py1 = -Infinity;
    let any = false;
    for (let r = r0; r < r1; r++) {
      for (let c = 0; c < W; c++) {
        if (!mask[r * W + c]) continue;
        any = true;
        for (const k of [r * nx + c, r * nx + c + 1, (r + 1) * nx + c, (r + 1) * nx + c + 1]) {
          const x = nodes[k * 2]!, y = nodes[k * 2 + 1]!;
          if (x < px0) px0 = x;
          if (x > px1) px1 = x;
          if (y < py0) py0 = y;
          if (y > py1) py1 = y;
        }
      }
    }
    const x0 = Math.max(0, Math.floor(px0) - 1), x1 = Math.min(raster.width, Math.ceil(px1) + 1);
    const y0 = Math.max(0, Math.floor(py0) - 1), y1 = Math.min(raster.height, Math.ceil(py1) + 1);
    if (!any || x0 >= x1 || y0 >= y1) {
      opts.onProgress?.(r1 / H);
      continue;
    }
    const ww = x1 - x0;
    const win = await raster.read(x0, y0, x1, y1);
    const at = (px: number, py: number): number => {
      const ix = Math.floor(px) - x0, iy = Math.floor(py) - y0;
      return ix < 0 || iy < 0 || ix >= ww || iy >= y1 - y0 ? NaN : win[iy * ww + ix]!;
    };
    for (let r = r0; r < r1; r++) {
      for (let c = 0; c < W; c++) {
        const cell = r * W + c;
        if (!mask[cell]) continue;
        const a = (r * nx + c) * 2, b = a + 2, d = a + nx * 2, e = d + 2; // NW, NE, SW, SE corners
        let v: number;
        if (average) {
          let sum = 0, count = 0;
          for (let j = 0; j < n; j++) {
            const fy = (j + 0.5) / n;
            // left and right edges at this height
            const lx = nodes[a]! + (nodes[d]! - nodes[a]!) * fy, ly = nodes[a + 1]! + (nodes[d + 1]! - nodes[a + 1]!) * fy;
            const rx = nodes[b]! + (nodes[e]! - nodes[b]!) * fy, ry = nodes[b + 1]! + (nodes[e + 1]! - nodes[b + 1]!) * fy;
            for (let i = 0; i < n; i++) {
              const fx = (i + 0.5) / n;
              const s = at(lx + (rx - lx) * fx, ly + (ry - ly) * fx);
              if (s === s) {
                sum += s;
                count++;
              }
            }
          }
          v = count > 0 ? sum / count : NaN;
        } else {
          // bilinear at the centre, in pixel-centre coordinates
          const cx = (nodes[a]! + nodes[b]! + nodes[d]! + nodes[e]!) / 4 - 0.5;
          const cy = (nodes[a + 1]! + nodes[b + 1]! + nodes[d + 1]! + nodes[e + 1]!) / 4 - 0.5;
          const i0 = Math.floor(cx), j0 = Math.floor(cy);
          const tx = cx - i0, ty = cy - j0;
          let sum = 0, wsum = 0;
          for (const [di, dj, w] of [[0, 0, (1 - tx) * (1 - ty)], [1, 0, tx * (1 - ty)], [0, 1, (1 - tx) * ty], [1, 1, tx * ty]] as const) {
            if (w === 0) continue;
            const s = at(i0 + di + 0.5, j0 + dj + 0.5);
            if (s === s) {
              sum += s * w;
              wsum += w;
            }
          }
          v = wsum > 1e-9 ? sum / wsum : NaN;
        }
        out[cell] = v;
        if (v === v) valid++;
      }
    }
    opts.onProgress?.(r1 / H);
  }
  return { values: out, stats: { method: average ? 'average' : 'bilinear', pixelsPerCell, validCells: valid } };
}

/**
 * {@link alignLayer} split over `workers` threads by grid rows, each opening
 * the file itself: decoding (most of the time for a large layer) runs on
 * every core. The result is identical to one thread's.
 */
export async function alignLayerInWorkers(path: string, name: string, grid: Grid, mask: Uint8Array, opts: AlignOptions & { workers: number; maxCells?: number | undefined }): Promise<{ values: Float32Array; stats: AlignStats }> {
  const { width: W, height: H } = grid;
  const n = Math.max(1, Math.min(opts.workers, H));
  const done = new Array<number>(n).fill(0);
  const parts = await Promise.all(
    Array.from({ length: n }, (_, k) => {
      const r0 = Math.floor((k * H) / n), r1 = Math.floor(((k + 1) * H) / n);
      const part = new Uint8Array(mask.length);
      part.set(mask.subarray(r0 * W, r1 * W), r0 * W);
      const job: AlignJob = { path, name, maxCells: opts.maxCells, grid, mask: part, bandRows: opts.bandRows };
      return new Promise<{ values: Float32Array; stats: AlignStats; r0: number; r1: number }>((resolve, reject) => {
        const worker = startWorker('align-worker', job, { transferList: [part.buffer] });
        const abort = (): void => void worker.terminate();
        opts.signal?.addEventListener('abort', abort, { once: true });
        let result: { values: Float32Array; stats: AlignStats } | undefined;
        let failure: Error | undefined;
        worker.on('message', (m: { progress?: number; values?: Float32Array; stats?: AlignStats; error?: { code?: unknown; message: string } }) => {
          if (m.error) {
            const { code, message } = m.error;
            failure = typeof code === 'string' && code in VRT_ERRORS ? new VrtError(code as VrtErrorCode, message) : new Error(`align worker for ${name}: ${message}`);
          } else if (m.progress !== undefined) {
            done[k] = m.progress;
            opts.onProgress?.(done.reduce((a, b) => a + b, 0) / n);
          } else result = { values: m.values!, stats: m.stats! };
        });
        worker.on('error', (err: Error) => (failure ??= err));
        worker.on('exit', (code) => {
          opts.signal?.removeEventListener('abort', abort);
          if (result) resolve({ ...result, r0, r1 });
          else if (failure) reject(failure);
          else if (opts.signal?.aborted) reject(opts.signal.reason);
          else reject(new Error(`align worker for ${name} exited with code ${code} and no result`));
        });
      });
    }),
  );
  const values = new Float32Array(W * H).fill(NaN);
  for (const p of parts) values.set(p.values.subarray(p.r0 * W, p.r1 * W), p.r0 * W);
  const stats = { ...parts[0]!.stats, validCells: parts.reduce((s, p) => s + p.stats.validCells, 0) };
  return { values, stats };
}
