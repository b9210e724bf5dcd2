/**
 * One prescription run: inputs in, every output written and checked. The CLI
 * and the HTTP service are thin over `runPrescription`.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { area as turfArea } from '@turf/turf';
import { alignLayer, alignLayerInWorkers, type AlignStats } from './align.ts';
import { VrtError } from './errors.ts';
import { fieldGrid, fieldMask, parseField } from './field.ts';
import { resolveParams, type PrescriptionParams } from './params.ts';
import { openRaster, type Raster } from './raster.ts';
import { assignRates, cellNeeds, summarise, validMean, type RateSummary } from './rates.ts';
import { checkPrescriptionTiff, prescriptionTiff } from './outputs/geotiff.ts';
import { checkIsoxmlTaskData, isoxmlGridShape, isoxmlTaskData, type IsoxmlOptions } from './outputs/isoxml.ts';
import { previewPng } from './outputs/png.ts';
import { checkZoneFeatures, zonePolygons } from './outputs/polygons.ts';
import { profileRefusals, TERMINAL_PROFILES, type TerminalProfile } from './outputs/profiles.ts';
import { checkShapefileZip, shapefileZip } from './outputs/shapefile.ts';
import type { FieldFeature, Grid, ZoneFeatures, ZoneMap, ZoneSummary } from './types.ts';
import { clusterCells, majorityFilter, normalise, sieve, FIT_SAMPLE, FUZZINESS, type ZoneCountScore } from './zones.ts';

/** A raster given as a path; as a path with the name to show for it (an upload stored under a server path); or as bytes with a name. */
export type RasterInput = string | { path: string; name: string } | { name: string; bytes: Uint8Array };

/** Where a raster input is read from: its path, or its bytes. */
function sourceOf(input: RasterInput): string | Uint8Array {
  return typeof input === 'string' ? input : 'path' in input ? input.path : input.bytes;
}

/** The layers and the field of a run. */
export interface PrescriptionInputs {
  yield: RasterInput;
  moisture: RasterInput;
  ndvi?: RasterInput | undefined;
  organic?: RasterInput | undefined;
  /** Parsed GeoJSON: a Polygon/MultiPolygon geometry, Feature or FeatureCollection, WGS84. */
  field: unknown;
}

/** Where a run is. */
export interface RunProgress {
  stage: 'read' | 'align' | 'zones' | 'rates' | 'write';
  /** 0..1 over the whole run. */
  fraction: number;
  message: string;
}

/** Options of a run. */
export interface RunOptions {
  outDir: string;
  /** Terminal profiles to write for (ids of TERMINAL_PROFILES); default isobus and generic-shapefile. */
  profiles?: string[] | undefined;
  onProgress?: ((p: RunProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Largest raster accepted, in cells (default 4·10⁸). */
  maxCells?: number | undefined;
  /** Title of the preview and name of the ISOXML task. */
  title?: string | undefined;
  /** Worker threads a large layer (given as a path) is aligned on; default: the machine's cores, at most 4. */
  workers?: number | undefined;
  /** Layers with fewer cells than this are aligned on the calling thread (a thread costs ~50 ms to start); default 4·10⁶. */
  parallelMinCells?: number | undefined;
}

/** One file a run wrote. */
export interface OutputFile {
  /** Relative to the output directory. */
  name: string;
  bytes: number;
  sha256: string;
  contentType: string;
}

/** Provenance of one input layer. */
export interface LayerProvenance {
  source: string;
  sha256: string;
  bytes: number;
  width: number;
  height: number;
  epsg: number;
  pixelSize: [number, number];
  sampleType: string;
  compression: string;
  nodata: number | null;
  scale: number;
  offset: number;
  align: AlignStats;
  /** Field cells without a value, filled (yield, moisture, NDVI: the field mean; organic: 0). */
  filledCells: number;
}

/** Everything a run reports; written as summary.json. */
export interface Summary extends RateSummary {
  engine: string;
  version: string;
  generatedAt: string;
  title: string;
  product: { name: string; nPercent: number };
  fieldAreaHa: number;
  grid: Grid;
  zoning: { zones: number; chosen: 'auto' | 'fixed'; scores: ZoneCountScore[]; fuzziness: number; fitSample: number; minZoneCells: number };
  zones: ZoneSummary[];
  params: PrescriptionParams;
  inputs: Record<string, LayerProvenance>;
  profiles: Record<string, { label: string; ok: boolean; refusals: string[]; file?: string | undefined }>;
  outputs: OutputFile[];
  warnings: string[];
}

/** What a run returns. */
export interface RunResult {
  summary: Summary;
  files: OutputFile[];
}

/** The default terminal profiles of a run. */
export const DEFAULT_PROFILES = ['isobus', 'generic-shapefile'] as const;

const LAYERS = ['yield', 'moisture', 'ndvi', 'organic'] as const;
type LayerName = (typeof LAYERS)[number];

async function sha256Of(input: RasterInput): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  const source = sourceOf(input);
  if (typeof source !== 'string') {
    h.update(source);
    return { sha256: h.digest('hex'), bytes: source.byteLength };
  }
  let bytes = 0;
  for await (const chunk of createReadStream(source)) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), bytes };
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Writes a file through a temporary name, so a reader never sees half of it. */
async function writeOutput(dir: string, name: string, data: Uint8Array | string, contentType: string): Promise<OutputFile> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(`${path}.part`, data);
  await rename(`${path}.part`, path);
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return { name, bytes: buf.byteLength, sha256: createHash('sha256').update(buf).digest('hex'), contentType };
}

/** Field cells of `values` without a number get `fill`; returns how many did. */
function fillGaps(values: Float32Array, mask: Uint8Array, fill: number): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (mask[i] && values[i] !== values[i]) {
    values[i] = fill;
    n++;
  }
  return n;
}

/** Runs a prescription: reads and aligns the layers, forms zones, sets rates, writes and checks every output. */
export async function runPrescription(inputs: PrescriptionInputs, given: Partial<Record<keyof PrescriptionParams, unknown>>, opts: RunOptions): Promise<RunResult> {
  const params = resolveParams(given);
  const field = parseField(inputs.field);
  const profileIds = opts.profiles ?? [...DEFAULT_PROFILES];
  const unknown = profileIds.filter((id) => !(id in TERMINAL_PROFILES));
  if (unknown.length) throw new VrtError('HATAKE_ERR_VRT_PARAMS', `unknown terminal profile(s) ${unknown.join(', ')}; known: ${Object.keys(TERMINAL_PROFILES).join(', ')}`);
  const progress = (stage: RunProgress['stage'], fraction: number, message: string): void => opts.onProgress?.({ stage, fraction: Math.min(1, Math.max(0, fraction)), message });
  const title = opts.title ?? 'Prescription';

  // 1. open every layer first, so a bad file fails before any long work
  progress('read', 0, 'opening layers');
  const rasters = new Map<LayerName, Raster>();
  try {
    for (const name of LAYERS) {
      const input = inputs[name];
      if (input === undefined) continue;
      rasters.set(name, await openRaster(sourceOf(input), { name, maxCells: opts.maxCells }));
    }
    const grid = fieldGrid(field, params.workingWidth);
    const mask = fieldMask(field, grid);
    const fieldCells = mask.reduce((s, v) => s + v, 0);
    if (fieldCells === 0) throw new VrtError('HATAKE_ERR_VRT_BOUNDARY', `field boundary: the field is smaller than one ${params.workingWidth} m cell`);

    // 2. align, weighted by source size
    const total = [...rasters.values()].reduce((s, r) => s + r.width * r.height, 0);
    let done = 0;
    const aligned = new Map<LayerName, { values: Float32Array; stats: AlignStats }>();
    const inputProv: Record<string, LayerProvenance> = {};
    const warnings: string[] = [];
    for (const [name, raster] of rasters) {
      const share = (raster.width * raster.height) / total;
      const input = inputs[name]!;
      const alignOpts = { signal: opts.signal, onProgress: (f: number): void => progress('align', 0.05 + 0.7 * (done + f * share), `aligning ${name}`) };
      const workers = opts.workers ?? Math.min(4, availableParallelism());
      const source = sourceOf(input);
      const a = typeof source === 'string' && workers > 1 && raster.width * raster.height >= (opts.parallelMinCells ?? 4_000_000)
        ? await alignLayerInWorkers(source, name, grid, mask, { ...alignOpts, workers, maxCells: opts.maxCells })
        : await alignLayer(raster, grid, mask, alignOpts);
      done += share;
      if (a.stats.validCells === 0) throw new VrtError('HATAKE_ERR_VRT_NO_OVERLAP', `${name}: no cell of the layer with data lies inside the field (layer EPSG:${raster.epsg}, its extent does not meet the field, or it is all nodata there)`);
      const mean = validMean(a.values, mask);
      const filled = fillGaps(a.values, mask, name === 'organic' ? 0 : mean);
      if (filled / fieldCells > 0.1) warnings.push(`${name}: ${filled} of ${fieldCells} field cells (${((filled / fieldCells) * 100).toFixed(1)} %) have no data and were filled with ${name === 'organic' ? '0' : 'the field mean'}`);
      aligned.set(name, a);
      inputProv[name] = {
        source: typeof input === 'string' ? input : input.name,
        ...(await sha256Of(input)),
        width: raster.width,
        height: raster.height,
        epsg: raster.epsg,
        pixelSize: [raster.transform[1], -raster.transform[5]],
        sampleType: raster.sampleType,
        compression: raster.compression,
        nodata: raster.nodata ?? null,
        scale: raster.scale,
        offset: raster.offset,
        align: a.stats,
        filledCells: filled,
      };
    }

    // 3. zones on yield, moisture and growth (organic matter is a credit, not a zoning layer)
    progress('zones', 0.78, 'forming zones');
    opts.signal?.throwIfAborted();
    const layer = (name: LayerName): Float32Array | undefined => aligned.get(name)?.values;
    const features = normalise([layer('yield')!, layer('moisture')!, ...(layer('ndvi') ? [layer('ndvi')!] : [])], mask);
    const clustering = clusterCells(features, mask, params.zones, params.seed);
    const cleaned = sieve(majorityFilter(clustering.labels, grid.width, grid.height), grid.width, grid.height, params.minZoneCells);

    // 4. rates
    progress('rates', 0.85, 'setting rates');
    const needs = cellNeeds({ yield: layer('yield')!, moisture: layer('moisture')!, ndvi: layer('ndvi'), organic: layer('organic') }, mask, params);
    const rates = assignRates(cleaned, needs, grid, params);
    const totals = summarise(rates, needs, grid, params);
    if (!totals.massBalance.holds) throw new VrtError('HATAKE_ERR_VRT_OUTPUT', `mass balance does not hold: zones ${totals.massBalance.zonesProductKg} kg vs cells ${totals.massBalance.cellsProductKg} kg`);
    const map: ZoneMap = { grid, zone: rates.zone, rate: rates.rate, zones: rates.zones, product: { name: params.productName, nPercent: params.productNPercent } };

    // 5. outputs, each checked by reading it back
    progress('write', 0.88, 'writing outputs');
    await mkdir(opts.outDir, { recursive: true });
    const files: OutputFile[] = [];
    const tiff = await prescriptionTiff(map);
    await checkPrescriptionTiff(tiff, map);
    files.push(await writeOutput(opts.outDir, 'prescription.tif', tiff, 'image/tiff'));
    const polygons = zonePolygons(map);
    checkZoneFeatures(polygons);
    files.push(await writeOutput(opts.outDir, 'zones.geojson', JSON.stringify(polygons), 'application/geo+json'));
    progress('write', 0.92, 'writing terminal files');
    const profiles: Summary['profiles'] = {};
    const maxRate = rates.zones.reduce((m, z) => Math.max(m, z.rate), 0);
    for (const id of profileIds) {
      const profile = TERMINAL_PROFILES[id]!;
      const written = await writeForProfile(profile, map, field, polygons, title, maxRate);
      profiles[id] = { label: profile.label, ok: written.refusals.length === 0, refusals: written.refusals };
      if (written.bytes) {
        files.push(await writeOutput(opts.outDir, written.name, written.bytes, 'application/zip'));
        profiles[id]!.file = written.name;
      }
    }
    progress('write', 0.96, 'drawing the preview');
    files.push(await writeOutput(opts.outDir, 'preview.png', previewPng(map, field, { title: `${title} — ${params.productName}` }), 'image/png'));
    const summary: Summary = {
      engine: '@hatake/vrt',
      version: packageVersion(),
      generatedAt: new Date().toISOString(),
      title,
      product: map.product,
      fieldAreaHa: turfArea(field) / 10_000,
      grid,
      zoning: { zones: rates.zones.length, chosen: params.zones === 'auto' ? 'auto' : 'fixed', scores: clustering.scores, fuzziness: FUZZINESS, fitSample: FIT_SAMPLE, minZoneCells: params.minZoneCells },
      ...totals,
      zones: rates.zones,
      params,
      inputs: inputProv,
      profiles,
      outputs: [...files],
      warnings,
    };
    files.push(await writeOutput(opts.outDir, 'summary.json', `${JSON.stringify(summary, null, 2)}\n`, 'application/json'));
    progress('write', 1, 'done');
    return { summary, files };
  } finally {
    await Promise.all([...rasters.values()].map((r) => r.close().catch(() => undefined)));
  }
}

/** The file a terminal profile gets, after its limits are checked (no file when refused). */
async function writeForProfile(profile: TerminalProfile, map: ZoneMap, field: FieldFeature, polygons: ZoneFeatures, title: string, maxRate: number): Promise<{ name: string; bytes?: Uint8Array; refusals: string[] }> {
  const name = profile.id === 'isobus' ? 'TASKDATA.zip' : profile.id === 'generic-shapefile' ? 'shapefile.zip' : `terminals/${profile.id}.zip`;
  if (profile.format === 'isoxml') {
    const opts: IsoxmlOptions = { taskName: title.slice(0, 32), fieldName: 'Field', productName: map.product.name, version: profile.isoxmlVersion ?? 4 };
    const candidate = { zones: map.zones.length, fieldNames: [opts.taskName, opts.fieldName, opts.productName], maxRate, gridCells: isoxmlGridShape(field, map.grid.cellSize).cells };
    const pre = profileRefusals(profile, candidate);
    if (pre.length) return { name, refusals: pre };
    const zip = await isoxmlTaskData(map, field, opts);
    const refusals = profileRefusals(profile, { ...candidate, bytes: zip.byteLength });
    if (refusals.length) return { name, refusals };
    await checkIsoxmlTaskData(zip, map, opts);
    return { name, bytes: zip, refusals };
  }
  const opts = { baseName: 'RX', rateField: profile.rateField ?? 'RATE' };
  const candidate = { zones: map.zones.length, fieldNames: ['ZONE', opts.rateField, 'AREA_HA'], maxRate, baseName: opts.baseName };
  const pre = profileRefusals(profile, candidate);
  if (pre.length) return { name, refusals: pre };
  const zip = await shapefileZip(polygons, opts);
  const refusals = profileRefusals(profile, { ...candidate, bytes: zip.byteLength });
  if (refusals.length) return { name, refusals };
  await checkShapefileZip(zip, polygons, opts);
  return { name, bytes: zip, refusals };
}
