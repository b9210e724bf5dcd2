/**
 * The prescriptions page (agronomists and admins): upload yield and moisture
 * (NDVI and organic matter optional) GeoTIFFs with a field boundary — or the
 * Iwamizawa sample the gateway serves — set the engine's parameters, follow
 * the job's progress, then see the zones on the map coloured by rate with a
 * legend, the summary (total product, mean and uniform rate, savings), the
 * preview and every output for download.
 *
 * The page calls the prescription service itself (its URL comes from the
 * gateway's `GET /api/v1/map`; the service allows the gateway's origin by
 * CORS). Every request carries the session token in the Authorization header;
 * downloads are fetched and saved as blobs, so the token never goes in a URL.
 */
import * as L from 'leaflet';
import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import { apiUrl, ApiError } from './api.ts';
import { fill, h } from './dom.ts';
import type { User } from './types.ts';

/** True when the user may make prescriptions (the service answers 403 to anyone else). */
export function mayPrescribe(user: User): boolean {
  return user.roles.includes('admin') || user.roles.includes('agronomist');
}

const LAYERS = [
  { key: 'yield', label: 'Yield (t/ha)', required: true },
  { key: 'moisture', label: 'Soil moisture (%)', required: true },
  { key: 'ndvi', label: 'NDVI', required: false },
  { key: 'organic', label: 'Organic matter (t/ha)', required: false },
] as const;
type LayerKey = (typeof LAYERS)[number]['key'] | 'field';
const SAMPLE_FILES: Record<LayerKey, string> = { yield: 'yield.tif', moisture: 'moisture.tif', ndvi: 'ndvi.tif', organic: 'organic.tif', field: 'field.geojson' };

/** The engine's parameters the form offers, with the engine's defaults. */
const PARAMS = [
  { key: 'productName', label: 'Product', type: 'text', value: 'Urea 46% N' },
  { key: 'productNPercent', label: 'N in product (%)', type: 'number', value: '46', min: 1, max: 100, step: 'any' },
  { key: 'minRate', label: 'Min rate (kg/ha)', type: 'number', value: '0', min: 0, step: 'any' },
  { key: 'maxRate', label: 'Max rate (kg/ha)', type: 'number', value: '400', min: 0, step: 'any' },
  { key: 'rateStep', label: 'Rate step (kg/ha)', type: 'number', value: '5', min: 0, step: 'any' },
  { key: 'workingWidth', label: 'Working width (m)', type: 'number', value: '24', min: 1, step: 'any' },
] as const;

const POLL_MS = 500;

interface JobFile {
  readonly name: string;
  readonly bytes: number;
  readonly contentType?: string;
  readonly url?: string;
}
interface ZoneSummary {
  readonly id: number;
  readonly rate: number;
  readonly areaHa: number;
  readonly productKg?: number;
}
interface Summary {
  readonly totalProductKg: number;
  readonly meanRateKgHa: number;
  readonly areaHa: number;
  readonly uniform: { readonly rateKgHa: number; readonly totalProductKg: number };
  readonly savings: { readonly productKg: number; readonly percent: number };
  readonly product?: { readonly name: string };
  readonly zones: readonly ZoneSummary[];
  readonly warnings?: readonly string[];
}
interface Job {
  readonly id: string;
  readonly status: 'queued' | 'running' | 'done' | 'failed';
  readonly progress?: { readonly stage?: string; readonly fraction?: number; readonly message?: string };
  readonly queuePosition?: number;
  readonly error?: { readonly code: string; readonly message: string };
  readonly summary?: Summary;
  readonly files?: readonly JobFile[];
}
interface ZoneProps {
  readonly zone: number;
  readonly rate: number;
  readonly areaHa: number;
}

/** Light to dark green by rate (0 … 1 of the range). */
function rampColour(x: number): string {
  const t = Math.max(0, Math.min(1, Number.isFinite(x) ? x : 0.5));
  const from = [237, 248, 177];
  const to = [0, 104, 55];
  const c = from.map((f, i) => Math.round(f + (to[i]! - f) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

const kg = (x: number): string => `${Math.round(x).toLocaleString('en-US')} kg`;

export interface PrescriptionsOptions {
  readonly token: string;
  readonly onUnauthorized: () => void;
  /** The prescription service's URL (from the gateway's map). */
  readonly serviceUrl: string;
  /** The farms the user may make prescriptions for. */
  readonly farms: readonly string[];
}

export class PrescriptionsView {
  readonly el: HTMLElement;
  private readonly opts: PrescriptionsOptions;
  private readonly mapEl = h('div', { class: 'map pr-map', 'data-testid': 'prescriptions-map' });
  private map: L.Map | undefined;
  private readonly zoneLayer = L.layerGroup();

  private readonly farmSelect: HTMLSelectElement;
  private readonly fileInputs = new Map<LayerKey, HTMLInputElement>();
  private readonly paramInputs = new Map<string, HTMLInputElement>();
  private readonly zonesSelect = h('select', { 'data-testid': 'pr-zones', name: 'zones' }, h('option', { value: 'auto', selected: true }, 'auto (2–5)'), ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => h('option', { value: n }, String(n))));
  private readonly growthSelect = h('select', { 'data-testid': 'pr-growthStrategy', name: 'growthStrategy' }, h('option', { value: 'compensate', selected: true }, 'compensate weak growth'), h('option', { value: 'reward' }, 'reward strong growth'));
  private readonly sampleState = h('p', { class: 'hint', 'data-testid': 'pr-sample-state', 'data-state': 'none' }, 'Choose files, or use the sample.');
  private readonly submitButton = h('button', { class: 'primary', 'data-testid': 'pr-submit', type: 'submit' }, 'Make the prescription');
  private readonly statusEl = h('div', { class: 'pr-status', 'data-testid': 'pr-status', 'data-state': 'idle', role: 'status' });
  private readonly progressEl = h('progress', { class: 'pr-progress', 'data-testid': 'pr-progress', max: 1, value: 0, hidden: true });
  private readonly legendEl = h('div', { class: 'pr-legend', 'data-testid': 'pr-legend' });
  private readonly summaryEl = h('div', { class: 'pr-summary', 'data-testid': 'pr-summary' });
  private readonly previewEl = h('div', { class: 'pr-preview', 'data-testid': 'pr-preview' });
  private readonly filesEl = h('div', { class: 'pr-files', 'data-testid': 'pr-files' });

  /** The sample's files, once fetched ("Use the sample"); a file chosen in an input wins over them. */
  private sample: Map<LayerKey, File> | undefined;
  private job: string | undefined;
  private runs = 0;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly objectUrls: string[] = [];

  constructor(opts: PrescriptionsOptions) {
    this.opts = opts;
    this.farmSelect = h('select', { 'data-testid': 'pr-farm', name: 'farm', required: true }, ...opts.farms.map((f, i) => h('option', { value: f, selected: i === 0 }, f)));
    const fileRow = (key: LayerKey, label: string, required: boolean, accept: string): HTMLElement => {
      const input = h('input', { type: 'file', name: key, accept, 'data-testid': `pr-file-${key}` });
      this.fileInputs.set(key, input);
      return h('label', { class: 'pr-file' }, h('span', {}, `${label}${required ? ' *' : ''}`), input);
    };
    const paramRow = (p: (typeof PARAMS)[number]): HTMLElement => {
      const input = h('input', { type: p.type, name: p.key, value: p.value, 'data-testid': `pr-${p.key}`, ...('min' in p ? { min: p.min } : {}), ...('max' in p ? { max: p.max } : {}), ...('step' in p ? { step: p.step } : {}) });
      this.paramInputs.set(p.key, input);
      return h('label', {}, p.label, input);
    };
    const form = h(
      'form',
      { class: 'pr-form', 'data-testid': 'pr-form', novalidate: true, onsubmit: (e: Event) => {
        e.preventDefault();
        void this.submit();
      } },
      h('label', {}, 'Farm', this.farmSelect),
      h('fieldset', {}, h('legend', {}, 'Layers (GeoTIFF) and field (GeoJSON)'), ...LAYERS.map((l) => fileRow(l.key, l.label, l.required, '.tif,.tiff,image/tiff')), fileRow('field', 'Field boundary', true, '.geojson,.json,application/geo+json,application/json')),
      h('div', { class: 'pr-actions' }, h('button', { type: 'button', 'data-testid': 'pr-use-sample', onclick: () => void this.useSample() }, 'Use the sample'), this.sampleState),
      h('fieldset', { class: 'pr-params' }, h('legend', {}, 'Parameters'), ...PARAMS.map(paramRow), h('label', {}, 'Zones', this.zonesSelect), h('label', { class: 'pr-wide' }, 'Growth strategy', this.growthSelect)),
      this.submitButton,
    );
    const side = h(
      'aside',
      { class: 'side pr-side' },
      h('section', {}, h('h3', {}, 'New prescription'), form),
      h('section', {}, h('h3', {}, 'Progress'), this.progressEl, this.statusEl),
      h('section', {}, h('h3', {}, 'Zones'), this.legendEl),
      h('section', {}, h('h3', {}, 'Summary'), this.summaryEl),
      h('section', {}, h('h3', {}, 'Preview'), this.previewEl),
      h('section', {}, h('h3', {}, 'Downloads'), this.filesEl),
    );
    this.el = h('main', { class: 'layout prescriptions', 'data-testid': 'prescriptions' }, this.mapEl, side);
  }

  /** Called when the view is shown (the map needs a sized container). */
  show(): void {
    if (!this.map) {
      this.map = L.map(this.mapEl, { zoomControl: true, attributionControl: true, zoomSnap: 0.5 }).setView([43.19, 141.77], 13);
      this.map.attributionControl.setPrefix(false);
      this.zoneLayer.addTo(this.map);
    }
    this.map.invalidateSize();
  }

  resize(): void {
    this.map?.invalidateSize();
  }

  stop(): void {
    this.runs++;
    clearTimeout(this.pollTimer);
    for (const u of this.objectUrls.splice(0)) URL.revokeObjectURL(u);
  }

  // ── requests ──────────────────────────────────────────────────────────────
  private serviceUrl(path: string): string {
    return new URL(path, this.opts.serviceUrl.endsWith('/') ? this.opts.serviceUrl : `${this.opts.serviceUrl}/`).href;
  }

  /** A request with the session token; an error answer becomes an ApiError with the reasons (`details`) in its message. */
  private async request(url: string, init: RequestInit = {}, what = 'the prescription service'): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers: { authorization: `Bearer ${this.opts.token}` } });
    } catch {
      throw new ApiError(0, 'NETWORK', `${what} cannot be reached`);
    }
    if (!res.ok) {
      const json = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string; details?: unknown } } | undefined;
      if (res.status === 401) this.opts.onUnauthorized();
      const details = Array.isArray(json?.error?.details) ? (json.error.details as unknown[]).map(String) : [];
      const err = new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? `HTTP ${res.status}`);
      (err as ApiError & { details?: string[] }).details = details;
      throw err;
    }
    return res;
  }

  private setStatus(state: string, ...content: (Node | string | null)[]): void {
    this.statusEl.dataset['state'] = state;
    this.statusEl.classList.toggle('error', state === 'error' || state === 'failed');
    fill(this.statusEl, ...content);
  }

  private showError(prefix: string, err: unknown): void {
    const e = err as ApiError & { details?: string[] };
    const details = e.details ?? [];
    this.setStatus(
      'error',
      h('strong', { 'data-testid': 'pr-error', 'data-code': e.code ?? '' }, `${prefix}: ${e.message}${e.code ? ` (${e.code})` : ''}`),
      details.length > 0 ? h('ul', { class: 'pr-reasons', 'data-testid': 'pr-reasons' }, ...details.map((d) => h('li', {}, d))) : null,
    );
  }

  // ── the form ──────────────────────────────────────────────────────────────
  /** Fetches the Iwamizawa sample from the gateway (signed in) to upload it. */
  private async useSample(): Promise<void> {
    this.sampleState.dataset['state'] = 'loading';
    this.sampleState.textContent = 'Fetching the sample…';
    try {
      const entries = await Promise.all(
        (Object.entries(SAMPLE_FILES) as [LayerKey, string][]).map(async ([key, name]) => {
          const res = await this.request(apiUrl(`samples/prescription/${name}`), {}, 'the gateway');
          return [key, new File([await res.blob()], name, { type: res.headers.get('content-type') ?? 'application/octet-stream' })] as const;
        }),
      );
      this.sample = new Map(entries);
      for (const input of this.fileInputs.values()) input.value = '';
      this.sampleState.dataset['state'] = 'ready';
      this.sampleState.textContent = `Sample loaded (Iwamizawa): ${entries.map(([, f]) => f.name).join(', ')}.`;
    } catch (err) {
      this.sample = undefined;
      this.sampleState.dataset['state'] = 'error';
      this.sampleState.textContent = `The sample cannot be fetched: ${(err as Error).message}`;
    }
  }

  private fileOf(key: LayerKey): File | undefined {
    return this.fileInputs.get(key)?.files?.[0] ?? this.sample?.get(key);
  }

  private async submit(): Promise<void> {
    const problems: string[] = [];
    const farm = this.farmSelect.value;
    if (!farm) problems.push('choose a farm');
    for (const l of LAYERS) if (l.required && !this.fileOf(l.key)) problems.push(`choose the ${l.key} layer (or use the sample)`);
    if (!this.fileOf('field')) problems.push('choose the field boundary (or use the sample)');
    if (problems.length > 0) {
      this.showError('Not sent', Object.assign(new ApiError(0, '', 'the form is incomplete'), { details: problems }));
      return;
    }
    const body = new FormData();
    // the text fields first: a farm outside the user's scope is refused before the rasters are read
    body.append('farm', farm);
    for (const [key, input] of this.paramInputs) if (input.value.trim() !== '') body.append(key, input.value.trim());
    body.append('zones', this.zonesSelect.value);
    body.append('growthStrategy', this.growthSelect.value);
    for (const key of [...LAYERS.map((l) => l.key), 'field'] as LayerKey[]) {
      const f = this.fileOf(key);
      if (f) body.append(key, f, f.name);
    }
    const run = ++this.runs;
    clearTimeout(this.pollTimer);
    this.clearResult();
    this.submitButton.disabled = true;
    this.progressEl.hidden = false;
    this.progressEl.value = 0;
    this.progressEl.dataset['fraction'] = '0';
    this.setStatus('uploading', 'Uploading…');
    try {
      const job = (await (await this.request(this.serviceUrl('api/v1/prescriptions'), { method: 'POST', body })).json()) as Job;
      if (run !== this.runs) return;
      this.job = job.id;
      this.statusEl.dataset['job'] = job.id;
      this.render(job);
      this.poll(run, job.id);
    } catch (err) {
      if (run !== this.runs) return;
      this.submitButton.disabled = false;
      this.progressEl.hidden = true;
      this.showError('Refused', err);
    }
  }

  /** Follows the job every 500 ms until it is done or failed. */
  private poll(run: number, id: string): void {
    this.pollTimer = setTimeout(() => {
      void (async () => {
        try {
          const job = (await (await this.request(this.serviceUrl(`api/v1/prescriptions/${encodeURIComponent(id)}`))).json()) as Job;
          if (run !== this.runs) return;
          const finished = await this.render(job);
          if (!finished) this.poll(run, id);
        } catch (err) {
          if (run !== this.runs) return;
          this.submitButton.disabled = false;
          this.showError('The job cannot be followed', err);
        }
      })();
    }, POLL_MS);
  }

  /** Shows a job's state; true once it is done or failed. */
  private async render(job: Job): Promise<boolean> {
    const fraction = job.status === 'done' ? 1 : (job.progress?.fraction ?? 0);
    this.progressEl.value = fraction;
    this.progressEl.dataset['fraction'] = String(fraction);
    this.progressEl.dataset['state'] = job.status;
    if (job.status === 'queued') {
      this.setStatus('queued', `Waiting${job.queuePosition !== undefined ? ` (position ${job.queuePosition} in the queue)` : ''}…`);
      return false;
    }
    if (job.status === 'running') {
      this.setStatus('running', `${Math.round(fraction * 100)} %${job.progress?.stage ? ` · ${job.progress.stage}` : ''}${job.progress?.message ? `: ${job.progress.message}` : ''}`);
      return false;
    }
    this.submitButton.disabled = false;
    if (job.status === 'failed') {
      this.progressEl.hidden = true;
      this.showError('The prescription failed', new ApiError(0, job.error?.code ?? 'UNKNOWN', job.error?.message ?? 'no reason given'));
      this.statusEl.dataset['state'] = 'failed';
      return true;
    }
    this.setStatus('loading', 'Done: loading the zones…');
    try {
      await this.showResult(job);
      this.setStatus('done', `Done: ${job.summary?.zones.length ?? 0} zones.`);
    } catch (err) {
      this.showError('The results cannot be loaded', err);
    }
    return true;
  }

  // ── the result ────────────────────────────────────────────────────────────
  private clearResult(): void {
    this.zoneLayer.clearLayers();
    fill(this.legendEl);
    fill(this.summaryEl);
    fill(this.previewEl);
    fill(this.filesEl);
    for (const u of this.objectUrls.splice(0)) URL.revokeObjectURL(u);
  }

  private fileUrl(job: Job, f: JobFile): string {
    return f.url ? this.serviceUrl(f.url.replace(/^\//, '')) : this.serviceUrl(`api/v1/prescriptions/${encodeURIComponent(job.id)}/files/${f.name.split('/').map(encodeURIComponent).join('/')}`);
  }

  private async showResult(job: Job): Promise<void> {
    const files = job.files ?? [];
    const summary = job.summary;
    const zonesFile = files.find((f) => f.name === 'zones.geojson');
    const zones = summary?.zones ?? [];
    const rates = zones.map((z) => z.rate);
    const lo = Math.min(...rates);
    const hi = Math.max(...rates);
    const colourOf = (rate: number): string => rampColour(hi > lo ? (rate - lo) / (hi - lo) : 0.5);

    if (zonesFile) {
      const fc = (await (await this.request(this.fileUrl(job, zonesFile))).json()) as FeatureCollection<Polygon | MultiPolygon, ZoneProps>;
      const layer = L.geoJSON(fc, {
        style: (f) => ({ color: '#1f2937', weight: 1, fillColor: colourOf(f?.properties.rate ?? lo), fillOpacity: 0.75, className: `pr-zone pr-zone-${f?.properties.zone ?? 0}` }),
        onEachFeature: (f, l) => l.bindTooltip(`Zone ${f.properties.zone}: ${f.properties.rate} kg/ha, ${f.properties.areaHa.toFixed(2)} ha`, { sticky: true }),
      });
      this.zoneLayer.addLayer(layer);
      this.legendEl.dataset['features'] = String(fc.features.length);
      if (layer.getBounds().isValid()) this.map?.fitBounds(layer.getBounds(), { padding: [24, 24], maxZoom: 18 });
    }

    this.legendEl.dataset['zones'] = String(zones.length);
    fill(
      this.legendEl,
      h(
        'table',
        { class: 'pr-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Zone'), h('th', {}, 'Rate (kg/ha)'), h('th', {}, 'Area (ha)'))),
        h(
          'tbody',
          {},
          ...zones.map((z) =>
            h('tr', { 'data-testid': 'pr-legend-row', 'data-zone': z.id, 'data-rate': z.rate }, h('td', {}, h('span', { class: 'swatch', style: `background:${colourOf(z.rate)}` }), ` ${z.id}`), h('td', {}, String(z.rate)), h('td', {}, z.areaHa.toFixed(2))),
          ),
        ),
      ),
    );

    if (summary) {
      const row = (label: string, value: string, testid: string): HTMLElement => h('tr', { 'data-testid': testid }, h('th', {}, label), h('td', {}, value));
      this.summaryEl.dataset['savingsKg'] = String(summary.savings.productKg);
      this.summaryEl.dataset['savingsPercent'] = String(summary.savings.percent);
      fill(
        this.summaryEl,
        h(
          'table',
          { class: 'pr-table' },
          h(
            'tbody',
            {},
            summary.product && row('Product', summary.product.name, 'pr-sum-product'),
            row('Field', `${summary.areaHa.toFixed(2)} ha`, 'pr-sum-area'),
            row('Total product', kg(summary.totalProductKg), 'pr-sum-total'),
            row('Mean rate', `${summary.meanRateKgHa.toFixed(1)} kg/ha`, 'pr-sum-mean'),
            row('Uniform rate', `${summary.uniform.rateKgHa} kg/ha (${kg(summary.uniform.totalProductKg)})`, 'pr-sum-uniform'),
            row('Savings', `${kg(summary.savings.productKg)} (${summary.savings.percent.toFixed(1)} %)`, 'pr-savings'),
          ),
        ),
        summary.warnings && summary.warnings.length > 0 && h('ul', { class: 'hint' }, ...summary.warnings.map((w) => h('li', {}, w))),
      );
    }

    const preview = files.find((f) => f.name === 'preview.png');
    if (preview) {
      const url = URL.createObjectURL(await (await this.request(this.fileUrl(job, preview))).blob());
      this.objectUrls.push(url);
      fill(this.previewEl, h('img', { src: url, alt: 'Preview of the prescription', 'data-testid': 'pr-preview-img' }));
    }

    fill(
      this.filesEl,
      h(
        'ul',
        {},
        ...files.map((f) =>
          h('li', {}, h('button', { 'data-testid': 'pr-download', 'data-name': f.name, onclick: () => void this.download(job, f) }, f.name), h('small', {}, ` ${(f.bytes / 1024).toFixed(1)} KiB`)),
        ),
      ),
    );
  }

  /** Fetches an output with the Authorization header and saves it (a blob: the token never goes in a URL). */
  private async download(job: Job, f: JobFile): Promise<void> {
    try {
      const res = await this.request(this.fileUrl(job, f));
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: f.name.split('/').pop() ?? f.name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      this.showError(`Downloading ${f.name} failed`, err);
    }
  }
}
