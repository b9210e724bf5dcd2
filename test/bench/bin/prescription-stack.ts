/**
 * Generates the prescription benchmark's input stack in a directory (argv[2]):
 * a 10,000 × 10,000 yield raster (1 m, UTM 54N, float32, 256 tiles, DEFLATE)
 * over 100 km² of fields near Iwamizawa and three coarser layers in other
 * CRSs, plus the fields' boundary. Runs in its own process so generating
 * counts neither in the run's time nor in its memory.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { transformer, writeGeoTiff } from '@hatake/vrt';

const dir = process.argv[2]!;
const X0 = 560_000, Y0 = 4_790_000, SIZE = 10_000; // UTM 54N, 10 km × 10 km
const toWgs = transformer(32654, 4326);

/** Smooth yield in t/ha at a UTM position, with nodata streaks (headlands) every 2.5 km. */
const yieldAt = (x: number, y: number): number => 7 + 1.5 * Math.sin((x - X0) / 900) * Math.cos((y - Y0) / 1300) + 0.8 * Math.sin((x + y) / 370);

// 1 m yield, generated block by block
await writeGeoTiff(join(dir, 'yield.tif'), { width: SIZE, height: SIZE, type: 'float32', epsg: 32654, transform: [X0, 1, 0, Y0 + SIZE, 0, -1], nodata: -9999, layout: { tile: 256 }, compression: 'deflate' }, (bx, by, w, h) => {
  const out = new Float32Array(w * h);
  for (let r = 0; r < h; r++) {
    const y = Y0 + SIZE - (by + r + 0.5);
    for (let c = 0; c < w; c++) {
      const x = X0 + bx + c + 0.5;
      // a 5 m nodata strip between fields (every 2,500 m)
      out[r * w + c] = (bx + c) % 2500 < 5 || (by + r) % 2500 < 5 ? -9999 : yieldAt(x, y);
    }
  }
  return out;
});

// soil moisture, JGD2011 / Japan Plane Rectangular CS XII, 10 m, int16 in 0.1 %
const toJgd = transformer(32654, 6680);
const [jx0, jy0] = toJgd.forward(X0 - 200, Y0 - 200);
const [jx1, jy1] = toJgd.forward(X0 + SIZE + 200, Y0 + SIZE + 200);
const mx0 = Math.floor(Math.min(jx0, jx1) / 10) * 10, my1 = Math.ceil(Math.max(jy0, jy1) / 10) * 10;
const mw = Math.ceil((Math.max(jx0, jx1) - mx0) / 10) + 20, mh = Math.ceil((my1 - Math.min(jy0, jy1)) / 10) + 20;
const fromJgd = transformer(6680, 32654);
await writeGeoTiff(join(dir, 'moisture.tif'), { width: mw, height: mh, type: 'int16', epsg: 6680, transform: [mx0, 10, 0, my1, 0, -10], nodata: -1, layout: { rowsPerStrip: 16 }, compression: 'deflate', scale: 0.1 }, (bx, by, w, h) => {
  const out = new Int16Array(w * h);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    const [x, y] = fromJgd.forward(mx0 + (bx + c + 0.5) * 10, my1 - (by + r + 0.5) * 10);
    out[r * w + c] = Math.round(10 * (30 + 8 * Math.sin((x - X0) / 2100) + 4 * Math.cos((y - Y0) / 1700)));
  }
  return out;
});

// NDVI, WGS84, 0.0001°
const [lon0, lat0] = toWgs.forward(X0 - 200, Y0 - 200);
const [lon1, lat1] = toWgs.forward(X0 + SIZE + 200, Y0 + SIZE + 200);
const d = 0.0001;
const nw = Math.ceil((lon1 - lon0) / d), nh = Math.ceil((lat1 - lat0) / d);
const fromWgs = transformer(4326, 32654);
await writeGeoTiff(join(dir, 'ndvi.tif'), { width: nw, height: nh, type: 'float32', epsg: 4326, transform: [lon0, d, 0, lat1, 0, -d], nodata: -9999, layout: { tile: 256 }, compression: 'deflate' }, (bx, by, w, h) => {
  const out = new Float32Array(w * h);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    const [x, y] = fromWgs.forward(lon0 + (bx + c + 0.5) * d, lat1 - (by + r + 0.5) * d);
    out[r * w + c] = 0.6 + 0.15 * Math.sin((x - X0) / 800) * Math.sin((y - Y0) / 650);
  }
  return out;
});

// organic matter applied, UTM 54N, 20 m: manure on every other field
await writeGeoTiff(join(dir, 'organic.tif'), { width: SIZE / 20, height: SIZE / 20, type: 'float32', epsg: 32654, transform: [X0, 20, 0, Y0 + SIZE, 0, -20], nodata: -9999, layout: { tile: 256 }, compression: 'deflate' }, (bx, by, w, h) => {
  const out = new Float32Array(w * h);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = (Math.floor(((bx + c) * 20) / 2500) + Math.floor(((by + r) * 20) / 2500)) % 2 ? 20 : 0;
  return out;
});

// 16 fields of 2,450 m, 50 m lanes between them, as one MultiPolygon in WGS84 (edges densified every 100 m)
const fields: number[][][][] = [];
for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
  const fx0 = X0 + i * 2500 + 25, fy0 = Y0 + j * 2500 + 25, s = 2450;
  const ring: number[][] = [];
  const corners = [[fx0, fy0], [fx0 + s, fy0], [fx0 + s, fy0 + s], [fx0, fy0 + s], [fx0, fy0]];
  for (let k = 0; k < 4; k++) {
    const [ax, ay] = corners[k]!, [bx, by] = corners[k + 1]!;
    for (let t = 0; t < 24.5; t++) ring.push(toWgs.forward(ax! + ((bx! - ax!) * t) / 24.5, ay! + ((by! - ay!) * t) / 24.5));
  }
  ring.push(ring[0]!);
  fields.push([ring]);
}
await writeFile(join(dir, 'fields.geojson'), JSON.stringify({ type: 'Feature', properties: { name: 'Iwamizawa benchmark fields' }, geometry: { type: 'MultiPolygon', coordinates: fields } }));
process.stdout.write(`${JSON.stringify({ yield: `${SIZE}x${SIZE}`, moisture: `${mw}x${mh}`, ndvi: `${nw}x${nh}`, organic: `${SIZE / 20}x${SIZE / 20}` })}\n`);
