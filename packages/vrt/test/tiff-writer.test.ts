import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromArrayBuffer } from 'geotiff';
import { geoTiffBytes, openRaster, writeGeoTiff, type TiffSampleType, type TiffSpec } from '@hatake/vrt';

const scratch = mkdtempSync(join(tmpdir(), 'hatake-tiff-writer-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function failureOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
  return 'no error';
}

/** Values of each type that exercise its range (negative, fractional, large) and still round-trip exactly. */
function valuesFor(type: TiffSampleType, w: number, h: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const s = Math.sin(c / 7) * 3 + Math.cos(r / 5) * 2 + (c * r) / 500; // smooth, about -5..13
      switch (type) {
        case 'uint8': out.push(Math.round(127 + s * 9) & 0xff); break;
        case 'uint16': out.push(Math.round(30000 + s * 2000)); break;
        case 'int16': out.push(Math.round(s * 2000)); break;
        case 'int32': out.push(Math.round(s * 1e8)); break;
        case 'float32': out.push(Math.fround(s * 1.37)); break;
        case 'float64': out.push(s * 1.37 + 1e-12 * c); break;
      }
    }
  }
  return out;
}

const TYPES: TiffSampleType[] = ['uint8', 'uint16', 'int16', 'int32', 'float32', 'float64'];
const LAYOUTS: { name: string; layout: TiffSpec['layout'] }[] = [
  { name: 'tiles of 32 (edge tiles padded)', layout: { tile: 32 } },
  { name: 'strips of 7 rows (last strip short)', layout: { rowsPerStrip: 7 } },
  { name: 'one strip', layout: { rowsPerStrip: 1000 } },
];
const CASES = TYPES.flatMap((type) => LAYOUTS.flatMap(({ name, layout }) => [
  { type, name, layout, compression: 'none' as const, predictor: 1 as const },
  { type, name, layout, compression: 'deflate' as const, predictor: 1 as const },
  ...(type.startsWith('float') ? [] : [{ type, name, layout, compression: 'deflate' as const, predictor: 2 as const }]),
]));

describe('writeGeoTiff / geoTiffBytes', () => {
  // 70 × 45 is not a multiple of 32 or 7: the last column and row of tiles and the last strip are partial
  const W = 70;
  const H = 45;

  it.each(CASES)('$type, $name, $compression, predictor $predictor: geotiff.js and openRaster read back every value', async ({ type, layout, compression, predictor }) => {
    const values = valuesFor(type, W, H);
    const spec: TiffSpec = { width: W, height: H, type, epsg: 32654, transform: [562000, 2.5, 0, 4783000, 0, -2.5], layout, compression, predictor };
    const bytes = await geoTiffBytes(spec, values);

    const tiff = await fromArrayBuffer(bytes.slice().buffer);
    const image = await tiff.getImage();
    expect([image.getWidth(), image.getHeight(), image.isTiled]).toEqual([W, H, 'tile' in layout]);
    expect(image.fileDirectory.getValue('Compression')).toBe(compression === 'deflate' ? 8 : 1);
    // geotiff.js decodes (DEFLATE, predictor 2, padded tiles) independently of hatake's reader
    const [band] = (await image.readRasters()) as unknown as ArrayLike<number>[];
    expect(Array.from(band!)).toEqual(values);
    // and a window that straddles tiles or strips
    const [win] = (await image.readRasters({ window: [30, 5, 69, 44] })) as unknown as ArrayLike<number>[];
    expect(win![0]).toBe(values[5 * W + 30]);
    expect(win![win!.length - 1]).toBe(values[43 * W + 68]);

    const r = await openRaster(bytes, { name: type });
    expect([r.sampleType, r.compression, r.epsg]).toEqual([type, compression, 32654]);
    expect(r.transform).toEqual([562000, 2.5, 0, 4783000, 0, -2.5]);
    const all = await r.read(0, 0, W, H);
    expect(Array.from(all)).toEqual(values.map(Math.fround));
    await r.close();
  });

  it('writes GeoTIFF tags GDAL and geotiff.js understand: pixel scale, tie point, GeoKeys, GDAL_NODATA, SCALE/OFFSET', async () => {
    const utm = await geoTiffBytes({ width: 3, height: 2, type: 'int16', epsg: 6680, transform: [-39080, 10, 0, -88680, 0, -10], nodata: -1, scale: 0.1, offset: 0, layout: { rowsPerStrip: 1 }, compression: 'none' }, [1, 2, 3, 4, 5, -1]);
    const image = await (await fromArrayBuffer(utm.slice().buffer)).getImage();
    expect(image.getGeoKeys()).toMatchObject({ GTModelTypeGeoKey: 1, GTRasterTypeGeoKey: 1, ProjectedCSTypeGeoKey: 6680 });
    expect(Array.from(image.fileDirectory.getValue('ModelPixelScale') as ArrayLike<number>)).toEqual([10, 10, 0]);
    expect(Array.from(image.fileDirectory.getValue('ModelTiepoint') as ArrayLike<number>)).toEqual([0, 0, 0, -39080, -88680, 0]);
    expect(image.fileDirectory.getValue('GDAL_NODATA')).toBe('-1\0');
    expect(await image.getGDALMetadata(0)).toEqual({ OFFSET: '0', SCALE: '0.1' });
    const r = await openRaster(utm, { name: 'moisture' });
    expect([r.nodata, r.scale, r.offset]).toEqual([-1, 0.1, 0]);
    expect(Array.from(await r.read(0, 1, 3, 2))).toEqual([Math.fround(0.4), Math.fround(0.5), NaN]);

    const wgs = await geoTiffBytes({ width: 2, height: 2, type: 'float32', epsg: 4326, transform: [141.77, 0.0001, 0, 43.2, 0, -0.0001], nodata: NaN, layout: { tile: 16 }, compression: 'deflate' }, [1, NaN, 3, 4]);
    const wimage = await (await fromArrayBuffer(wgs.slice().buffer)).getImage();
    expect(wimage.getGeoKeys()).toMatchObject({ GTModelTypeGeoKey: 2, GeographicTypeGeoKey: 4326 });
    expect(wimage.fileDirectory.getValue('GDAL_NODATA')).toBe('nan\0');
    const w = await openRaster(wgs, { name: 'ndvi' });
    expect(Number.isNaN(w.nodata)).toBe(true);
    expect(Array.from(await w.read(0, 0, 2, 2))).toEqual([1, NaN, 3, 4]);
  });

  it('streams to a file the same bytes it builds in memory, asking for each block once, clipped to the raster', async () => {
    const values = valuesFor('float32', 70, 45);
    const spec: TiffSpec = { width: 70, height: 45, type: 'float32', epsg: 32654, transform: [0, 1, 0, 0, 0, -1], nodata: -9999, layout: { tile: 32 }, compression: 'deflate' };
    const calls: string[] = [];
    const path = join(scratch, 'streamed.tif');
    await writeGeoTiff(path, spec, (x0, y0, w, h) => {
      calls.push(`${x0},${y0},${w},${h}`);
      const block = new Float32Array(w * h);
      for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) block[r * w + c] = values[(y0 + r) * 70 + x0 + c]!;
      return block;
    });
    expect(calls).toEqual(['0,0,32,32', '32,0,32,32', '64,0,6,32', '0,32,32,13', '32,32,32,13', '64,32,6,13']);
    expect(new Uint8Array(readFileSync(path))).toEqual(await geoTiffBytes(spec, values));
  });

  it('refuses bad specs with HATAKE_ERR_VRT_PARAMS (or CRS) before writing anything', async () => {
    const ok: TiffSpec = { width: 10, height: 10, type: 'float32', epsg: 32654, transform: [0, 1, 0, 0, 0, -1], layout: { tile: 16 }, compression: 'deflate' };
    const cases: [Partial<TiffSpec>, RegExp][] = [
      [{ predictor: 2 }, /^HATAKE_ERR_VRT_PARAMS: .*predictor 2 .*integer types with DEFLATE only/],
      [{ type: 'int16', predictor: 2, compression: 'none' }, /^HATAKE_ERR_VRT_PARAMS: .*predictor 2/],
      [{ layout: { tile: 20 } }, /^HATAKE_ERR_VRT_PARAMS: .*multiple of 16/],
      [{ layout: { rowsPerStrip: 0 } }, /^HATAKE_ERR_VRT_PARAMS: .*rowsPerStrip/],
      [{ transform: [0, 1, 0, 0, 0, 1] }, /^HATAKE_ERR_VRT_PARAMS: .*north-up/],
      [{ transform: [0, 1, 0.1, 0, 0, -1] }, /^HATAKE_ERR_VRT_PARAMS: .*north-up/],
      [{ width: 0 }, /^HATAKE_ERR_VRT_PARAMS: .*positive integers/],
      [{ epsg: 2193 }, /^HATAKE_ERR_VRT_CRS: EPSG:2193/],
      [{ scale: 0 }, /^HATAKE_ERR_VRT_PARAMS: .*scale/],
      [{ width: 40_000, height: 40_000, compression: 'none' }, /^HATAKE_ERR_VRT_PARAMS: .*needs 6\.0 GiB, more than classic TIFF's 4 GiB/],
    ];
    for (const [change, why] of cases) {
      const path = join(scratch, 'refused.tif');
      const got = await failureOf(writeGeoTiff(path, { ...ok, ...change }, () => new Float32Array(0)));
      expect(got, JSON.stringify(change)).toMatch(why);
      expect(existsSync(path)).toBe(false);
    }
  });

  it('a block of the wrong length fails the write and leaves no partial file', async () => {
    const path = join(scratch, 'partial.tif');
    let n = 0;
    const got = await failureOf(writeGeoTiff(path, { width: 40, height: 40, type: 'uint8', epsg: 32654, transform: [0, 1, 0, 0, 0, -1], layout: { tile: 16 }, compression: 'deflate' }, (_x, _y, w, h) => new Uint8Array(++n === 4 ? 3 : w * h)));
    expect(got).toMatch(/^HATAKE_ERR_VRT_PARAMS: .*block\(0, 16, 16, 16\) returned 3 values, expected 256/);
    expect(existsSync(path)).toBe(false);
    expect(await failureOf(geoTiffBytes({ width: 2, height: 2, type: 'uint8', epsg: 4326, transform: [0, 1, 0, 0, 0, -1], layout: { rowsPerStrip: 1 }, compression: 'none' }, [1, 2, 3]))).toMatch(/^HATAKE_ERR_VRT_PARAMS: .*3 values given for a 2 × 2 raster/);
  });
});
