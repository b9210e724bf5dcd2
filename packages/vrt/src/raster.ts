/**
 * A safe, windowed GeoTIFF reader for the engine's input layers.
 *
 * geotiff.js opens the file (fromFile: ranged reads, the file is never loaded
 * whole) and parses the IFD, the GeoKeys and GDAL's metadata. It trusts the
 * file, though: it allocates whatever a header claims, reads past the end of
 * a truncated file as zeros, reads deferred offset arrays as little-endian
 * even in big-endian files, and its LZW and DEFLATE decoders have no output
 * limit. So this module checks the structure itself before geotiff.js sees
 * it (tag value ranges, cell count, every strip/tile range against the file
 * size), reads the strip/tile offset arrays itself, and decodes blocks itself
 * (none, LZW, DEFLATE, PackBits; predictors 2 and 3), each into a buffer of
 * exactly the block's size. Every failure is a VrtError naming the layer.
 */
import { open as openFile, stat } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { fromArrayBuffer, fromFile, type GeoTIFF, type GeoTIFFImage } from 'geotiff';
import { crsDefinition } from './crs.ts';
import { VrtError, isVrtError, type VrtErrorCode } from './errors.ts';

/** One band of an opened GeoTIFF, read by windows. */
export interface Raster {
  /** Layer name used in messages, e.g. 'yield'. */
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** From ProjectedCSTypeGeoKey (3072) or GeographicTypeGeoKey (2048); always a code hatake ships (crsDefinition). */
  readonly epsg: number;
  /** GDAL-style affine of the pixel CORNER grid: x = t[0] + col*t[1], y = t[3] + row*t[5] (north-up only: t[2] = t[4] = 0, t[5] < 0). */
  readonly transform: readonly [number, number, number, number, number, number];
  /** GDAL_NODATA tag (42113), parsed; NaN when the tag says "nan". */
  readonly nodata: number | undefined;
  /** From GDAL_METADATA (42112) band-1 SCALE / OFFSET items, defaults 1 / 0; applied by read(). */
  readonly scale: number;
  readonly offset: number;
  /** Rows per strip or tile height: callers align read windows to it. */
  readonly blockHeight: number;
  /** e.g. 'float32', 'int16', 'uint8' (band 1), for messages and provenance. */
  readonly sampleType: string;
  /** 'none' | 'lzw' | 'deflate' | 'packbits', for provenance. */
  readonly compression: string;
  /**
   * Reads band 1 of the window [x0, x1) × [y0, y1) (pixel coordinates, inside the raster) as a
   * row-major Float32Array with nodata and NaN cells as NaN and scale/offset applied. A window
   * outside the raster, or a block that cannot be decoded, is a HATAKE_ERR_VRT_RASTER VrtError.
   */
  read(x0: number, y0: number, x1: number, y1: number): Promise<Float32Array>;
  /** Releases the file; further reads fail. */
  close(): Promise<void>;
}

/** Options of openRaster. */
export interface OpenRasterOptions {
  /** Layer name for messages, e.g. 'yield'. */
  name: string;
  /** Refuse rasters with more cells than this (HATAKE_ERR_VRT_RASTER_SIZE); default 4e8. */
  maxCells?: number;
}

/** Default cell limit of openRaster. */
export const DEFAULT_MAX_CELLS = 4e8;
/** Largest decoded strip or tile the reader holds at once (a bigger one is HATAKE_ERR_VRT_RASTER_SIZE). */
export const MAX_BLOCK_BYTES = 256 * 2 ** 20;
/** Decoded blocks kept for windows that share a block. */
const CACHE_BYTES = 32 * 2 ** 20;

/** Byte size of each TIFF field type (TIFF 6.0 §2, BigTIFF 16–18). */
const TYPE_SIZES: Readonly<Record<number, number>> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };
const TAG = {
  ImageWidth: 256, ImageLength: 257, BitsPerSample: 258, Compression: 259, StripOffsets: 273, SamplesPerPixel: 277,
  RowsPerStrip: 278, StripByteCounts: 279, PlanarConfiguration: 284, Predictor: 317, TileWidth: 322, TileLength: 323,
  TileOffsets: 324, TileByteCounts: 325, SampleFormat: 339,
} as const;
const COMPRESSIONS: Readonly<Record<number, string>> = { 1: 'none', 5: 'lzw', 8: 'deflate', 32946: 'deflate', 32773: 'packbits' };
const OTHER_COMPRESSIONS: Readonly<Record<number, string>> = {
  2: 'CCITT RLE', 3: 'CCITT G3', 4: 'CCITT G4', 6: 'old-style JPEG', 7: 'JPEG', 34712: 'JPEG 2000', 34887: 'LERC', 34925: 'LZMA', 50000: 'ZSTD', 50001: 'WebP', 50002: 'JPEG XL',
};
/** First bytes of files often mistaken for GeoTIFFs, for the "not a TIFF" message. */
const SIGNATURES: readonly [number[], string][] = [
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'], [[0xff, 0xd8, 0xff], 'a JPEG image'], [[0x50, 0x4b, 0x03, 0x04], 'a ZIP archive'],
  [[0x1f, 0x8b], 'a gzip file'], [[0x25, 0x50, 0x44, 0x46], 'a PDF'], [[0x7b], 'JSON text'], [[0x3c], 'XML/HTML text'],
];

type Transform = readonly [number, number, number, number, number, number];
type Fail = (code: VrtErrorCode, reason: string) => VrtError;

/** An IFD entry as found in the file: where its values lie, not yet read. */
interface Entry {
  readonly type: number;
  readonly count: number;
  /** File position of the first value (inside the IFD when the values fit in the entry). */
  readonly pos: number;
  readonly bytes: number;
}

/** The source bytes: geotiff.js's source (file or buffer) plus the size checked against. */
interface Io {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Opens a GeoTIFF (a path or its bytes) for windowed reading of band 1, checking it can be read safely. */
export async function openRaster(source: string | Uint8Array, opts: OpenRasterOptions): Promise<Raster> {
  const name = opts.name;
  const maxCells = opts.maxCells ?? DEFAULT_MAX_CELLS;
  const label = typeof source === 'string' ? source : `${source.byteLength} bytes in memory`;
  const fail: Fail = (code, reason) => new VrtError(code, `layer '${name}' (${label}): ${reason}`);
  let tiff: GeoTIFF | undefined;
  try {
    const { head, size } = await readHead(source, fail);
    const { le, big, ifdOffset } = parseHeader(head, size, fail);
    try {
      tiff = typeof source === 'string' ? await fromFile(source) : await fromArrayBuffer(exactBuffer(source));
    } catch (err) {
      throw fail('HATAKE_ERR_VRT_RASTER', `not a readable TIFF: ${messageOf(err)}`);
    }
    const src = tiff.source;
    const io: Io = {
      size,
      async read(offset, length) {
        if (offset < 0 || offset + length > size) throw fail('HATAKE_ERR_VRT_RASTER', `bytes ${offset}–${offset + length} lie beyond the end of the file (${size} bytes): the file is truncated`);
        const [buf] = await src.fetch([{ offset, length }]);
        if (!buf || buf.byteLength < length) throw fail('HATAKE_ERR_VRT_RASTER', `could read only ${buf?.byteLength ?? 0} of ${length} bytes at ${offset}: the file is truncated`);
        return new Uint8Array(buf, 0, length);
      },
    };
    const layout = await readLayout(io, le, big, ifdOffset, maxCells, fail);
    let image: GeoTIFFImage;
    try {
      image = await tiff.getImage(0);
    } catch (err) {
      throw fail('HATAKE_ERR_VRT_RASTER', `the TIFF directory cannot be parsed: ${messageOf(err)}`);
    }
    const geo = readGeo(image, fail);
    const band = await readBandMetadata(image, fail);
    return new TiffRaster(name, fail, tiff, io, layout, geo, band);
  } catch (err) {
    if (tiff) await Promise.resolve(tiff.close()).catch(() => undefined);
    if (isVrtError(err)) throw err;
    throw fail('HATAKE_ERR_VRT_RASTER', `cannot be read: ${messageOf(err)}`);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The Uint8Array's bytes as an ArrayBuffer of exactly that length (geotiff.js reads from offset 0 of the buffer). */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return new Uint8Array(bytes).buffer; // a copy (Buffer#slice would be a view of a pooled buffer)
}

/** The first 16 bytes and the size, read without geotiff.js so a non-TIFF gets a clear message. */
async function readHead(source: string | Uint8Array, fail: Fail): Promise<{ head: Uint8Array; size: number }> {
  if (typeof source !== 'string') return { head: source.subarray(0, 16), size: source.byteLength };
  let size: number;
  try {
    const st = await stat(source);
    if (!st.isFile()) throw fail('HATAKE_ERR_VRT_RASTER', 'not a regular file');
    size = st.size;
  } catch (err) {
    if (isVrtError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw fail('HATAKE_ERR_VRT_RASTER', code === 'ENOENT' ? 'no such file' : `cannot open the file: ${messageOf(err)}`);
  }
  const handle = await openFile(source, 'r').catch((err: unknown) => {
    throw fail('HATAKE_ERR_VRT_RASTER', `cannot open the file: ${messageOf(err)}`);
  });
  try {
    const head = new Uint8Array(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    return { head: head.subarray(0, bytesRead), size };
  } finally {
    await handle.close();
  }
}

function parseHeader(head: Uint8Array, size: number, fail: Fail): { le: boolean; big: boolean; ifdOffset: number } {
  const order = head.length >= 2 ? String.fromCharCode(head[0]!, head[1]!) : '';
  if (order !== 'II' && order !== 'MM') {
    const like = SIGNATURES.find(([sig]) => sig.every((b, i) => head[i] === b))?.[1];
    const what = size === 0 ? 'the file is empty' : like ? `it starts like ${like}` : 'it does not start with a TIFF byte-order mark (II or MM)';
    throw fail('HATAKE_ERR_VRT_RASTER', `not a TIFF file: ${what}`);
  }
  const le = order === 'II';
  if (head.length < 8) throw fail('HATAKE_ERR_VRT_RASTER', `not a TIFF file: only ${head.length} bytes`);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = dv.getUint16(2, le);
  let big: boolean;
  let ifdOffset: number;
  if (magic === 42) {
    big = false;
    ifdOffset = dv.getUint32(4, le);
  } else if (magic === 43) {
    if (head.length < 16 || dv.getUint16(4, le) !== 8) throw fail('HATAKE_ERR_VRT_RASTER', 'not a readable BigTIFF: bad header');
    big = true;
    ifdOffset = Number(dv.getBigUint64(8, le));
  } else {
    throw fail('HATAKE_ERR_VRT_RASTER', `not a TIFF file: version ${magic} is neither 42 (TIFF) nor 43 (BigTIFF)`);
  }
  if (ifdOffset < (big ? 16 : 8) || ifdOffset >= size) {
    throw fail('HATAKE_ERR_VRT_RASTER', `the first image directory is at byte ${ifdOffset}, outside the file (${size} bytes): the file is truncated or not a TIFF`);
  }
  return { le, big, ifdOffset };
}

/** Structure of band 1: what the reader needs to find and decode its blocks. */
interface Layout {
  readonly le: boolean;
  readonly width: number;
  readonly height: number;
  readonly tiled: boolean;
  /** Block width and height (strips: the raster width and rows per strip). */
  readonly bw: number;
  readonly bh: number;
  readonly across: number;
  readonly down: number;
  /** Bytes from one pixel of band 1 to the next within a decoded block row. */
  readonly pixelStride: number;
  /** Samples interleaved per pixel in a decoded block (the predictors' stride). */
  readonly interleaved: number;
  readonly sampleBytes: number;
  readonly format: 1 | 2 | 3;
  readonly sampleType: string;
  readonly compressionCode: number;
  readonly compression: string;
  readonly predictor: 1 | 2 | 3;
  /** Per band-1 block: file offset and byte count (both 0 for a sparse block). */
  readonly offsets: Float64Array;
  readonly counts: Float64Array;
}

async function readLayout(io: Io, le: boolean, big: boolean, ifdOffset: number, maxCells: number, fail: Fail): Promise<Layout> {
  const corrupt = (reason: string): VrtError => fail('HATAKE_ERR_VRT_RASTER', reason);
  const countBytes = big ? 8 : 2;
  const entrySize = big ? 20 : 12;
  if (ifdOffset + countBytes > io.size) throw corrupt('the image directory lies beyond the end of the file: the file is truncated');
  const nView = view(await io.read(ifdOffset, countBytes));
  const n = big ? Number(nView.getBigUint64(0, le)) : nView.getUint16(0, le);
  if (n === 0 || n > 4096) throw corrupt(`the image directory claims ${n} entries: the file is corrupt`);
  const tableEnd = ifdOffset + countBytes + n * entrySize;
  if (tableEnd > io.size) throw corrupt('the image directory runs past the end of the file: the file is truncated');
  const table = await io.read(ifdOffset + countBytes, n * entrySize);
  const tv = view(table);
  const entries = new Map<number, Entry>();
  for (let i = 0; i < n; i++) {
    const p = i * entrySize;
    const tag = tv.getUint16(p, le);
    const type = tv.getUint16(p + 2, le);
    const count = big ? Number(tv.getBigUint64(p + 4, le)) : tv.getUint32(p + 4, le);
    const size = TYPE_SIZES[type];
    if (size === undefined) throw corrupt(`tag ${tag} has an unknown field type ${type}: the file is corrupt`);
    const bytes = size * count;
    const inline = bytes <= (big ? 8 : 4);
    const valueField = ifdOffset + countBytes + p + (big ? 12 : 8);
    const pos = inline ? valueField : big ? Number(tv.getBigUint64(p + 12, le)) : tv.getUint32(p + 8, le);
    entries.set(tag, { type, count, pos, bytes });
  }
  const numbers = async (tag: number, what: string, first = Infinity): Promise<number[] | undefined> => {
    const e = entries.get(tag);
    if (!e) return undefined;
    if (e.type === 2) throw corrupt(`${what} (tag ${tag}) is text, not numbers: the file is corrupt`);
    const size = TYPE_SIZES[e.type]!;
    const count = Math.min(e.count, first);
    if (e.pos + count * size > io.size) throw corrupt(`the values of ${what} (tag ${tag}) lie beyond the end of the file: the file is truncated`);
    const start = e.pos - (ifdOffset + countBytes);
    const bytes = start >= 0 && start + count * size <= table.length ? table.subarray(start, start + count * size) : await io.read(e.pos, count * size);
    return decodeNumbers(view(bytes), e.type, count, le);
  };
  const one = async (tag: number, what: string, fallback?: number): Promise<number> => {
    const v = (await numbers(tag, what, 1))?.[0] ?? fallback;
    if (v === undefined) throw corrupt(`no ${what} tag (${tag}): not a valid TIFF image`);
    return v;
  };

  const width = await one(TAG.ImageWidth, 'ImageWidth');
  const height = await one(TAG.ImageLength, 'ImageLength');
  if (!Number.isInteger(width) || !Number.isInteger(height)) throw corrupt(`ImageWidth/ImageLength ${width} × ${height} are not whole numbers`);
  if (width === 0 || height === 0) throw fail('HATAKE_ERR_VRT_RASTER_SIZE', `the raster is ${width} × ${height} cells: it has no cells`);
  if (width * height > maxCells) {
    throw fail('HATAKE_ERR_VRT_RASTER_SIZE', `the header claims ${width} × ${height} = ${(width * height).toExponential(2)} cells, more than the limit of ${maxCells.toExponential(2)} (maxCells)`);
  }
  // every tag's values must lie inside the file before anything else reads them
  for (const [tag, e] of entries) {
    if (e.pos + e.bytes > io.size) throw corrupt(`the values of tag ${tag} lie beyond the end of the file (byte ${e.pos + e.bytes} of ${io.size}): the file is truncated`);
  }
  const spp = await one(TAG.SamplesPerPixel, 'SamplesPerPixel', 1);
  if (spp < 1 || spp > 256) throw corrupt(`SamplesPerPixel is ${spp}`);
  const bits = (await numbers(TAG.BitsPerSample, 'BitsPerSample', spp)) ?? [1];
  const formats = (await numbers(TAG.SampleFormat, 'SampleFormat', 1)) ?? [1];
  const planar = await one(TAG.PlanarConfiguration, 'PlanarConfiguration', 1);
  if (planar !== 1 && planar !== 2) throw corrupt(`PlanarConfiguration is ${planar} (1 or 2 expected)`);
  const bits0 = bits[0]!;
  const format = formats[0]!;
  const sampleType = format === 3 ? `float${bits0}` : format === 2 ? `int${bits0}` : format === 1 ? `uint${bits0}` : `format ${format} with ${bits0} bits`;
  const supported = (format === 1 || format === 2) ? [8, 16, 32].includes(bits0) : format === 3 ? [32, 64].includes(bits0) : false;
  if (!supported) throw fail('HATAKE_ERR_VRT_RASTER', `sample type ${sampleType} is not supported (uint8/16/32, int8/16/32, float32/64 are)`);
  const allBits = bits.length === spp ? bits : Array.from({ length: spp }, () => bits0);
  if (planar === 1 && allBits.some((b) => b % 8 !== 0)) throw fail('HATAKE_ERR_VRT_RASTER', `bands of ${allBits.join('/')} bits are not supported`);
  const sampleBytes = bits0 / 8;
  const pixelStride = planar === 1 ? allBits.reduce((a, b) => a + b, 0) / 8 : sampleBytes;
  const interleaved = planar === 1 ? spp : 1;

  const compressionCode = await one(TAG.Compression, 'Compression', 1);
  const compression = COMPRESSIONS[compressionCode];
  if (compression === undefined) {
    const known = OTHER_COMPRESSIONS[compressionCode];
    throw fail('HATAKE_ERR_VRT_RASTER', `compression ${known ? `${known} (${compressionCode})` : compressionCode} is not supported; save the layer uncompressed or with LZW or DEFLATE (gdal_translate -co COMPRESS=DEFLATE)`);
  }
  const predictor = await one(TAG.Predictor, 'Predictor', 1);
  if (predictor !== 1 && predictor !== 2 && predictor !== 3) throw fail('HATAKE_ERR_VRT_RASTER', `predictor ${predictor} is not supported (1, 2 or 3 are)`);
  if (predictor === 3 && format !== 3) throw corrupt('floating-point predictor (3) on integer samples');
  if (predictor === 2 && (format === 3 || bits0 > 32 || allBits.some((b) => b !== bits0))) throw fail('HATAKE_ERR_VRT_RASTER', `horizontal predictor (2) on ${sampleType} samples is not supported`);
  const pred = compression === 'none' ? 1 : predictor;

  const tiled = entries.has(TAG.TileWidth) && entries.has(TAG.TileOffsets);
  let bw: number;
  let bh: number;
  if (tiled) {
    bw = await one(TAG.TileWidth, 'TileWidth');
    bh = await one(TAG.TileLength, 'TileLength');
  } else {
    if (!entries.has(TAG.StripOffsets)) throw corrupt('neither strip nor tile offsets: not a valid TIFF image');
    bw = width;
    bh = Math.min(await one(TAG.RowsPerStrip, 'RowsPerStrip', height), height);
  }
  if (!Number.isInteger(bw) || !Number.isInteger(bh) || bw < 1 || bh < 1) throw corrupt(`blocks of ${bw} × ${bh} pixels`);
  const blockBytes = bw * bh * pixelStride;
  if (blockBytes > MAX_BLOCK_BYTES && (tiled || compression !== 'none')) {
    throw fail('HATAKE_ERR_VRT_RASTER_SIZE', `its ${tiled ? 'tiles' : 'strips'} of ${bw} × ${bh} pixels decode to ${(blockBytes / 2 ** 20).toFixed(0)} MiB each, more than the ${MAX_BLOCK_BYTES / 2 ** 20} MiB the reader holds at once; re-save it tiled (gdal_translate -co TILED=YES -co COMPRESS=DEFLATE)`);
  }
  const across = Math.ceil(width / bw);
  const down = Math.ceil(height / bh);
  const nBlocks = across * down;
  const kind = tiled ? 'tile' : 'strip';
  const offsetsTag = tiled ? TAG.TileOffsets : TAG.StripOffsets;
  const countsTag = tiled ? TAG.TileByteCounts : TAG.StripByteCounts;
  const offs = await numbers(offsetsTag, `${kind} offsets`, nBlocks);
  const cnts = await numbers(countsTag, `${kind} byte counts`, nBlocks);
  if (!cnts) throw corrupt(`no ${kind} byte counts (tag ${countsTag}): not a valid TIFF image`);
  if (!offs || offs.length < nBlocks || cnts.length < nBlocks) {
    throw corrupt(`${offs?.length ?? 0} ${kind} offsets and ${cnts.length} byte counts for the ${nBlocks} ${kind}s of a ${width} × ${height} raster: the file is corrupt`);
  }
  const offsets = Float64Array.from(offs);
  const counts = Float64Array.from(cnts);
  for (let i = 0; i < nBlocks; i++) {
    const off = offsets[i]!;
    const cnt = counts[i]!;
    if (cnt === 0) continue; // sparse block (GDAL SPARSE_OK): reads as nodata
    if (off + cnt > io.size) {
      throw corrupt(`${kind} ${i} (bytes ${off}–${off + cnt}) lies beyond the end of the file (${io.size} bytes): the file is truncated`);
    }
    if (compression === 'none') {
      const rows = tiled ? bh : Math.min(bh, height - Math.floor(i / across) * bh);
      const need = (tiled ? bw * bh : rows * width) * pixelStride;
      if (cnt < need) throw corrupt(`uncompressed ${kind} ${i} has ${cnt} bytes, ${need} are needed: the file is truncated or corrupt`);
    }
  }
  return {
    le, width, height, tiled, bw, bh, across, down, pixelStride, interleaved, sampleBytes, format: format as 1 | 2 | 3, sampleType,
    compressionCode, compression, predictor: pred as 1 | 2 | 3, offsets, counts,
  };
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeNumbers(dv: DataView, type: number, count: number, le: boolean): number[] {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    switch (type) {
      case 1: case 7: out[i] = dv.getUint8(i); break;
      case 6: out[i] = dv.getInt8(i); break;
      case 3: out[i] = dv.getUint16(i * 2, le); break;
      case 8: out[i] = dv.getInt16(i * 2, le); break;
      case 4: case 13: out[i] = dv.getUint32(i * 4, le); break;
      case 9: out[i] = dv.getInt32(i * 4, le); break;
      case 11: out[i] = dv.getFloat32(i * 4, le); break;
      case 12: out[i] = dv.getFloat64(i * 8, le); break;
      case 5: out[i] = dv.getUint32(i * 8, le) / dv.getUint32(i * 8 + 4, le); break;
      case 10: out[i] = dv.getInt32(i * 8, le) / dv.getInt32(i * 8 + 4, le); break;
      case 16: case 18: out[i] = Number(dv.getBigUint64(i * 8, le)); break;
      case 17: out[i] = Number(dv.getBigInt64(i * 8, le)); break;
      default: out[i] = NaN;
    }
  }
  return out;
}

interface Geo {
  readonly epsg: number;
  readonly transform: Transform;
}

function numberList(v: unknown): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return [v];
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return Array.from(v as ArrayLike<number>, Number);
  return undefined;
}

/** The pixel-corner transform and EPSG code from the GeoTIFF tags and keys. */
function readGeo(image: GeoTIFFImage, fail: Fail): Geo {
  const dir = image.fileDirectory;
  const georef = (reason: string): VrtError => fail('HATAKE_ERR_VRT_GEOREF', reason);
  const scale = numberList(dir.getValue('ModelPixelScale'));
  const ties = numberList(dir.getValue('ModelTiepoint'));
  const matrix = numberList(dir.getValue('ModelTransformation'));
  let keys: Record<string, unknown> | null;
  try {
    keys = image.getGeoKeys();
  } catch (err) {
    throw fail('HATAKE_ERR_VRT_CRS', `its GeoKeyDirectory is malformed: ${messageOf(err)}`);
  }
  const pixelIsPoint = keys?.['GTRasterTypeGeoKey'] === 2;
  let t: [number, number, number, number, number, number];
  if (scale && ties) {
    if (scale.length < 2 || ties.length < 6) throw georef('ModelPixelScale or ModelTiepoint has too few values');
    const [sx, sy] = scale as [number, number];
    const [i, j, , x, y] = ties as [number, number, number, number, number];
    if (![sx, sy, i, j, x, y].every(Number.isFinite) || sx <= 0 || sy === 0) throw georef(`ModelPixelScale (${sx}, ${sy}) is not a valid cell size`);
    if (sy < 0) throw georef('it is not north-up (ModelPixelScale y is negative: rows run south to north)');
    t = [x - i * sx, sx, 0, y + j * sy, 0, -sy];
  } else if (matrix) {
    if (matrix.length < 16 || !matrix.every(Number.isFinite)) throw georef('ModelTransformation does not have 16 finite values');
    const [a, b, , d, e, f, , h] = matrix as [number, number, number, number, number, number, number, number];
    if (b !== 0 || e !== 0) throw georef('its ModelTransformation is rotated or sheared; hatake reads north-up rasters only (gdalwarp it first)');
    if (a <= 0 || f >= 0) throw georef('it is not north-up (ModelTransformation has a non-positive x or non-negative y cell size)');
    t = [d, a, 0, h, 0, f];
  } else if (ties && ties.length > 6) {
    throw georef('it is georeferenced by ground control points only (no ModelPixelScale); hatake reads north-up grids only (gdalwarp it first)');
  } else {
    throw georef('it has no georeferencing (no ModelPixelScale + ModelTiepoint, no ModelTransformation)');
  }
  if (pixelIsPoint) {
    // the tie point is the centre of pixel (0, 0): move it to the pixel's corner (GeoTIFF 1.1 §B.6, what GDAL does)
    t[0] -= t[1] / 2;
    t[3] -= t[5] / 2;
  }
  const crs = (reason: string): VrtError => fail('HATAKE_ERR_VRT_CRS', reason);
  const model = keys?.['GTModelTypeGeoKey'];
  const projected = keys?.['ProjectedCSTypeGeoKey'];
  const geographic = keys?.['GeographicTypeGeoKey'];
  if (!keys) throw crs('it has no coordinate reference system (no GeoKeyDirectory)');
  if (model === 3) throw crs('it is in a geocentric CRS; hatake needs a geographic or projected EPSG code');
  let epsg: unknown;
  if (model === 1) epsg = projected;
  else if (model === 2) epsg = geographic;
  else epsg = projected ?? geographic;
  if (epsg === undefined || epsg === null) {
    throw crs(`it has no EPSG code (no ${model === 2 ? 'GeographicTypeGeoKey' : model === 1 ? 'ProjectedCSTypeGeoKey' : 'ProjectedCSTypeGeoKey or GeographicTypeGeoKey'}); assign one with gdal_edit.py -a_srs EPSG:<code>`);
  }
  if (typeof epsg !== 'number' || !Number.isInteger(epsg)) throw crs(`its CRS key is not an EPSG code (${String(epsg)})`);
  if (epsg === 32767) throw crs('its CRS is user-defined (32767), not an EPSG code; reproject it to an EPSG CRS (gdalwarp -t_srs EPSG:<code>)');
  try {
    crsDefinition(epsg);
  } catch (err) {
    throw crs(messageOf(err));
  }
  return { epsg, transform: t };
}

interface BandMetadata {
  readonly nodata: number | undefined;
  readonly scale: number;
  readonly offset: number;
}

/** Parses a number as GDAL writes it in GDAL_NODATA or metadata ("nan", "inf" included); undefined if it is not one. */
function parseGdalNumber(text: string): number | undefined {
  const s = text.replace(/\0+$/, '').trim();
  if (/^[+-]?nan$/i.test(s)) return NaN;
  if (/^\+?inf(inity)?$/i.test(s)) return Infinity;
  if (/^-inf(inity)?$/i.test(s)) return -Infinity;
  if (s === '' || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return undefined;
  return Number(s);
}

async function readBandMetadata(image: GeoTIFFImage, fail: Fail): Promise<BandMetadata> {
  // getGDALNoData() drops the last character unconditionally (it assumes a NUL): parse the raw tag instead
  const raw: unknown = image.fileDirectory.getValue('GDAL_NODATA');
  let nodata: number | undefined = numberList(raw)?.[0];
  if (typeof raw === 'string') {
    nodata = parseGdalNumber(raw);
    if (nodata === undefined) throw fail('HATAKE_ERR_VRT_RASTER', `its nodata value (GDAL_NODATA) '${raw.replace(/\0+$/, '')}' is not a number`);
  }
  let meta: Record<string, unknown> | null;
  try {
    meta = await image.getGDALMetadata(0);
  } catch (err) {
    throw fail('HATAKE_ERR_VRT_RASTER', `its GDAL metadata cannot be read: ${messageOf(err)}`);
  }
  const item = (key: string, fallback: number): number => {
    const v = meta?.[key];
    if (v === undefined || v === null) return fallback;
    const n = parseGdalNumber(String(v));
    if (n === undefined || !Number.isFinite(n)) throw fail('HATAKE_ERR_VRT_RASTER', `its band ${key} metadata '${String(v)}' is not a finite number`);
    return n;
  };
  return { nodata, scale: item('SCALE', 1), offset: item('OFFSET', 0) };
}

/** A decoded block of band 1 (or the rows of an uncompressed strip that a window needs). */
interface Region {
  readonly data: DataView;
  /** Byte order of the decoded samples. */
  readonly le: boolean;
  /** Image row and column of the region's first sample. */
  readonly row0: number;
  readonly col0: number;
  readonly rowStride: number;
}

class TiffRaster implements Raster {
  readonly width: number;
  readonly height: number;
  readonly epsg: number;
  readonly transform: Transform;
  readonly nodata: number | undefined;
  readonly scale: number;
  readonly offset: number;
  readonly blockHeight: number;
  readonly sampleType: string;
  readonly compression: string;
  #closed = false;
  readonly #cache = new Map<number, Region>();
  #cacheBytes = 0;

  readonly name: string;
  readonly #fail: Fail;
  readonly #tiff: GeoTIFF;
  readonly #io: Io;
  readonly #layout: Layout;

  constructor(name: string, fail: Fail, tiff: GeoTIFF, io: Io, layout: Layout, geo: Geo, band: BandMetadata) {
    this.name = name;
    this.#fail = fail;
    this.#tiff = tiff;
    this.#io = io;
    this.#layout = layout;
    this.width = layout.width;
    this.height = layout.height;
    this.epsg = geo.epsg;
    this.transform = geo.transform;
    this.nodata = band.nodata;
    this.scale = band.scale;
    this.offset = band.offset;
    this.blockHeight = layout.bh;
    this.sampleType = layout.sampleType;
    this.compression = layout.compression;
  }

  async read(x0: number, y0: number, x1: number, y1: number): Promise<Float32Array> {
    if (this.#closed) throw this.#fail('HATAKE_ERR_VRT_RASTER', 'read after close()');
    const { width, height } = this;
    if (![x0, y0, x1, y1].every(Number.isInteger) || x0 < 0 || y0 < 0 || x1 > width || y1 > height || x1 < x0 || y1 < y0) {
      throw this.#fail('HATAKE_ERR_VRT_RASTER', `window [${x0}, ${y0}, ${x1}, ${y1}) is not inside the ${width} × ${height} raster`);
    }
    const w = x1 - x0;
    const out = new Float32Array(w * (y1 - y0));
    if (out.length === 0) return out;
    const { bw, bh } = this.#layout;
    for (let by = Math.floor(y0 / bh); by * bh < y1; by++) {
      const ra = Math.max(y0, by * bh);
      const rb = Math.min(y1, (by + 1) * bh, height);
      for (let bx = Math.floor(x0 / bw); bx * bw < x1; bx++) {
        const ca = Math.max(x0, bx * bw);
        const cb = Math.min(x1, (bx + 1) * bw, width);
        let region: Region | null;
        try {
          region = await this.#region(bx, by, ra, rb);
        } catch (err) {
          if (isVrtError(err)) throw err;
          throw this.#fail('HATAKE_ERR_VRT_RASTER', `${this.#layout.tiled ? 'tile' : 'strip'} ${by * this.#layout.across + bx} cannot be decoded (${messageOf(err)}): the file is corrupt or truncated`);
        }
        this.#copy(region, out, w, x0, y0, ra, rb, ca, cb);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.clear();
    await this.#tiff.close();
  }

  /** Converts the region's samples to scaled floats with nodata as NaN, into the window. */
  #copy(region: Region | null, out: Float32Array, w: number, x0: number, y0: number, ra: number, rb: number, ca: number, cb: number): void {
    const { scale, offset } = this;
    if (!region) {
      // a sparse block: nodata where the raster has a nodata value, else 0 (as GDAL reads it)
      const v = this.nodata === undefined ? offset : NaN;
      for (let r = ra; r < rb; r++) out.fill(v, (r - y0) * w + (ca - x0), (r - y0) * w + (cb - x0));
      return;
    }
    const { data, le, row0, col0, rowStride } = region;
    const { pixelStride, format, sampleBytes } = this.#layout;
    const nd = this.nodata === undefined ? undefined : format === 3 && sampleBytes === 4 ? Math.fround(this.nodata) : this.nodata;
    const get = getter(format, sampleBytes);
    for (let r = ra; r < rb; r++) {
      let src = (r - row0) * rowStride + (ca - col0) * pixelStride;
      let dst = (r - y0) * w + (ca - x0);
      for (let c = ca; c < cb; c++, src += pixelStride, dst++) {
        const v = get(data, src, le);
        out[dst] = v === nd || v !== v ? NaN : v * scale + offset;
      }
    }
  }

  /** The decoded block (bx, by), or for an uncompressed strip just its rows [ra, rb); null for a sparse block. */
  async #region(bx: number, by: number, ra: number, rb: number): Promise<Region | null> {
    const L = this.#layout;
    const index = by * L.across + bx;
    const offset = L.offsets[index]!;
    const count = L.counts[index]!;
    if (count === 0) return null;
    const rowStride = L.bw * L.pixelStride;
    const row0 = by * L.bh;
    const col0 = bx * L.bw;
    if (L.compression === 'none' && !L.tiled) {
      const bytes = await this.#io.read(offset + (ra - row0) * rowStride, (rb - ra - 1) * rowStride + L.width * L.pixelStride);
      return { data: view(bytes), le: L.le, row0: ra, col0, rowStride };
    }
    const cached = this.#cache.get(index);
    if (cached) {
      this.#cache.delete(index);
      this.#cache.set(index, cached); // most recently used last
      return cached;
    }
    const rows = L.tiled ? L.bh : Math.min(L.bh, L.height - row0);
    const need = rows * rowStride;
    const raw = await this.#io.read(offset, count);
    let data: Uint8Array;
    switch (L.compression) {
      case 'none': data = raw; break;
      case 'deflate': data = inflateTo(raw, need, L.bh * rowStride); break;
      case 'lzw': data = lzwDecode(raw, need); break;
      case 'packbits': data = packbitsDecode(raw, need); break;
      default: throw new Error(`compression ${L.compression}`);
    }
    let le = L.le;
    if (L.predictor === 2) undoHorizontal(data, rows, rowStride, L.interleaved, L.sampleBytes, le);
    if (L.predictor === 3) {
      undoFloatingPoint(data, rows, rowStride, L.interleaved, L.sampleBytes);
      le = true;
    }
    const region: Region = { data: view(data), le, row0, col0, rowStride };
    this.#cache.set(index, region);
    this.#cacheBytes += data.byteLength;
    for (const [k, v] of this.#cache) {
      if (this.#cacheBytes <= CACHE_BYTES || this.#cache.size <= 1) break;
      this.#cache.delete(k);
      this.#cacheBytes -= v.data.byteLength;
    }
    return region;
  }
}

type Getter = (dv: DataView, at: number, le: boolean) => number;

function getter(format: 1 | 2 | 3, bytes: number): Getter {
  if (format === 3) return bytes === 8 ? (dv, at, le) => dv.getFloat64(at, le) : (dv, at, le) => dv.getFloat32(at, le);
  if (format === 2) return bytes === 1 ? (dv, at) => dv.getInt8(at) : bytes === 2 ? (dv, at, le) => dv.getInt16(at, le) : (dv, at, le) => dv.getInt32(at, le);
  return bytes === 1 ? (dv, at) => dv.getUint8(at) : bytes === 2 ? (dv, at, le) => dv.getUint16(at, le) : (dv, at, le) => dv.getUint32(at, le);
}

/** zlib-inflates a block; at least `need` bytes, at most `max` (a longer stream is corrupt, not a reason to allocate more). */
function inflateTo(raw: Uint8Array, need: number, max: number): Uint8Array {
  const out = inflateSync(raw, { maxOutputLength: Math.max(max, 1) });
  if (out.length < need) throw new Error(`inflates to ${out.length} bytes, ${need} expected`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** TIFF LZW (TIFF 6.0 §13: MSB-first codes of 9–12 bits, one code early), decoded into exactly `size` bytes. */
function lzwDecode(input: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const prefix = new Int16Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    first[i] = i;
    length[i] = 1;
  }
  const totalBits = input.length * 8;
  let bitPos = 0;
  let width = 9;
  let next = 258;
  let prev = -1;
  let o = 0;
  while (o < size && bitPos + width <= totalBits) {
    let code = 0;
    for (let b = 0; b < width; b++, bitPos++) code = (code << 1) | ((input[bitPos >> 3]! >> (7 - (bitPos & 7))) & 1);
    if (code === 256) {
      next = 258;
      width = 9;
      prev = -1;
      continue;
    }
    if (code === 257) break;
    if (prev === -1) {
      if (code > 255) throw new Error(`LZW code ${code} right after a clear code`);
    } else {
      if (code > next || (code === next && next === 4096)) throw new Error(`LZW code ${code} is not in the table (${next} entries)`);
      if (next < 4096) {
        // the new entry is the previous string plus the first byte of this one (of the previous one when this is the new entry itself)
        prefix[next] = prev;
        suffix[next] = code === next ? first[prev]! : first[code]!;
        first[next] = first[prev]!;
        length[next] = length[prev]! + 1;
        next++;
      }
    }
    // write the string of `code` backwards from its last byte, dropping what lies beyond the block
    const len = length[code]!;
    for (let c = code, p = o + len - 1; c >= 0; c = prefix[c]!, p--) if (p < size) out[p] = suffix[c]!;
    o += len;
    prev = code;
    if (next + 1 >= 1 << width && width < 12) width++;
  }
  if (o < size) throw new Error(`LZW data ends after ${o} of ${size} bytes`);
  return out;
}

/** PackBits (TIFF 6.0 §9), decoded into exactly `size` bytes. */
function packbitsDecode(input: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let i = 0;
  let o = 0;
  while (o < size && i < input.length) {
    const n = (input[i++]! << 24) >> 24;
    if (n >= 0) {
      const len = Math.min(n + 1, size - o, input.length - i);
      out.set(input.subarray(i, i + len), o);
      i += n + 1;
      o += len;
    } else if (n !== -128) {
      const len = Math.min(1 - n, size - o);
      if (i >= input.length) break;
      out.fill(input[i++]!, o, o + len);
      o += len;
    }
  }
  if (o < size) throw new Error(`PackBits data ends after ${o} of ${size} bytes`);
  return out;
}

/** Undoes horizontal differencing (predictor 2) in place: each sample adds the one `stride` samples before it, modulo 2^bits. */
function undoHorizontal(data: Uint8Array, rows: number, rowStride: number, stride: number, bytes: number, le: boolean): void {
  const dv = view(data);
  const perRow = rowStride / bytes;
  for (let r = 0; r < rows; r++) {
    const base = r * rowStride;
    if (bytes === 1) {
      for (let i = stride; i < perRow; i++) data[base + i] = (data[base + i]! + data[base + i - stride]!) & 0xff;
    } else if (bytes === 2) {
      for (let i = stride; i < perRow; i++) dv.setUint16(base + i * 2, dv.getUint16(base + i * 2, le) + dv.getUint16(base + (i - stride) * 2, le), le);
    } else {
      for (let i = stride; i < perRow; i++) dv.setUint32(base + i * 4, (dv.getUint32(base + i * 4, le) + dv.getUint32(base + (i - stride) * 4, le)) >>> 0, le);
    }
  }
}

/**
 * Undoes the floating-point predictor (3, Adobe TIFF Technote 3) in place: bytes are differenced with
 * a stride of the samples per pixel, and each row holds the samples' bytes in planes, most significant
 * first. The result is little-endian whatever the file's byte order (as libtiff leaves it in host order).
 */
function undoFloatingPoint(data: Uint8Array, rows: number, rowStride: number, stride: number, bytes: number): void {
  const words = rowStride / bytes;
  const tmp = new Uint8Array(rowStride);
  for (let r = 0; r < rows; r++) {
    const row = data.subarray(r * rowStride, (r + 1) * rowStride);
    for (let i = stride; i < rowStride; i++) row[i] = (row[i]! + row[i - stride]!) & 0xff;
    tmp.set(row);
    for (let i = 0; i < words; i++) {
      for (let b = 0; b < bytes; b++) row[i * bytes + b] = tmp[(bytes - b - 1) * words + i]!;
    }
  }
}
