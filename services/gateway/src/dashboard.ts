/**
 * The web dashboard: its built files at `/` (no sign-in for the files — the
 * data behind them needs it), and `GET /api/v1/map`, the base map it draws:
 * the field boundaries of the farms the user may see, the road network, and
 * a tile layer only when one is configured (`gateway.dashboard.tileUrl`).
 * Every file of the dashboard goes out with a strict Content-Security-Policy
 * ({@link dashboardCsp}), `X-Content-Type-Options: nosniff` and
 * `Referrer-Policy: no-referrer`.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { canSeeFarm } from '@hatake/auth';
import type { Config } from '@hatake/config';
import { DASHBOARD_BUILD_COMMAND, DASHBOARD_DIST } from '@hatake/dashboard';
import { GatewayError } from './errors.ts';
import { errors } from './schemas.ts';

const Feature = Type.Object({ type: Type.Literal('Feature'), properties: Type.Object({}, { additionalProperties: true }), geometry: Type.Object({}, { additionalProperties: true }) });
const Collection = Type.Object({ type: Type.Literal('FeatureCollection'), features: Type.Array(Feature) });

export const MapReply = Type.Object({
  fields: Collection,
  roads: Collection,
  tiles: Type.Union([Type.Object({ url: Type.String(), attribution: Type.String(), maxZoom: Type.Integer() }), Type.Null()], { description: 'a raster tile layer, when configured (gateway.dashboard.tileUrl)' }),
  prescriptionUrl: Type.Union([Type.String(), Type.Null()], { description: "the prescription service's URL for the browser (gateway.dashboard.prescriptionUrl, or the demo's), or null: no Prescriptions view" }),
});

interface GeoFeature {
  readonly type: 'Feature';
  readonly properties: Record<string, unknown>;
  readonly geometry: unknown;
}

/** Registers `GET /api/v1/map` on the signed-in scope: fields of the farms the user may see, every road. */
export function registerMapRoute(secured: FastifyInstance, config: Config, prescriptionUrl?: () => string | undefined): void {
  // the configuration is frozen: the features are built once
  const fieldsByFarm = new Map<string, GeoFeature[]>(
    config.farms.map((farm) => [farm.id, farm.fields.map((f) => ({ type: 'Feature' as const, properties: { id: f.id, name: f.name, farm: farm.id, areaHa: Math.round(f.areaHa * 100) / 100 }, geometry: f.boundary.geometry }))]),
  );
  const roads = { type: 'FeatureCollection' as const, features: config.roads.map((r) => ({ type: 'Feature' as const, properties: { id: r.id, name: r.name, class: r.class }, geometry: r.geometry })) };
  const d = config.gateway.dashboard;
  const tiles = d.tileUrl !== undefined ? { url: d.tileUrl, attribution: d.tileAttribution, maxZoom: d.tileMaxZoom } : null;
  secured.get(
    '/api/v1/map',
    { schema: { summary: 'The base map of the dashboard: field boundaries of your farms, the road network, the configured tile layer', tags: ['map'], response: { 200: MapReply, ...errors(401) } } },
    async (req) => ({
      fields: { type: 'FeatureCollection' as const, features: [...fieldsByFarm].flatMap(([farm, features]) => (canSeeFarm(req.user!, farm) ? features : [])) },
      roads,
      tiles,
      prescriptionUrl: prescriptionUrl?.() ?? d.prescriptionUrl ?? null,
    }),
  );
}

/** The sample files of a prescription (Iwamizawa), by name: a fixed list, nothing else is served. */
export const PRESCRIPTION_SAMPLES: Readonly<Record<string, string>> = {
  'yield.tif': 'image/tiff',
  'moisture.tif': 'image/tiff',
  'ndvi.tif': 'image/tiff',
  'organic.tif': 'image/tiff',
  'field.geojson': 'application/geo+json',
};

/**
 * Registers `GET /api/v1/samples/prescription/:name` on the signed-in scope: the sample rasters and field of `dir`
 * (the demo passes the engine's Iwamizawa fixtures), read-only, only the names of {@link PRESCRIPTION_SAMPLES};
 * without `dir` every name answers 404.
 */
export function registerSampleRoute(secured: FastifyInstance, dir: string | undefined): void {
  secured.get<{ Params: { name: string } }>(
    '/api/v1/samples/prescription/:name',
    {
      schema: {
        summary: 'A sample input of a prescription (yield.tif, moisture.tif, ndvi.tif, organic.tif, field.geojson), when the deployment has samples (the demo)',
        tags: ['map'],
        params: Type.Object({ name: Type.String({ maxLength: 64 }) }),
        response: { ...errors(401, 404) },
      },
    },
    async (req, reply) => {
      const type = Object.hasOwn(PRESCRIPTION_SAMPLES, req.params.name) ? PRESCRIPTION_SAMPLES[req.params.name] : undefined;
      const path = dir !== undefined && type !== undefined ? join(dir, req.params.name) : undefined;
      if (path === undefined || !existsSync(path)) throw new GatewayError('HATAKE_ERR_GATEWAY_NOT_FOUND', `no sample ${req.params.name}`);
      return reply.type(type!).header('cache-control', 'private, max-age=3600').header('content-disposition', `attachment; filename="${req.params.name}"`).send(createReadStream(path));
    },
  );
}

// no inline style: the page goes out under the same CSP as the dashboard (style-src 'self')
const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>hatake dashboard not built</title>
<body>
<h1>The dashboard is not built yet</h1>
<p>Build it once, from the repository: <code>${DASHBOARD_BUILD_COMMAND}</code> (<code>pnpm start</code> builds it for you).
The gateway serves it here as soon as it exists — no restart needed.</p>
<p>The REST API is at <a href="api/v1/openapi.json">api/v1/openapi.json</a>.</p>`;

/** Where a tile URL template's tiles come from, as a CSP source; undefined when they come from the gateway itself ('self'). */
export function tileSource(url: string): string | undefined {
  if (url.startsWith('/') && !url.startsWith('//')) return undefined;
  const m = /^(https?:)?\/\/([^/?#]+)/i.exec(url);
  if (!m) return undefined;
  const scheme = m[1]?.toLowerCase();
  const labels = m[2]!.toLowerCase().split('.');
  // Leaflet's {s} (a, b, c…) as the first label becomes a wildcard; a placeholder anywhere else in the host
  // cannot be written as a CSP host, so the scheme alone is allowed (https: — still no inline or foreign script)
  if (labels[0]!.includes('{')) labels[0] = '*';
  if (labels.slice(1).some((l) => /[{}]/.test(l))) return scheme ?? 'https:';
  // a protocol-relative template: a host without a scheme matches the page's scheme (and https from http)
  return `${scheme ? `${scheme}//` : ''}${labels.join('.')}`;
}

/** The WebSocket origin of a request's host (`ws://host:port`, `wss://` behind TLS), when the Host header is a plain host[:port]. */
function wsOrigin(req: FastifyRequest): string | undefined {
  const host = req.host;
  if (!/^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/.test(host)) return undefined;
  return `${req.protocol === 'https' ? 'wss' : 'ws'}://${host}`;
}

/**
 * The dashboard's Content-Security-Policy: its own scripts and styles only (Leaflet and the dashboard set styles
 * through the CSSOM — `element.style` — which CSP does not restrict, so no 'unsafe-inline'); images from itself,
 * `data:` (Leaflet's CSS icons) and `blob:` (the prescription preview), plus the tile server when one is configured;
 * connections to itself, its live stream (`ws(s)://` of the host the page was loaded from) and the prescription
 * service; never framed; no `<base>` or form posts elsewhere.
 */
export function dashboardCsp(opts: { tileUrl?: string | undefined; prescriptionUrl?: string | undefined; wsOrigin?: string | undefined }): string {
  const tiles = opts.tileUrl !== undefined ? tileSource(opts.tileUrl) : undefined;
  let prescription: string | undefined;
  try {
    prescription = opts.prescriptionUrl !== undefined ? new URL(opts.prescriptionUrl).origin : undefined;
  } catch {
    prescription = undefined;
  }
  const list = (...sources: (string | undefined)[]): string => [...new Set(sources.filter((s): s is string => s !== undefined && s !== 'null'))].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${list("'self'", 'data:', 'blob:', tiles)}`,
    `connect-src ${list("'self'", opts.wsOrigin, prescription)}`,
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

/** A file name in the build (Vite's hashed assets): nothing that could leave the folder. */
const ASSET = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Serves the built dashboard (`dir`, default the dashboard package's `dist/web`) at `/`: `index.html` (not
 * cached) and `assets/*` (hashed names, cached for good); any other GET that asks for a page gets the app
 * (it keeps its own state in the URL's hash), everything else the gateway's 404. Without a build, `/` says
 * how to make one. Each of these answers carries the {@link dashboardCsp} of `config` (and of the prescription
 * service's URL, asked per request: the demo knows it only once the service listens).
 */
export function registerDashboard(app: FastifyInstance, opts: { config: Config; dir?: string | undefined; prescriptionUrl?: (() => string | undefined) | undefined }): void {
  const dir = opts.dir ?? DASHBOARD_DIST;
  const d = opts.config.gateway.dashboard;
  app.register(fastifyStatic, { root: dir, serve: false, suppressWarning: true, cacheControl: false });
  const secure = (req: FastifyRequest, reply: FastifyReply): FastifyReply =>
    reply
      .header('content-security-policy', dashboardCsp({ tileUrl: d.tileUrl, prescriptionUrl: opts.prescriptionUrl?.() ?? d.prescriptionUrl, wsOrigin: wsOrigin(req) }))
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
  const index = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    secure(req, reply);
    if (!existsSync(join(dir, 'index.html'))) return reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(NOT_BUILT);
    return reply.header('cache-control', 'no-cache').sendFile('index.html', dir);
  };
  app.register(async (web) => {
    web.get('/', { schema: { hide: true } }, async (req, reply) => index(req, reply));
    web.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (req, reply) => {
      if (!ASSET.test(req.params.file) || !existsSync(join(dir, 'assets', req.params.file))) return reply.callNotFound();
      return secure(req, reply).header('cache-control', 'public, max-age=31536000, immutable').sendFile(req.params.file, join(dir, 'assets'));
    });
    // the single page for any other page request (a bookmarked or reloaded URL); API paths keep their JSON 404
    web.get('/*', { schema: { hide: true } }, async (req, reply) => {
      const path = req.url.split('?')[0] ?? '';
      const page = !/^\/(api|ws|metrics|healthz|assets)(\/|$)/.test(path) && !/\.[a-z0-9]+$/i.test(path) && (req.headers.accept ?? '').includes('text/html');
      return page ? index(req, reply) : reply.callNotFound();
    });
  });
}
