/**
 * The prescription as ISO 11783-10 TASKDATA (ISOXML), built and saved by the
 * `isoxml` package, and its read-back check.
 *
 * One task carries a type-2 grid (ISO 11783-10 GRD, GridType 2: one int32
 * little-endian value per cell, rows from south to north, columns from west to
 * east) of DDI 6 "Setpoint Mass Per Area Application Rate" in mg/m²
 * (ISO 11783-11; 1 kg/ha = 100 mg/m²). The grid is a WGS84 lat/lon grid over
 * the field's bounding box whose cells are about the working cell size; each
 * cell takes the rate of the working-grid cell under its centre (nearest
 * neighbour). The grid is assembled by `isoxml`'s own
 * `ExtendedTask.addGridFromGeoJSON`, given our grid parameters and values
 * through the manager's `gridParamsGenerator` / `gridGenerator` options (its
 * default generator samples GeoJSON polygons; ours samples the zone map).
 */
import JSZip from 'jszip';
import {
  type ExtendedGrid,
  type ExtendedPartfield,
  type ExtendedTask,
  type Farm,
  type FarmAttributes,
  type GridParameters,
  type ISOXMLReference,
  type PartfieldAttributes,
  type ProcessDataVariable,
  type ProcessDataVariableAttributes,
  type Product,
  type ProductAttributes,
  type TaskAttributes,
  type TreatmentZone,
  type ValuePresentation,
  type ValuePresentationAttributes,
  GridGridTypeEnum,
  ISOXMLManager,
  ProductProductTypeEnum,
  TAGS,
  TaskTaskStatusEnum,
} from 'isoxml';
import type { Position } from 'geojson';
import { transformer } from '../crs.ts';
import { VrtError } from '../errors.ts';
import type { FieldFeature, ZoneMap } from '../types.ts';

/** Options of the ISOXML output. */
export interface IsoxmlOptions {
  taskName: string;
  farmName?: string;
  fieldName: string;
  productName: string;
  /** Rate used when the terminal loses position, kg/ha (default: the area-weighted mean rate). */
  positionLostRate?: number;
  /** Rate outside the field (and in field cells without data), kg/ha (default 0). */
  outOfFieldRate?: number;
  /** Rate of the task's default treatment zone, kg/ha (default: the area-weighted mean rate). */
  defaultRate?: number;
  /** ISOXML version 3 or 4, default 4. */
  version?: 3 | 4;
}

/** DDI 6, Setpoint Mass Per Area Application Rate (ISO 11783-11), as ISOXML writes a DDI: 4 hex digits. */
export const DDI_SETPOINT_MASS_PER_AREA = '0006';
/** mg/m² per kg/ha: 1 kg/ha = 10⁶ mg / 10⁴ m² = 100 mg/m². */
const MG_M2_PER_KG_HA = 100;
/** Designators (task, partfield, product, farm) are at most 32 characters in the ISO 11783-10 XML schema. */
const MAX_DESIGNATOR = 32;
/** ISO 11783-10 writes positions with 9 decimals (xs:decimal, fractionDigits 9). */
const POSITION_SCALE = 1e9;
/** How far the grid's cell size may stray from the working cell size before the check refuses it. */
const CELL_SIZE_TOLERANCE = 0.01;
const TZN_NAMES = { outOfField: 'Out of field', grid: 'Prescription grid', default: 'Default', positionLost: 'Position lost' } as const;

/** The setpoints of the task's out-of-field, default and position-lost treatment zones, mg/m². */
interface TznValues {
  readonly outOfField: number;
  readonly default: number;
  readonly positionLost: number;
}

/** A zip with TASKDATA/TASKDATA.XML and the grid binary: one task with a type-2 grid of the DDI 6 setpoint rate, default, position-lost and out-of-field treatment zones, the product and the partfield. */
export async function isoxmlTaskData(map: ZoneMap, field: FieldFeature, opts: IsoxmlOptions): Promise<Buffer> {
  const o = checkOptions(opts);
  const values = tznValues(map, o);
  const params = gridParameters(field, map.grid.cellSize);
  const cells = gridValues(map, params, values.outOfField);

  const manager = new ISOXMLManager({
    version: o.version,
    fmisTitle: 'hatake',
    fmisVersion: '0.1',
    // isoxml asks these for the grid's parameters and its binary (ExtendedGrid.fromGeoJSON).
    gridParamsGenerator: () => params,
    gridGenerator: () => littleEndian(cells),
  });
  const root = manager.rootElement.attributes;

  let farmRef: ISOXMLReference | undefined;
  if (o.farmName !== undefined) {
    const farm = manager.createEntityFromAttributes<Farm>(TAGS.Farm, { FarmDesignator: o.farmName } satisfies FarmAttributes);
    farmRef = manager.registerEntity(farm);
    root.Farm = [farm];
  }

  const partfield = manager.createEntityFromAttributes<ExtendedPartfield>(TAGS.Partfield, {
    PartfieldDesignator: o.fieldName,
    PartfieldArea: 0,
    ...(farmRef && { FarmIdRef: farmRef }),
  } satisfies PartfieldAttributes);
  // isoxml's d.ts types this with @turf/turf 6's geometry types; the GeoJSON is the same shape.
  partfield.boundaryFromGeoJSON(field.geometry as Parameters<ExtendedPartfield['boundaryFromGeoJSON']>[0], manager);
  const partfieldRef = manager.registerEntity(partfield);
  root.Partfield = [partfield];

  // Terminals show the grid's mg/m² as kg/ha: kg/ha = 0.01 × mg/m² (ISO 11783-10 VPN: shown = (value + offset) × scale).
  const vpn = manager.createEntityFromAttributes<ValuePresentation>(TAGS.ValuePresentation, {
    Offset: 0,
    Scale: 1 / MG_M2_PER_KG_HA,
    NumberOfDecimals: 1,
    UnitDesignator: 'kg/ha',
  } satisfies ValuePresentationAttributes);
  const vpnRef = manager.registerEntity(vpn);
  root.ValuePresentation = [vpn];

  const product = manager.createEntityFromAttributes<Product>(TAGS.Product, {
    ProductDesignator: o.productName,
    ProductType: ProductProductTypeEnum.SingleDefault,
  } satisfies ProductAttributes);
  const productRef = manager.registerEntity(product);
  root.Product = [product];

  const pdv = manager.createEntityFromAttributes<ProcessDataVariable>(TAGS.ProcessDataVariable, {
    ProcessDataDDI: DDI_SETPOINT_MASS_PER_AREA,
    ProcessDataValue: 0,
    ProductIdRef: productRef,
    ValuePresentationIdRef: vpnRef,
  } satisfies ProcessDataVariableAttributes);

  const task = manager.createEntityFromAttributes<ExtendedTask>(TAGS.Task, {
    TaskDesignator: o.taskName,
    TaskStatus: TaskTaskStatusEnum.Planned,
    PartfieldIdRef: partfieldRef,
    ...(farmRef && { FarmIdRef: farmRef }),
  } satisfies TaskAttributes);
  manager.registerEntity(task);
  // The GeoJSON only feeds our generators (which ignore it); isoxml's d.ts wants a @turf/helpers FeatureCollection.
  const boundary = { type: 'FeatureCollection', features: [field] } as unknown as Parameters<ExtendedTask['addGridFromGeoJSON']>[0];
  task.addGridFromGeoJSON(boundary, [pdv], ['rate'], [values.default], [values.positionLost], [values.outOfField]);
  nameTreatmentZones(task);
  root.Task = [task];

  return uppercaseBinaryNames(await manager.saveISOXML());
}

/** The size of the ISOXML grid `isoxmlTaskData` would write for this field and working cell size, so a terminal profile can be checked first. */
export function isoxmlGridShape(field: FieldFeature, cellSize: number): { columns: number; rows: number; cells: number } {
  const p = gridParameters(field, cellSize);
  return { columns: p.numCols, rows: p.numRows, cells: p.numCols * p.numRows };
}

/** Parses the zip back with `isoxml` and throws HATAKE_ERR_VRT_OUTPUT unless the task, its type-2 grid (size and every cell's mg/m²), DDI and treatment zones are as written. */
export async function checkIsoxmlTaskData(zip: Buffer, map: ZoneMap, opts: IsoxmlOptions): Promise<void> {
  const o = checkOptions(opts);
  const fail = (why: string): never => {
    throw new VrtError('HATAKE_ERR_VRT_OUTPUT', `ISOXML task data failed its read-back check: ${why}`);
  };

  const manager = new ISOXMLManager();
  try {
    await manager.parseISOXMLFile(new Uint8Array(zip), 'application/zip');
  } catch (err) {
    return fail(`isoxml cannot parse it (${(err as Error).message})`);
  }
  // isoxml looks binaries up as "<Filename>.bin" and notes that ours are upper case (as ISO 11783-10 names them): expected, not a fault.
  const warnings = manager.getWarnings().filter((w) => !/^Letter case of filename GRD\d+\.bin doesn't match \(real file: GRD\d+\.BIN\)$/.test(w));
  if (warnings.length > 0) fail(`isoxml warns: ${warnings.join('; ')}`);

  const root = manager.rootElement.attributes;
  if (root.VersionMajor !== String(o.version)) fail(`it is ISOXML version ${root.VersionMajor}, not ${o.version}`);
  const tasks = (root.Task ?? []) as ExtendedTask[];
  if (tasks.length !== 1) fail(`it has ${tasks.length} tasks, not 1`);
  const task = tasks[0]!;
  const t = task.attributes;
  if (t.TaskDesignator !== o.taskName) fail(`the task is named "${t.TaskDesignator}", not "${o.taskName}"`);

  const partfield = t.PartfieldIdRef?.entity as ExtendedPartfield | undefined;
  if (!partfield) return fail('the task has no partfield');
  if (partfield.attributes.PartfieldDesignator !== o.fieldName) fail(`the partfield is named "${partfield.attributes.PartfieldDesignator}", not "${o.fieldName}"`);
  if ((partfield.attributes.PolygonnonTreatmentZoneonly ?? []).length === 0) fail('the partfield has no boundary polygon');
  if (o.farmName !== undefined && t.FarmIdRef?.entity?.attributes['FarmDesignator'] !== o.farmName) fail(`the task's farm is not "${o.farmName}"`);

  const products = root.Product ?? [];
  if (products.length !== 1 || products[0]!.attributes.ProductDesignator !== o.productName) {
    fail(`the products are [${products.map((p) => p.attributes.ProductDesignator).join(', ')}], not ["${o.productName}"]`);
  }
  const product = products[0]!;

  const zones = t.TreatmentZone ?? [];
  const zoneByCode = (code: number | undefined, what: string): TreatmentZone => {
    const zone = code === undefined ? undefined : zones.find((z) => z.attributes.TreatmentZoneCode === code);
    return zone ?? fail(`the task has no ${what} treatment zone (code ${code ?? 'unset'})`);
  };
  const ddi6Value = (zone: TreatmentZone, what: string): number => {
    const pdvs = zone.attributes.ProcessDataVariable ?? [];
    const p = pdvs[0];
    if (pdvs.length !== 1 || !p) return fail(`the ${what} treatment zone has ${pdvs.length} process data variables, not 1`);
    if (Number.parseInt(p.attributes.ProcessDataDDI, 16) !== 6) fail(`the ${what} treatment zone's DDI is ${p.attributes.ProcessDataDDI}, not ${DDI_SETPOINT_MASS_PER_AREA}`);
    if (p.attributes.ProductIdRef?.entity !== product) fail(`the ${what} treatment zone does not refer to the product`);
    return p.attributes.ProcessDataValue;
  };
  const want = tznValues(map, o);
  const zoneChecks: [number | undefined, string, number][] = [
    [t.DefaultTreatmentZoneCode, 'default', want.default],
    [t.PositionLostTreatmentZoneCode, 'position-lost', want.positionLost],
    [t.OutOfFieldTreatmentZoneCode, 'out-of-field', want.outOfField],
  ];
  for (const [code, what, value] of zoneChecks) {
    const got = ddi6Value(zoneByCode(code, what), what);
    if (got !== value) fail(`the ${what} treatment zone's setpoint is ${got} mg/m², expected ${value}`);
  }

  const grids = (t.Grid ?? []) as ExtendedGrid[];
  if (grids.length !== 1) fail(`the task has ${grids.length} grids, not 1`);
  const grid = grids[0]!;
  const g = grid.attributes;
  if (g.GridType !== GridGridTypeEnum.GridType2) fail(`the grid is of type ${g.GridType}, not 2`);
  ddi6Value(zoneByCode(g.TreatmentZoneCode, 'grid'), 'grid');
  const cellCount = g.GridMaximumColumn * g.GridMaximumRow;
  const byteLength = cellCount * 4;
  const binary = grid.binaryData;
  if (!binary || binary.byteLength !== byteLength) fail(`the grid binary has ${binary?.byteLength ?? 0} bytes, expected ${g.GridMaximumColumn} × ${g.GridMaximumRow} × 4 = ${byteLength}`);
  if (g.Filelength !== undefined && g.Filelength !== byteLength) fail(`the grid's Filelength is ${g.Filelength}, expected ${byteLength}`);
  const archive = await JSZip.loadAsync(zip);
  const binName = `${manager.options.rootFolder ?? ''}${g.Filename}.BIN`;
  if (!archive.file(binName)) fail(`the zip has no ${binName}`);

  const centreLat = g.GridMinimumNorthPosition + (g.GridMaximumRow * g.GridCellNorthSize) / 2;
  const [wantEast, wantNorth] = cellDegrees(map.grid.cellSize, centreLat);
  if (Math.abs(g.GridCellNorthSize / wantNorth - 1) > CELL_SIZE_TOLERANCE || Math.abs(g.GridCellEastSize / wantEast - 1) > CELL_SIZE_TOLERANCE) {
    fail(`the grid cells are ${g.GridCellEastSize}° × ${g.GridCellNorthSize}°, not about ${map.grid.cellSize} m (${wantEast}° × ${wantNorth}°)`);
  }

  const params: GridParameters = {
    minX: g.GridMinimumEastPosition,
    minY: g.GridMinimumNorthPosition,
    numCols: g.GridMaximumColumn,
    numRows: g.GridMaximumRow,
    cellWidth: g.GridCellEastSize,
    cellHeight: g.GridCellNorthSize,
  };
  const expected = gridValues(map, params, want.outOfField);
  const view = new DataView(binary!.buffer, binary!.byteOffset, binary!.byteLength);
  let wrong = 0;
  let first = -1;
  for (let k = 0; k < cellCount; k++) {
    if (view.getInt32(4 * k, true) !== expected[k]) {
      wrong++;
      if (first < 0) first = k;
    }
  }
  if (wrong > 0) {
    const row = Math.floor(first / params.numCols);
    const col = first % params.numCols;
    fail(`${wrong} of ${cellCount} grid cells differ from the zone map, first at row ${row} (from the south), column ${col}: ${view.getInt32(4 * first, true)} mg/m², expected ${expected[first]}`);
  }
}

/** The options with defaults, or HATAKE_ERR_VRT_PARAMS naming what is wrong. */
function checkOptions(opts: IsoxmlOptions): IsoxmlOptions & { version: 3 | 4 } {
  const problems: string[] = [];
  const names: [string, string | undefined][] = [['taskName', opts.taskName], ['fieldName', opts.fieldName], ['productName', opts.productName], ['farmName', opts.farmName]];
  for (const [what, name] of names) {
    if (name === undefined && what === 'farmName') continue;
    if (typeof name !== 'string' || name.trim() === '') problems.push(`${what} must be a non-empty string`);
    else if (name.length > MAX_DESIGNATOR) problems.push(`${what} "${name}" has ${name.length} characters; ISO 11783-10 designators hold at most ${MAX_DESIGNATOR}`);
  }
  const rates: [string, number | undefined][] = [['positionLostRate', opts.positionLostRate], ['outOfFieldRate', opts.outOfFieldRate], ['defaultRate', opts.defaultRate]];
  for (const [what, rate] of rates) {
    if (rate !== undefined && !validRate(rate)) problems.push(`${what} ${rate} kg/ha is not a rate an ISOXML grid can carry (0 to ${MAX_RATE_KG_HA} kg/ha)`);
  }
  const version = opts.version ?? 4;
  if (version !== 3 && version !== 4) problems.push(`version ${String(version)} is not an ISOXML version hatake writes (3 or 4)`);
  if (problems.length > 0) throw new VrtError('HATAKE_ERR_VRT_PARAMS', `ISOXML options: ${problems.join('; ')}`);
  return { ...opts, version };
}

/** Largest kg/ha an int32 mg/m² value holds. */
const MAX_RATE_KG_HA = Math.floor((2 ** 31 - 1) / MG_M2_PER_KG_HA);

function validRate(rate: number): boolean {
  return Number.isFinite(rate) && rate >= 0 && rate <= MAX_RATE_KG_HA;
}

function mgPerM2(kgPerHa: number): number {
  return Math.round(kgPerHa * MG_M2_PER_KG_HA);
}

/** The default, position-lost and out-of-field setpoints, mg/m². */
function tznValues(map: ZoneMap, o: IsoxmlOptions): TznValues {
  let area = 0;
  let product = 0;
  for (const z of map.zones) {
    area += z.areaHa;
    product += z.rate * z.areaHa;
  }
  const mean = area > 0 ? product / area : Number.NaN;
  const pick = (rate: number | undefined, what: string): number => {
    const r = rate ?? mean;
    if (!validRate(r)) throw new VrtError('HATAKE_ERR_VRT_PARAMS', `the ${what} rate cannot default to the area-weighted mean rate: the zone map has no zone with area and a valid rate`);
    return mgPerM2(r);
  };
  return { outOfField: mgPerM2(o.outOfFieldRate ?? 0), default: pick(o.defaultRate, 'default'), positionLost: pick(o.positionLostRate, 'position-lost') };
}

/** Metres per degree of longitude and latitude on the WGS84 ellipsoid at a latitude (series to cos 6φ). */
function metresPerDegree(latDeg: number): [number, number] {
  const phi = (latDeg * Math.PI) / 180;
  const lat = 111132.92 - 559.82 * Math.cos(2 * phi) + 1.175 * Math.cos(4 * phi) - 0.0023 * Math.cos(6 * phi);
  const lon = 111412.84 * Math.cos(phi) - 93.5 * Math.cos(3 * phi) + 0.118 * Math.cos(5 * phi);
  return [lon, lat];
}

/** A square cell of `metres` as degrees east and north at a latitude. */
function cellDegrees(metres: number, latDeg: number): [number, number] {
  const [lon, lat] = metresPerDegree(latDeg);
  return [metres / lon, metres / lat];
}

/** The lat/lon grid over the field's bounding box, cells about `cellSize` metres, SW corner on the 9-decimal lattice ISOXML writes. */
function gridParameters(field: FieldFeature, cellSize: number): GridParameters {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const g = field.geometry;
  const polygons: Position[][][] = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  for (const rings of polygons) {
    for (const p of rings[0] ?? []) {
      minX = Math.min(minX, p[0]!);
      maxX = Math.max(maxX, p[0]!);
      minY = Math.min(minY, p[1]!);
      maxY = Math.max(maxY, p[1]!);
    }
  }
  if (!(minX < maxX && minY < maxY)) throw new VrtError('HATAKE_ERR_VRT_BOUNDARY', 'the field boundary has no extent to lay an ISOXML grid over');
  const [cellWidth, cellHeight] = cellDegrees(cellSize, (minY + maxY) / 2);
  const x0 = Math.floor(minX * POSITION_SCALE) / POSITION_SCALE;
  const y0 = Math.floor(minY * POSITION_SCALE) / POSITION_SCALE;
  return {
    minX: x0,
    minY: y0,
    numCols: Math.max(1, Math.ceil((maxX - x0) / cellWidth)),
    numRows: Math.max(1, Math.ceil((maxY - y0) / cellHeight)),
    cellWidth,
    cellHeight,
  };
}

/** Per ISO cell (rows south to north, columns west to east), the mg/m² of the working-grid cell under its centre; `outOfField` where there is none or it has no rate. */
function gridValues(map: ZoneMap, p: GridParameters, outOfField: number): Int32Array {
  const n = p.numCols * p.numRows;
  const xy = new Float64Array(2 * n);
  for (let row = 0; row < p.numRows; row++) {
    for (let col = 0; col < p.numCols; col++) {
      const k = row * p.numCols + col;
      xy[2 * k] = p.minX + (col + 0.5) * p.cellWidth;
      xy[2 * k + 1] = p.minY + (row + 0.5) * p.cellHeight;
    }
  }
  transformer(4326, map.grid.epsg).forwardAll(xy);
  const { originX, originY, cellSize, width, height } = map.grid;
  const out = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const c = Math.floor((xy[2 * k]! - originX) / cellSize);
    const r = Math.floor((originY - xy[2 * k + 1]!) / cellSize);
    const rate = c >= 0 && c < width && r >= 0 && r < height ? map.rate[r * width + c]! : Number.NaN;
    out[k] = Number.isNaN(rate) ? outOfField : mgPerM2(rate);
  }
  return out;
}

/** The values as ISO 11783-10 binaries hold them: int32, little-endian whatever the host's byte order. */
function littleEndian(values: Int32Array): ArrayBuffer {
  const buffer = new ArrayBuffer(4 * values.length);
  const view = new DataView(buffer);
  values.forEach((v, k) => view.setInt32(4 * k, v, true));
  return buffer;
}

/** Names the treatment zones isoxml created, so a terminal lists them by purpose. */
function nameTreatmentZones(task: ExtendedTask): void {
  const t = task.attributes;
  const names = new Map<number | undefined, string>([
    [t.OutOfFieldTreatmentZoneCode, TZN_NAMES.outOfField],
    [t.Grid?.[0]?.attributes.TreatmentZoneCode, TZN_NAMES.grid],
    [t.DefaultTreatmentZoneCode, TZN_NAMES.default],
    [t.PositionLostTreatmentZoneCode, TZN_NAMES.positionLost],
  ]);
  for (const zone of t.TreatmentZone ?? []) {
    const name = names.get(zone.attributes.TreatmentZoneCode);
    if (name) zone.attributes.TreatmentZoneDesignator = name;
  }
}

/** isoxml saves grid binaries as "GRDnnnnn.bin"; ISO 11783-10 names them "GRDnnnnn.BIN", as case-sensitive readers expect. */
async function uppercaseBinaryNames(saved: Uint8Array): Promise<Buffer> {
  const zip = await JSZip.loadAsync(saved);
  for (const name of Object.keys(zip.files)) {
    const match = /^(.*\/)?(GRD\d+)\.bin$/.exec(name);
    if (!match) continue;
    const data = await zip.file(name)!.async('uint8array');
    zip.remove(name);
    zip.file(`${match[1] ?? ''}${match[2]}.BIN`, data, { binary: true });
  }
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}
