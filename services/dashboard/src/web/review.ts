/**
 * The plow review page (road crews and admins): pick plows and a time window,
 * see their tracks (blade down solid and thick, blade up dashed and thin), the
 * road segments coloured by the time since their last pass, the storm
 * compliance per priority class, export the tracks (GPX, GeoJSON, CSV), and
 * replay the window over the live stream with a marker per vehicle.
 *
 * Every request carries the session token in the Authorization header; the
 * exports are fetched and saved as blobs, so the token never goes in a URL.
 */
import * as L from 'leaflet';
import type { Feature, FeatureCollection, Geometry, LineString } from 'geojson';
import { apiUrl, ApiError } from './api.ts';
import { fill, h } from './dom.ts';
import type { DeviceView, LiveMessage, User } from './types.ts';

/** True when the user may see plows (the road routes answer 403 otherwise). */
export function maySeePlows(user: User): boolean {
  return user.roles.includes('admin') || user.roles.includes('road_crew');
}

export const REPLAY_SPEEDS = [1, 5, 10, 30, 60] as const;
const EXPORTS = [
  { format: 'gpx', label: 'GPX' },
  { format: 'geojson', label: 'GeoJSON' },
  { format: 'csv', label: 'CSV' },
] as const;
const PALETTE = ['#7b3294', '#2563eb', '#c2410c', '#0f766e', '#be185d', '#4d7c0f'];

/** Time since the last pass → legend bucket. */
const BUCKETS = [
  { key: 'lt1h', label: '< 1 h', colour: '#16a34a', upTo: 60 },
  { key: '1to4h', label: '1–4 h', colour: '#eab308', upTo: 240 },
  { key: '4to12h', label: '4–12 h', colour: '#f97316', upTo: 720 },
  { key: 'gt12h', label: '> 12 h / never', colour: '#dc2626', upTo: Infinity },
] as const;

function bucketOf(minutes: number | null | undefined): (typeof BUCKETS)[number] {
  if (minutes === null || minutes === undefined) return BUCKETS[3];
  return BUCKETS.find((b) => minutes < b.upTo) ?? BUCKETS[3];
}

interface TrackProps {
  readonly device: string;
  readonly part?: number;
  readonly blade?: string;
}
interface CoverageProps {
  readonly id: string;
  readonly name: string;
  readonly class: number;
  readonly lastPass: string | null;
  readonly minutesSinceLastPass: number | null;
  readonly passesForward: number;
  readonly passesBackward: number;
  readonly vehicles: readonly string[];
}
interface StormClass {
  readonly class: number;
  readonly levelH: number;
  readonly lengthM: number;
  readonly onTimeShare: number;
}
interface StormReport {
  readonly total: { readonly onTimeShare: number; readonly lengthM: number };
  readonly classes: readonly StormClass[];
  readonly unserviced?: readonly unknown[];
}

type ReplayState = { type: 'replay_state'; id: string; state: 'playing' | 'paused' | 'ended'; t: number; speed: number; from: number; to: number; devices: string[]; reason?: string };

/** A live message that belongs to a replay (never to the live fleet). */
export function isReplayMessage(m: LiveMessage | { type: string }): boolean {
  const any = m as { type: string; replay?: unknown };
  return any.type === 'replay_state' || (any.type === 'telemetry' && typeof any.replay === 'string') || (any.type === 'error' && any.replay !== undefined);
}

/** `datetime-local` value (local time, seconds) of epoch ms. */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

function clock(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { hour12: false });
}

export interface ReviewOptions {
  readonly token: string;
  readonly onUnauthorized: () => void;
  /** Sends a message on the live stream; false when it is not connected. */
  readonly send: (m: object) => boolean;
}

export class ReviewView {
  readonly el: HTMLElement;
  private readonly opts: ReviewOptions;
  private readonly mapEl = h('div', { class: 'map review-map', 'data-testid': 'review-map' });
  private map: L.Map | undefined;
  private readonly coverageLayer = L.layerGroup();
  private readonly trackLayer = L.layerGroup();
  private readonly replayLayer = L.layerGroup();
  private readonly replayMarkers = new Map<string, L.Marker>();

  private readonly vehiclesEl = h('div', { class: 'rv-vehicles', 'data-testid': 'review-vehicles' });
  private readonly fromInput = h('input', { type: 'datetime-local', step: '1', 'data-testid': 'review-from' });
  private readonly toInput = h('input', { type: 'datetime-local', step: '1', 'data-testid': 'review-to' });
  private readonly statusEl = h('p', { class: 'hint', 'data-testid': 'review-status', 'data-state': 'idle', role: 'status' }, 'Pick plows and a window, then Show.');
  private readonly tracksEl = h('ul', { class: 'rv-tracks', 'data-testid': 'review-tracks' });
  private readonly coverageEl = h('div', { class: 'rv-coverage', 'data-testid': 'review-coverage' });
  private readonly stormEl = h('div', { class: 'rv-storm', 'data-testid': 'review-storm' });
  private readonly exportsEl = h('div', { class: 'rv-exports', 'data-testid': 'review-exports' });

  private readonly speedSelect = h('select', { 'data-testid': 'review-speed', 'aria-label': 'Replay speed' }, ...REPLAY_SPEEDS.map((s) => h('option', { value: s, selected: s === 10 }, `${s}×`)));
  private readonly playButton = h('button', { 'data-testid': 'review-play', class: 'primary' }, 'Play');
  private readonly slider = h('input', { type: 'range', min: 0, max: 1, step: 1000, value: 0, 'data-testid': 'review-slider', 'aria-label': 'Replay position' });
  private readonly replayTime = h('span', { class: 'rv-replay-time', 'data-testid': 'review-replay-time', 'data-state': 'idle' }, '—');

  private plows: DeviceView[] = [];
  private readonly chosen = new Set<string>();
  /** The `to` input follows the clock until the user edits it. */
  private toIsNow = true;
  /** The window last shown. */
  private window: { from: number; to: number; devices: string[] } | undefined;
  private replay: { id: string; state: 'starting' | 'playing' | 'paused' | 'ended'; pendingSeek?: number } | undefined;
  private replays = 0;
  private sliding = false;
  private loading = 0;

  constructor(opts: ReviewOptions) {
    this.opts = opts;
    const now = Date.now();
    this.fromInput.value = localInput(now - 3_600_000);
    this.toInput.value = localInput(now);
    this.toInput.addEventListener('input', () => (this.toIsNow = false));
    this.playButton.addEventListener('click', () => this.playPause());
    this.speedSelect.addEventListener('change', () => {
      if (this.replay && this.replay.state !== 'ended') this.opts.send({ type: 'replay_control', action: 'speed', speed: Number(this.speedSelect.value) });
    });
    this.slider.addEventListener('input', () => {
      this.sliding = true;
      this.replayTime.textContent = clock(Number(this.slider.value));
    });
    this.slider.addEventListener('change', () => {
      this.sliding = false;
      const t = Number(this.slider.value);
      if (this.replay && (this.replay.state === 'playing' || this.replay.state === 'paused')) this.opts.send({ type: 'replay_control', action: 'seek', t });
      else this.replayTime.textContent = clock(t);
    });

    const legend = h(
      'ul',
      { class: 'rv-legend', 'data-testid': 'review-legend' },
      ...BUCKETS.map((b) => h('li', { 'data-bucket': b.key }, h('span', { class: 'swatch', style: `background:${b.colour}` }), b.label)),
      h('li', {}, h('span', { class: 'swatch line-down' }), 'track, blade down'),
      h('li', {}, h('span', { class: 'swatch line-up' }), 'track, blade up'),
    );
    const side = h(
      'aside',
      { class: 'side review-side' },
      h(
        'section',
        {},
        h('h3', {}, 'Plows'),
        this.vehiclesEl,
        h('div', { class: 'rv-window' }, h('label', {}, 'From', this.fromInput), h('label', {}, 'To', this.toInput)),
        h('div', { class: 'rv-actions' }, h('button', { class: 'primary', 'data-testid': 'review-load', onclick: () => void this.load() }, 'Show'), h('button', { 'data-testid': 'review-last-hour', onclick: () => this.lastHour() }, 'Last hour')),
        this.statusEl,
        this.tracksEl,
      ),
      h('section', {}, h('h3', {}, 'Replay'), h('div', { class: 'rv-replay' }, this.playButton, this.speedSelect, this.replayTime), this.slider),
      h('section', {}, h('h3', {}, 'Since the last pass'), legend, this.coverageEl),
      h('section', {}, h('h3', {}, 'Storm compliance'), this.stormEl),
      h('section', {}, h('h3', {}, 'Export tracks'), this.exportsEl),
    );
    this.el = h('main', { class: 'layout review', 'data-testid': 'review' }, this.mapEl, side);
  }

  /** Called when the view is shown (the map needs a sized container). */
  show(): void {
    if (!this.map) {
      this.map = L.map(this.mapEl, { zoomControl: true, attributionControl: true, preferCanvas: false, zoomSnap: 0.5 }).setView([43.19, 141.77], 13);
      this.map.attributionControl.setPrefix(false);
      this.coverageLayer.addTo(this.map);
      this.trackLayer.addTo(this.map);
      this.replayLayer.addTo(this.map);
      void this.loadPlows();
    }
    this.map.invalidateSize();
  }

  resize(): void {
    this.map?.invalidateSize();
  }

  stop(): void {
    if (this.replay && this.replay.state !== 'ended') this.opts.send({ type: 'replay_control', action: 'stop' });
    this.replay = undefined;
  }

  // ── REST ──────────────────────────────────────────────────────────────────
  private async fetch(path: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(apiUrl(path), { headers: { authorization: `Bearer ${this.opts.token}` } });
    } catch {
      throw new ApiError(0, 'NETWORK', 'the gateway cannot be reached');
    }
    if (!res.ok) {
      const json = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
      if (res.status === 401) this.opts.onUnauthorized();
      throw new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? `HTTP ${res.status}`);
    }
    return res;
  }

  private async json<T>(path: string): Promise<T> {
    return (await (await this.fetch(path)).json()) as T;
  }

  private async loadPlows(): Promise<void> {
    try {
      const { devices } = await this.json<{ devices: DeviceView[] }>('devices?kind=plow');
      this.plows = devices.filter((d) => d.kind === 'plow').sort((a, b) => a.id.localeCompare(b.id));
      fill(
        this.vehiclesEl,
        ...this.plows.map((d) =>
          h(
            'label',
            { class: 'rv-vehicle' },
            h('input', {
              type: 'checkbox',
              'data-testid': `review-vehicle-${d.id}`,
              value: d.id,
              onchange: (e: Event) => {
                if ((e.target as HTMLInputElement).checked) this.chosen.add(d.id);
                else this.chosen.delete(d.id);
              },
            }),
            h('span', {}, h('strong', {}, d.id), ' ', h('small', {}, d.name)),
          ),
        ),
      );
      this.vehiclesEl.dataset['count'] = String(this.plows.length);
    } catch (err) {
      this.setStatus('error', `Cannot list the plows: ${(err as Error).message}`);
    }
  }

  private lastHour(): void {
    const now = Date.now();
    this.fromInput.value = localInput(now - 3_600_000);
    this.toInput.value = localInput(now);
    this.toIsNow = true;
    void this.load();
  }

  private setStatus(state: string, text: string): void {
    this.statusEl.dataset['state'] = state;
    this.statusEl.textContent = text;
    this.statusEl.classList.toggle('error', state === 'error');
  }

  /** Reads the window; undefined (with the reason shown) when it is not valid. */
  private readWindow(): { from: number; to: number } | undefined {
    if (this.toIsNow) this.toInput.value = localInput(Date.now());
    const from = new Date(this.fromInput.value).getTime();
    const to = this.toIsNow ? Date.now() : new Date(this.toInput.value).getTime();
    if (!Number.isFinite(from) || !Number.isFinite(to)) {
      this.setStatus('error', 'Enter both times.');
      return undefined;
    }
    if (from >= to) {
      this.setStatus('error', 'From must be before To.');
      return undefined;
    }
    return { from, to };
  }

  /** Tracks, coverage and storm compliance of the chosen plows in the window. */
  async load(): Promise<void> {
    const w = this.readWindow();
    if (!w) return;
    const devices = this.plows.filter((d) => this.chosen.has(d.id)).map((d) => d.id);
    if (devices.length === 0) {
      this.setStatus('error', 'Pick at least one plow.');
      return;
    }
    const n = ++this.loading;
    this.window = { ...w, devices };
    this.setStatus('loading', 'Loading…');
    const range = `from=${w.from}&to=${w.to}`;
    const list = devices.map(encodeURIComponent).join(',');
    try {
      const [tracks, coverage, storm] = await Promise.all([
        Promise.all(devices.map((id) => this.json<FeatureCollection<Geometry | null, TrackProps>>(`devices/${encodeURIComponent(id)}/track?format=geojson&split=true&simplify=1&${range}`))),
        this.json<FeatureCollection<LineString, CoverageProps>>(`roads/coverage?${range}&devices=${list}`),
        this.json<StormReport>(`roads/storm?${range}&devices=${list}`),
      ]);
      if (n !== this.loading) return;
      this.drawCoverage(coverage);
      const first = this.drawTracks(devices, tracks);
      this.drawStorm(storm);
      this.drawExports(devices);
      this.resetReplay(w.from, w.to, first);
      this.setStatus('ready', `${devices.join(', ')}: ${clock(w.from)} – ${clock(w.to)}`);
      const bounds = L.latLngBounds([]);
      for (const l of this.trackLayer.getLayers()) if (l instanceof L.GeoJSON && l.getBounds().isValid()) bounds.extend(l.getBounds());
      if (!bounds.isValid()) for (const l of this.coverageLayer.getLayers()) if (l instanceof L.GeoJSON && l.getBounds().isValid()) bounds.extend(l.getBounds());
      if (bounds.isValid()) this.map?.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
    } catch (err) {
      if (n === this.loading) this.setStatus('error', `Loading failed: ${(err as Error).message}`);
    }
  }

  private drawCoverage(fc: FeatureCollection<LineString, CoverageProps>): void {
    this.coverageLayer.clearLayers();
    const counts = new Map<string, number>(BUCKETS.map((b) => [b.key, 0]));
    const layer = L.geoJSON(fc, {
      style: (f) => {
        const b = bucketOf(f?.properties.minutesSinceLastPass);
        counts.set(b.key, (counts.get(b.key) ?? 0) + 1);
        return { color: b.colour, weight: f && f.properties.class <= 1 ? 7 : 5, opacity: 0.75, lineCap: 'butt', className: `rv-seg rv-seg-${b.key}` };
      },
      onEachFeature: (f, l) => {
        const p = f.properties;
        l.bindTooltip(
          `${p.name} (class ${p.class})<br>${p.lastPass ? `last pass ${clock(Date.parse(p.lastPass))} (${Math.round(p.minutesSinceLastPass ?? 0)} min ago)` : 'no pass in the window'}` +
            `<br>passes ${p.passesForward} forward, ${p.passesBackward} backward${p.vehicles.length ? `<br>${p.vehicles.join(', ')}` : ''}`,
          { sticky: true },
        );
      },
    });
    this.coverageLayer.addLayer(layer);
    this.coverageEl.dataset['segments'] = String(fc.features.length);
    for (const [k, v] of counts) this.coverageEl.dataset[`n${k}`] = String(v);
    fill(this.coverageEl, h('p', { class: 'hint' }, `${fc.features.length} road segments: ${BUCKETS.map((b) => `${counts.get(b.key)} ${b.label}`).join(', ')}`));
  }

  /** Draws the tracks; returns the time of the first sample (for the replay's start). */
  private drawTracks(devices: string[], tracks: FeatureCollection<Geometry | null, TrackProps>[]): number | undefined {
    this.trackLayer.clearLayers();
    const rows: HTMLElement[] = [];
    let first: number | undefined;
    devices.forEach((id, i) => {
      const colour = PALETTE[i % PALETTE.length]!;
      const fc = tracks[i]!;
      const parts = fc.features.filter((f): f is Feature<Geometry, TrackProps> => f.geometry !== null);
      let points = 0;
      let last: number | undefined;
      for (const f of parts) {
        const p = f.properties as TrackProps & { from?: number | string; timestamps?: number[]; t0?: number };
        const t = p.timestamps?.[0] ?? (typeof p.from === 'number' ? p.from : typeof p.from === 'string' ? Date.parse(p.from) : undefined);
        if (t !== undefined && Number.isFinite(t) && (first === undefined || t < first)) first = t;
        const end = p.timestamps?.[p.timestamps.length - 1];
        if (end !== undefined && (last === undefined || end > last)) last = end;
        points += f.geometry.type === 'LineString' ? f.geometry.coordinates.length : 1;
      }
      const layer = L.geoJSON({ type: 'FeatureCollection', features: parts } as FeatureCollection<Geometry, TrackProps>, {
        style: (f) => {
          const down = f?.properties.blade === 'down';
          return { color: colour, weight: down ? 5 : 2, opacity: down ? 0.95 : 0.8, dashArray: down ? undefined : '6 6', className: `rv-track rv-track-${id} rv-blade-${down ? 'down' : 'up'}` };
        },
        pointToLayer: (f: Feature<Geometry, TrackProps>, ll) => L.circleMarker(ll, { radius: 4, color: colour, className: `rv-track rv-track-${id}`, fillOpacity: f.properties.blade === 'down' ? 1 : 0.3 }),
        onEachFeature: (f, l) => l.bindTooltip(`${id}: blade ${f.properties.blade ?? '?'}`, { sticky: true }),
      });
      this.trackLayer.addLayer(layer);
      rows.push(
        h(
          'li',
          { 'data-testid': `review-track-${id}`, 'data-device': id, 'data-parts': parts.length, 'data-points': points, 'data-last': last },
          h('span', { class: 'swatch', style: `background:${colour}` }),
          `${id}: ${parts.length === 0 ? 'no positions in the window' : `${parts.length} parts, ${points} points`}`,
        ),
      );
    });
    fill(this.tracksEl, ...rows);
    return first;
  }

  private drawStorm(report: StormReport): void {
    const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
    this.stormEl.dataset['classes'] = String(report.classes.length);
    fill(
      this.stormEl,
      h('p', { 'data-testid': 'storm-total', 'data-share': report.total.onTimeShare }, `On time overall: ${pct(report.total.onTimeShare)} of ${(report.total.lengthM / 1000).toFixed(1)} km`),
      h(
        'table',
        { class: 'rv-storm-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Class'), h('th', {}, 'Level'), h('th', {}, 'Length'), h('th', {}, 'On time'))),
        h(
          'tbody',
          {},
          ...report.classes.map((c) =>
            h('tr', { 'data-testid': 'storm-class', 'data-class': c.class, 'data-share': c.onTimeShare }, h('td', {}, String(c.class)), h('td', {}, `${c.levelH} h`), h('td', {}, `${(c.lengthM / 1000).toFixed(1)} km`), h('td', {}, pct(c.onTimeShare))),
          ),
        ),
      ),
      report.unserviced && h('p', { class: 'hint' }, `${report.unserviced.length} segments not serviced.`),
    );
  }

  private drawExports(devices: string[]): void {
    fill(
      this.exportsEl,
      ...devices.map((id) =>
        h(
          'div',
          { class: 'rv-export-row' },
          h('strong', {}, id),
          ...EXPORTS.map((e) => h('button', { 'data-testid': `review-export-${e.format}`, 'data-device': id, onclick: () => void this.download(id, e.format) }, e.label)),
        ),
      ),
    );
  }

  /** Fetches an export with the Authorization header and saves it (a blob: the token never goes in a URL). */
  private async download(id: string, format: string): Promise<void> {
    const w = this.window;
    if (!w) return;
    try {
      const res = await this.fetch(`devices/${encodeURIComponent(id)}/track?format=${format}&split=true&from=${w.from}&to=${w.to}`);
      const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `${id}.${format}`;
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      this.setStatus('error', `Export failed: ${(err as Error).message}`);
    }
  }

  // ── replay ────────────────────────────────────────────────────────────────
  private resetReplay(from: number, to: number, first: number | undefined): void {
    if (this.replay && this.replay.state !== 'ended') this.opts.send({ type: 'replay_control', action: 'stop' });
    this.replay = undefined;
    this.replayLayer.clearLayers();
    this.replayMarkers.clear();
    this.slider.min = String(from);
    this.slider.max = String(to);
    // start where the data starts (an hour's window of a plow that set out ten minutes ago)
    this.slider.value = String(first !== undefined ? Math.max(from, Math.min(to, first)) : from);
    this.replayTime.textContent = clock(Number(this.slider.value));
    this.setReplayState('idle');
  }

  private setReplayState(state: string): void {
    this.replayTime.dataset['state'] = state;
    this.playButton.textContent = state === 'playing' || state === 'starting' ? 'Pause' : state === 'paused' ? 'Resume' : 'Play';
    this.playButton.dataset['state'] = state;
  }

  private playPause(): void {
    const w = this.window;
    if (!w) {
      this.setStatus('error', 'Show a window first.');
      return;
    }
    const r = this.replay;
    if (r && (r.state === 'playing' || r.state === 'starting')) {
      this.opts.send({ type: 'replay_control', action: 'pause' });
      return;
    }
    if (r && r.state === 'paused') {
      this.opts.send({ type: 'replay_control', action: 'resume' });
      return;
    }
    const id = `review-${++this.replays}`;
    const start = Number(this.slider.value);
    const ok = this.opts.send({ type: 'replay', id, devices: w.devices, from: w.from, to: w.to, speed: Number(this.speedSelect.value) });
    if (!ok) {
      this.setStatus('error', 'The live stream is not connected: try again in a moment.');
      return;
    }
    this.replay = { id, state: 'starting', ...(start > w.from + 1000 ? { pendingSeek: start } : {}) };
    this.setReplayState('starting');
  }

  /** A live message of a replay; true when it was one (the live fleet never sees them). */
  handle(m: LiveMessage | { type: string }): boolean {
    if (!isReplayMessage(m)) return false;
    const r = this.replay;
    if (m.type === 'replay_state') {
      const s = m as ReplayState;
      if (!r || s.id !== r.id) return true;
      if (r.pendingSeek !== undefined && s.state !== 'ended') {
        const t = r.pendingSeek;
        delete r.pendingSeek;
        this.opts.send({ type: 'replay_control', action: 'seek', t });
      }
      r.state = s.state;
      this.setReplayState(s.state);
      if (s.state === 'ended') this.replayTime.dataset['reason'] = s.reason ?? '';
      this.position(s.t);
      return true;
    }
    if (m.type === 'telemetry') {
      const t = m as Extract<LiveMessage, { type: 'telemetry' }>;
      if (!r || t.replay !== r.id) return true;
      const last = t.samples[t.samples.length - 1];
      if (!last) return true;
      this.moveMarker(t.device, last);
      this.position(last.t);
      return true;
    }
    // an error of the replay
    const e = m as { message?: string };
    this.setStatus('error', `Replay: ${e.message ?? 'failed'}`);
    return true;
  }

  private position(t: number): void {
    if (!Number.isFinite(t) || this.sliding) return;
    this.slider.value = String(t);
    this.replayTime.textContent = clock(t);
    this.replayTime.dataset['t'] = String(t);
  }

  private moveMarker(id: string, s: Readonly<Record<string, unknown>>): void {
    const lat = s['lat'];
    const lon = s['lon'];
    if (typeof lat !== 'number' || typeof lon !== 'number' || !this.map) return;
    let marker = this.replayMarkers.get(id);
    if (!marker) {
      const icon = L.divIcon({ className: 'mk-host', html: `<div class="rp-mk" data-testid="replay-marker-${id}" data-device="${id}"><div class="rp-dot"></div><span class="mk-label">${id} ▶</span></div>`, iconSize: [20, 20], iconAnchor: [10, 10] });
      marker = L.marker([lat, lon], { icon, interactive: false, zIndexOffset: 2000 });
      this.replayLayer.addLayer(marker);
      this.replayMarkers.set(id, marker);
    }
    marker.setLatLng([lat, lon]);
    const el = marker.getElement()?.querySelector<HTMLElement>('.rp-mk');
    if (el) {
      el.dataset['lat'] = lat.toFixed(7);
      el.dataset['lon'] = lon.toFixed(7);
      el.dataset['blade'] = typeof s['blade'] === 'string' ? s['blade'] : '';
      el.classList.toggle('rp-down', s['blade'] === 'down');
    }
  }
}
