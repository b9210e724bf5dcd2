/**
 * The web dashboard: its built files at `/` (no sign-in for the files — the
 * data behind them needs it), and `GET /api/v1/map`, the base map it draws:
 * the field boundaries of the farms the user may see, the road network, and
 * a tile layer only when one is configured (`gateway.dashboard.tileUrl`).
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
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

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>hatake dashboard not built</title>
<body style="font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;line-height:1.5">
<h1>The dashboard is not built yet</h1>
<p>Build it once, from the repository: <code>${DASHBOARD_BUILD_COMMAND}</code> (<code>pnpm start</code> builds it for you).
The gateway serves it here as soon as it exists — no restart needed.</p>
<p>The REST API is at <a href="api/v1/openapi.json">api/v1/openapi.json</a>.</p>`;

/** A file name in the build (Vite's hashed assets): nothing that could leave the folder. */
const ASSET = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Serves the built dashboard (`dir`, default the dashboard package's `dist/web`) at `/`: `index.html` (not
 * cached) and `assets/*` (hashed names, cached for good); any other GET that asks for a page gets the app
 * (it keeps its own state in the URL's hash), everything else the gateway's 404. Without a build, `/` says
 * how to make one.
 */
export function registerDashboard(app: FastifyInstance, dir: string = DASHBOARD_DIST): void {
  app.register(fastifyStatic, { root: dir, serve: false, suppressWarning: true, cacheControl: false });
  const index = (reply: FastifyReply): FastifyReply => {
    if (!existsSync(join(dir, 'index.html'))) return reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(NOT_BUILT);
    return reply.header('cache-control', 'no-cache').sendFile('index.html', dir);
  };
  app.register(async (web) => {
    web.get('/', { schema: { hide: true } }, async (_req, reply) => index(reply));
    web.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (req, reply) => {
      if (!ASSET.test(req.params.file) || !existsSync(join(dir, 'assets', req.params.file))) return reply.callNotFound();
      return reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(req.params.file, join(dir, 'assets'));
    });
    // the single page for any other page request (a bookmarked or reloaded URL); API paths keep their JSON 404
    web.get('/*', { schema: { hide: true } }, async (req, reply) => {
      const path = req.url.split('?')[0] ?? '';
      const page = !/^\/(api|ws|metrics|healthz|assets)(\/|$)/.test(path) && !/\.[a-z0-9]+$/i.test(path) && (req.headers.accept ?? '').includes('text/html');
      return page ? index(reply) : reply.callNotFound();
    });
  });
}
