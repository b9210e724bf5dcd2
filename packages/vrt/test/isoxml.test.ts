import JSZip from 'jszip';
import { type ExtendedGrid, type ExtendedTask, ISOXMLManager } from 'isoxml';
import { describe, expect, it } from 'vitest';
import { transformer } from '../src/crs.ts';
import { type IsoxmlOptions, checkIsoxmlTaskData, isoxmlGridShape, isoxmlTaskData } from '../src/outputs/isoxml.ts';
import type { FieldFeature, ZoneMap } from '../src/types.ts';

/** EPSG:32654 (UTM 54N) working grid near lon 141.77, lat 43.20. */
const X0 = 562_000;
const Y0 = 4_783_000;
const CELL = 10;
const W = 20;
const H = 10;
const WEST_RATE = 100;
const EAST_RATE = 150;

/**
 * A 200 m × 100 m zone map: zone 1 (100 kg/ha) west of x = 562 100, zone 2 (150 kg/ha) east of it,
 * and its northern row (y > 4 782 990) outside the field (zone 0, no rate).
 */
function zoneMap(): ZoneMap {
  const zone = new Uint8Array(W * H);
  const rate = new Float32Array(W * H);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const k = r * W + c;
      zone[k] = r === 0 ? 0 : c < W / 2 ? 1 : 2;
      rate[k] = r === 0 ? Number.NaN : c < W / 2 ? WEST_RATE : EAST_RATE;
    }
  }
  const cells = (W / 2) * (H - 1);
  return {
    grid: { epsg: 32654, originX: X0, originY: Y0, cellSize: CELL, width: W, height: H },
    zone,
    rate,
    zones: [
      { id: 1, rate: WEST_RATE, nRate: 46, cells, areaHa: cells / 100, productKg: WEST_RATE * (cells / 100) },
      // Twice the area of zone 1, so the area-weighted mean (133.33 kg/ha) differs from the plain mean.
      { id: 2, rate: EAST_RATE, nRate: 69, cells: 2 * cells, areaHa: (2 * cells) / 100, productKg: EAST_RATE * ((2 * cells) / 100) },
    ],
    product: { name: 'Urea', nPercent: 46 },
  };
}

/** The field: the map's extent less 1 m on each side, in WGS84. */
function field(): FieldFeature {
  const toWgs = transformer(32654, 4326);
  const corners: [number, number][] = [[X0 + 1, Y0 - 99], [X0 + 199, Y0 - 99], [X0 + 199, Y0 - 1], [X0 + 1, Y0 - 1], [X0 + 1, Y0 - 99]];
  return { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [corners.map(([x, y]) => toWgs.forward(x, y))] } };
}

const OPTS: IsoxmlOptions = { taskName: 'N top-dress 2025', farmName: 'Tokachi farm', fieldName: 'North 7', productName: 'Urea 46-0-0' };

async function parse(zip: Buffer): Promise<{ manager: ISOXMLManager; task: ExtendedTask; grid: ExtendedGrid }> {
  const manager = new ISOXMLManager();
  await manager.parseISOXMLFile(new Uint8Array(zip), 'application/zip');
  const task = manager.rootElement.attributes.Task![0] as ExtendedTask;
  return { manager, task, grid: task.attributes.Grid![0] as ExtendedGrid };
}

/** The value the grid should hold at a WGS84 point, worked out from the map's layout rather than its arrays. */
function expectedAt(lon: number, lat: number, outOfField: number): number {
  const [x, y] = transformer(4326, 32654).forward(lon, lat);
  if (x < X0 || x >= X0 + W * CELL || y > Y0 - CELL || y <= Y0 - H * CELL) return outOfField;
  return (x < X0 + (W / 2) * CELL ? WEST_RATE : EAST_RATE) * 100;
}

describe('the ISOXML output', () => {
  it('zips TASKDATA/TASKDATA.XML and the grid binary under its ISO 11783-10 name', async () => {
    const z = await JSZip.loadAsync(await isoxmlTaskData(zoneMap(), field(), OPTS));
    expect(Object.keys(z.files).filter((n) => !n.endsWith('/')).sort()).toEqual(['TASKDATA/GRD00001.BIN', 'TASKDATA/TASKDATA.XML']);
  });

  it('parses back with isoxml: one version-4 task on the partfield, farm and product, without warnings beyond the binary name case', async () => {
    const { manager, task } = await parse(await isoxmlTaskData(zoneMap(), field(), OPTS));
    expect(manager.getWarnings().filter((w) => !/^Letter case of filename GRD00001\.bin/.test(w))).toEqual([]);
    const root = manager.rootElement.attributes;
    expect(root.VersionMajor).toBe('4');
    expect(root.Task).toHaveLength(1);
    expect(task.attributes.TaskDesignator).toBe(OPTS.taskName);
    expect(task.attributes.PartfieldIdRef!.entity!.attributes['PartfieldDesignator']).toBe(OPTS.fieldName);
    expect(task.attributes.PartfieldIdRef!.entity!.attributes['PolygonnonTreatmentZoneonly']).toHaveLength(1);
    expect(task.attributes.FarmIdRef!.entity!.attributes['FarmDesignator']).toBe(OPTS.farmName);
    expect(root.Product!.map((p) => p.attributes.ProductDesignator)).toEqual([OPTS.productName]);
  });

  it('has a type-2 grid of columns × rows × 4 bytes whose cells are about the 10 m working cells', async () => {
    const { grid } = await parse(await isoxmlTaskData(zoneMap(), field(), OPTS));
    const g = grid.attributes;
    expect(g.GridType).toBe('2');
    expect([g.GridMaximumColumn, g.GridMaximumRow]).toEqual([20, 10]);
    expect(grid.binaryData.byteLength).toBe(g.GridMaximumColumn * g.GridMaximumRow * 4);
    expect(g.Filelength).toBe(800);
    expect(isoxmlGridShape(field(), CELL)).toEqual({ columns: 20, rows: 10, cells: 200 });
    // 10 m is 0.00009° of latitude and 0.000123° of longitude at 43.2° N.
    expect(g.GridCellNorthSize * 111_097).toBeCloseTo(10, 1);
    expect(g.GridCellEastSize * 81_280).toBeCloseTo(10, 1);
    expect(g.GridMinimumNorthPosition).toBeCloseTo(43.1963, 4);
    expect(g.GridMinimumEastPosition).toBeCloseTo(141.7631, 4);
  });

  it('holds in each cell the rate under the cell centre in mg/m² (1 kg/ha = 100), rows from south to north', async () => {
    const { grid } = await parse(await isoxmlTaskData(zoneMap(), field(), OPTS));
    const g = grid.attributes;
    const view = new DataView(grid.binaryData.buffer, grid.binaryData.byteOffset, grid.binaryData.byteLength);
    const seen = new Set<number>();
    for (let row = 0; row < g.GridMaximumRow; row++) {
      for (let col = 0; col < g.GridMaximumColumn; col++) {
        const lon = g.GridMinimumEastPosition + (col + 0.5) * g.GridCellEastSize;
        const lat = g.GridMinimumNorthPosition + (row + 0.5) * g.GridCellNorthSize;
        const got = view.getInt32(4 * (row * g.GridMaximumColumn + col), true);
        expect(got, `row ${row} col ${col}`).toBe(expectedAt(lon, lat, 0));
        seen.add(got);
      }
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 10_000, 15_000]);
    // The map's northern row is outside the field: the last (northernmost) grid row is all 0, the first (southernmost) has none.
    const rowValues = (row: number): number[] => Array.from({ length: g.GridMaximumColumn }, (_, col) => view.getInt32(4 * (row * g.GridMaximumColumn + col), true));
    expect(new Set(rowValues(g.GridMaximumRow - 1))).toEqual(new Set([0]));
    expect(rowValues(0)).not.toContain(0);
  });

  it('has DDI 6 (0006) and the default, position-lost and out-of-field treatment zones', async () => {
    const { task, grid } = await parse(await isoxmlTaskData(zoneMap(), field(), OPTS));
    const t = task.attributes;
    const zone = (code: number | undefined): { ddi: string; value: number; name: string | undefined } => {
      const tzn = t.TreatmentZone!.find((z) => z.attributes.TreatmentZoneCode === code)!;
      const pdv = tzn.attributes.ProcessDataVariable!;
      expect(pdv).toHaveLength(1);
      return { ddi: pdv[0]!.attributes.ProcessDataDDI, value: pdv[0]!.attributes.ProcessDataValue, name: tzn.attributes.TreatmentZoneDesignator };
    };
    const mean = Math.round(((WEST_RATE * 0.9 + EAST_RATE * 1.8) / 2.7) * 100);
    expect(zone(t.DefaultTreatmentZoneCode)).toEqual({ ddi: '0006', value: mean, name: 'Default' });
    expect(zone(t.PositionLostTreatmentZoneCode)).toEqual({ ddi: '0006', value: mean, name: 'Position lost' });
    expect(zone(t.OutOfFieldTreatmentZoneCode)).toEqual({ ddi: '0006', value: 0, name: 'Out of field' });
    expect(zone(grid.attributes.TreatmentZoneCode).ddi).toBe('0006');
    expect(new Set([t.DefaultTreatmentZoneCode, t.PositionLostTreatmentZoneCode, t.OutOfFieldTreatmentZoneCode, grid.attributes.TreatmentZoneCode]).size).toBe(4);
  });

  it('uses the given position-lost and out-of-field rates, the latter also for grid cells without a rate', async () => {
    const opts = { ...OPTS, positionLostRate: 80, outOfFieldRate: 20 };
    const { task, grid } = await parse(await isoxmlTaskData(zoneMap(), field(), opts));
    const t = task.attributes;
    const value = (code: number | undefined): number => t.TreatmentZone!.find((z) => z.attributes.TreatmentZoneCode === code)!.attributes.ProcessDataVariable![0]!.attributes.ProcessDataValue;
    expect([value(t.PositionLostTreatmentZoneCode), value(t.OutOfFieldTreatmentZoneCode)]).toEqual([8000, 2000]);
    const cells = new Int32Array(grid.binaryData.slice().buffer);
    expect(new Set(cells)).toEqual(new Set([2000, 10_000, 15_000]));
  });

  it('writes ISOXML version 3 when asked', async () => {
    const opts = { ...OPTS, version: 3 as const };
    const zip = await isoxmlTaskData(zoneMap(), field(), opts);
    const { manager, grid } = await parse(zip);
    expect(manager.rootElement.attributes.VersionMajor).toBe('3');
    expect(grid.attributes.GridType).toBe('2');
    await expect(checkIsoxmlTaskData(zip, zoneMap(), opts)).resolves.toBeUndefined();
  });

  it('passes its own read-back check', async () => {
    await expect(checkIsoxmlTaskData(await isoxmlTaskData(zoneMap(), field(), OPTS), zoneMap(), OPTS)).resolves.toBeUndefined();
  });

  it('fails the check when the grid does not hold the map', async () => {
    const zip = await isoxmlTaskData(zoneMap(), field(), OPTS);
    const other = zoneMap();
    other.rate.fill(EAST_RATE);
    await expect(checkIsoxmlTaskData(zip, other, OPTS)).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_OUTPUT', message: expect.stringMatching(/grid cells differ from the zone map/) });
  });

  it('fails the check when the grid binary is cut short', async () => {
    const z = await JSZip.loadAsync(await isoxmlTaskData(zoneMap(), field(), OPTS));
    const bin = await z.file('TASKDATA/GRD00001.BIN')!.async('uint8array');
    z.file('TASKDATA/GRD00001.BIN', bin.subarray(0, bin.length - 4));
    const zip = await z.generateAsync({ type: 'nodebuffer' });
    await expect(checkIsoxmlTaskData(zip, zoneMap(), OPTS)).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_OUTPUT', message: expect.stringMatching(/796 bytes|Invalid size/) });
  });

  it('fails the check when the task is not the one asked for', async () => {
    const zip = await isoxmlTaskData(zoneMap(), field(), OPTS);
    await expect(checkIsoxmlTaskData(zip, zoneMap(), { ...OPTS, taskName: 'Other' })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_OUTPUT', message: expect.stringMatching(/the task is named "N top-dress 2025"/) });
    await expect(checkIsoxmlTaskData(zip, zoneMap(), { ...OPTS, positionLostRate: 90 })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_OUTPUT', message: expect.stringMatching(/position-lost treatment zone's setpoint is 13333 mg\/m², expected 9000/) });
  });

  it.each([
    ['a field name over 32 characters', { fieldName: 'x'.repeat(33) }, /fieldName "x+" has 33 characters/],
    ['an empty task name', { taskName: ' ' }, /taskName must be a non-empty string/],
    ['a negative out-of-field rate', { outOfFieldRate: -5 }, /outOfFieldRate -5 kg\/ha/],
    ['version 5', { version: 5 as unknown as 4 }, /version 5/],
  ])('refuses %s', async (_, change, why) => {
    await expect(isoxmlTaskData(zoneMap(), field(), { ...OPTS, ...change })).rejects.toMatchObject({ code: 'HATAKE_ERR_VRT_PARAMS', message: expect.stringMatching(why) });
  });
});
