/**
 * A small streaming GeoTIFF writer (classic little-endian TIFF, one band,
 * strips or tiles, uncompressed or DEFLATE) for test rasters and the
 * benchmark. geotiff.js can only write one uncompressed strip; this writer
 * pulls one block at a time from a callback, compresses it and appends it to
 * the file, then writes the IFD at the end and patches its offset into the
 * header, so memory stays at one block whatever the raster's size.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { deflateSync } from 'node:zlib';
import { isGeographic } from './crs.ts';
import { VrtError } from './errors.ts';

/** Sample types the writer can produce. */
export type TiffSampleType = 'float32' | 'float64' | 'int16' | 'uint16' | 'uint8' | 'int32';

/** What to write: size, sample type, CRS, pixel-corner geotransform, nodata, layout and compression. */
export interface TiffSpec {
  width: number;
  height: number;
  type: TiffSampleType;
  /** EPSG code; must be one hatake ships (see crs.ts), geographic or projected. */
  epsg: number;
  /** GDAL-style north-up affine of the pixel corners: x = t[0] + col·t[1], y = t[3] + row·t[5] (t[2] = t[4] = 0, t[5] < 0). */
  transform: readonly [number, number, number, number, number, number];
  /** Written as the GDAL_NODATA tag (ASCII). */
  nodata?: number;
  /** Square tiles of `tile` pixels (a multiple of 16, as TIFF requires), or strips of `rowsPerStrip` rows. */
  layout: { tile: number } | { rowsPerStrip: number };
  compression: 'none' | 'deflate';
  /** 2 = horizontal differencing (integer types with DEFLATE only). */
  predictor?: 1 | 2;
  /** Band scale and offset, written in GDAL_METADATA (value = raw · scale + offset). */
  scale?: number;
  offset?: number;
}

/** Returns the values of the block at (x0, y0) of w × h pixels (clipped to the raster), row-major. */
export type BlockSource = (x0: number, y0: number, w: number, h: number) => ArrayLike<number>;

type SampleArray = Float32Array | Float64Array | Int16Array | Uint16Array | Uint8Array | Int32Array;

const SAMPLE_TYPES: Record<TiffSampleType, { bits: number; format: 1 | 2 | 3; make: (n: number) => SampleArray }> = {
  uint8: { bits: 8, format: 1, make: (n) => new Uint8Array(n) },
  uint16: { bits: 16, format: 1, make: (n) => new Uint16Array(n) },
  int16: { bits: 16, format: 2, make: (n) => new Int16Array(n) },
  int32: { bits: 32, format: 2, make: (n) => new Int32Array(n) },
  float32: { bits: 32, format: 3, make: (n) => new Float32Array(n) },
  float64: { bits: 64, format: 3, make: (n) => new Float64Array(n) },
};

/** Largest offset a classic TIFF can hold. */
const MAX_CLASSIC = 2 ** 32 - 1;
/** zlib level: 6 (zlib's default) compresses smooth float rasters about as well as 9, several times faster. */
const DEFLATE_LEVEL = 6;
const HOST_LE = endianness() === 'LE';

const TIFF_TYPE = { SHORT: 3, LONG: 4, ASCII: 2, DOUBLE: 12 } as const;

/** Where the bytes go: appended in order, with later patches of bytes already written. */
interface Sink {
  position: number;
  append(bytes: Uint8Array): Promise<void>;
  patch(position: number, bytes: Uint8Array): Promise<void>;
}

/** Streams a GeoTIFF to `path`; `block(x0, y0, w, h)` returns that block's values (a typed array of the spec's type, row-major w*h). */
export async function writeGeoTiff(path: string, spec: TiffSpec, block: BlockSource): Promise<void> {
  const plan = planOf(spec);
  const handle = await open(path, 'w');
  let ok = false;
  try {
    const sink: Sink = {
      position: 0,
      async append(bytes) {
        await writeFully(handle, bytes, this.position);
        this.position += bytes.length;
      },
      async patch(position, bytes) {
        await writeFully(handle, bytes, position);
      },
    };
    await encode(plan, sink, block);
    ok = true;
  } finally {
    await handle.close();
    if (!ok) await rm(path, { force: true });
  }
}

/** The same into memory (small rasters in tests). */
export async function geoTiffBytes(spec: TiffSpec, values: ArrayLike<number>): Promise<Uint8Array> {
  const plan = planOf(spec);
  if (values.length !== spec.width * spec.height) {
    throw new VrtError('HATAKE_ERR_VRT_PARAMS', `geoTiffBytes: ${values.length} values given for a ${spec.width} × ${spec.height} raster`);
  }
  const chunks: { position: number; bytes: Uint8Array }[] = [];
  const sink: Sink = {
    position: 0,
    async append(bytes) {
      chunks.push({ position: this.position, bytes: bytes.slice() });
      this.position += bytes.length;
    },
    async patch(position, bytes) {
      for (const c of chunks) {
        if (position >= c.position && position + bytes.length <= c.position + c.bytes.length) {
          c.bytes.set(bytes, position - c.position);
          return;
        }
      }
      throw new Error('patch outside a single chunk'); // cannot happen: only the header is patched
    },
  };
  await encode(plan, sink, (x0, y0, w, h) => {
    const out = new Float64Array(w * h);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) out[r * w + c] = values[(y0 + r) * spec.width + x0 + c]!;
    }
    return out;
  });
  const out = new Uint8Array(sink.position);
  for (const c of chunks) out.set(c.bytes, c.position);
  return out;
}

interface Plan {
  spec: TiffSpec;
  geographic: boolean;
  bits: number;
  format: 1 | 2 | 3;
  bytes: number;
  make: (n: number) => SampleArray;
  tiled: boolean;
  /** Block width and height (a strip's height is rowsPerStrip; the last strip may be shorter). */
  bw: number;
  bh: number;
  across: number;
  down: number;
  predictor: 1 | 2;
}

function paramError(message: string): VrtError {
  return new VrtError('HATAKE_ERR_VRT_PARAMS', `GeoTIFF writer: ${message}`);
}

function planOf(spec: TiffSpec): Plan {
  const { width, height, transform: t } = spec;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_CLASSIC || height > MAX_CLASSIC) {
    throw paramError(`width and height must be positive integers (got ${width} × ${height})`);
  }
  const type = SAMPLE_TYPES[spec.type];
  if (!type) throw paramError(`unknown sample type '${String(spec.type)}'`);
  if (t.length !== 6 || !t.every(Number.isFinite) || t[1] <= 0 || t[5] >= 0 || t[2] !== 0 || t[4] !== 0) {
    throw paramError(`transform must be north-up with t[1] > 0, t[5] < 0, t[2] = t[4] = 0 (got [${t.join(', ')}])`);
  }
  const geographic = isGeographic(spec.epsg); // throws HATAKE_ERR_VRT_CRS for a code hatake does not ship
  const predictor = spec.predictor ?? 1;
  if (predictor !== 1 && predictor !== 2) throw paramError(`predictor must be 1 or 2 (got ${String(predictor)})`);
  if (predictor === 2 && (type.format === 3 || spec.compression === 'none')) {
    throw paramError('predictor 2 (horizontal differencing) is for integer types with DEFLATE only');
  }
  if (spec.compression !== 'none' && spec.compression !== 'deflate') throw paramError(`unknown compression '${String(spec.compression)}'`);
  for (const [k, v] of [['nodata', spec.nodata], ['scale', spec.scale], ['offset', spec.offset]] as const) {
    if (v !== undefined && typeof v !== 'number') throw paramError(`${k} must be a number`);
  }
  if (spec.scale !== undefined && (!Number.isFinite(spec.scale) || spec.scale === 0)) throw paramError(`scale must be finite and non-zero (got ${spec.scale})`);
  if (spec.offset !== undefined && !Number.isFinite(spec.offset)) throw paramError(`offset must be finite (got ${spec.offset})`);
  const bytes = type.bits / 8;
  let tiled: boolean;
  let bw: number;
  let bh: number;
  if ('tile' in spec.layout) {
    const tile = spec.layout.tile;
    if (!Number.isInteger(tile) || tile < 16 || tile % 16 !== 0 || tile > 4096) throw paramError(`tile size must be a multiple of 16 from 16 to 4096 (got ${tile})`);
    tiled = true;
    bw = tile;
    bh = tile;
  } else {
    const rps = spec.layout.rowsPerStrip;
    if (!Number.isInteger(rps) || rps < 1) throw paramError(`rowsPerStrip must be a positive integer (got ${rps})`);
    tiled = false;
    bw = width;
    bh = Math.min(rps, height);
  }
  if (bw * bh * bytes > 2 ** 30) throw paramError(`a block of ${bw} × ${bh} ${spec.type} exceeds 1 GiB; use smaller strips or tiles`);
  const across = Math.ceil(width / bw);
  const down = Math.ceil(height / bh);
  if (spec.compression === 'none') {
    const dataBytes = (tiled ? across * down * bw * bh : width * height) * bytes;
    if (dataBytes + 4096 + across * down * 8 > MAX_CLASSIC) {
      throw paramError(`an uncompressed ${width} × ${height} ${spec.type} GeoTIFF needs ${(dataBytes / 2 ** 30).toFixed(1)} GiB, more than classic TIFF's 4 GiB (BigTIFF is not written); use DEFLATE or a smaller raster`);
    }
  }
  return { spec, geographic, bits: type.bits, format: type.format, bytes, make: type.make, tiled, bw, bh, across, down, predictor };
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** The raw little-endian bytes of a typed array (a view when the host is little-endian). */
function leBytes(a: SampleArray): Uint8Array {
  const view = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (HOST_LE || a.BYTES_PER_ELEMENT === 1) return view;
  const copy = Buffer.from(view);
  if (a.BYTES_PER_ELEMENT === 2) copy.swap16();
  else if (a.BYTES_PER_ELEMENT === 4) copy.swap32();
  else copy.swap64();
  return copy;
}

async function encode(plan: Plan, sink: Sink, source: BlockSource): Promise<void> {
  const { spec, bw, bh, across, down, tiled } = plan;
  // header: "II", 42, offset of the first IFD (patched at the end)
  const header = new Uint8Array(8);
  const hv = new DataView(header.buffer);
  hv.setUint16(0, 0x4949, false);
  hv.setUint16(2, 42, true);
  await sink.append(header);

  const offsets: number[] = [];
  const counts: number[] = [];
  const fill = spec.nodata !== undefined && fits(plan, spec.nodata) ? spec.nodata : 0;
  for (let by = 0; by < down; by++) {
    for (let bx = 0; bx < across; bx++) {
      const x0 = bx * bw;
      const y0 = by * bh;
      const w = Math.min(bw, spec.width - x0);
      const h = Math.min(bh, spec.height - y0);
      const values = source(x0, y0, w, h);
      if (!values || values.length !== w * h) {
        throw paramError(`block(${x0}, ${y0}, ${w}, ${h}) returned ${values?.length ?? 'nothing'} values, expected ${w * h}`);
      }
      // tiles are always full size (TIFF 6.0 §15): pad the edge ones; the last strip holds only the rows left
      const rows = tiled ? bh : h;
      const data = plan.make(bw * rows);
      if (w === bw && h === rows) {
        data.set(values);
      } else {
        if (fill !== 0) data.fill(fill);
        for (let r = 0; r < h; r++) {
          for (let c = 0; c < w; c++) data[r * bw + c] = values[r * w + c]!;
        }
      }
      if (plan.predictor === 2) {
        for (let r = 0; r < rows; r++) {
          const base = r * bw;
          for (let c = bw - 1; c > 0; c--) data[base + c] = data[base + c]! - data[base + c - 1]!;
        }
      }
      let bytes = leBytes(data);
      if (spec.compression === 'deflate') bytes = deflateSync(bytes, { level: DEFLATE_LEVEL });
      if (sink.position + bytes.length > MAX_CLASSIC) {
        throw paramError(`the GeoTIFF would exceed 4 GiB, the limit of classic TIFF (BigTIFF is not written); use a smaller raster`);
      }
      offsets.push(sink.position);
      counts.push(bytes.length);
      await sink.append(bytes);
    }
  }

  if (sink.position % 2 === 1) await sink.append(new Uint8Array(1));
  const ifdOffset = sink.position;
  const ifd = buildIfd(plan, ifdOffset, offsets, counts);
  if (ifdOffset + ifd.length > MAX_CLASSIC) {
    throw paramError('the GeoTIFF would exceed 4 GiB, the limit of classic TIFF (BigTIFF is not written); use a smaller raster');
  }
  await sink.append(ifd);
  const patch = new Uint8Array(4);
  new DataView(patch.buffer).setUint32(0, ifdOffset, true);
  await sink.patch(4, patch);
}

/** Whether a nodata value is representable in the sample type (so edge padding can use it). */
function fits(plan: Plan, v: number): boolean {
  if (plan.format === 3) return true;
  const a = plan.make(1);
  a[0] = v;
  return a[0] === v;
}

/** GDAL_NODATA as GDAL writes it: the number in ASCII, "nan", "inf" or "-inf". */
function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return String(v);
}

interface Field {
  tag: number;
  type: number;
  values: readonly number[] | string;
}

function buildIfd(plan: Plan, ifdOffset: number, offsets: number[], counts: number[]): Uint8Array {
  const { spec, tiled } = plan;
  const t = spec.transform;
  const fields: Field[] = [
    { tag: 256, type: TIFF_TYPE.LONG, values: [spec.width] },
    { tag: 257, type: TIFF_TYPE.LONG, values: [spec.height] },
    { tag: 258, type: TIFF_TYPE.SHORT, values: [plan.bits] },
    { tag: 259, type: TIFF_TYPE.SHORT, values: [spec.compression === 'deflate' ? 8 : 1] },
    { tag: 262, type: TIFF_TYPE.SHORT, values: [1] }, // BlackIsZero
    { tag: 277, type: TIFF_TYPE.SHORT, values: [1] },
    { tag: 284, type: TIFF_TYPE.SHORT, values: [1] },
    { tag: 339, type: TIFF_TYPE.SHORT, values: [plan.format] },
  ];
  if (tiled) {
    fields.push(
      { tag: 322, type: TIFF_TYPE.SHORT, values: [plan.bw] },
      { tag: 323, type: TIFF_TYPE.SHORT, values: [plan.bh] },
      { tag: 324, type: TIFF_TYPE.LONG, values: offsets },
      { tag: 325, type: TIFF_TYPE.LONG, values: counts },
    );
  } else {
    fields.push(
      { tag: 273, type: TIFF_TYPE.LONG, values: offsets },
      { tag: 278, type: TIFF_TYPE.LONG, values: [plan.bh] },
      { tag: 279, type: TIFF_TYPE.LONG, values: counts },
    );
  }
  if (plan.predictor === 2) fields.push({ tag: 317, type: TIFF_TYPE.SHORT, values: [2] });
  // GeoTIFF 1.0: ModelPixelScale, ModelTiepoint (pixel (0,0) corner, PixelIsArea), GeoKeyDirectory
  fields.push(
    { tag: 33550, type: TIFF_TYPE.DOUBLE, values: [t[1], -t[5], 0] },
    { tag: 33922, type: TIFF_TYPE.DOUBLE, values: [0, 0, 0, t[0], t[3], 0] },
  );
  const keys: number[][] = [
    [1024, 0, 1, plan.geographic ? 2 : 1], // GTModelTypeGeoKey: 1 projected, 2 geographic
    [1025, 0, 1, 1], // GTRasterTypeGeoKey: PixelIsArea
  ];
  if (plan.geographic) {
    keys.push([2048, 0, 1, spec.epsg], [2054, 0, 1, 9102]); // GeographicTypeGeoKey, GeogAngularUnitsGeoKey = degree
  } else {
    keys.push([3072, 0, 1, spec.epsg], [3076, 0, 1, 9001]); // ProjectedCSTypeGeoKey, ProjLinearUnitsGeoKey = metre
  }
  fields.push({ tag: 34735, type: TIFF_TYPE.SHORT, values: [1, 1, 0, keys.length, ...keys.flat()] });
  if (spec.scale !== undefined || spec.offset !== undefined) {
    const xml = '<GDALMetadata>\n'
      + `  <Item name="OFFSET" sample="0" role="offset">${formatNumber(spec.offset ?? 0)}</Item>\n`
      + `  <Item name="SCALE" sample="0" role="scale">${formatNumber(spec.scale ?? 1)}</Item>\n`
      + '</GDALMetadata>';
    fields.push({ tag: 42112, type: TIFF_TYPE.ASCII, values: xml });
  }
  if (spec.nodata !== undefined) fields.push({ tag: 42113, type: TIFF_TYPE.ASCII, values: formatNumber(spec.nodata) });
  fields.sort((a, b) => a.tag - b.tag);

  const encoded = fields.map((f) => encodeField(f));
  const tableBytes = 2 + fields.length * 12 + 4;
  let dataBytes = 0;
  for (const e of encoded) if (e.length > 4) dataBytes += e.length + (e.length % 2);
  const out = new Uint8Array(tableBytes + dataBytes);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, fields.length, true);
  let dataPos = tableBytes;
  fields.forEach((f, i) => {
    const e = encoded[i]!;
    const p = 2 + i * 12;
    dv.setUint16(p, f.tag, true);
    dv.setUint16(p + 2, f.type, true);
    dv.setUint32(p + 4, typeof f.values === 'string' ? e.length : f.values.length, true);
    if (e.length <= 4) {
      out.set(e, p + 8);
    } else {
      dv.setUint32(p + 8, ifdOffset + dataPos, true);
      out.set(e, dataPos);
      dataPos += e.length + (e.length % 2);
    }
  });
  dv.setUint32(2 + fields.length * 12, 0, true); // no next IFD
  return out;
}

function encodeField(f: Field): Uint8Array {
  if (typeof f.values === 'string') {
    const text = new TextEncoder().encode(f.values);
    const out = new Uint8Array(text.length + 1); // NUL-terminated
    out.set(text);
    return out;
  }
  const size = f.type === TIFF_TYPE.SHORT ? 2 : f.type === TIFF_TYPE.LONG ? 4 : 8;
  const out = new Uint8Array(f.values.length * size);
  const dv = new DataView(out.buffer);
  f.values.forEach((v, i) => {
    if (f.type === TIFF_TYPE.SHORT) dv.setUint16(i * size, v, true);
    else if (f.type === TIFF_TYPE.LONG) dv.setUint32(i * size, v, true);
    else dv.setFloat64(i * size, v, true);
  });
  return out;
}
