/**
 * The map's label placement: no label covers another, the most important
 * first, a label keeps its spot while it is free, and one with no free spot
 * is hidden.
 */
import { describe, expect, it } from 'vitest';
import { labelBox, placeLabels, type LabelItem, type LabelPlace } from '../src/web/labels.ts';

const item = (id: string, x: number, y: number, current?: LabelPlace): LabelItem => ({ id, x, y, w: 48, h: 15, ...(current ? { current } : {}) });

function overlaps(items: readonly LabelItem[], places: Map<string, LabelPlace>): string[] {
  const shown = items.flatMap((i) => {
    const p = places.get(i.id)!;
    return p === 'hidden' ? [] : [{ id: i.id, b: labelBox(i, p) }];
  });
  const out: string[] = [];
  for (const [k, a] of shown.entries()) for (const b of shown.slice(k + 1)) if (a.b.x0 < b.b.x1 && b.b.x0 < a.b.x1 && a.b.y0 < b.b.y1 && b.b.y0 < a.b.y1) out.push(`${a.id}/${b.id}`);
  return out;
}

describe('placeLabels', () => {
  it('puts labels below their markers when there is room', () => {
    const items = [item('t1', 100, 100), item('t2', 300, 100)];
    expect([...placeLabels(items).values()]).toEqual(['below', 'below']);
  });

  it('moves crowded labels apart, both shown', () => {
    // two machines 10 px apart: their labels below would cover each other (and t1's would cover t2's marker)
    const items = [item('t1', 100, 100), item('t2', 110, 104)];
    const places = placeLabels(items);
    expect(places.get('t1')).toBe('above');
    expect(places.get('t2')).toBe('below');
    expect(overlaps(items, places)).toEqual([]);
  });

  it('hides what has no room and never lets two shown labels overlap', () => {
    const items = Array.from({ length: 12 }, (_, i) => item(`m${i}`, 200 + (i % 4) * 6, 200 + Math.floor(i / 4) * 6));
    const places = placeLabels(items);
    expect(overlaps(items, places)).toEqual([]);
    expect([...places.values()].filter((p) => p === 'hidden').length).toBeGreaterThan(0);
    // the first in the list (the selected machine) always gets a spot
    expect(places.get('m0')).not.toBe('hidden');
  });

  it('keeps a label where it is while that spot stays free (no jumping as machines move)', () => {
    const items = [item('t1', 100, 100, 'left'), item('t2', 400, 100, 'above')];
    expect([...placeLabels(items).values()]).toEqual(['left', 'above']);
  });

  it('prefers a spot clear of other markers', () => {
    // t2's marker sits right under t1: t1's label goes elsewhere rather than over it
    const items = [item('t1', 100, 100), item('t2', 100, 125)];
    const places = placeLabels(items);
    expect(places.get('t1')).not.toBe('below');
    expect(overlaps(items, places)).toEqual([]);
  });

  it('hides a label that could only go over another marker, unless it is the first (the selected machine)', () => {
    // s1 boxed in by markers on all four sides, where its label would go
    const around = [item('n', 100, 70), item('s', 100, 130), item('e', 160, 100), item('w', 40, 100)];
    expect(placeLabels([...around, item('s1', 100, 100)]).get('s1')).toBe('hidden');
    expect(placeLabels([item('s1', 100, 100), ...around]).get('s1')).not.toBe('hidden');
  });
});
