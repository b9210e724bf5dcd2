/**
 * The whole engine on the sample stack (test/fixtures/in: four layers in four
 * CRSs, resolutions and encodings, and the Iwamizawa sample field): golden
 * outputs (REGEN=1 rewrites test/fixtures/out), the mass balance and savings
 * recomputed from the files, every output read back by an independent reader,
 * and each bad input refused with its code.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromArrayBuffer } from 'geotiff';
import { ISOXMLManager, type ExtendedGrid, type ExtendedTask } from 'isoxml';
import JSZip from 'jszip';
import { open as openShapefile } from 'shapefile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignLayer, fieldGrid, fieldMask, openRaster, parseField, runPrescription, transformer, type RunResult } from '@hatake/vrt';
import { moisturePct, ndvi, yieldTHa, inYieldHole } from './fixtures/in/functions.ts';

const IN = new URL('./fixtures/in/', import.meta.url).pathname;
const OUT = new URL('./fixtures/out/', import.meta.url).pathname;
const regen = process.env['REGEN'] === '1';
const layers = { yield: join(IN, 'yield.tif'), moisture: join(IN, 'moisture.tif'), ndvi: join(IN, 'ndvi.tif'), organic: join(IN, 'organic.tif') };
const params = { workingWidth: 12, minZoneCells: 3, maxRate: 300, rateStep: 5 };
let field: unknown;
let dir: string;
let result: RunResult;

beforeAll(async () => {
  field = JSON.parse(await readFile(join(IN, 'field.geojson'), 'utf8'));
  dir = await mkdtemp(join(tmpdir(), 'hatake-vrt-run-'));
  result = await runPrescription({ ...layers, field }, params, { outDir: dir, title: 'Kitamura north', profiles: ['isobus', 'generic-shapefile', 'raven'] });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Compares with a golden file, or rewrites it with REGEN=1. */
async function golden(name: string, actual: string): Promise<void> {
  if (regen) await writeFile(join(OUT, name), actual);
  expect(actual).toBe(await readFile(join(OUT, name), 'utf8'));
}

const readTiff = async (name: string): Promise<{ values: Float32Array; width: number; height: number; origin: number[]; resolution: number[]; nodata: number | null; epsg: number | undefined }> => {
  const bytes = await readFile(join(dir, name));
  const image = await (await fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer)).getImage();
  const [values] = (await image.readRasters({ interleave: false })) as unknown as Float32Array[];
  return { values: values!, width: image.getWidth(), height: image.getHeight(), origin: image.getOrigin(), resolution: image.getResolution(), nodata: image.getGDALNoData(), epsg: (image.getGeoKeys() as { ProjectedCSTypeGeoKey?: number }).ProjectedCSTypeGeoKey };
};

describe('a prescription from the sample stack', () => {
  it('matches the golden zones, rates and summary', async () => {
    const s = result.summary;
    const stable = { ...s, generatedAt: '(volatile)', inputs: Object.fromEntries(Object.entries(s.inputs).map(([k, v]) => [k, { ...v, source: v.source.split('/').pop() }])), outputs: s.outputs.map((f) => ({ name: f.name, contentType: f.contentType })) };
    await golden('summary.json', `${JSON.stringify(stable, null, 2)}\n`);
    const tif = await readTiff('prescription.tif');
    const rows = Array.from({ length: tif.height }, (_, r) => Array.from(tif.values.subarray(r * tif.width, (r + 1) * tif.width), (v) => (v === -9999 ? '   .' : String(v).padStart(4))).join(''));
    await golden('prescription.txt', `${rows.join('\n')}\n`);
    await golden('zones.geojson', `${JSON.stringify(JSON.parse(await readFile(join(dir, 'zones.geojson'), 'utf8')), null, 1)}\n`);
  });

  it('chose its zones by FPI/NCE among 2–5, numbered by rate, and the mass balance holds', () => {
    const s = result.summary;
    expect(s.zoning.chosen).toBe('auto');
    expect(s.zoning.scores.map((z) => z.zones)).toEqual([2, 3, 4, 5]);
    expect(s.zones.length).toBeGreaterThanOrEqual(2);
    expect(s.zones.map((z) => z.id)).toEqual(s.zones.map((_, i) => i + 1));
    for (let i = 1; i < s.zones.length; i++) expect(s.zones[i]!.rate).toBeGreaterThanOrEqual(s.zones[i - 1]!.rate);
    const sumKg = s.zones.reduce((a, z) => a + z.productKg, 0);
    expect(sumKg).toBeCloseTo(s.totalProductKg, 6);
    expect(s.zones.reduce((a, z) => a + z.areaHa, 0)).toBeCloseTo(s.areaHa, 9);
    expect(s.massBalance.holds).toBe(true);
    // every zone's product is its rate over its area, rates on the step and inside the limits
    for (const z of s.zones) {
      expect(z.productKg).toBeCloseTo(z.rate * z.areaHa, 6);
      expect(z.rate % 5).toBe(0);
      expect(z.rate).toBeLessThanOrEqual(300);
      expect(z.nRate).toBeCloseTo(z.rate * 0.46, 9);
    }
    // savings against the uniform rate, recomputed
    expect(s.savings.productKg).toBeCloseTo(s.uniform.rateKgHa * s.areaHa - s.totalProductKg, 6);
    expect(s.savings.percent).toBeCloseTo((s.savings.productKg / (s.uniform.rateKgHa * s.areaHa)) * 100, 6);
    // the eastern half got 20 t/ha of manure: a credit of 20 × 5 × 0.3 = 30 kg N/ha there, and a saving overall
    expect(s.nitrogen.organicCreditKg).toBeGreaterThan(0);
    expect(s.savings.productKg).toBeGreaterThan(0);
    // the field's polygon area and its cells agree to within the cells along the edge
    expect(Math.abs(s.areaHa - s.fieldAreaHa) / s.fieldAreaHa).toBeLessThan(0.05);
  });

  it('the GeoTIFF read back by geotiff.js has the grid, CRS, nodata and the same product total', async () => {
    const s = result.summary;
    const tif = await readTiff('prescription.tif');
    expect([tif.width, tif.height]).toEqual([s.grid.width, s.grid.height]);
    expect(tif.origin.slice(0, 2)).toEqual([s.grid.originX, s.grid.originY]);
    expect(tif.resolution.slice(0, 2)).toEqual([12, -12]);
    expect(tif.epsg).toBe(32654);
    expect(tif.nodata).toBe(-9999);
    let kg = 0, cells = 0;
    for (const v of tif.values) if (v !== -9999) {
      kg += v * 0.0144;
      cells++;
    }
    expect(cells).toBe(s.cells);
    expect(kg).toBeCloseTo(s.totalProductKg, 6);
  });

  it('the zones GeoJSON covers the prescribed cells with one valid feature per zone', async () => {
    const fc = JSON.parse(await readFile(join(dir, 'zones.geojson'), 'utf8')) as { features: { properties: { zone: number; rate: number; areaHa: number } }[] };
    expect(fc.features.map((f) => f.properties.zone)).toEqual(result.summary.zones.map((z) => z.id));
    expect(fc.features.map((f) => f.properties.rate)).toEqual(result.summary.zones.map((z) => z.rate));
  });

  it('the Shapefile read back by the shapefile reader has every zone with its rate', async () => {
    const zip = await JSZip.loadAsync(await readFile(join(dir, 'shapefile.zip')));
    expect(Object.keys(zip.files).sort()).toEqual(['RX.dbf', 'RX.prj', 'RX.shp', 'RX.shx']);
    const src = await openShapefile(await zip.file('RX.shp')!.async('uint8array'), await zip.file('RX.dbf')!.async('uint8array'));
    const rates: number[] = [];
    for (let r = await src.read(); !r.done; r = await src.read()) rates.push((r.value.properties as { RATE: number }).RATE);
    expect(rates).toEqual(result.summary.zones.map((z) => z.rate));
    expect(result.summary.profiles['raven']).toMatchObject({ ok: true, file: 'terminals/raven.zip' });
  });

  it('the ISOXML parsed back by isoxml has a type-2 grid of DDI 6 whose bytes and values are the rates in mg/m²', async () => {
    const manager = new ISOXMLManager();
    await manager.parseISOXMLFile(new Uint8Array(await readFile(join(dir, 'TASKDATA.zip'))), 'application/zip');
    const task = manager.rootElement.attributes.Task![0] as ExtendedTask;
    const grid = task.attributes.Grid![0] as ExtendedGrid;
    const g = grid.attributes;
    expect(g.GridType).toBe('2');
    expect(grid.binaryData.byteLength).toBe(g.GridMaximumColumn * g.GridMaximumRow * 4);
    const values = new Int32Array(grid.binaryData.buffer.slice(grid.binaryData.byteOffset, grid.binaryData.byteOffset + grid.binaryData.byteLength));
    const rates = new Set(result.summary.zones.map((z) => z.rate * 100));
    const inField = [...values].filter((v) => v !== 0);
    expect(inField.length).toBeGreaterThan(0);
    for (const v of inField) expect(rates.has(v)).toBe(true);
    const tzn = task.attributes.TreatmentZone!.find((t) => t.attributes.TreatmentZoneCode === g.TreatmentZoneCode)!;
    expect(tzn.attributes.ProcessDataVariable![0]!.attributes.ProcessDataDDI).toBe('0006');
    expect(task.attributes.PositionLostTreatmentZoneCode).toBeDefined();
    expect(task.attributes.OutOfFieldTreatmentZoneCode).toBeDefined();
  });

  it('wrote the preview and a summary with the inputs\' provenance', async () => {
    const png = await readFile(join(dir, 'preview.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const s = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as typeof result.summary;
    expect(Object.keys(s.inputs).sort()).toEqual(['moisture', 'ndvi', 'organic', 'yield']);
    expect(s.inputs['moisture']).toMatchObject({ epsg: 6680, scale: 0.1, sampleType: 'int16' });
    expect(s.inputs['yield']!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(s.outputs.map((f) => f.name).sort()).toEqual(['TASKDATA.zip', 'prescription.tif', 'preview.png', 'shapefile.zip', 'terminals/raven.zip', 'zones.geojson']);
    for (const f of s.outputs) expect((await readFile(join(dir, f.name))).byteLength).toBe(f.bytes);
  });
});

describe('layers in different CRS, resolution and extent align', () => {
  it.each([
    ['yield (UTM 54N, 2 m, averaged)', 'yield.tif', yieldTHa, 0.05],
    ['moisture (JGD2011 XII, 10 m, int16 ×0.1, bilinear)', 'moisture.tif', moisturePct, 0.15],
    ['ndvi (WGS84, 0.0001°, bilinear)', 'ndvi.tif', ndvi, 0.005],
  ])('%s: a known point keeps its value', async (_, file, fn, tol) => {
    const f = parseField(field);
    const grid = fieldGrid(f, 12);
    const mask = fieldMask(f, grid);
    const raster = await openRaster(join(IN, file), { name: file });
    const { values } = await alignLayer(raster, grid, mask);
    await raster.close();
    const toWgs = transformer(grid.epsg, 4326);
    let checked = 0;
    for (let i = 0; i < values.length; i += 7) {
      if (!mask[i]) continue;
      const [lon, lat] = toWgs.forward(grid.originX + ((i % grid.width) + 0.5) * 12, grid.originY - (Math.floor(i / grid.width) + 0.5) * 12);
      if (file === 'yield.tif' && inYieldHole(lon, lat)) continue;
      expect(Math.abs(values[i]! - fn(lon, lat))).toBeLessThan(tol);
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
  });
});

describe('bad input is refused with a reason', () => {
  const run = (over: Record<string, unknown>, p: Record<string, unknown> = {}): Promise<RunResult> => runPrescription({ ...layers, field, ...over } as never, { ...params, ...p }, { outDir: join(dir, 'bad') });
  it.each([
    ['not a TIFF', { yield: join(IN, 'not-a-tiff.tif') }, 'HATAKE_ERR_VRT_RASTER', /yield/],
    ['a truncated TIFF', { moisture: join(IN, 'truncated.tif') }, 'HATAKE_ERR_VRT_RASTER', /moisture/],
    ['a header claiming 10⁶ × 10⁶ cells', { yield: join(IN, 'huge-header.tif') }, 'HATAKE_ERR_VRT_RASTER_SIZE', /1,?000,?000/],
    ['no georeferencing', { ndvi: join(IN, 'no-georef.tif') }, 'HATAKE_ERR_VRT_GEOREF', /ndvi/],
    ['an unknown CRS', { organic: join(IN, 'unknown-crs.tif') }, 'HATAKE_ERR_VRT_CRS', /organic/],
    ['a raster that does not overlap the field', { yield: join(IN, 'far-away.tif') }, 'HATAKE_ERR_VRT_NO_OVERLAP', /yield/],
    ['a boundary that is not a polygon', { field: { type: 'Point', coordinates: [141.77, 43.2] } }, 'HATAKE_ERR_VRT_BOUNDARY', /Point/],
  ])('%s', async (_, over, code, why) => {
    await expect(run(over)).rejects.toMatchObject({ code, message: expect.stringMatching(why) });
  });

  it('min above max', async () => {
    await expect(run({}, { minRate: 200, maxRate: 100 })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_PARAMS', message: expect.stringContaining('minRate (200 kg/ha) is above maxRate (100 kg/ha)') });
  });
});

describe('alignment on worker threads', () => {
  it('gives the same map as one thread, and a bad file\'s error with its code', async () => {
    const out = join(dir, 'workers');
    const threaded = await runPrescription({ ...layers, field }, params, { outDir: out, workers: 2, parallelMinCells: 0 });
    expect(threaded.summary.zones).toEqual(result.summary.zones);
    expect(threaded.summary.inputs['yield']!.align).toEqual(result.summary.inputs['yield']!.align);
    expect(await readFile(join(out, 'prescription.tif'))).toEqual(await readFile(join(dir, 'prescription.tif')));
    await expect(runPrescription({ ...layers, moisture: join(IN, 'truncated.tif'), field }, params, { outDir: out, workers: 2, parallelMinCells: 0 })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_RASTER' });
  });
});

describe('a run in its own thread', () => {
  it('gives the same result, keeps error codes, and stops when aborted', async () => {
    const { runPrescriptionIsolated } = await import('@hatake/vrt');
    const out = join(dir, 'isolated');
    const stages: string[] = [];
    const isolated = await runPrescriptionIsolated({ ...layers, field }, params, { outDir: out, title: 'Kitamura north', profiles: ['isobus', 'generic-shapefile', 'raven'], onProgress: (p) => stages.push(p.stage) });
    expect(isolated.summary.zones).toEqual(result.summary.zones);
    expect(await readFile(join(out, 'prescription.tif'))).toEqual(await readFile(join(dir, 'prescription.tif')));
    expect(new Set(stages)).toEqual(new Set(['read', 'align', 'zones', 'rates', 'write']));
    await expect(runPrescriptionIsolated({ ...layers, yield: join(IN, 'not-a-tiff.tif'), field }, params, { outDir: out })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_RASTER', message: expect.stringContaining('yield') });
    await expect(runPrescriptionIsolated({ ...layers, field }, { minRate: 9, maxRate: 1 }, { outDir: out })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_PARAMS', problems: ['minRate (9 kg/ha) is above maxRate (1 kg/ha)'] });
    const controller = new AbortController();
    const running = runPrescriptionIsolated({ ...layers, field }, params, { outDir: join(dir, 'aborted'), signal: controller.signal, onProgress: () => controller.abort(new Error('cancelled by the test')) });
    await expect(running).rejects.toThrow('cancelled by the test');
  });
});
