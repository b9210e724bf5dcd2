/**
 * The prescription benchmark: a 10,000 × 10,000 yield raster (1 m over
 * 100 km² of fields) and three coarser layers in other CRSs, inputs to every
 * output, in one process; wall time and peak RSS against GDAL's pipeline for
 * the same work on this machine (37 s, 1.47 GB).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fmt, line } from './format.ts';

const run = promisify(execFile);
const node = (script: string, args: string[]): Promise<{ stdout: string }> =>
  run(process.execPath, ['--conditions=@hatake/source', '--import', 'tsx', new URL(`./bin/${script}`, import.meta.url).pathname, ...args], { maxBuffer: 1 << 20 });

/** Generates the stack, runs it, prints the figures. */
export async function benchPrescription(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hatake-vrt-bench-'));
  try {
    const genStart = performance.now();
    const sizes = JSON.parse((await node('prescription-stack.ts', [dir])).stdout) as Record<string, string>;
    line('prescription.stack generated', `yield ${sizes['yield']} float32 tiled DEFLATE, moisture ${sizes['moisture']} (JGD2011 XII), ndvi ${sizes['ndvi']} (WGS84), organic ${sizes['organic']} in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);
    const r = JSON.parse((await node('prescription-run.ts', [dir, join(dir, 'out')])).stdout) as { seconds: number; peakRssMb: number; areaHa: number; cells: number; zones: number; savingsPercent: number; files: number };
    line('prescription.run 10,000² yield + 3 layers → every output', `${r.seconds.toFixed(1)} s wall, peak RSS ${fmt(r.peakRssMb)} MB (target ≤ 37 s, ≤ 1,536 MB; GDAL here: 37 s, 1.47 GB); ${fmt(r.areaHa)} ha in ${fmt(r.cells)} cells of 24 m, ${r.zones} zones, savings ${r.savingsPercent.toFixed(1)} %, ${r.files} files`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
