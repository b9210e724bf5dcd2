import { describe, expect, it } from 'vitest';
import { fieldGrid, fieldMask, parseField, transformer } from '@hatake/vrt';

const toWgs = transformer(32654, 4326);
/** A WGS84 ring from UTM 54N corners. */
const ring = (pts: [number, number][]): number[][] => [...pts, pts[0]!].map(([x, y]) => toWgs.forward(x, y));

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
  return 'no error';
};

describe('the field boundary', () => {
  it.each([
    ['a point', { type: 'Point', coordinates: [141.77, 43.2] }, /a "Point" is not a Polygon or MultiPolygon/],
    ['a line', { type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: [[141.77, 43.2], [141.78, 43.2]] } }, /"LineString" is not a Polygon/],
    ['an empty collection', { type: 'FeatureCollection', features: [] }, /has no features/],
    ['an open ring', { type: 'Polygon', coordinates: [[[141.77, 43.2], [141.78, 43.2], [141.78, 43.21], [141.77, 43.21]]] }, /not closed/],
    ['projected coordinates', { type: 'Polygon', coordinates: [ring([[562_000, 4_783_000], [562_100, 4_783_000], [562_100, 4_783_100]]).map(() => [562_000, 4_783_000])] }, /not WGS84 longitude\/latitude/],
    ['a bow tie', { type: 'Polygon', coordinates: [[[141.77, 43.2], [141.78, 43.21], [141.78, 43.2], [141.77, 43.21], [141.77, 43.2]]] }, /intersects itself/],
    ['text', 'field', /not a GeoJSON object/],
    ['NaN', { type: 'Polygon', coordinates: [[[141.77, 43.2], [NaN, 43.2], [141.78, 43.21], [141.77, 43.2]]] }, /not \[lon, lat\] numbers/],
  ])('refuses %s with a reason', (_, input, why) => {
    const got = codeOf(() => parseField(input));
    expect(got).toMatch(/^HATAKE_ERR_VRT_BOUNDARY: field boundary: /);
    expect(got).toMatch(why);
  });

  it('accepts a FeatureCollection of polygons as one MultiPolygon', () => {
    const a = ring([[562_000, 4_783_000], [562_100, 4_783_000], [562_100, 4_783_100], [562_000, 4_783_100]]);
    const b = ring([[562_200, 4_783_000], [562_300, 4_783_000], [562_300, 4_783_100], [562_200, 4_783_100]]);
    const f = parseField({ type: 'FeatureCollection', features: [a, b].map((r) => ({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [r] } })) });
    expect(f.geometry.type).toBe('MultiPolygon');
  });

  it('grids in the UTM zone of the field with whole-cell origins, and masks cell centres inside the outer ring but not in the hole', () => {
    const outer = ring([[562_000, 4_783_000], [562_100, 4_783_000], [562_100, 4_783_100], [562_000, 4_783_100]]);
    const hole = ring([[562_040, 4_783_040], [562_040, 4_783_060], [562_060, 4_783_060], [562_060, 4_783_040]]);
    const field = parseField({ type: 'Polygon', coordinates: [outer, hole] });
    const grid = fieldGrid(field, 10);
    expect(grid.epsg).toBe(32654);
    expect(grid.originX % 10).toBe(0);
    expect(grid.originY % 10).toBe(0);
    const mask = fieldMask(field, grid);
    // the square's 100 cells less the 4 of the hole (edges may shift by the reprojection round trip, never by a whole cell)
    expect(mask.reduce((s, v) => s + v, 0)).toBe(96);
    const cellAt = (x: number, y: number): number => mask[Math.floor((grid.originY - y) / 10) * grid.width + Math.floor((x - grid.originX) / 10)]!;
    expect(cellAt(562_045, 4_783_045)).toBe(0);
    expect(cellAt(562_035, 4_783_045)).toBe(1);
    expect(cellAt(561_995, 4_783_045)).toBe(0);
  });
});
