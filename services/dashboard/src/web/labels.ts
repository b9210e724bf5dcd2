/**
 * Where the machines' name labels go on the live map so that none covers
 * another (no DOM, no Leaflet: unit-tested). Labels are placed one by one in
 * order of importance — the caller puts the selected machine first — each
 * below its marker if that spot is free (of labels placed before it and of
 * other markers, which would be drawn over it), else above, right or left of
 * it; a label with no free spot is hidden (the map shows it on hover and
 * focus). The first label always shows: over a marker if it must.
 * A label keeps its spot while that stays free, so moving machines do not
 * make labels jump about.
 */

export const LABEL_PLACES = ['below', 'above', 'right', 'left'] as const;
export type LabelPlace = (typeof LABEL_PLACES)[number] | 'hidden';

/** A machine's label to place: its marker's centre in screen pixels, the label's size, and where it is now. */
export interface LabelItem {
  readonly id: string;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly current?: LabelPlace;
}

interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** Distance from a marker's centre to the near edge of its label (the CSS puts labels there: 30 px into a 32 px marker). */
export const LABEL_OFFSET = 14;
/** Half the size of the part of a marker that a label should not cover (the arrow, not its transparent corners). */
export const MARKER_HALF = 12;

/** The screen box of a label at `place`. */
export function labelBox(i: LabelItem, place: Exclude<LabelPlace, 'hidden'>): Box {
  switch (place) {
    case 'below':
      return { x0: i.x - i.w / 2, y0: i.y + LABEL_OFFSET, x1: i.x + i.w / 2, y1: i.y + LABEL_OFFSET + i.h };
    case 'above':
      return { x0: i.x - i.w / 2, y0: i.y - LABEL_OFFSET - i.h, x1: i.x + i.w / 2, y1: i.y - LABEL_OFFSET };
    case 'right':
      return { x0: i.x + LABEL_OFFSET, y0: i.y - i.h / 2, x1: i.x + LABEL_OFFSET + i.w, y1: i.y + i.h / 2 };
    case 'left':
      return { x0: i.x - LABEL_OFFSET - i.w, y0: i.y - i.h / 2, x1: i.x - LABEL_OFFSET, y1: i.y + i.h / 2 };
  }
}

const overlap = (a: Box, b: Box): boolean => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/**
 * Places `items` (most important first): each takes the first spot, its current one first, that covers no label
 * placed before it and no other marker, or is hidden; the first item, failing that, takes one that covers a marker.
 */
export function placeLabels(items: readonly LabelItem[]): Map<string, LabelPlace> {
  const markers: Box[] = items.map((i) => ({ x0: i.x - MARKER_HALF, y0: i.y - MARKER_HALF, x1: i.x + MARKER_HALF, y1: i.y + MARKER_HALF }));
  const placed: Box[] = [];
  const out = new Map<string, LabelPlace>();
  items.forEach((item, k) => {
    const order = item.current !== undefined && item.current !== 'hidden' ? [item.current, ...LABEL_PLACES.filter((p) => p !== item.current)] : LABEL_PLACES;
    let choice: LabelPlace = 'hidden';
    for (const clearOfMarkers of k === 0 ? [true, false] : [true]) {
      const free = order.find((p) => {
        const b = labelBox(item, p);
        return !placed.some((o) => overlap(o, b)) && (!clearOfMarkers || !markers.some((m, j) => j !== k && overlap(m, b)));
      });
      if (free !== undefined) {
        choice = free;
        break;
      }
    }
    if (choice !== 'hidden') placed.push(labelBox(item, choice));
    out.set(item.id, choice);
  });
  return out;
}
