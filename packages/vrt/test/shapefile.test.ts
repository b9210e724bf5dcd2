import { createRequire } from 'node:module';
import JSZip from 'jszip';
import { open } from 'shapefile';
import type { Feature, MultiPolygon, Polygon, Position } from 'geojson';
import { describe, expect, it } from 'vitest';
import { WGS84_PRJ } from '../src/crs.ts';
import { checkShapefileZip, shapefileZip } from '../src/outputs/shapefile.ts';
import type { ZoneFeatures, ZoneProperties } from '../src/types.ts';

/** A square as GeoJSON (RFC 7946) wants an outer ring: counter-clockwise, closed. */
const ccw = (lon: number, lat: number, d: number): Position[] => [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]];
/** Twice the signed area (shoelace); negative for clockwise rings. */
const signedArea = (ring: Position[]): number => ring.slice(1).reduce((a, p, k) => a + ring[k]![0]! * p[1]! - p[0]! * ring[k]![1]!, 0);

const feature = (geometry: Polygon | MultiPolygon, properties: ZoneProperties): Feature<Polygon | MultiPolygon, ZoneProperties> => ({ type: 'Feature', properties, geometry });

/** Three zones near lon 141.77, lat 43.20: a plain polygon, a polygon with a hole (holes clockwise, as RFC 7946 wants), and a two-part MultiPolygon. */
const zones = (): ZoneFeatures => ({
  type: 'FeatureCollection',
  features: [
    feature({ type: 'Polygon', coordinates: [ccw(141.77, 43.2, 0.001)] }, { zone: 1, rate: 80, areaHa: 0.81 }),
    feature({ type: 'Polygon', coordinates: [ccw(141.772, 43.2, 0.002), [...ccw(141.7725, 43.2005, 0.0005)].reverse()] }, { zone: 2, rate: 0.1 + 0.2, areaHa: 2.4375 }),
    feature({ type: 'MultiPolygon', coordinates: [[ccw(141.775, 43.2, 0.001)], [ccw(141.777, 43.2, 0.001)]] }, { zone: 3, rate: 125.25, areaHa: 1.62 }),
  ],
});

async function unzip(zip: Buffer): Promise<{ names: string[]; file: (name: string) => Promise<Uint8Array>; text: (name: string) => Promise<string> }> {
  const archive = await JSZip.loadAsync(zip);
  return {
    names: Object.keys(archive.files).sort(),
    file: (name) => archive.file(name)!.async('uint8array'),
    text: (name) => archive.file(name)!.async('string'),
  };
}

async function readBack(zip: Buffer, base: string): Promise<Feature[]> {
  const z = await unzip(zip);
  const source = await open(await z.file(`${base}.shp`), await z.file(`${base}.dbf`));
  const out: Feature[] = [];
  for (let r = await source.read(); !r.done; r = await source.read()) out.push(r.value);
  return out;
}

/** The DBF column descriptors (dBase III: 32 bytes each after the 32-byte header, name in 11 NUL-padded bytes, type at 11, width at 16, decimals at 17). */
function dbfColumns(dbf: Uint8Array): { name: string; type: string; width: number; decimals: number }[] {
  const out = [];
  for (let at = 32; dbf[at] !== 0x0d; at += 32) {
    const raw = Buffer.from(dbf.subarray(at, at + 11)).toString('latin1');
    out.push({ name: raw.replace(/\0.*$/s, ''), type: String.fromCharCode(dbf[at + 11]!), width: dbf[at + 16]!, decimals: dbf[at + 17]! });
  }
  return out;
}

const rings = (g: Feature['geometry']): Position[][][] => {
  if (g?.type === 'Polygon') return [g.coordinates];
  if (g?.type === 'MultiPolygon') return g.coordinates;
  throw new Error(`not a polygon: ${g?.type}`);
};

describe('the Shapefile output', () => {
  it('zips exactly BASENAME.shp/.shx/.dbf/.prj at the root, with the WGS84 .prj', async () => {
    const z = await unzip(await shapefileZip(zones(), { baseName: 'RX_2025' }));
    expect(z.names).toEqual(['RX_2025.dbf', 'RX_2025.prj', 'RX_2025.shp', 'RX_2025.shx']);
    for (const name of z.names) expect(name).toMatch(/^[A-Z0-9_]{1,8}\.[a-z]{3}$/);
    expect(await z.text('RX_2025.prj')).toBe(WGS84_PRJ);
    expect(WGS84_PRJ).toMatch(/^GEOGCS\["GCS_WGS_1984",DATUM\["D_WGS_1984"/);
  });

  it('writes a version-1000 Polygon (type 5) .shp with numeric DBF columns of at most 10 characters', async () => {
    const zip = await shapefileZip(zones(), { baseName: 'ZONES', rateField: 'N_KGHA' });
    const z = await unzip(zip);
    const shp = new DataView((await z.file('ZONES.shp')).buffer);
    expect([shp.getInt32(0), shp.getInt32(28, true), shp.getInt32(32, true)]).toEqual([9994, 1000, 5]);
    const columns = dbfColumns(await z.file('ZONES.dbf'));
    expect(columns.map((c) => c.name)).toEqual(['ZONE', 'N_KGHA', 'AREA_HA']);
    for (const c of columns) {
      expect(c.name.length).toBeLessThanOrEqual(10);
      expect(c.type).toBe('N');
    }
  });

  it('reads back with the same values, rounded to the 3 decimals the DBF declares', async () => {
    const got = await readBack(await shapefileZip(zones(), { baseName: 'ZONES' }), 'ZONES');
    expect(got.map((f) => f.properties)).toEqual([
      { ZONE: 1, RATE: 80, AREA_HA: 0.81 },
      { ZONE: 2, RATE: 0.3, AREA_HA: 2.438 },
      { ZONE: 3, RATE: 125.25, AREA_HA: 1.62 },
    ]);
  });

  it('turns rings as Shapefiles want (outer clockwise, holes counter-clockwise) and keeps the hole and both parts', async () => {
    const input = zones();
    const got = await readBack(await shapefileZip(input, { baseName: 'ZONES' }), 'ZONES');
    expect(got.map((f) => rings(f.geometry).map((p) => p.length))).toEqual([[1], [2], [1, 1]]);
    for (const f of got) {
      for (const polygon of rings(f.geometry)) {
        expect(signedArea(polygon[0]!)).toBeLessThan(0);
        for (const hole of polygon.slice(1)) expect(signedArea(hole)).toBeGreaterThan(0);
      }
    }
    // The same points, in the opposite order of the RFC 7946 input.
    const hole = rings(got[1]!.geometry)[0]![1]!;
    expect(hole).toEqual([...(input.features[1]!.geometry as Polygon).coordinates[1]!].reverse());
  });

  it('passes its own read-back check', async () => {
    const fc = zones();
    const opts = { baseName: 'ZONES', rateField: 'RATE' };
    await expect(checkShapefileZip(await shapefileZip(fc, opts), fc, opts)).resolves.toBeUndefined();
  });

  it('fails the check when a value differs from the zones', async () => {
    const fc = zones();
    const zip = await shapefileZip(fc, { baseName: 'ZONES' });
    fc.features[2]!.properties.rate = 130;
    await expect(checkShapefileZip(zip, fc, { baseName: 'ZONES' })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_OUTPUT', message: expect.stringMatching(/feature 2 field RATE reads back as 125.25, expected 130/) });
  });

  it('fails the check on the zip shp-write.zip() makes of mixed Polygon and MultiPolygon zones (one layer overwrites the other)', async () => {
    const fc = zones();
    const shpwrite = createRequire(import.meta.url)('@mapbox/shp-write') as { zip: (gj: unknown, o: object) => Promise<Buffer> };
    const features = fc.features.map((f) => ({ ...f, properties: { ZONE: f.properties.zone, RATE: f.properties.rate, AREA_HA: f.properties.areaHa } }));
    const zip = await shpwrite.zip({ type: 'FeatureCollection', features }, { outputType: 'nodebuffer', compression: 'DEFLATE', types: { polygon: 'ZONES' }, prj: WGS84_PRJ });
    await expect(checkShapefileZip(zip, fc, { baseName: 'ZONES' })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_OUTPUT', message: expect.stringMatching(/it has 1 features, the zones have 3/) });
  });

  it('fails the check when outer rings are counter-clockwise', async () => {
    const fc: ZoneFeatures = { type: 'FeatureCollection', features: [zones().features[0]!] };
    const write = createRequire(import.meta.url)('@mapbox/shp-write/src/write.js') as (rows: object[], type: string, geoms: unknown[], cb: (e: unknown, f: Record<'shp' | 'shx' | 'dbf', DataView>) => void) => void;
    const zip = new JSZip();
    write([{ ZONE: 1, RATE: 80, AREA_HA: 0.81 }], 'POLYGON', [[(fc.features[0]!.geometry as Polygon).coordinates]], (_, f) => {
      for (const ext of ['shp', 'shx', 'dbf'] as const) zip.file(`ZONES.${ext}`, new Uint8Array(f[ext].buffer));
    });
    zip.file('ZONES.prj', WGS84_PRJ);
    const bytes = await zip.generateAsync({ type: 'nodebuffer' });
    await expect(checkShapefileZip(bytes, fc, { baseName: 'ZONES' })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_OUTPUT', message: expect.stringMatching(/ring 0 is counter-clockwise/) });
  });

  it('fails the check when a file is missing or another is added', async () => {
    const fc = zones();
    const z = await JSZip.loadAsync(await shapefileZip(fc, { baseName: 'ZONES' }));
    z.remove('ZONES.shx');
    z.file('readme.txt', 'x');
    const zip = await z.generateAsync({ type: 'nodebuffer' });
    await expect(checkShapefileZip(zip, fc, { baseName: 'ZONES' })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_OUTPUT', message: expect.stringMatching(/not exactly \[ZONES.dbf, ZONES.prj, ZONES.shp, ZONES.shx\]/) });
  });

  it.each([
    ['a base name longer than 8', { baseName: 'PRESCRIPT' }, /not an 8.3 name/],
    ['a lower-case base name', { baseName: 'rx' }, /not an 8.3 name/],
    ['a rate field longer than 10', { baseName: 'RX', rateField: 'RATE_KG_HA1' }, /not a DBF field name/],
    ['a rate field named like another column', { baseName: 'RX', rateField: 'ZONE' }, /clashes/],
  ])('refuses %s', async (_, opts, why) => {
    await expect(shapefileZip(zones(), opts)).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_PARAMS', message: expect.stringMatching(why) });
  });

  it('refuses zones it cannot write: none, or a negative rate', async () => {
    await expect(shapefileZip({ type: 'FeatureCollection', features: [] }, { baseName: 'RX' })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_PARAMS' });
    const fc = zones();
    fc.features[0]!.properties.rate = -1;
    await expect(shapefileZip(fc, { baseName: 'RX' })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_PARAMS', message: expect.stringMatching(/rate -1/) });
  });
});
