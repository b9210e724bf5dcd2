import { area, booleanPointInPolygon, booleanValid, kinks, polygon as turfPolygon } from '@turf/turf';
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { describe, expect, it } from 'vitest';
import { checkZoneFeatures, gridZonePolygons, planarArea, signedRingArea, transformer, zonePolygons, type ZoneFeatures, type ZoneMap } from '@hatake/vrt';

// An EPSG:32654 grid near Memuro, Hokkaido (lon 141.77, lat 43.20).
const EPSG = 32654;
const ORIGIN_X = 562_000;
const ORIGIN_Y = 4_783_000;
const CELL = 10;

/** A zone map from rows of digits (zone ids; '.' is 0, outside the field), rate 100 + 20·zone. */
function zoneMap(rows: readonly string[], cellSize = CELL): ZoneMap {
  const height = rows.length;
  const width = rows[0]!.length;
  const zone = new Uint8Array(width * height);
  const rate = new Float32Array(width * height).fill(NaN);
  const cells = new Map<number, number>();
  rows.forEach((row, r) => {
    expect(row.length).toBe(width);
    [...row].forEach((ch, c) => {
      const z = ch === '.' ? 0 : Number(ch);
      zone[r * width + c] = z;
      if (z > 0) {
        rate[r * width + c] = 100 + 20 * z;
        cells.set(z, (cells.get(z) ?? 0) + 1);
      }
    });
  });
  const zones = [...cells.entries()].sort((a, b) => a[0] - b[0]).map(([id, n]) => ({
    id, rate: 100 + 20 * id, nRate: (100 + 20 * id) * 0.46, cells: n, areaHa: (n * cellSize * cellSize) / 10_000, productKg: 0,
  }));
  return { grid: { epsg: EPSG, originX: ORIGIN_X, originY: ORIGIN_Y, cellSize, width, height }, zone, rate, zones, product: { name: 'Urea', nPercent: 46 } };
}

function cellsOf(map: ZoneMap, z: number): number {
  return map.zone.reduce((n, v) => n + (v === z ? 1 : 0), 0);
}

function parts(geometry: Polygon | MultiPolygon): Position[][][] {
  return geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
}

/** Shape of a zone's geometry: holes per polygon. */
function holesPerPolygon(fc: ZoneFeatures, z: number): number[] {
  const f = fc.features.find((x) => x.properties.zone === z);
  expect(f, `zone ${z} present`).toBeDefined();
  return parts(f!.geometry).map((rings) => rings.length - 1);
}

/** Everything that must hold for any zone map's polygons. */
function expectSound(map: ZoneMap): ZoneFeatures {
  const grid = gridZonePolygons(map);
  const wgs = zonePolygons(map);
  const present = map.zones.filter((z) => cellsOf(map, z.id) > 0).map((z) => z.id);
  expect(wgs.features.map((f) => f.properties.zone)).toEqual(present);
  expect(grid.features.map((f) => f.properties.zone)).toEqual(present);
  checkZoneFeatures(wgs);
  const back = transformer(4326, EPSG);
  for (const [k, f] of wgs.features.entries()) {
    const z = f.properties.zone;
    const summary = map.zones.find((s) => s.id === z)!;
    expect(f.properties).toEqual({ zone: z, rate: summary.rate, areaHa: summary.areaHa });
    const cellArea = cellsOf(map, z) * map.grid.cellSize ** 2;
    const g = grid.features[k]!;
    // Exactly along cell edges: every vertex on a cell corner, and the planar area is the cells' area exactly.
    expect(planarArea(g.geometry)).toBe(cellArea);
    for (const rings of parts(g.geometry)) {
      for (const ring of rings) {
        for (const [x, y] of ring) {
          expect(Number.isInteger((x! - ORIGIN_X) / map.grid.cellSize)).toBe(true);
          expect(Number.isInteger((ORIGIN_Y - y!) / map.grid.cellSize)).toBe(true);
        }
      }
    }
    // Reprojected: valid, same vertices when projected back, and about the same area on the ground.
    // (turf's booleanValid is checked per part: it refuses parts touching at a single point, which OGC allows.)
    parts(f.geometry).forEach((rings, p) => {
      expect(booleanValid(turfPolygon(rings))).toBe(true);
      expect(rings.length).toBe(parts(g.geometry)[p]!.length);
      rings.forEach((ring, r) => {
        expect(kinks(turfPolygon([ring])).features).toEqual([]);
        expect(signedRingArea(ring) > 0).toBe(r === 0);
        ring.forEach((pos, m) => {
          const [x, y] = back.forward(pos[0]!, pos[1]!);
          const want = parts(g.geometry)[p]![r]![m]!;
          expect(Math.abs(x - want[0]!)).toBeLessThan(1e-4);
          expect(Math.abs(y - want[1]!)).toBeLessThan(1e-4);
        });
      });
    });
    expect(Math.abs(area(f) / cellArea - 1)).toBeLessThan(0.005);
    // Every cell centre is inside its zone's polygon and outside the others'.
    for (let r = 0; r < map.grid.height; r++) {
      for (let c = 0; c < map.grid.width; c++) {
        const centre = [ORIGIN_X + (c + 0.5) * map.grid.cellSize, ORIGIN_Y - (r + 0.5) * map.grid.cellSize];
        expect(booleanPointInPolygon(centre, g), `cell ${c},${r} vs zone ${z}`).toBe(map.zone[r * map.grid.width + c] === z);
      }
    }
  }
  return wgs;
}

describe('zonePolygons', () => {
  it('a ring-shaped zone: one polygon with one hole', () => {
    const map = zoneMap([
      '11111',
      '1...1',
      '1...1',
      '11111',
    ]);
    const fc = expectSound(map);
    expect(fc.features[0]!.geometry.type).toBe('Polygon');
    expect(holesPerPolygon(fc, 1)).toEqual([1]);
    // Collinear vertices dropped: the outer ring and the hole are rectangles.
    const rings = (fc.features[0]!.geometry as Polygon).coordinates;
    expect(rings.map((ring) => ring.length)).toEqual([5, 5]);
    expect(booleanValid(fc.features[0]!)).toBe(true);
    // No touching at all here, so turf's kinks on the whole polygon is empty too.
    expect(kinks(fc.features[0]!).features).toEqual([]);
  });

  it('a zone entirely inside another: the outer zone gets a hole, the inner one none', () => {
    const map = zoneMap([
      '11111',
      '12221',
      '12321',
      '12221',
      '11111',
    ]);
    const fc = expectSound(map);
    expect(holesPerPolygon(fc, 1)).toEqual([1]);
    expect(holesPerPolygon(fc, 2)).toEqual([1]);
    expect(holesPerPolygon(fc, 3)).toEqual([0]);
    for (const f of fc.features) expect(booleanValid(f)).toBe(true);
  });

  it('a zone in two separate parts: a MultiPolygon', () => {
    const map = zoneMap([
      '11..22',
      '11..22',
      '...222',
      '11....',
    ]);
    const fc = expectSound(map);
    expect(fc.features[0]!.geometry.type).toBe('MultiPolygon');
    expect(booleanValid(fc.features[0]!)).toBe(true);
    expect(holesPerPolygon(fc, 1)).toEqual([0, 0]);
    expect(fc.features[1]!.geometry.type).toBe('Polygon');
  });

  it('checkerboard: cells touching at a corner are separate polygons meeting at one point', () => {
    const map = zoneMap([
      '12',
      '21',
    ]);
    const fc = expectSound(map);
    for (const f of fc.features) {
      expect(f.geometry.type).toBe('MultiPolygon');
      const [a, b] = (f.geometry as MultiPolygon).coordinates;
      const shared = a![0]!.slice(0, -1).filter((p) => b![0]!.some((q) => q[0] === p[0] && q[1] === p[1]));
      expect(shared).toHaveLength(1);
    }
  });

  it('a full checkerboard: every cell its own polygon', () => {
    const map = zoneMap([
      '1212',
      '2121',
      '1212',
    ]);
    const fc = expectSound(map);
    expect(holesPerPolygon(fc, 1)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(holesPerPolygon(fc, 2)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('holes touching each other at a corner are two holes, not one ring touching itself', () => {
    const map = zoneMap([
      '11111',
      '1.111',
      '11.11',
      '11111',
    ]);
    const fc = expectSound(map);
    expect(holesPerPolygon(fc, 1)).toEqual([2]);
  });

  it('a notch closing at a corner makes a hole touching the outer ring at one point', () => {
    const map = zoneMap([
      '111',
      '1.1',
      '11.',
    ]);
    const fc = expectSound(map);
    expect(holesPerPolygon(fc, 1)).toEqual([1]);
  });

  it('random maps (seeded): sound everywhere', () => {
    let seed = 7;
    const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
    for (let trial = 0; trial < 30; trial++) {
      const w = 1 + Math.floor(next() * 9);
      const h = 1 + Math.floor(next() * 9);
      const k = 1 + Math.floor(next() * 3);
      const rows = Array.from({ length: h }, () => Array.from({ length: w }, () => {
        const z = Math.floor(next() * (k + 1));
        return z === 0 ? '.' : String(z);
      }).join(''));
      expectSound(zoneMap(rows, 2.5 * (1 + (trial % 4))));
    }
  });

  it('a map without data gives no features', () => {
    const map = zoneMap(['...', '...']);
    expect(zonePolygons(map)).toEqual({ type: 'FeatureCollection', features: [] });
  });

  it('2,000 × 2,000 cells, 5 zones, thousands of regions: every zone valid and exact in area', () => {
    const w = 2000;
    const h = 2000;
    const zone = new Uint8Array(w * h);
    let seed = 12_345;
    const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
    const waves = Array.from({ length: 12 }, () => ({ fx: next() * 0.08, fy: next() * 0.08, phase: next() * 6.28, amp: next() }));
    const counts = [0, 0, 0, 0, 0, 0];
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const dx = (c - w / 2) / (w / 2);
        const dy = (r - h / 2) / (h / 2);
        if (dx * dx + dy * dy > 0.95) continue;
        let v = (next() - 0.5) * 0.15;
        for (const wave of waves) v += wave.amp * Math.sin(c * wave.fx + r * wave.fy + wave.phase);
        const z = Math.max(1, Math.min(5, Math.floor((v / 3 + 0.5) * 5) + 1));
        zone[r * w + c] = z;
        counts[z]!++;
      }
    }
    const map: ZoneMap = {
      grid: { epsg: EPSG, originX: ORIGIN_X, originY: ORIGIN_Y, cellSize: 2, width: w, height: h },
      zone,
      rate: new Float32Array(w * h),
      zones: [1, 2, 3, 4, 5].map((id) => ({ id, rate: 100 + 10 * id, nRate: 0, cells: counts[id]!, areaHa: (counts[id]! * 4) / 10_000, productKg: 0 })),
      product: { name: 'Urea', nPercent: 46 },
    };
    const fc = zonePolygons(map);
    checkZoneFeatures(fc);
    const regions = fc.features.reduce((n, f) => n + parts(f.geometry).length, 0);
    expect(regions).toBeGreaterThan(2000);
    expect(fc.features).toHaveLength(5);
    for (const f of fc.features) expect(Math.abs(area(f) / (counts[f.properties.zone]! * 4) - 1)).toBeLessThan(0.005);
  });
});

describe('checkZoneFeatures', () => {
  const props = { zone: 2, rate: 140, areaHa: 1 };
  const withGeometry = (geometry: Polygon | MultiPolygon): ZoneFeatures => ({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: props, geometry }] });
  const box = (x0: number, y0: number, x1: number, y1: number): Position[] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
  const square = (x: number, y: number, s: number): Position[] => box(x, y, x + s, y + s);
  const expectRefused = (fc: ZoneFeatures, message: RegExp): void => {
    expect(() => checkZoneFeatures(fc)).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_VRT_OUTPUT', message: expect.stringMatching(message) }));
    expect(() => checkZoneFeatures(fc)).toThrow(/zone 2/);
  };

  it('accepts a square with a hole and two squares touching at a corner', () => {
    expect(() => checkZoneFeatures(withGeometry({ type: 'Polygon', coordinates: [square(141.7, 43.2, 0.01), square(141.702, 43.202, 0.002).reverse()] }))).not.toThrow();
    expect(() => checkZoneFeatures(withGeometry({ type: 'MultiPolygon', coordinates: [[box(141.7, 43.2, 141.71, 43.21)], [box(141.71, 43.21, 141.72, 43.22)]] }))).not.toThrow();
  });

  it('refuses a bow-tie', () => {
    expectRefused(withGeometry({ type: 'Polygon', coordinates: [[[141.7, 43.2], [141.71, 43.21], [141.71, 43.2], [141.7, 43.21], [141.7, 43.2]]] }), /self-intersects/);
  });

  it('refuses a ring touching itself at a vertex', () => {
    const ring = [[0, 0], [2, 0], [2, 2], [1, 2], [1, 1], [2, 2], [0, 2], [0, 0]].map(([x, y]) => [141.7 + x! * 0.001, 43.2 + y! * 0.001]);
    expectRefused(withGeometry({ type: 'Polygon', coordinates: [ring] }), /self-intersects/);
  });

  it('refuses a hole crossing the outer ring and parts sharing an edge', () => {
    expectRefused(withGeometry({ type: 'Polygon', coordinates: [square(141.7, 43.2, 0.01), square(141.705, 43.205, 0.01).reverse()] }), /intersect/);
    expectRefused(withGeometry({ type: 'MultiPolygon', coordinates: [[box(141.7, 43.2, 141.71, 43.21)], [box(141.71, 43.205, 141.72, 43.215)]] }), /intersect/);
  });

  it('refuses wrong orientation, open or short rings, out-of-range and non-finite positions, missing properties', () => {
    expectRefused(withGeometry({ type: 'Polygon', coordinates: [square(141.7, 43.2, 0.01).reverse()] }), /outer ring is not counter-clockwise/);
    expectRefused(withGeometry({ type: 'Polygon', coordinates: [square(141.7, 43.2, 0.01), square(141.702, 43.202, 0.002)] }), /hole 1 is not clockwise/);
    expectRefused(withGeometry({ type: 'Polygon', coordinates: [square(141.7, 43.2, 0.01).slice(0, 4)] }), /not closed/);
    expectRefused(withGeometry({ type: 'Polygon', coordinates: [[[141.7, 43.2], [141.71, 43.2], [141.7, 43.2]]] }), /at least 4/);
    expectRefused(withGeometry({ type: 'Polygon', coordinates: [square(562_000, 4_783_000, 10)] }), /outside lon/);
    expectRefused(withGeometry({ type: 'Polygon', coordinates: [[[141.7, 43.2], [NaN, 43.2], [141.71, 43.21], [141.7, 43.2]]] }), /not a finite/);
    expect(() => checkZoneFeatures({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { zone: 1, rate: NaN, areaHa: 1 }, geometry: { type: 'Polygon', coordinates: [square(141.7, 43.2, 0.01)] } }] }))
      .toThrow(/zone 1: property "rate"/);
  });
});
