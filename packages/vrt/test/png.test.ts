import { PNG } from 'pngjs';
import type { Position } from 'geojson';
import { describe, expect, it } from 'vitest';
import { PREVIEW_COLOURS, previewLayout, previewPng, transformer, type FieldFeature, type PreviewLayout, type PreviewRect, type PreviewRgb, type ZoneMap } from '@hatake/vrt';

// An EPSG:32654 grid near Memuro, Hokkaido (lon 141.77, lat 43.20).
const EPSG = 32654;
const ORIGIN_X = 562_000;
const ORIGIN_Y = 4_783_000;

/** A zone map of `width × height` cells whose zone comes from `zoneAt`, rate 100 + 20·zone. */
function zoneMap(width: number, height: number, cellSize: number, zoneAt: (c: number, r: number) => number): ZoneMap {
  const zone = new Uint8Array(width * height);
  const rate = new Float32Array(width * height).fill(NaN);
  const cells = new Map<number, number>();
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const z = zoneAt(c, r);
      zone[r * width + c] = z;
      if (z > 0) {
        rate[r * width + c] = 100 + 20 * z;
        cells.set(z, (cells.get(z) ?? 0) + 1);
      }
    }
  }
  const zones = [...cells.entries()].sort((a, b) => a[0] - b[0]).map(([id, n]) => {
    const areaHa = (n * cellSize * cellSize) / 10_000;
    return { id, rate: 100 + 20 * id, nRate: (100 + 20 * id) * 0.46, cells: n, areaHa, productKg: areaHa * (100 + 20 * id) };
  });
  return { grid: { epsg: EPSG, originX: ORIGIN_X, originY: ORIGIN_Y, cellSize, width, height }, zone, rate, zones, product: { name: 'Urea', nPercent: 46 } };
}

/** A WGS84 field whose rings are given in cell-corner coordinates (col, row) of the map's grid. */
function fieldOnGrid(map: ZoneMap, rings: readonly (readonly [number, number])[][]): FieldFeature {
  const toWgs = transformer(EPSG, 4326);
  const { originX, originY, cellSize } = map.grid;
  const coordinates = rings.map((ring) => ring.map(([c, r]) => toWgs.forward(originX + c * cellSize, originY - r * cellSize) as Position));
  return { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates } };
}

/** The field's rings projected to image pixel coordinates, as the preview should draw them. */
function fieldInPixels(map: ZoneMap, field: FieldFeature, layout: PreviewLayout): [number, number][][] {
  const toGrid = transformer(4326, EPSG);
  const rings = field.geometry.type === 'Polygon' ? field.geometry.coordinates : field.geometry.coordinates.flat();
  return rings.map((ring) => ring.map(([lon, lat]) => {
    const [x, y] = toGrid.forward(lon!, lat!);
    return [
      layout.map.x + ((x - map.grid.originX) / map.grid.cellSize) * layout.pixelsPerCellX,
      layout.map.y + ((map.grid.originY - y) / map.grid.cellSize) * layout.pixelsPerCellY,
    ];
  }));
}

function distanceToRings(px: number, py: number, rings: readonly [number, number][][]): number {
  let best = Infinity;
  for (const ring of rings) {
    for (let k = 0; k + 1 < ring.length; k++) {
      const [ax, ay] = ring[k]!;
      const [bx, by] = ring[k + 1]!;
      const dx = bx - ax;
      const dy = by - ay;
      const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy || 1)));
      best = Math.min(best, Math.hypot(px - (ax + t * dx), py - (ay + t * dy)));
    }
  }
  return best;
}

interface Decoded {
  width: number;
  height: number;
  at(x: number, y: number): PreviewRgb;
  count(rect: PreviewRect, rgb: PreviewRgb): number;
}

/** Decodes a preview; every pixel must be opaque. */
function decode(buf: Buffer): Decoded {
  const png = PNG.sync.read(buf);
  let transparent = 0;
  for (let o = 3; o < png.data.length; o += 4) if (png.data[o] !== 255) transparent++;
  expect(transparent).toBe(0);
  const at = (x: number, y: number): PreviewRgb => {
    const o = (y * png.width + x) * 4;
    return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!];
  };
  const count = (rect: PreviewRect, rgb: PreviewRgb): number => {
    let n = 0;
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      for (let x = rect.x; x < rect.x + rect.width; x++) {
        const o = (y * png.width + x) * 4;
        if (png.data[o] === rgb[0] && png.data[o + 1] === rgb[1] && png.data[o + 2] === rgb[2]) n++;
      }
    }
    return n;
  };
  return { width: png.width, height: png.height, at, count };
}

function swatchCentre(layout: PreviewLayout, zone: number): [number, number] {
  const s = layout.swatches.find((x) => x.zone === zone)!;
  return [s.rect.x + Math.floor(s.rect.width / 2), s.rect.y + Math.floor(s.rect.height / 2)];
}

const full = (layout: PreviewLayout): PreviewRect => ({ x: 0, y: 0, width: layout.width, height: layout.height });

describe('previewPng', () => {
  // 40 × 30 cells of 10 m: zone 0 in a 2-cell border and in a 6 × 4 hole of the field; inside, three bands of zones.
  const band = (c: number, r: number): number => {
    if (c < 2 || c >= 38 || r < 2 || r >= 28) return 0;
    if (c >= 10 && c < 16 && r >= 10 && r < 14) return 0;
    return c < 14 ? 1 : c < 30 ? 2 : 3;
  };
  const map = zoneMap(40, 30, 10, band);
  const field = fieldOnGrid(map, [
    [[2, 2], [2, 28], [38, 28], [38, 2], [2, 2]],
    [[10, 10], [16, 10], [16, 14], [10, 14], [10, 10]],
  ]);

  it('draws each zone in its legend colour, in proportion to its cells, scaled by a whole factor', () => {
    const layout = previewLayout(map);
    expect(layout.map.width).toBe(40 * 20); // floor(800 / 40) = 20 px per cell
    expect(layout.map.height).toBe(30 * 20);
    const img = decode(previewPng(map, field));
    expect([img.width, img.height]).toEqual([layout.width, layout.height]);
    const total = map.zones.reduce((n, z) => n + z.cells, 0);
    const painted = layout.swatches.map((s) => img.count(layout.map, s.colour));
    const paintedTotal = painted.reduce((a, b) => a + b, 0);
    for (const [k, s] of layout.swatches.entries()) {
      expect(img.at(...swatchCentre(layout, s.zone))).toEqual(s.colour);
      const share = painted[k]! / paintedTotal;
      const cells = map.zones.find((z) => z.id === s.zone)!.cells / total;
      expect(Math.abs(share - cells)).toBeLessThan(0.03);
    }
    // Nearest neighbour: the centre pixel of every cell away from the outline has its zone's colour.
    const rings = fieldInPixels(map, field, layout);
    const colourOf = new Map<number, PreviewRgb>(layout.swatches.map((s) => [s.zone, s.colour]));
    colourOf.set(0, PREVIEW_COLOURS.background);
    for (let r = 0; r < 30; r++) {
      for (let c = 0; c < 40; c++) {
        const px = layout.map.x + c * 20 + 10;
        const py = layout.map.y + r * 20 + 10;
        if (distanceToRings(px + 0.5, py + 0.5, rings) < 3) continue;
        expect(img.at(px, py), `cell ${c},${r}`).toEqual(colourOf.get(band(c, r)));
      }
    }
  });

  it('ramps light to dark by rate, with distinct colours', () => {
    const layout = previewLayout(map);
    const lum = layout.swatches.map((s) => 0.2126 * s.colour[0] + 0.7152 * s.colour[1] + 0.0722 * s.colour[2]);
    expect(layout.swatches.map((s) => s.zone)).toEqual([1, 2, 3]);
    expect(lum[0]!).toBeGreaterThan(lum[1]!);
    expect(lum[1]!).toBeGreaterThan(lum[2]!);
    for (const s of layout.swatches) {
      expect(s.colour).not.toEqual(PREVIEW_COLOURS.background);
      expect(s.colour).not.toEqual(PREVIEW_COLOURS.outline);
      expect(s.colour).not.toEqual(PREVIEW_COLOURS.text);
    }
  });

  it('draws the field outline, holes included, on the projected boundary and only there', () => {
    const layout = previewLayout(map);
    const img = decode(previewPng(map, field));
    const rings = fieldInPixels(map, field, layout);
    expect(img.count(full(layout), PREVIEW_COLOURS.outline)).toBe(img.count(layout.map, PREVIEW_COLOURS.outline));
    let onOutline = 0;
    const offBoundary: string[] = [];
    const missed: string[] = [];
    const [or, og, ob] = PREVIEW_COLOURS.outline;
    for (let y = layout.map.y; y < layout.map.y + layout.map.height; y++) {
      for (let x = layout.map.x; x < layout.map.x + layout.map.width; x++) {
        const [r, g, b] = img.at(x, y);
        const d = distanceToRings(x + 0.5, y + 0.5, rings);
        if (r === or && g === og && b === ob) {
          onOutline++;
          if (d > 1.5) offBoundary.push(`${x},${y}`);
        } else if (d < 0.75) {
          missed.push(`${x},${y}`);
        }
      }
    }
    expect(offBoundary).toEqual([]);
    expect(missed).toEqual([]);
    // 2 px wide along the whole perimeter: (36 + 26) · 2 + (6 + 4) · 2 cells of 20 px, twice.
    const perimeterPx = ((36 + 26) * 2 + (6 + 4) * 2) * 20;
    expect(onOutline).toBeGreaterThanOrEqual(perimeterPx * 2 - 40);
    expect(onOutline).toBeLessThanOrEqual(perimeterPx * 2 + 40);
  });

  it('leaves pixels outside the field in the background colour', () => {
    const layout = previewLayout(map);
    const img = decode(previewPng(map, field));
    const rings = fieldInPixels(map, field, layout);
    let checked = 0;
    const wrong: string[] = [];
    const bg = PREVIEW_COLOURS.background;
    for (let y = layout.map.y; y < layout.map.y + layout.map.height; y++) {
      for (let x = layout.map.x; x < layout.map.x + layout.map.width; x++) {
        const c = Math.floor((x - layout.map.x) / 20);
        const r = Math.floor((y - layout.map.y) / 20);
        if (band(c, r) !== 0 || distanceToRings(x + 0.5, y + 0.5, rings) < 2) continue;
        const rgb = img.at(x, y);
        if (rgb[0] !== bg[0] || rgb[1] !== bg[1] || rgb[2] !== bg[2]) wrong.push(`${x},${y}`);
        checked++;
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(50_000);
    // The margins around the map are background too.
    expect(img.at(0, 0)).toEqual(PREVIEW_COLOURS.background);
    expect(img.at(layout.width - 1, layout.height - 1)).toEqual(PREVIEW_COLOURS.background);
  });

  it('writes the title and the legend in text pixels, none inside the map', () => {
    const layout = previewLayout(map);
    expect(layout.title.text).toBe('Prescription - Urea kg/ha');
    expect(layout.lines.map((l) => l.text)).toEqual([
      'Urea (46% N)',
      'Zone 1  120 kg/ha  3.0 ha', // 12·26 − 4·4 cells of 100 m²
      'Zone 2  140 kg/ha  4.1 ha', // 16·26 − 2·4
      'Zone 3  160 kg/ha  2.1 ha', // 8·26
      'Total 9.1 ha, 1,259 kg',
    ]);
    const img = decode(previewPng(map, field));
    expect(img.count(layout.title, PREVIEW_COLOURS.text)).toBeGreaterThan(200);
    for (const line of layout.lines) {
      const rect = { x: line.x, y: line.y, width: line.text.length * 12, height: 16 };
      expect(img.count(rect, PREVIEW_COLOURS.text), line.text).toBeGreaterThan(line.text.replace(/\s/g, '').length * 8);
    }
    expect(img.count(layout.map, PREVIEW_COLOURS.text)).toBe(0);
  });

  it('samples a large grid down to maxSize, keeping proportions, quickly', () => {
    // 1,000 × 600 cells in vertical stripes of zones 1, 2, 3 taking 20 %, 30 %, 50 % of the width.
    const big = zoneMap(1000, 600, 2, (c) => (c < 200 ? 1 : c < 500 ? 2 : 3));
    const layout = previewLayout(big, { maxSize: 400 });
    expect([layout.map.width, layout.map.height]).toEqual([400, 240]);
    const img = decode(previewPng(big, fieldOnGrid(big, [[[0, 0], [0, 600], [1000, 600], [1000, 0], [0, 0]]]), { maxSize: 400 }));
    const painted = layout.swatches.map((s) => img.count(layout.map, s.colour) / (400 * 240));
    expect(painted[0]!).toBeCloseTo(0.2, 1);
    expect(painted[1]!).toBeCloseTo(0.3, 1);
    expect(painted[2]!).toBeCloseTo(0.5, 1);

    const square = zoneMap(500, 500, 2, (c, r) => 1 + ((c >> 5) + (r >> 5)) % 5);
    const buf = previewPng(square, fieldOnGrid(square, [[[0, 0], [0, 500], [500, 500], [500, 0], [0, 0]]]));
    expect(previewLayout(square).map.width).toBe(500);
    expect(decode(buf).width).toBe(previewLayout(square).width);
  });

  it('a 1 × 1 grid fills the map area with its zone', () => {
    const one = zoneMap(1, 1, 10, () => 4);
    const layout = previewLayout(one);
    expect([layout.map.width, layout.map.height]).toEqual([800, 800]);
    const img = decode(previewPng(one, fieldOnGrid(one, [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]])));
    const colour = layout.swatches[0]!.colour;
    const coloured = img.count(layout.map, colour);
    const outline = img.count(layout.map, PREVIEW_COLOURS.outline);
    expect(coloured + outline).toBe(800 * 800);
    expect(outline).toBeGreaterThanOrEqual(4 * 800 - 8);
  });

  it('an all-one-zone map has one legend entry in the middle of the ramp', () => {
    const one = zoneMap(50, 20, 5, () => 2);
    const layout = previewLayout(one, { title: 'Field 7' });
    expect(layout.swatches).toHaveLength(1);
    expect(layout.title.text).toBe('Field 7');
    const img = decode(previewPng(one, fieldOnGrid(one, [[[0, 0], [0, 20], [50, 20], [50, 0], [0, 0]]]), { title: 'Field 7' }));
    expect(img.count(layout.map, layout.swatches[0]!.colour)).toBeGreaterThan(0.9 * layout.map.width * layout.map.height);
  });

  it('a map with no data says so, in the map and the legend', () => {
    const empty: ZoneMap = { ...zoneMap(30, 20, 10, () => 0), zones: [] };
    const f = fieldOnGrid(empty, [[[1, 1], [1, 19], [29, 19], [29, 1], [1, 1]]]);
    const layout = previewLayout(empty);
    expect(layout.swatches).toEqual([]);
    expect(layout.lines.map((l) => l.text)).toEqual(['no data']);
    const img = decode(previewPng(empty, f));
    expect(img.count(layout.map, PREVIEW_COLOURS.text)).toBeGreaterThan(50);
    expect(img.count(layout.legend, PREVIEW_COLOURS.text)).toBeGreaterThan(50);
    expect(img.count(layout.map, PREVIEW_COLOURS.outline)).toBeGreaterThan(0);
  });

  it('prints non-ASCII product names as ? and refuses a bad maxSize', () => {
    const jp = { ...map, product: { name: '尿素', nPercent: 46 } };
    expect(previewLayout(jp).title.text).toBe('Prescription - ?? kg/ha');
    expect(() => previewPng(jp, field)).not.toThrow();
    expect(() => previewLayout(map, { maxSize: 0 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_VRT_PARAMS' }));
    expect(() => previewLayout(map, { maxSize: 10.5 })).toThrow(expect.objectContaining({ code: 'HATAKE_ERR_VRT_PARAMS' }));
  });
});
