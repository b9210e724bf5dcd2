/**
 * The zone polygons as an ESRI Shapefile (zipped .shp/.shx/.dbf/.prj), the
 * format most non-ISOBUS terminals take prescriptions in, and its read-back check.
 *
 * Written with @mapbox/shp-write's low-level `write`, not its `zip`: `zip`
 * writes Polygon and MultiPolygon features to two layers of the same file name,
 * so one silently overwrites the other, and it loads the browser download
 * helper (file-saver). Before `write`, rings are turned as the Shapefile
 * specification wants (outer rings clockwise, holes counter-clockwise: the
 * opposite of GeoJSON, RFC 7946 §3.1.6) and every feature is written as a
 * multi-part polygon. shp-write's DBF writer declares every number N(18,3) but
 * writes `String(value)` (any number of decimals, exponent notation for large
 * values, cut at 18 characters), so values are rounded to the 3 declared
 * decimals and bounded so that what is written is what is declared.
 */
import { createRequire } from 'node:module';
import JSZip from 'jszip';
import { open as openShapefile } from 'shapefile';
import type { Feature, MultiPolygon, Polygon, Position } from 'geojson';
import { WGS84_PRJ } from '../crs.ts';
import { VrtError } from '../errors.ts';
import type { ZoneFeatures, ZoneProperties } from '../types.ts';

/** Options of the Shapefile output. */
export interface ShapefileOptions {
  /** File name without extension, 8.3 style: 1–8 of A–Z, 0–9, `_`. */
  baseName: string;
  /** DBF column of the product rate (kg/ha), 1–10 characters; default `RATE`. */
  rateField?: string;
}

type Ring = Position[];
type Rings = Ring[];
type Row = Record<string, number>;

/** The part of shp-write's low-level writer this module uses (`src/write.js`). */
type ShpWrite = (
  rows: Row[],
  geometryType: 'POLYGON',
  geometries: Rings[][],
  callback: (err: unknown, files: { shp: DataView; shx: DataView; dbf: DataView }) => void,
) => void;

const ZONE_FIELD = 'ZONE';
const AREA_FIELD = 'AREA_HA';
const DEFAULT_RATE_FIELD = 'RATE';
/** Decimals shp-write declares for every numeric DBF field (N, width 18). */
const DBF_DECIMALS = 3;
/** Largest magnitude that fits N(18,3) in fixed notation: 13 digits, point, 3 decimals, sign. */
const DBF_MAX_ABS = 1e13;
const BASE_NAME = /^[A-Z0-9_]{1,8}$/;
/** dBase III field names: at most 10 characters (11 bytes with the NUL), starting with a letter. */
const DBF_FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,9}$/;
/** Shapefile header: version 1000, shape type 5 (Polygon) — ESRI Shapefile Technical Description, Table 1. */
const SHP_VERSION = 1000;
const SHP_POLYGON = 5;

let shpWriteFn: ShpWrite | undefined;
/** shp-write's low-level writer, loaded on first use (its package entry would also load file-saver). */
function shpWrite(): ShpWrite {
  if (!shpWriteFn) {
    const require = createRequire(import.meta.url);
    // shp-write ships no types for this path; ShpWrite above states the signature (README "write(data, geometrytype, geometries, callback)").
    shpWriteFn = require('@mapbox/shp-write/src/write.js') as ShpWrite;
  }
  return shpWriteFn;
}

/** A zip with BASENAME.shp/.shx/.dbf/.prj (WGS84 .prj, ESRI WKT) of the zone polygons: numeric fields ZONE, <rateField> (kg/ha), AREA_HA. */
export async function shapefileZip(fc: ZoneFeatures, opts: ShapefileOptions): Promise<Buffer> {
  const { baseName, rateField } = checkOptions(opts);
  const rows = fc.features.map((f, i) => dbfRow(f.properties, rateField, i));
  const geometries = fc.features.map((f, i) => shapefileRings(f, i));
  if (geometries.length === 0) throw new VrtError('HATAKE_ERR_VRT_PARAMS', 'the Shapefile output needs at least one zone polygon; the zone collection is empty');

  let files: { shp: DataView; shx: DataView; dbf: DataView } | undefined;
  // write() is synchronous: it calls back before it returns.
  shpWrite()(rows, 'POLYGON', geometries, (err, out) => {
    if (err) throw err;
    files = out;
  });
  if (!files) throw new VrtError('HATAKE_ERR_VRT_OUTPUT', 'shp-write did not produce the Shapefile');

  const zip = new JSZip();
  zip.file(`${baseName}.shp`, bytes(files.shp), { binary: true });
  zip.file(`${baseName}.shx`, bytes(files.shx), { binary: true });
  zip.file(`${baseName}.dbf`, bytes(files.dbf), { binary: true });
  zip.file(`${baseName}.prj`, WGS84_PRJ);
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

/** Reads the zip back with the `shapefile` package and throws HATAKE_ERR_VRT_OUTPUT unless features, field values and rings (outer clockwise) are as written. */
export async function checkShapefileZip(zip: Buffer, fc: ZoneFeatures, opts: ShapefileOptions): Promise<void> {
  const { baseName, rateField } = checkOptions(opts);
  const fail = (why: string): never => {
    throw new VrtError('HATAKE_ERR_VRT_OUTPUT', `Shapefile ${baseName}.zip failed its read-back check: ${why}`);
  };

  let archive: JSZip;
  try {
    archive = await JSZip.loadAsync(zip);
  } catch (err) {
    return fail(`not a readable zip (${(err as Error).message})`);
  }
  const names = Object.keys(archive.files).sort();
  const wanted = ['dbf', 'prj', 'shp', 'shx'].map((ext) => `${baseName}.${ext}`);
  if (names.join('|') !== wanted.join('|')) fail(`the zip holds [${names.join(', ')}], not exactly [${wanted.join(', ')}] at its root`);
  const read = async (ext: string): Promise<Uint8Array> => archive.file(`${baseName}.${ext}`)!.async('uint8array');
  const [shp, shx, dbf] = await Promise.all([read('shp'), read('shx'), read('dbf')]);
  const prj = await archive.file(`${baseName}.prj`)!.async('string');
  if (prj !== WGS84_PRJ) fail(`the .prj is not WGS84 (${prj.slice(0, 60)}…)`);

  const header = new DataView(shp.buffer, shp.byteOffset, shp.byteLength);
  if (shp.byteLength < 100 || header.getInt32(0) !== 9994) fail('the .shp has no Shapefile header');
  if (header.getInt32(28, true) !== SHP_VERSION) fail(`the .shp version is ${header.getInt32(28, true)}, not ${SHP_VERSION}`);
  if (header.getInt32(32, true) !== SHP_POLYGON) fail(`the .shp shape type is ${header.getInt32(32, true)}, not ${SHP_POLYGON} (Polygon)`);
  if (header.getInt32(24) * 2 !== shp.byteLength) fail(`the .shp header says ${header.getInt32(24) * 2} bytes but the file has ${shp.byteLength}`);
  const indexed = checkIndex(shp, shx, fail);

  const source = await openShapefile(shp, dbf);
  const features: Feature[] = [];
  for (let r = await source.read(); !r.done; r = await source.read()) features.push(r.value);
  if (features.length !== fc.features.length) fail(`it has ${features.length} features, the zones have ${fc.features.length}`);
  if (indexed !== features.length) fail(`the .shx lists ${indexed} records, the .shp has ${features.length}`);

  const fields = [ZONE_FIELD, rateField, AREA_FIELD];
  features.forEach((got, i) => {
    const want = fc.features[i]!;
    const row = dbfRow(want.properties, rateField, i);
    const props = got.properties ?? {};
    const keys = Object.keys(props);
    if (keys.join('|') !== fields.join('|')) fail(`feature ${i} has fields [${keys.join(', ')}], not [${fields.join(', ')}]`);
    for (const name of fields) {
      const value: unknown = props[name];
      if (typeof value !== 'number') fail(`feature ${i} field ${name} reads back as ${JSON.stringify(value)}, not a number (the DBF column must be numeric)`);
      if (value !== row[name]) fail(`feature ${i} field ${name} reads back as ${String(value)}, expected ${row[name]}`);
    }
    checkRings(got, shapefileRings(want, i), i, fail);
  });
}

/** The validated base name and rate field. */
function checkOptions(opts: ShapefileOptions): { baseName: string; rateField: string } {
  const rateField = opts.rateField ?? DEFAULT_RATE_FIELD;
  if (!BASE_NAME.test(opts.baseName)) {
    throw new VrtError('HATAKE_ERR_VRT_PARAMS', `Shapefile base name "${opts.baseName}" is not an 8.3 name: use 1–8 upper-case letters, digits or "_"`);
  }
  if (!DBF_FIELD_NAME.test(rateField)) {
    throw new VrtError('HATAKE_ERR_VRT_PARAMS', `rate field "${rateField}" is not a DBF field name: use 1–10 letters, digits or "_", starting with a letter`);
  }
  if (rateField.toUpperCase() === ZONE_FIELD || rateField.toUpperCase() === AREA_FIELD) {
    throw new VrtError('HATAKE_ERR_VRT_PARAMS', `rate field "${rateField}" clashes with the ${ZONE_FIELD} or ${AREA_FIELD} field`);
  }
  return { baseName: opts.baseName, rateField };
}

/** The DBF row of a zone, numbers as they are written: ZONE an integer, the others rounded to the declared 3 decimals. */
function dbfRow(p: ZoneProperties, rateField: string, i: number): Row {
  if (!Number.isInteger(p.zone) || p.zone < 0 || p.zone >= DBF_MAX_ABS) {
    throw new VrtError('HATAKE_ERR_VRT_PARAMS', `zone feature ${i} has zone id ${p.zone}; it must be a non-negative integer`);
  }
  // Key order is DBF column order.
  return { [ZONE_FIELD]: p.zone, [rateField]: dbfNumber(p.rate, 'rate', i), [AREA_FIELD]: dbfNumber(p.areaHa, 'areaHa', i) };
}

function dbfNumber(v: number, what: string, i: number): number {
  if (!Number.isFinite(v) || v < 0 || v >= DBF_MAX_ABS) {
    throw new VrtError('HATAKE_ERR_VRT_PARAMS', `zone feature ${i} has ${what} ${v}; it must be a finite number in [0, ${DBF_MAX_ABS})`);
  }
  const scale = 10 ** DBF_DECIMALS;
  // + 0 turns -0 into 0, which would otherwise be written as "0" but compared as -0.
  return Math.round(v * scale) / scale + 0;
}

/** The polygons of a feature as Shapefile wants them: closed rings, outer clockwise, holes counter-clockwise. */
function shapefileRings(f: Feature<Polygon | MultiPolygon, ZoneProperties>, i: number): Rings[] {
  const g = f.geometry;
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  if (polygons.length === 0) throw new VrtError('HATAKE_ERR_VRT_PARAMS', `zone feature ${i} has an empty geometry`);
  return polygons.map((rings) => {
    if (rings.length === 0) throw new VrtError('HATAKE_ERR_VRT_PARAMS', `zone feature ${i} has a polygon without rings`);
    return rings.map((ring, r) => {
      const closed = closeRing(ring);
      if (closed.length < 4) throw new VrtError('HATAKE_ERR_VRT_PARAMS', `zone feature ${i} has a ring of ${ring.length} points; a ring needs at least 3 distinct points`);
      const clockwise = signedArea(closed) < 0;
      const wantClockwise = r === 0;
      return clockwise === wantClockwise ? closed : [...closed].reverse();
    });
  });
}

function closeRing(ring: Ring): Ring {
  const xy = ring.map((p) => [p[0]!, p[1]!]);
  const first = xy[0];
  const last = xy[xy.length - 1];
  if (first && last && (first[0] !== last[0] || first[1] !== last[1])) xy.push([first[0]!, first[1]!]);
  return xy;
}

/** Twice the signed area of a closed ring (shoelace): positive when counter-clockwise in x-east, y-north. */
function signedArea(ring: Ring): number {
  let a = 0;
  for (let k = 0; k + 1 < ring.length; k++) a += ring[k]![0]! * ring[k + 1]![1]! - ring[k + 1]![0]! * ring[k]![1]!;
  return a;
}

/** Compares the read-back polygons with the expected ones, ring by ring and point by point. */
function checkRings(got: Feature, want: Rings[], i: number, fail: (why: string) => never): void {
  const g = got.geometry;
  if (!g || (g.type !== 'Polygon' && g.type !== 'MultiPolygon')) return fail(`feature ${i} reads back as ${g?.type ?? 'no geometry'}, not a polygon`);
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  if (polygons.length !== want.length) fail(`feature ${i} reads back with ${polygons.length} polygons, expected ${want.length}`);
  polygons.forEach((rings, p) => {
    const wantRings = want[p]!;
    if (rings.length !== wantRings.length) fail(`feature ${i} polygon ${p} reads back with ${rings.length} rings, expected ${wantRings.length}`);
    rings.forEach((ring, r) => {
      const clockwise = signedArea(ring) < 0;
      if (clockwise !== (r === 0)) fail(`feature ${i} polygon ${p} ring ${r} is ${clockwise ? 'clockwise' : 'counter-clockwise'}; Shapefile outer rings must be clockwise and holes counter-clockwise`);
      const wantRing = wantRings[r]!;
      const same = ring.length === wantRing.length && ring.every((pt, k) => pt[0] === wantRing[k]![0] && pt[1] === wantRing[k]![1]);
      if (!same) fail(`feature ${i} polygon ${p} ring ${r} reads back with other points than were written`);
    });
  });
}

/** The .shx must list the .shp's records in order, each at its offset and length; returns how many it lists. */
function checkIndex(shp: Uint8Array, shx: Uint8Array, fail: (why: string) => never): number {
  const s = new DataView(shp.buffer, shp.byteOffset, shp.byteLength);
  const x = new DataView(shx.buffer, shx.byteOffset, shx.byteLength);
  if (shx.byteLength < 100 || (shx.byteLength - 100) % 8 !== 0 || x.getInt32(24) * 2 !== shx.byteLength) {
    fail(`the .shx has ${shx.byteLength} bytes, which is not a 100-byte header and 8-byte records as its header says`);
  }
  const count = (shx.byteLength - 100) / 8;
  let offset = 100;
  for (let k = 0; k < count; k++) {
    const indexOffset = x.getInt32(100 + 8 * k) * 2;
    const indexLength = x.getInt32(104 + 8 * k) * 2;
    if (indexOffset !== offset || offset + 8 > shp.byteLength) fail(`.shx record ${k + 1} points at byte ${indexOffset}, the .shp record is at ${offset}`);
    if (s.getInt32(offset) !== k + 1) fail(`.shp record at byte ${offset} is numbered ${s.getInt32(offset)}, expected ${k + 1}`);
    if (s.getInt32(offset + 4) * 2 !== indexLength) fail(`.shx record ${k + 1} length ${indexLength} differs from the .shp record's ${s.getInt32(offset + 4) * 2}`);
    offset += 8 + indexLength;
  }
  if (offset !== shp.byteLength) fail(`the .shx records end at byte ${offset} of the .shp, which has ${shp.byteLength}`);
  return count;
}

function bytes(view: DataView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
