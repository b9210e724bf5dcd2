import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeArrayBuffer } from 'geotiff';
import { geoTiffBytes, isVrtError, openRaster, transformer, type Raster, type TiffSpec } from '@hatake/vrt';
import * as F from './fixtures/in/functions.ts';

const IN = join(import.meta.dirname, 'fixtures', 'in');
const fixture = (name: string): string => join(IN, name);
const scratch = mkdtempSync(join(tmpdir(), 'hatake-raster-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The error a promise rejects with, as "CODE: message" (or 'no error'). */
async function failureOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return `${(err as { code?: string }).code ?? `not a VrtError (${(err as Error).name})`}: ${(err as Error).message}`;
  }
  return 'no error';
}

/** Reads the whole raster in windows of whole blocks, as the engine does. */
async function readAll(r: Raster): Promise<Float32Array> {
  const out = new Float32Array(r.width * r.height);
  for (let y = 0; y < r.height; y += r.blockHeight) {
    const y1 = Math.min(r.height, y + r.blockHeight);
    out.set(await r.read(0, y, r.width, y1), y * r.width);
  }
  return out;
}

/** Expected value of every cell: fn at the WGS84 position of the cell centre. */
function expected(grid: F.FixtureGrid, fn: (lon: number, lat: number) => number): Float64Array {
  const toWgs = transformer(grid.epsg, 4326);
  const [ox, dx, , oy, , dy] = grid.transform;
  const out = new Float64Array(grid.width * grid.height);
  for (let r = 0; r < grid.height; r++) {
    for (let c = 0; c < grid.width; c++) {
      const [lon, lat] = toWgs.forward(ox + (c + 0.5) * dx, oy + (r + 0.5) * dy);
      out[r * grid.width + c] = fn(lon, lat);
    }
  }
  return out;
}

/** Cells whose value differs from the expected one by more than tol (NaN must match NaN). */
function mismatches(got: Float32Array, want: Float64Array, tol: number): string[] {
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const ok = Number.isNaN(w) ? Number.isNaN(g) : Math.abs(g - w) <= tol;
    if (!ok && bad.length < 5) bad.push(`cell ${i}: ${g} ≠ ${w}`);
  }
  return bad;
}

const moisture = (lon: number, lat: number): number => (lat > F.MOISTURE_NODATA_NORTH_OF ? NaN : F.moisturePerMille(lon, lat) * 0.1);
const yieldOrHole = (lon: number, lat: number): number => (F.inYieldHole(lon, lat) ? NaN : F.yieldTHa(lon, lat));

interface Good {
  file: string;
  grid: F.FixtureGrid;
  fn: (lon: number, lat: number) => number;
  tol: number;
  meta: Partial<Pick<Raster, 'nodata' | 'scale' | 'offset' | 'sampleType' | 'compression' | 'blockHeight'>>;
}

const GOOD: Good[] = [
  { file: 'yield.tif', grid: F.GRIDS.yield, fn: yieldOrHole, tol: 1e-5, meta: { nodata: -9999, scale: 1, offset: 0, sampleType: 'float32', compression: 'deflate', blockHeight: 64 } },
  { file: 'moisture.tif', grid: F.GRIDS.moisture, fn: moisture, tol: 1e-4, meta: { nodata: -1, scale: 0.1, offset: 0, sampleType: 'int16', compression: 'lzw', blockHeight: 8 } },
  { file: 'moisture-bigendian.tif', grid: F.GRIDS.moisture, fn: moisture, tol: 1e-4, meta: { nodata: -1, scale: 0.1, sampleType: 'int16', compression: 'lzw', blockHeight: 1 } },
  { file: 'moisture-2band-planar.tif', grid: F.GRIDS.moisture, fn: moisture, tol: 1e-4, meta: { nodata: -1, scale: 0.1, sampleType: 'int16', compression: 'deflate', blockHeight: 16 } },
  { file: 'ndvi.tif', grid: F.GRIDS.ndvi, fn: F.ndvi, tol: 1e-6, meta: { nodata: undefined, scale: 1, offset: 0, sampleType: 'float32', compression: 'none', blockHeight: 10 } },
  { file: 'ndvi-point.tif', grid: F.GRIDS.ndvi, fn: F.ndvi, tol: 1e-6, meta: { nodata: undefined, sampleType: 'float32', compression: 'lzw' } },
  { file: 'organic.tif', grid: F.GRIDS.organic, fn: F.organicTHa, tol: 0, meta: { nodata: undefined, scale: 1, sampleType: 'float32', compression: 'deflate', blockHeight: 4 } },
  { file: 'organic-pred3.tif', grid: F.GRIDS.organic, fn: F.organicTHa, tol: 0, meta: { sampleType: 'float32', compression: 'deflate', blockHeight: 16 } },
  { file: 'organic-bigtiff.tif', grid: F.GRIDS.organic, fn: F.organicTHa, tol: 0, meta: { sampleType: 'float32', compression: 'packbits', blockHeight: 16 } },
  { file: 'organic-2band.tif', grid: F.GRIDS.organic, fn: F.organicTHa, tol: 0, meta: { sampleType: 'float32', compression: 'deflate', blockHeight: 5 } },
  { file: 'far-away.tif', grid: F.GRIDS.farAway, fn: () => F.FAR_AWAY_VALUE, tol: 0, meta: { nodata: -9999, blockHeight: 16 } },
];

describe('openRaster on the fixtures', () => {
  it.each(GOOD)('$file: size, CRS, corner transform, nodata, scale, and every cell equal to its analytic function', async ({ file, grid, fn, tol, meta }) => {
    const r = await openRaster(fixture(file), { name: 'layer' });
    try {
      expect([r.width, r.height, r.epsg]).toEqual([grid.width, grid.height, grid.epsg]);
      r.transform.forEach((v, i) => expect(v).toBeCloseTo(grid.transform[i]!, 9));
      expect(r).toMatchObject(meta);
      const got = await readAll(r);
      expect(mismatches(got, expected(grid, fn), tol)).toEqual([]);
    } finally {
      await r.close();
    }
  });

  it('yield.tif has its nodata hole inside the field, read as NaN, and values elsewhere', async () => {
    const r = await openRaster(fixture('yield.tif'), { name: 'yield' });
    const all = await readAll(r);
    const nan = all.filter(Number.isNaN).length;
    // a 12 m circle on a 2 m grid: about π·6² ≈ 113 cells
    expect(nan).toBeGreaterThan(90);
    expect(nan).toBeLessThan(140);
    // the hole's centre, found through the transform
    const [x, y] = transformer(4326, r.epsg).forward(F.YIELD_HOLE.lon, F.YIELD_HOLE.lat);
    const col = Math.floor((x - r.transform[0]) / r.transform[1]);
    const row = Math.floor((y - r.transform[3]) / r.transform[5]);
    expect(Number.isNaN(all[row * r.width + col]!)).toBe(true);
    await r.close();
  });

  it('a known WGS84 point keeps its value in every CRS (nearest cell within the function\'s change over half a cell diagonal)', async () => {
    const [lon, lat] = [141.7712, 43.1968];
    const cases: [string, number, number][] = [
      ['yield.tif', F.yieldTHa(lon, lat), 0.03],
      ['moisture.tif', F.moisturePct(lon, lat), 0.3],
      ['moisture-bigendian.tif', F.moisturePct(lon, lat), 0.3],
      ['ndvi.tif', F.ndvi(lon, lat), 0.008],
      ['ndvi-point.tif', F.ndvi(lon, lat), 0.008],
      ['organic.tif', 0, 0],
    ];
    for (const [file, want, tol] of cases) {
      const r = await openRaster(fixture(file), { name: file });
      const [x, y] = transformer(4326, r.epsg).forward(lon, lat);
      const col = Math.floor((x - r.transform[0]) / r.transform[1]);
      const row = Math.floor((y - r.transform[3]) / r.transform[5]);
      const [v] = await r.read(col, row, col + 1, row + 1);
      expect(Math.abs(v! - want), file).toBeLessThanOrEqual(tol);
      await r.close();
    }
  });

  it('moisture.tif: raw per-mille × SCALE 0.1, nodata -1 in the northern margin', async () => {
    const r = await openRaster(fixture('moisture.tif'), { name: 'moisture' });
    const top = await r.read(0, 0, r.width, 1);
    expect(top.every(Number.isNaN)).toBe(true);
    const [v] = await r.read(30, 40, 31, 41);
    const toWgs = transformer(r.epsg, 4326);
    const [lon, lat] = toWgs.forward(r.transform[0] + 30.5 * r.transform[1], r.transform[3] + 40.5 * r.transform[5]);
    expect(v).toBeCloseTo(F.moisturePerMille(lon, lat) / 10, 4);
    await r.close();
  });

  it('ndvi-point.tif (PixelIsPoint, tie point at the centre of pixel 0,0) gets the same corner transform as ndvi.tif', async () => {
    const area = await openRaster(fixture('ndvi.tif'), { name: 'ndvi' });
    const point = await openRaster(fixture('ndvi-point.tif'), { name: 'ndvi' });
    point.transform.forEach((v, i) => expect(v).toBeCloseTo(area.transform[i]!, 12));
    await area.close();
    await point.close();
  });

  it('far-away.tif opens (overlap is the engine\'s check) and lies near Tokyo', async () => {
    const r = await openRaster(fixture('far-away.tif'), { name: 'far' });
    const [lon, lat] = transformer(r.epsg, 4326).forward(r.transform[0], r.transform[3]);
    expect(lon).toBeCloseTo(139.765, 2);
    expect(lat).toBeCloseTo(35.683, 2);
    await r.close();
  });
});

describe('windows', () => {
  it('any window equals the same cells of a full read, across tile and strip boundaries', async () => {
    for (const file of ['yield.tif', 'moisture.tif', 'ndvi.tif', 'organic-pred3.tif', 'moisture-2band-planar.tif']) {
      const r = await openRaster(fixture(file), { name: file });
      const all = await r.read(0, 0, r.width, r.height);
      const windows = [[0, 0, 1, 1], [r.width - 1, r.height - 1, r.width, r.height], [3, 5, r.width - 2, 9], [7, 1, 30, r.height - 3], [r.width - 20, 10, r.width, Math.min(r.height, 40)], [1, 2, r.width - 1, r.height - 1]];
      for (const [x0, y0, x1, y1] of windows as [number, number, number, number][]) {
        const win = await r.read(x0, y0, x1, y1);
        expect(win.length).toBe((x1 - x0) * (y1 - y0));
        for (let row = y0; row < y1; row++) {
          for (let col = x0; col < x1; col++) {
            expect(Object.is(win[(row - y0) * (x1 - x0) + col - x0], all[row * r.width + col]), `${file} [${col}, ${row}]`).toBe(true);
          }
        }
      }
      await r.close();
    }
  });

  it('an empty window reads as an empty array; one outside the raster, a fractional one or a read after close() is a VrtError', async () => {
    const r = await openRaster(fixture('organic.tif'), { name: 'organic' });
    expect((await r.read(4, 4, 4, 9)).length).toBe(0);
    expect(await failureOf(r.read(0, 0, r.width + 1, 1))).toMatch(/^HATAKE_ERR_VRT_RASTER: layer 'organic' .*window \[0, 0, 33, 1\) is not inside the 32 × 31 raster/);
    expect(await failureOf(r.read(-1, 0, 1, 1))).toMatch(/^HATAKE_ERR_VRT_RASTER: /);
    expect(await failureOf(r.read(0.5, 0, 1, 1))).toMatch(/^HATAKE_ERR_VRT_RASTER: /);
    expect(await failureOf(r.read(5, 0, 4, 1))).toMatch(/^HATAKE_ERR_VRT_RASTER: /);
    await r.close();
    await r.close(); // idempotent
    expect(await failureOf(r.read(0, 0, 1, 1))).toMatch(/^HATAKE_ERR_VRT_RASTER: .*read after close/);
  });

  it('bytes in memory read like the file, also from a Uint8Array inside a larger buffer', async () => {
    const bytes = readFileSync(fixture('yield.tif'));
    const padded = new Uint8Array(bytes.length + 100);
    padded.set(bytes, 37);
    const fromPath = await openRaster(fixture('yield.tif'), { name: 'yield' });
    const want = await fromPath.read(60, 60, 140, 130);
    for (const src of [new Uint8Array(bytes), padded.subarray(37, 37 + bytes.length)]) {
      const r = await openRaster(src, { name: 'yield' });
      expect(r.transform).toEqual(fromPath.transform);
      expect(await r.read(60, 60, 140, 130)).toEqual(want);
      await r.close();
    }
    await fromPath.close();
  });

  it('reads int8 and uint32 samples, and band 1 of a pixel-interleaved file from geotiff.js\'s writer', async () => {
    const meta = { width: 3, height: 1, ProjectedCSTypeGeoKey: 32654, GTModelTypeGeoKey: 1, ModelPixelScale: [1, 1, 0], ModelTiepoint: [0, 0, 0, 0, 0, 0] };
    for (const values of [Int8Array.of(-128, 0, 127), Uint32Array.of(0, 2 ** 31, 2 ** 32 - 1)]) {
      const r = await openRaster(new Uint8Array(writeArrayBuffer(values, { ...meta })), { name: 'n' }); // geotiff.js mutates its metadata argument
      expect(Array.from(await r.read(0, 0, 3, 1))).toEqual(Array.from(values, Math.fround));
      await r.close();
    }
    // 3 bands, interleaved per pixel: band 1 is every third value
    const rgb = await openRaster(new Uint8Array(writeArrayBuffer(Uint8Array.of(1, 10, 100, 2, 20, 200, 3, 30, 255), { ...meta })), { name: 'rgb' });
    expect(Array.from(await rgb.read(0, 0, 3, 1))).toEqual([1, 2, 3]);
    await rgb.close();
  });
});

describe('bad inputs: a VrtError naming the layer and the reason', () => {
  it.each([
    ['not-a-tiff.tif', 'HATAKE_ERR_VRT_RASTER', /not a TIFF file: it starts like a PNG image/],
    ['truncated.tif', 'HATAKE_ERR_VRT_RASTER', /lies beyond the end of the file.*truncated/],
    ['huge-header.tif', 'HATAKE_ERR_VRT_RASTER_SIZE', /claims 1000000 × 1000000 = 1\.00e\+12 cells, more than the limit of 4\.00e\+8/],
    ['no-georef.tif', 'HATAKE_ERR_VRT_GEOREF', /no georeferencing/],
    ['no-crs.tif', 'HATAKE_ERR_VRT_CRS', /no coordinate reference system/],
    ['unknown-crs.tif', 'HATAKE_ERR_VRT_CRS', /EPSG:2193 is not a CRS hatake ships/],
    ['user-defined-crs.tif', 'HATAKE_ERR_VRT_CRS', /user-defined \(32767\)/],
    ['does-not-exist.tif', 'HATAKE_ERR_VRT_RASTER', /no such file/],
  ])('%s → %s', async (file, code, why) => {
    const path = fixture(file);
    for (const src of file === 'does-not-exist.tif' ? [path] : [path, readFileSync(path)]) {
      const got = await failureOf(openRaster(src, { name: 'soil' }));
      expect(got).toMatch(new RegExp(`^${code}: layer 'soil' \\(`));
      expect(got).toMatch(why);
    }
  });

  it('refuses a raster above maxCells, an empty file, a text file and a directory', async () => {
    expect(await failureOf(openRaster(fixture('yield.tif'), { name: 'yield', maxCells: 10_000 }))).toMatch(/^HATAKE_ERR_VRT_RASTER_SIZE: layer 'yield' .*288 × 270 = 7\.78e\+4 cells, more than the limit of 1\.00e\+4/);
    expect(await failureOf(openRaster(new Uint8Array(0), { name: 'x' }))).toMatch(/^HATAKE_ERR_VRT_RASTER: .*the file is empty/);
    expect(await failureOf(openRaster(new TextEncoder().encode('{"type":"Feature"}'), { name: 'x' }))).toMatch(/^HATAKE_ERR_VRT_RASTER: .*starts like JSON text/);
    expect(await failureOf(openRaster(new TextEncoder().encode('yield,6.2\n'), { name: 'x' }))).toMatch(/^HATAKE_ERR_VRT_RASTER: .*does not start with a TIFF byte-order mark/);
    expect(await failureOf(openRaster(IN, { name: 'x' }))).toMatch(/^HATAKE_ERR_VRT_RASTER: .*not a regular file/);
  });

  it('a rotated ModelTransformation is GEOREF; an unrotated one is read as the corner transform', async () => {
    const values = new Float32Array(4 * 3).map((_, i) => i);
    const base = { width: 4, height: 3, ProjectedCSTypeGeoKey: 32654, GTModelTypeGeoKey: 1, GTRasterTypeGeoKey: 1 };
    const rotated = new Uint8Array(writeArrayBuffer(values, { ...base, ModelTransformation: [2, 0.5, 0, 562000, 0.5, -2, 0, 4783000, 0, 0, 0, 0, 0, 0, 0, 1] }));
    expect(await failureOf(openRaster(rotated, { name: 'yield' }))).toMatch(/^HATAKE_ERR_VRT_GEOREF: layer 'yield' .*rotated/);
    const straight = new Uint8Array(writeArrayBuffer(values, { ...base, ModelTransformation: [2, 0, 0, 562000, 0, -2, 0, 4783000, 0, 0, 0, 0, 0, 0, 0, 1] }));
    const r = await openRaster(straight, { name: 'yield' });
    expect(r.transform).toEqual([562000, 2, 0, 4783000, 0, -2]);
    // geotiff.js writes one uncompressed strip: read through the row-wise path
    expect(Array.from(await r.read(1, 1, 3, 3))).toEqual([5, 6, 9, 10]);
    await r.close();
  });

  it('a pixel-is-point tie point is moved half a cell to the corner; a tie point at pixel (i, j) is moved to pixel (0, 0)', async () => {
    const values = new Float32Array(4 * 3);
    const base = { width: 4, height: 3, ProjectedCSTypeGeoKey: 32654, GTModelTypeGeoKey: 1, ModelPixelScale: [2, 2, 0] };
    const point = await openRaster(new Uint8Array(writeArrayBuffer(values, { ...base, GTRasterTypeGeoKey: 2, ModelTiepoint: [0, 0, 0, 562001, 4782999, 0] })), { name: 'p' });
    expect(point.transform).toEqual([562000, 2, 0, 4783000, 0, -2]);
    const shifted = await openRaster(new Uint8Array(writeArrayBuffer(values, { ...base, GTRasterTypeGeoKey: 1, ModelTiepoint: [2, 1, 0, 562004, 4782998, 0] })), { name: 'p' });
    expect(shifted.transform).toEqual([562000, 2, 0, 4783000, 0, -2]);
    await point.close();
    await shifted.close();
  });

  it('a geographic model type without GeographicTypeGeoKey, and a south-up raster, are refused', async () => {
    const values = new Float32Array(4);
    const noCode = new Uint8Array(writeArrayBuffer(values, { width: 2, height: 2, GTModelTypeGeoKey: 2, ProjectedCSTypeGeoKey: 32654, ModelPixelScale: [1, 1, 0], ModelTiepoint: [0, 0, 0, 0, 0, 0] }));
    expect(await failureOf(openRaster(noCode, { name: 'n' }))).toMatch(/^HATAKE_ERR_VRT_CRS: .*no GeographicTypeGeoKey/);
    const southUp = new Uint8Array(writeArrayBuffer(values, { width: 2, height: 2, GTModelTypeGeoKey: 1, ProjectedCSTypeGeoKey: 32654, ModelPixelScale: [1, -1, 0], ModelTiepoint: [0, 0, 0, 0, 0, 0] }));
    expect(await failureOf(openRaster(southUp, { name: 'n' }))).toMatch(/^HATAKE_ERR_VRT_GEOREF: .*not north-up/);
  });
});

/** The IFD entries of a little-endian classic TIFF, by tag: [entry position, type, count]. */
function entries(bytes: Uint8Array): Map<number, [number, number, number]> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ifd = dv.getUint32(4, true);
  const out = new Map<number, [number, number, number]>();
  for (let i = 0, n = dv.getUint16(ifd, true); i < n; i++) {
    const p = ifd + 2 + i * 12;
    out.set(dv.getUint16(p, true), [p, dv.getUint16(p + 2, true), dv.getUint32(p + 4, true)]);
  }
  return out;
}

describe('damaged and unusual files', () => {
  const spec: TiffSpec = { width: 40, height: 36, type: 'float32', epsg: 32654, transform: [562000, 5, 0, 4783000, 0, -5], nodata: -9999, layout: { tile: 16 }, compression: 'deflate' };
  const values = Float32Array.from({ length: 40 * 36 }, (_, i) => (i % 40) + Math.floor(i / 40) / 100);

  it('unsupported compression is named (ZSTD here) with a way out', async () => {
    const bytes = await geoTiffBytes(spec, values);
    const [p] = entries(bytes).get(259)!;
    new DataView(bytes.buffer).setUint16(p + 8, 50000, true);
    expect(await failureOf(openRaster(bytes, { name: 'yield' }))).toMatch(/^HATAKE_ERR_VRT_RASTER: layer 'yield' .*compression ZSTD \(50000\) is not supported.*COMPRESS=DEFLATE/);
  });

  it('garbage in a compressed tile opens, then fails at read with a VrtError naming the tile; the other tiles still read', async () => {
    const bytes = await geoTiffBytes(spec, values);
    const dv = new DataView(bytes.buffer);
    const [p] = entries(bytes).get(324)!;
    const tile1 = dv.getUint32(dv.getUint32(p + 8, true) + 4, true);
    bytes.fill(0x5a, tile1, tile1 + 20);
    const r = await openRaster(bytes, { name: 'yield' });
    expect(await failureOf(r.read(16, 0, 32, 16))).toMatch(/^HATAKE_ERR_VRT_RASTER: layer 'yield' .*tile 1 cannot be decoded .*corrupt or truncated/);
    expect(Array.from(await r.read(0, 0, 2, 1))).toEqual([0, 1]);
    await r.close();
  });

  it('a sparse tile (offset and byte count 0, as GDAL SPARSE_OK writes) reads as nodata', async () => {
    const bytes = await geoTiffBytes(spec, values);
    const dv = new DataView(bytes.buffer);
    const e = entries(bytes);
    dv.setUint32(dv.getUint32(e.get(324)![0] + 8, true), 0, true);
    dv.setUint32(dv.getUint32(e.get(325)![0] + 8, true), 0, true);
    const r = await openRaster(bytes, { name: 'yield' });
    expect((await r.read(0, 0, 16, 16)).every(Number.isNaN)).toBe(true);
    expect(Array.from(await r.read(16, 0, 17, 1))).toEqual([16]);
    await r.close();
  });

  it('an unparsable GDAL_NODATA is refused; "nan" is NaN', async () => {
    for (const [text, want] of [['nan', 'NaN'], ['-9999', '-9999'], ['abc', 'error']] as const) {
      const bytes = new Uint8Array(writeArrayBuffer(new Float32Array(4), { width: 2, height: 2, GDAL_NODATA: `${text}\0`, ProjectedCSTypeGeoKey: 32654, GTModelTypeGeoKey: 1, ModelPixelScale: [1, 1, 0], ModelTiepoint: [0, 0, 0, 0, 0, 0] }));
      const got = await openRaster(bytes, { name: 'n' }).then((r) => String(r.nodata), (err: Error) => (isVrtError(err) ? 'error' : err.message));
      expect(got, text).toBe(want);
    }
  });

  it('a file truncated anywhere, or with a few random bytes changed, gives a VrtError or good data, never another exception or a hang', { timeout: 60_000 }, async () => {
    let seed = 12345;
    const rand = (): number => {
      // xorshift32: fixed seed, so the same files every run
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const sources = ['yield.tif', 'moisture.tif', 'moisture-bigendian.tif', 'ndvi-point.tif', 'organic-pred3.tif', 'moisture-2band-planar.tif', 'organic-2band.tif', 'organic-bigtiff.tif', 'far-away.tif'].map((f) => readFileSync(fixture(f)));
    const variants: Uint8Array[] = [];
    for (const src of sources) {
      for (let k = 1; k < 12; k++) variants.push(src.subarray(0, Math.floor((src.length * k) / 12)));
      for (let k = 0; k < 40; k++) {
        const v = new Uint8Array(src);
        // half the time hit the header and IFD region, where structure lives
        const span = rand() < 0.5 ? Math.min(v.length, 600) : v.length;
        for (let j = 0, n = 1 + Math.floor(rand() * 6); j < n; j++) v[Math.floor(rand() * span)] = Math.floor(rand() * 256);
        variants.push(v);
      }
    }
    let opened = 0;
    let refused = 0;
    for (const v of variants) {
      try {
        const r = await openRaster(v, { name: 'fuzz', maxCells: 4e6 });
        opened++;
        try {
          for (let y = 0; y < r.height; y += r.blockHeight) await r.read(0, y, r.width, Math.min(r.height, y + r.blockHeight));
        } catch (err) {
          if (!isVrtError(err)) throw err;
        } finally {
          await r.close();
        }
      } catch (err) {
        if (!isVrtError(err)) throw new Error(`variant ${variants.indexOf(v)} threw a non-VrtError`, { cause: err });
        expect((err as Error).message).toMatch(/^layer 'fuzz' \(/);
        refused++;
      }
    }
    expect(opened).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });

  it('a file missing its last strips is refused at open, before any read', async () => {
    // the fixture itself opens only because its ranges fit: write a copy, open it, then shorten it
    const path = join(scratch, 'shrinking.tif');
    const bytes = readFileSync(fixture('moisture.tif'));
    writeFileSync(path, bytes);
    const r = await openRaster(path, { name: 'moisture' });
    expect((await r.read(0, 0, r.width, 8)).length).toBe(r.width * 8);
    await r.close();
    writeFileSync(path, bytes.subarray(0, bytes.length - 200));
    expect(await failureOf(openRaster(path, { name: 'moisture' }))).toMatch(/^HATAKE_ERR_VRT_RASTER: layer 'moisture' .*strip \d+ .*beyond the end of the file.*truncated/);
  });
});
