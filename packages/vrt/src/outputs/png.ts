/**
 * A PNG preview of a prescription: the zone map (one colour per zone on a
 * light-to-dark ramp by rate), the field outline on top, a title and a legend
 * with each zone's rate and area — drawn with the built-in bitmap font, so no
 * system fonts or native packages are involved.
 */
import { PNG } from 'pngjs';
import { transformer } from '../crs.ts';
import { VrtError } from '../errors.ts';
import type { FieldFeature, ZoneMap } from '../types.ts';
import { drawText, printable, textHeight, textWidth, type RgbaImage } from './font.ts';

/** Options of {@link previewPng}. */
export interface PreviewOptions {
  /** Longest side of the map area in pixels (default 800): small grids are scaled up by a whole factor, larger ones sampled down. */
  maxSize?: number;
  /** Title above the map (default `Prescription — <product> kg/ha`); characters outside ASCII print as '?' (dashes as '-'). */
  title?: string;
}

/** A colour as red, green, blue (0–255). */
export type PreviewRgb = readonly [number, number, number];

/** The fixed colours of a preview; zone colours come from {@link zoneColour}. */
export const PREVIEW_COLOURS = {
  /** Outside the field (zone 0) and around the map. */
  background: [255, 255, 255],
  outline: [227, 26, 28],
  text: [33, 33, 33],
  swatchBorder: [120, 120, 120],
  /** Cells whose zone has no entry in `map.zones`. */
  unknownZone: [189, 189, 189],
} as const satisfies Record<string, PreviewRgb>;

/** A rectangle of pixels: columns x … x+width−1, rows y … y+height−1. */
export interface PreviewRect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Where everything goes in a preview, and the colours used. */
export interface PreviewLayout {
  readonly width: number;
  readonly height: number;
  readonly title: PreviewRect & { readonly text: string };
  /** The map area: cell (col, row) is drawn at x + col·pixelsPerCellX (nearest neighbour). */
  readonly map: PreviewRect;
  readonly pixelsPerCellX: number;
  readonly pixelsPerCellY: number;
  readonly legend: PreviewRect;
  /** Legend text lines with their top-left corners. */
  readonly lines: readonly { readonly x: number; readonly y: number; readonly text: string }[];
  /** One per zone in map.zones, in legend order (by rate). */
  readonly swatches: readonly { readonly zone: number; readonly colour: PreviewRgb; readonly rect: PreviewRect }[];
}

const PAD = 16;
const TITLE_SCALE = 3;
const TEXT_SCALE = 2;
const LINE_HEIGHT = 11 * TEXT_SCALE;
const SWATCH = 16;
const SWATCH_GAP = 8;
const MAX_TITLE_CHARS = 80;

/** Sequential ramp from light yellow-green to dark green (ColorBrewer YlGn without its near-white end). */
const RAMP: readonly PreviewRgb[] = [[247, 252, 185], [217, 240, 163], [173, 221, 142], [120, 198, 121], [65, 171, 93], [35, 132, 67], [0, 104, 55], [0, 69, 41]];

/** The colour of the rank-th of `count` zones ordered by rate (0 = lowest rate = lightest). */
export function zoneColour(rank: number, count: number): PreviewRgb {
  const t = count <= 1 ? 0.5 : Math.min(1, Math.max(0, rank / (count - 1)));
  const pos = t * (RAMP.length - 1);
  const k = Math.min(RAMP.length - 2, Math.floor(pos));
  const f = pos - k;
  const a = RAMP[k]!;
  const b = RAMP[k + 1]!;
  const mix = (c: 0 | 1 | 2): number => Math.round(a[c] + (b[c] - a[c]) * f);
  return [mix(0), mix(1), mix(2)];
}

function formatRate(rate: number): string {
  return Number.isInteger(rate) ? String(rate) : rate.toFixed(1);
}

function formatHa(ha: number): string {
  return ha >= 1 ? ha.toFixed(1) : ha.toFixed(2);
}

function formatKg(kg: number): string {
  return String(Math.round(kg)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function hasData(map: ZoneMap): boolean {
  return map.zones.length > 0 && map.zone.some((z) => z !== 0);
}

/** The layout of the preview {@link previewPng} draws for these arguments. */
export function previewLayout(map: ZoneMap, opts: PreviewOptions = {}): PreviewLayout {
  const maxSize = opts.maxSize ?? 800;
  if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > 10_000) {
    throw new VrtError('HATAKE_ERR_VRT_PARAMS', `preview maxSize must be a whole number of pixels from 1 to 10000, got ${maxSize}`);
  }
  const { width: w, height: h } = map.grid;
  const longest = Math.max(w, h, 1);
  let mapW: number;
  let mapH: number;
  if (longest <= maxSize) {
    const scale = Math.floor(maxSize / longest);
    mapW = w * scale;
    mapH = h * scale;
  } else {
    mapW = Math.max(1, Math.round((w * maxSize) / longest));
    mapH = Math.max(1, Math.round((h * maxSize) / longest));
  }

  let titleText = printable(opts.title ?? `Prescription — ${map.product.name} kg/ha`);
  if (titleText.length > MAX_TITLE_CHARS) titleText = `${titleText.slice(0, MAX_TITLE_CHARS - 3)}...`;
  const title = { x: PAD, y: PAD, width: textWidth(titleText, TITLE_SCALE), height: textHeight(TITLE_SCALE), text: titleText };
  const mapRect: PreviewRect = { x: PAD, y: title.y + title.height + PAD, width: mapW, height: mapH };

  const legendX = mapRect.x + mapW + 2 * PAD;
  const legendY = mapRect.y;
  const textX = legendX + SWATCH + SWATCH_GAP;
  const lines: { x: number; y: number; text: string }[] = [];
  const swatches: { zone: number; colour: PreviewRgb; rect: PreviewRect }[] = [];
  const line = (text: string, x = textX): void => {
    lines.push({ x, y: legendY + lines.length * LINE_HEIGHT, text: printable(text) });
  };
  if (!hasData(map)) {
    line('no data', legendX);
  } else {
    const ordered = [...map.zones].sort((a, b) => a.rate - b.rate || a.id - b.id);
    const rateW = Math.max(...ordered.map((z) => formatRate(z.rate).length));
    const areaW = Math.max(...ordered.map((z) => formatHa(z.areaHa).length));
    const idW = Math.max(...ordered.map((z) => String(z.id).length));
    line(`${map.product.name} (${formatRate(map.product.nPercent)}% N)`, legendX);
    ordered.forEach((z, rank) => {
      const y = legendY + lines.length * LINE_HEIGHT;
      const top = y + Math.floor((textHeight(TEXT_SCALE) - SWATCH) / 2);
      swatches.push({ zone: z.id, colour: zoneColour(rank, ordered.length), rect: { x: legendX, y: top, width: SWATCH, height: SWATCH } });
      line(`Zone ${String(z.id).padEnd(idW)}  ${formatRate(z.rate).padStart(rateW)} kg/ha  ${formatHa(z.areaHa).padStart(areaW)} ha`);
    });
    const totalHa = ordered.reduce((s, z) => s + z.areaHa, 0);
    const totalKg = ordered.reduce((s, z) => s + z.productKg, 0);
    line(`Total ${formatHa(totalHa)} ha, ${formatKg(totalKg)} kg`, legendX);
  }
  const legendW = Math.max(...lines.map((l) => l.x - legendX + textWidth(l.text, TEXT_SCALE)));
  const legend: PreviewRect = { x: legendX, y: legendY, width: legendW, height: lines.length * LINE_HEIGHT };
  return {
    width: Math.max(legendX + legendW, title.x + title.width) + PAD,
    height: Math.max(mapRect.y + mapH, legendY + legend.height) + PAD,
    title,
    map: mapRect,
    pixelsPerCellX: mapW / Math.max(w, 1),
    pixelsPerCellY: mapH / Math.max(h, 1),
    legend,
    lines,
    swatches,
  };
}

function fillRect(img: RgbaImage, r: PreviewRect, rgb: PreviewRgb): void {
  for (let y = Math.max(0, r.y); y < Math.min(img.height, r.y + r.height); y++) {
    for (let x = Math.max(0, r.x); x < Math.min(img.width, r.x + r.width); x++) {
      const o = (y * img.width + x) * 4;
      img.data[o] = rgb[0];
      img.data[o + 1] = rgb[1];
      img.data[o + 2] = rgb[2];
      img.data[o + 3] = 255;
    }
  }
}

/** Clips a segment to a rectangle (Liang–Barsky), or undefined when it lies outside. */
function clipSegment(x0: number, y0: number, x1: number, y1: number, xmin: number, ymin: number, xmax: number, ymax: number): [number, number, number, number] | undefined {
  const dx = x1 - x0;
  const dy = y1 - y0;
  let t0 = 0;
  let t1 = 1;
  const edges: [number, number][] = [[-dx, x0 - xmin], [dx, xmax - x0], [-dy, y0 - ymin], [dy, ymax - y0]];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return undefined;
      continue;
    }
    const t = q / p;
    if (p < 0) {
      if (t > t1) return undefined;
      if (t > t0) t0 = t;
    } else {
      if (t < t0) return undefined;
      if (t < t1) t1 = t;
    }
  }
  return [x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy];
}

/** Draws a 2 px line centred on the pixel-corner coordinates given (Bresenham), clipped to `clip`. */
function drawLine(img: RgbaImage, ax: number, ay: number, bx: number, by: number, clip: PreviewRect, rgb: PreviewRgb): void {
  const seg = clipSegment(ax, ay, bx, by, clip.x - 1, clip.y - 1, clip.x + clip.width + 1, clip.y + clip.height + 1);
  if (!seg) return;
  let x = Math.round(seg[0]);
  let y = Math.round(seg[1]);
  const x1 = Math.round(seg[2]);
  const y1 = Math.round(seg[3]);
  const dx = Math.abs(x1 - x);
  const dy = -Math.abs(y1 - y);
  const sx = x < x1 ? 1 : -1;
  const sy = y < y1 ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    // The 2×2 brush around the corner (x, y): pixels x−1, x and y−1, y.
    for (let py = y - 1; py <= y; py++) {
      if (py < clip.y || py >= clip.y + clip.height) continue;
      for (let px = x - 1; px <= x; px++) {
        if (px < clip.x || px >= clip.x + clip.width) continue;
        const o = (py * img.width + px) * 4;
        img.data[o] = rgb[0];
        img.data[o + 1] = rgb[1];
        img.data[o + 2] = rgb[2];
        img.data[o + 3] = 255;
      }
    }
    if (x === x1 && y === y1) break;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y += sy;
    }
  }
}

/** A PNG of the rate map: one colour per zone (sequential ramp light→dark by rate), transparent/white outside the field, the field outline drawn on top, and a legend (colour swatch, zone id, rate kg/ha, area ha) plus title and units, drawn with a built-in bitmap font (no system fonts, no native packages). */
export function previewPng(map: ZoneMap, field: FieldFeature, opts: PreviewOptions = {}): Buffer {
  const layout = previewLayout(map, opts);
  const png = new PNG({ width: layout.width, height: layout.height });
  fillRect(png, { x: 0, y: 0, width: layout.width, height: layout.height }, PREVIEW_COLOURS.background);

  // Zone colours by id, as RGBA words written through a view of the pixel buffer (endianness-neutral).
  const lutBytes = new Uint8Array(256 * 4);
  const setLut = (id: number, rgb: PreviewRgb): void => {
    lutBytes.set([rgb[0], rgb[1], rgb[2], 255], id * 4);
  };
  for (let id = 0; id < 256; id++) setLut(id, id === 0 ? PREVIEW_COLOURS.background : PREVIEW_COLOURS.unknownZone);
  for (const s of layout.swatches) setLut(s.zone, s.colour);
  const lut = new Uint32Array(lutBytes.buffer);
  const { width: w, height: h } = map.grid;
  const m = layout.map;
  const pixels = new Uint32Array(png.data.buffer, png.data.byteOffset, layout.width * layout.height);
  if (hasData(map)) {
    const colOf = new Int32Array(m.width);
    for (let px = 0; px < m.width; px++) colOf[px] = Math.min(w - 1, Math.floor(((px + 0.5) * w) / m.width));
    for (let py = 0; py < m.height; py++) {
      const row = Math.min(h - 1, Math.floor(((py + 0.5) * h) / m.height));
      const base = (m.y + py) * layout.width + m.x;
      const cells = row * w;
      for (let px = 0; px < m.width; px++) pixels[base + px] = lut[map.zone[cells + colOf[px]!]!]!;
    }
  } else {
    const msg = 'no data';
    drawText(png, m.x + Math.floor((m.width - textWidth(msg, TEXT_SCALE)) / 2), m.y + Math.floor((m.height - textHeight(TEXT_SCALE)) / 2), msg, TEXT_SCALE, PREVIEW_COLOURS.text);
  }

  // Field outline, projected into the grid CRS and then to pixel corners.
  const geometry = field.geometry;
  if (geometry && (geometry.type === 'Polygon' || geometry.type === 'MultiPolygon')) {
    const toGrid = transformer(4326, map.grid.epsg);
    const { originX, originY, cellSize } = map.grid;
    const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
    for (const rings of polygons) {
      for (const ring of rings) {
        const xy = new Float64Array(ring.length * 2);
        ring.forEach((p, k) => {
          xy[2 * k] = p[0]!;
          xy[2 * k + 1] = p[1]!;
        });
        toGrid.forwardAll(xy);
        for (let k = 0; k < ring.length; k++) {
          xy[2 * k] = m.x + ((xy[2 * k]! - originX) / cellSize) * layout.pixelsPerCellX;
          xy[2 * k + 1] = m.y + ((originY - xy[2 * k + 1]!) / cellSize) * layout.pixelsPerCellY;
        }
        for (let k = 0; k + 1 < ring.length; k++) {
          const ax = xy[2 * k]!, ay = xy[2 * k + 1]!, bx = xy[2 * k + 2]!, by = xy[2 * k + 3]!;
          if ([ax, ay, bx, by].every(Number.isFinite)) drawLine(png, ax, ay, bx, by, m, PREVIEW_COLOURS.outline);
        }
      }
    }
  }

  drawText(png, layout.title.x, layout.title.y, layout.title.text, TITLE_SCALE, PREVIEW_COLOURS.text);
  for (const s of layout.swatches) {
    fillRect(png, s.rect, PREVIEW_COLOURS.swatchBorder);
    fillRect(png, { x: s.rect.x + 1, y: s.rect.y + 1, width: s.rect.width - 2, height: s.rect.height - 2 }, s.colour);
  }
  for (const l of layout.lines) drawText(png, l.x, l.y, l.text, TEXT_SCALE, PREVIEW_COLOURS.text);
  return PNG.sync.write(png);
}
