/**
 * `hatake prescription` as an agronomist meets it: the sample stack in, every
 * output and a readable summary out (as a program); bad input refused with its
 * code and exit code 2 (through the same command function, in this process).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '@hatake/testkit';
import { prescriptionCommand } from '../src/prescription.ts';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const IN = fileURLToPath(new URL('../../../packages/vrt/test/fixtures/in/', import.meta.url));
const hatake = (args: string[]) => run('node', ['--conditions=@hatake/source', '--import', 'tsx', main, 'prescription', ...args], { timeoutMs: 60_000 });
let dir: string;

/** Runs the command in this process, its output captured. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stream = (sink: string[]): NodeJS.WriteStream => ({ isTTY: false, write: (chunk: string) => sink.push(chunk) > 0 }) as unknown as NodeJS.WriteStream;
  const code = await prescriptionCommand(args, { stdout: stream(out), stderr: stream(err) });
  return { code, stdout: out.join(''), stderr: err.join('') };
}
const stack = (over: Record<string, string> = {}): string[] => Object.entries({ yield: 'yield.tif', moisture: 'moisture.tif', ndvi: 'ndvi.tif', organic: 'organic.tif', field: 'field.geojson', ...over }).flatMap(([k, f]) => [`--${k}`, join(IN, f)]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hatake-cli-rx-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('hatake prescription', () => {
  it('writes every output and prints the zones, totals and savings', async () => {
    const out = join(dir, 'ok');
    const r = await hatake([...stack(), '--out', out, '--working-width', '12', '--max-rate', '300', '--profiles', 'isobus,generic-shapefile,john-deere']);
    expect(r.stderr).toContain('aligning yield');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/zone\s+rate kg\/ha\s+N kg\/ha\s+area ha\s+product kg/);
    expect(r.stdout).toMatch(/savings\s+[\d,.]+ kg \([\d.]+ %\) against the uniform rate/);
    expect(r.stdout).toMatch(/john-deere\s+ok → terminals\/john-deere.zip/);
    expect((await readdir(out)).sort()).toEqual(['TASKDATA.zip', 'prescription.tif', 'preview.png', 'shapefile.zip', 'summary.json', 'terminals', 'zones.geojson']);
  });

  it.each([
    ['not a TIFF', stack({ yield: 'not-a-tiff.tif' }), /HATAKE_ERR_VRT_RASTER: layer 'yield'/],
    ['a truncated TIFF', stack({ moisture: 'truncated.tif' }), /HATAKE_ERR_VRT_RASTER: layer 'moisture'/],
    ['a header claiming 10⁶ × 10⁶ cells', stack({ yield: 'huge-header.tif' }), /HATAKE_ERR_VRT_RASTER_SIZE/],
    ['no georeferencing', stack({ ndvi: 'no-georef.tif' }), /HATAKE_ERR_VRT_GEOREF/],
    ['an unknown CRS', stack({ organic: 'unknown-crs.tif' }), /HATAKE_ERR_VRT_CRS/],
    ['rasters that do not overlap the field', stack({ yield: 'far-away.tif' }), /HATAKE_ERR_VRT_NO_OVERLAP: yield/],
    ['a boundary that is not a polygon', stack({ field: 'yield.tif' }), /HATAKE_ERR_VRT_BOUNDARY/],
    ['min above max', [...stack(), '--min-rate', '300', '--max-rate', '100'], /minRate \(300 kg\/ha\) is above maxRate \(100 kg\/ha\)/],
    ['a number that is not one', [...stack(), '--working-width', 'wide'], /workingWidth must be 1–100 m \(got null\)/],
    ['an unknown terminal profile', [...stack(), '--profiles', 'tractor-9000'], /unknown terminal profile\(s\) tractor-9000/],
    ['a missing required layer', stack().slice(2), /missing --yield/],
  ])('%s: exit code 2 and the reason', async (_, args, why) => {
    // in-process (the spawn above covers the command as a program): the same function main.ts calls
    const r = await inProcess([...args, '--out', join(dir, 'bad')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
  });
});
