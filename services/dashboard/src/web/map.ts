/**
 * The map: field boundaries and roads from the gateway (and a tile layer
 * only when one is configured), a marker per machine rotated by its heading
 * and coloured by its mode, and a short trail behind it. Leaflet draws with
 * DOM and SVG, so it needs no WebGL (tablets, headless browsers).
 *
 * Each marker has its machine's id as a label, placed so that no label covers
 * another (labels.ts): again once a frame at most, whenever a machine moves
 * or the view changes; a label with no room is hidden and shown when its
 * marker is hovered, focused or selected (the selected machine is placed
 * first, so its label always shows).
 */
import * as L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import type { Machine } from './fleet.ts';
import { placeLabels, type LabelItem, type LabelPlace } from './labels.ts';
import type { MapView } from './types.ts';

/** Marker colour of a machine: tractors by mode, plows by blade, sensors one colour. */
export function colourOf(m: Machine): string {
  if (m.kind === 'sensor') return '#0f766e';
  if (m.kind === 'plow') return m.sample?.['blade'] === 'down' ? '#7b3294' : '#a78bbf';
  return ({ auto: '#1a9641', paused: '#e69500', stopped: '#6b7280', estop: '#d7191c', manual: '#2b83ba' } as Record<string, string>)[m.mode ?? ''] ?? '#6b7280';
}

const ARROW = '<svg viewBox="0 0 32 32" width="32" height="32" aria-hidden="true"><path d="M16 2 L27 28 L16 22 L5 28 Z" stroke="#fff" stroke-width="2" stroke-linejoin="round"/></svg>';
const DOT = '<svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true"><circle cx="16" cy="16" r="11" stroke="#fff" stroke-width="3"/></svg>';

interface Shown {
  readonly machine: Machine;
  readonly marker: L.Marker;
  readonly trail: L.Polyline | undefined;
  /** The label's size in px, measured once it is drawn. */
  labelSize?: { readonly w: number; readonly h: number };
  label: LabelPlace;
}

const KIND_RANK = { tractor: 0, plow: 1, sensor: 2 } as const;

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class FleetMap {
  private readonly map: L.Map;
  private readonly shown = new Map<string, Shown>();
  private readonly onSelect: (id: string) => void;
  private selected: string | undefined;
  private fitted = false;
  private base: L.LatLngBounds | undefined;
  private declutterDue = false;

  constructor(el: HTMLElement, onSelect: (id: string) => void) {
    this.onSelect = onSelect;
    this.map = L.map(el, { zoomControl: true, attributionControl: true, preferCanvas: false, zoomSnap: 0.5 }).setView([43.19, 141.75], 11);
    this.map.attributionControl.setPrefix(false);
    this.map.on('zoomend moveend resize viewreset', () => this.declutterSoon());
    // the zoom on the page (tests zoom out step by step and wait for each)
    el.dataset['zoom'] = String(this.map.getZoom());
    this.map.on('zoomend', () => (el.dataset['zoom'] = String(this.map.getZoom())));
  }

  /** Draws the base map: fields, roads and (when configured) tiles. */
  setBase(view: MapView): void {
    if (view.tiles) L.tileLayer(view.tiles.url, { attribution: view.tiles.attribution, maxZoom: view.tiles.maxZoom }).addTo(this.map);
    const fields = L.geoJSON(view.fields, {
      style: () => ({ color: '#4d7c0f', weight: 2, fillColor: '#bef264', fillOpacity: 0.25 }),
      onEachFeature: (f, layer) => layer.bindTooltip(`${f.properties.name} (${f.properties.areaHa.toFixed(1)} ha)`, { sticky: true }),
    }).addTo(this.map);
    const roads = L.geoJSON(view.roads, {
      style: (f) => ({ color: '#52525b', weight: f && f.properties.class <= 1 ? 5 : 3, opacity: 0.8 }),
      onEachFeature: (f, layer) => layer.bindTooltip(f.properties.name, { sticky: true }),
    }).addTo(this.map);
    // the first view: the user's fields when they have any (a farm's operator), otherwise the roads (a road crew)
    const bounds = view.fields.features.length > 0 ? fields.getBounds() : view.roads.features.length > 0 ? roads.getBounds() : undefined;
    this.base = bounds?.isValid() ? bounds : undefined;
  }

  /** Fits the view once: the user's fields (or the roads) and the machines working in them. */
  fitOnce(machines: Iterable<Machine>): void {
    if (this.fitted) return;
    const bounds = L.latLngBounds([]);
    if (this.base) bounds.extend(this.base);
    // plows roam the roads: with fields to show, only machines with a farm widen the view
    for (const m of machines) if (m.lat !== undefined && m.lon !== undefined && (!this.base || m.farm !== undefined)) bounds.extend([m.lat, m.lon]);
    if (!bounds.isValid()) return;
    this.map.fitBounds(bounds, { padding: [24, 24] });
    this.fitted = true;
  }

  /** Draws or moves a machine's marker and trail. */
  update(m: Machine): void {
    if (m.lat === undefined || m.lon === undefined) return;
    let s = this.shown.get(m.id);
    if (!s) {
      const icon = L.divIcon({
        className: 'mk-host',
        html: `<div class="mk mk-${m.kind}" data-testid="marker-${escapeHtml(m.id)}" data-device="${escapeHtml(m.id)}" data-label="below" title="${escapeHtml(m.name)}"><div class="mk-rot">${m.kind === 'sensor' ? DOT : ARROW}</div><span class="mk-label" data-testid="marker-label">${escapeHtml(m.id)}</span></div>`,
        iconSize: [32, 32],
        iconAnchor: [16, 16],
      });
      // riseOnHover: a hovered marker's label (shown even when it had no room) comes on top of its neighbours
      const marker = L.marker([m.lat, m.lon], { icon, keyboard: true, title: m.name, riseOnHover: true, zIndexOffset: m.kind === 'tractor' ? 1000 : 0 }).addTo(this.map);
      marker.on('click', () => this.onSelect(m.id));
      const trail = m.kind === 'sensor' ? undefined : L.polyline([], { color: colourOf(m), weight: 3, opacity: 0.6, interactive: false }).addTo(this.map);
      s = { machine: m, marker, trail, label: 'below' };
      this.shown.set(m.id, s);
    }
    s.marker.setLatLng([m.lat, m.lon]);
    if (s.trail) {
      s.trail.setLatLngs(m.trail);
      s.trail.setStyle({ color: colourOf(m) });
    }
    const el = s.marker.getElement()?.querySelector<HTMLElement>('.mk');
    if (el) {
      const heading = typeof m.sample?.['heading'] === 'number' ? m.sample['heading'] : 0;
      el.dataset['lat'] = m.lat.toFixed(7);
      el.dataset['lon'] = m.lon.toFixed(7);
      el.dataset['heading'] = String(Math.round(heading));
      el.dataset['mode'] = m.mode ?? '';
      el.dataset['online'] = String(m.online);
      el.style.color = colourOf(m);
      el.classList.toggle('mk-offline', !m.online);
      el.classList.toggle('mk-selected', this.selected === m.id);
      const rot = el.querySelector<HTMLElement>('.mk-rot');
      if (rot && m.kind !== 'sensor') rot.style.transform = `rotate(${heading}deg)`;
    }
    this.declutterSoon();
  }

  /** Places the labels again at the next frame (once, however many machines moved since). */
  private declutterSoon(): void {
    if (this.declutterDue) return;
    this.declutterDue = true;
    requestAnimationFrame(() => {
      this.declutterDue = false;
      this.declutter();
    });
  }

  /** Places every label where it covers no other (see labels.ts); the selected machine's first, then tractors, plows, sensors. */
  private declutter(): void {
    const size = this.map.getSize();
    const items: (LabelItem & { readonly rank: number })[] = [];
    for (const [id, s] of this.shown) {
      const el = s.marker.getElement()?.querySelector<HTMLElement>('.mk');
      if (!el) continue;
      if (!s.labelSize) {
        const label = el.querySelector<HTMLElement>('.mk-label');
        // measured while drawn (a new marker's label starts below it); until then, an estimate
        if (label && label.offsetWidth > 0) s.labelSize = { w: label.offsetWidth, h: label.offsetHeight };
      }
      const { w, h } = s.labelSize ?? { w: 7 * id.length + 8, h: 16 };
      const p = this.map.latLngToContainerPoint(s.marker.getLatLng());
      // markers far off screen take no room from the ones in view
      if (p.x < -200 || p.y < -200 || p.x > size.x + 200 || p.y > size.y + 200) continue;
      items.push({ id, x: p.x, y: p.y, w, h, current: s.label, rank: id === this.selected ? -1 : KIND_RANK[s.machine.kind] });
    }
    items.sort((a, b) => a.rank - b.rank || a.id.localeCompare(b.id));
    for (const [id, place] of placeLabels(items)) {
      const s = this.shown.get(id)!;
      if (s.label === place) continue;
      s.label = place;
      const el = s.marker.getElement()?.querySelector<HTMLElement>('.mk');
      if (el) el.dataset['label'] = place;
    }
  }

  /** Highlights a machine; `pan` brings it into view. */
  select(id: string | undefined, machine?: Machine, pan = false): void {
    const before = this.selected;
    this.selected = id;
    for (const key of [before, id]) {
      const el = key ? this.shown.get(key)?.marker.getElement()?.querySelector('.mk') : undefined;
      el?.classList.toggle('mk-selected', key === id);
    }
    if (pan && machine?.lat !== undefined && machine.lon !== undefined) this.map.setView([machine.lat, machine.lon], Math.max(this.map.getZoom(), 16));
    this.declutterSoon();
  }

  /** The container changed size (layout). */
  resize(): void {
    this.map.invalidateSize();
  }
}
