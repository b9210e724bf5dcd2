/**
 * The prescription GeoTIFF: product rate (kg/ha, float32) per cell of the
 * working grid, in its projected CRS, nodata -9999 outside the field. Written
 * with geotiff.js's writer (one uncompressed strip, which every GIS and
 * terminal reads; the output is small: one cell per working width).
 */
import { fromArrayBuffer, writeArrayBuffer } from 'geotiff';
import { VrtError } from '../errors.ts';
import type { ZoneMap } from '../types.ts';

/** The nodata value of the prescription GeoTIFF. */
export const PRESCRIPTION_NODATA = -9999;

/** The prescription as GeoTIFF bytes. */
export async function prescriptionTiff(map: ZoneMap): Promise<Uint8Array> {
  const { grid } = map;
  const values = new Float32Array(map.rate.length);
  for (let i = 0; i < values.length; i++) values[i] = map.zone[i] ? map.rate[i]! : PRESCRIPTION_NODATA;
  const buf = await writeArrayBuffer(values, {
    width: grid.width,
    height: grid.height,
    ModelPixelScale: [grid.cellSize, grid.cellSize, 0],
    ModelTiepoint: [0, 0, 0, grid.originX, grid.originY, 0],
    GTModelTypeGeoKey: 1, // projected
    GTRasterTypeGeoKey: 1, // pixel is area
    ProjectedCSTypeGeoKey: grid.epsg,
    GDAL_NODATA: `${PRESCRIPTION_NODATA}`,
  });
  return new Uint8Array(buf);
}

/** Reads the GeoTIFF back with geotiff.js: size, georeferencing, CRS, nodata and every value must match the map, or HATAKE_ERR_VRT_OUTPUT. */
export async function checkPrescriptionTiff(bytes: Uint8Array, map: ZoneMap): Promise<void> {
  const fail = (why: string): never => {
    throw new VrtError('HATAKE_ERR_VRT_OUTPUT', `prescription.tif: ${why}`);
  };
  const tiff = await fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  const image = await tiff.getImage();
  const { grid } = map;
  if (image.getWidth() !== grid.width || image.getHeight() !== grid.height) fail(`size ${image.getWidth()} × ${image.getHeight()} instead of ${grid.width} × ${grid.height}`);
  const [ox, oy] = image.getOrigin();
  const [rx, ry] = image.getResolution();
  if (Math.abs(ox! - grid.originX) > 1e-6 || Math.abs(oy! - grid.originY) > 1e-6 || Math.abs(rx! - grid.cellSize) > 1e-9 || Math.abs(ry! + grid.cellSize) > 1e-9) fail(`georeferencing (${ox}, ${oy}) ${rx} × ${ry} does not match the grid`);
  const epsg = (image.getGeoKeys() as { ProjectedCSTypeGeoKey?: number } | null)?.ProjectedCSTypeGeoKey;
  if (epsg !== grid.epsg) fail(`CRS EPSG:${epsg} instead of EPSG:${grid.epsg}`);
  if (image.getGDALNoData() !== PRESCRIPTION_NODATA) fail(`nodata ${image.getGDALNoData()} instead of ${PRESCRIPTION_NODATA}`);
  const [band] = (await image.readRasters({ interleave: false })) as unknown as Float32Array[];
  for (let i = 0; i < map.rate.length; i++) {
    const want = map.zone[i] ? Math.fround(map.rate[i]!) : PRESCRIPTION_NODATA;
    if (band![i] !== want) fail(`cell ${i % grid.width}, ${Math.floor(i / grid.width)} reads ${band![i]} instead of ${want}`);
  }
}
