/**
 * The coordinate reference systems hatake ships (proj4 definitions keyed by
 * EPSG code), so no lookup ever leaves the machine: WGS84, JGD2000/JGD2011
 * geographic, Web Mercator, every WGS84 UTM zone, JGD2011 UTM zones 51–55 and
 * the 19 zones of the Japan Plane Rectangular CS on JGD2000 and JGD2011
 * (Hokkaido is zones XI–XIII: EPSG:6679–6681).
 */
import proj4 from 'proj4';
import { VrtError } from './errors.ts';

/** Origins (latitude, longitude in degrees) of Japan Plane Rectangular CS zones I–XIX. */
const JPRCS_ORIGINS: readonly (readonly [number, number])[] = [
  [33, 129.5], [33, 131], [36, 132 + 1 / 6], [33, 133.5], [36, 134 + 1 / 3], [36, 136], [36, 137 + 1 / 6], [36, 138.5], [36, 139 + 5 / 6], [40, 140 + 5 / 6],
  [44, 140.25], [44, 142.25], [44, 144.25], [26, 142], [26, 127.5], [26, 124], [26, 131], [20, 136], [26, 154],
];

const GRS80 = '+ellps=GRS80 +towgs84=0,0,0,0,0,0,0';

function definitions(): Map<number, string> {
  const defs = new Map<number, string>();
  defs.set(4326, '+proj=longlat +datum=WGS84 +no_defs');
  defs.set(4612, `+proj=longlat ${GRS80} +no_defs`); // JGD2000
  defs.set(6668, `+proj=longlat ${GRS80} +no_defs`); // JGD2011
  defs.set(3857, '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs');
  for (let zone = 1; zone <= 60; zone++) {
    defs.set(32600 + zone, `+proj=utm +zone=${zone} +datum=WGS84 +units=m +no_defs`);
    defs.set(32700 + zone, `+proj=utm +zone=${zone} +south +datum=WGS84 +units=m +no_defs`);
  }
  for (let zone = 51; zone <= 55; zone++) defs.set(6688 + zone - 51, `+proj=utm +zone=${zone} ${GRS80} +units=m +no_defs`); // JGD2011 / UTM
  JPRCS_ORIGINS.forEach(([lat, lon], i) => {
    const tm = `+proj=tmerc +lat_0=${lat} +lon_0=${lon} +k=0.9999 +x_0=0 +y_0=0 ${GRS80} +units=m +no_defs`;
    defs.set(2443 + i, tm); // JGD2000 / Japan Plane Rectangular CS I..XIX
    defs.set(6669 + i, tm); // JGD2011 / Japan Plane Rectangular CS I..XIX
  });
  return defs;
}

const DEFS = definitions();

/** The EPSG codes hatake can read and write. */
export function knownEpsgCodes(): number[] {
  return [...DEFS.keys()].sort((a, b) => a - b);
}

/** The proj4 definition of an EPSG code, or a HATAKE_ERR_VRT_CRS error naming what is shipped. */
export function crsDefinition(epsg: number): string {
  const def = DEFS.get(epsg);
  if (!def) throw new VrtError('HATAKE_ERR_VRT_CRS', `EPSG:${epsg} is not a CRS hatake ships (WGS84 4326, JGD2000 4612, JGD2011 6668, 3857, WGS84 UTM 326xx/327xx, JGD2011 UTM 6688–6692, Japan Plane Rectangular CS 2443–2461 and 6669–6687)`);
  return def;
}

/** True when the EPSG code is geographic (degrees), false when projected (metres). */
export function isGeographic(epsg: number): boolean {
  return crsDefinition(epsg).startsWith('+proj=longlat');
}

/** A transform of [x, y] pairs, in place over a flat array (x0, y0, x1, y1, …). */
export interface Transformer {
  forward(x: number, y: number): [number, number];
  /** Transforms every pair of `xy` in place and returns it. */
  forwardAll(xy: Float64Array): Float64Array;
}

/** The transform from one EPSG code to another (identity when they are equal). */
export function transformer(from: number, to: number): Transformer {
  if (from === to || crsDefinition(from) === crsDefinition(to)) {
    return { forward: (x, y) => [x, y], forwardAll: (xy) => xy };
  }
  const conv = proj4(crsDefinition(from), crsDefinition(to));
  return {
    forward: (x, y) => conv.forward([x, y]) as [number, number],
    forwardAll(xy) {
      const p: [number, number] = [0, 0];
      for (let i = 0; i < xy.length; i += 2) {
        p[0] = xy[i]!;
        p[1] = xy[i + 1]!;
        const q = conv.forward(p);
        xy[i] = q[0]!;
        xy[i + 1] = q[1]!;
      }
      return xy;
    },
  };
}

/** The WGS84 UTM zone (EPSG code) that contains a longitude/latitude. */
export function utmZoneFor(lon: number, lat: number): number {
  const zone = Math.min(60, Math.max(1, Math.floor((lon + 180) / 6) + 1));
  return (lat >= 0 ? 32600 : 32700) + zone;
}

/** The OGC WKT (ESRI flavour, as `.prj` files want it) of WGS84. */
export const WGS84_PRJ = 'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]';
