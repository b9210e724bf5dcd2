/**
 * Track review over REST: a vehicle's track (GeoJSON, GPX, CSV, KML), its
 * trips and stops, shift reports, road coverage, storm compliance and
 * contractor reconciliation — thin over @hatake/tracks, reading the store.
 * Plows are seen by road crews and admins; tractors by their farm's users.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { canSee, visibilityScope } from '@hatake/auth';
import type { Config, DeviceDef } from '@hatake/config';
import { ID_PATTERN } from '@hatake/protocol';
import type { TelemetryStore } from '@hatake/store';
import {
  EXPORT_FORMATS,
  RoadNetwork,
  TracksError,
  coverageGeoJSON,
  exportTrack,
  parseClaims,
  parseRoadNetwork,
  reconcile,
  roadCoverage,
  shiftReport,
  shiftReportCsv,
  simplifyTrack,
  stormReport,
  stormReportCsv,
  trackFromRows,
  tripsAndStops,
  unservicedGeoJSON,
  type Track,
} from '@hatake/tracks';
import { GatewayError } from './errors.ts';
import { DeviceParams, TIME, errors } from './schemas.ts';
import { timeWindow } from './time.ts';

/** What the routes need from the gateway. */
export interface TrackRoutesContext {
  readonly config: Config;
  readonly store: TelemetryStore;
  readonly now: () => number;
  /** The device, or 404 / 403. */
  readonly visibleDevice: (req: FastifyRequest, id: string) => DeviceDef;
  /** Runs a store request; a failure is a 503. */
  readonly storeCall: <T>(work: () => Promise<T>) => Promise<T>;
}

const Window = { from: Type.Optional(Type.String({ pattern: TIME, description: 'start: ISO 8601 with a zone, or epoch ms' })), to: Type.Optional(Type.String({ pattern: TIME, description: 'end (exclusive); default now' })) };
const Devices = Type.Optional(Type.String({ pattern: `^${ID_PATTERN.slice(1, -1)}(,${ID_PATTERN.slice(1, -1)})*$`, description: 'comma-separated device ids (default: every plow you may see)' }));

const TrackQuery = Type.Object({ ...Window, format: Type.Optional(Type.Enum(EXPORT_FORMATS, { default: 'geojson' })), simplify: Type.Optional(Type.Number({ minimum: 0, maximum: 1000, description: 'Douglas–Peucker tolerance in metres; blade changes are always kept' })), split: Type.Optional(Type.Boolean({ description: 'one line per part (blade state, data gaps)' })) }, { additionalProperties: false });
const TripsQuery = Type.Object({ ...Window, stopSpeed: Type.Optional(Type.Number({ minimum: 0, maximum: 10, description: 'm/s' })), minStop: Type.Optional(Type.Number({ minimum: 1, maximum: 86_400, description: 's' })), maxGap: Type.Optional(Type.Number({ minimum: 1, maximum: 86_400, description: 's' })) }, { additionalProperties: false });
const ShiftQuery = Type.Object({ ...Window, devices: Devices, format: Type.Optional(Type.Enum(['json', 'csv'] as const)) }, { additionalProperties: false });
const CoverageQuery = Type.Object({ ...Window, devices: Devices, segmentLength: Type.Optional(Type.Number({ minimum: 5, maximum: 1000, description: 'm (default 50)' })) }, { additionalProperties: false });
const StormQuery = Type.Object({ ...Window, devices: Devices, stormEnd: Type.Optional(Type.String({ pattern: TIME, description: 'end of the storm (default: to)' })), levels: Type.Optional(Type.String({ pattern: '^[1-5]:\\d+(\\.\\d+)?(,[1-5]:\\d+(\\.\\d+)?)*$', description: 'service levels as class:hours, e.g. 1:4,2:12' })), format: Type.Optional(Type.Enum(['json', 'csv', 'geojson'] as const, { description: 'geojson: the unserviced segments' })) }, { additionalProperties: false });
const ReconcileQuery = Type.Object({ offset: Type.Optional(Type.String({ pattern: '^[+-]\\d{2}:\\d{2}$', description: 'UTC offset for claim times without one, e.g. +09:00' })) }, { additionalProperties: false });

/**
 * What a GeoJSON track shows of each sample: position (with its fix) and blade state. A day at 1 Hz is a heavy
 * read, so the rest stays in the store — the spreader too: GeoJSON does not show it, so its changes are not pinned
 * when simplifying (GPX, CSV and KML show it, read every field and keep them).
 */
export const TRACK_GEOJSON_FIELDS = ['lat', 'lon', 'fix', 'blade'] as const;
/** What road matching needs of each sample (coverage, storm, reconciliation). */
export const TRACK_MATCH_FIELDS = ['lat', 'lon', 'fix', 'blade', 'speed', 'heading'] as const;

/** A TracksError is the caller's to fix: 400 with its message. */
function tracksCall<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof TracksError) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', err.message, [`${err.code}: ${err.message}`]);
    throw err;
  }
}

/** Registers the track-review routes on the signed-in scope of the API. */
export function registerTrackRoutes(secured: FastifyInstance, ctx: TrackRoutesContext): void {
  const { config } = ctx;
  const api = config.gateway.api;
  const networks = new Map<number, RoadNetwork>();
  // the configured roads were checked when the config loaded; a network per segment length, built once
  const networkOf = (segmentLengthM = 50): RoadNetwork => {
    let n = networks.get(segmentLengthM);
    if (!n) {
      const roads = tracksCall(() => parseRoadNetwork({ type: 'FeatureCollection', features: config.roads.map((r) => ({ type: 'Feature', properties: { id: r.id, name: r.name, class: r.class }, geometry: r.geometry })) }));
      n = tracksCall(() => RoadNetwork.build(roads, { segmentLengthM }));
      networks.set(segmentLengthM, n);
    }
    return n;
  };
  const window = (q: { from?: string | undefined; to?: string | undefined }): { from: number; to: number } => timeWindow(q, ctx.now(), { rangeMinutes: api.defaultRangeMinutes, maxRangeDays: api.maxRangeDays });

  /** Every sample of a vehicle in the window (only `fields` of each, when given), or 400 when there are more than the gateway serves at once. */
  const trackOf = async (d: DeviceDef, from: number, to: number, fields?: readonly string[]): Promise<Track> => {
    if (d.kind === 'sensor') throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `${d.id} is a sensor: it has no track`);
    const rows = await ctx.storeCall(() => ctx.store.samples({ kind: d.kind, device: d.id, from, to, limit: api.maxPoints + 1, ...(fields ? { fields } : {}) }));
    if (rows.length > api.maxPoints) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `${d.id} has more than ${api.maxPoints} samples between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}: ask for a shorter window`);
    return trackFromRows(d.id, d.kind, rows as unknown as Record<string, unknown>[]);
  };
  /** The plows asked for (each visible), or every plow the user may see; 403 when the user sees no plows. */
  const plowsOf = (req: FastifyRequest, devices: string | undefined): DeviceDef[] => {
    const scope = visibilityScope(req.user!);
    if (devices !== undefined) {
      return devices.split(',').map((id) => {
        const d = ctx.visibleDevice(req, id);
        if (d.kind !== 'plow') throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `${id} is a ${d.kind}, not a plow`);
        return d;
      });
    }
    if (scope !== undefined && !scope.farmless) throw new GatewayError('HATAKE_ERR_GATEWAY_FORBIDDEN', 'road review is for road crews: your roles cover no plows');
    return config.devices.filter((d) => d.kind === 'plow' && d.group === undefined && canSee(req.user!, d));
  };
  // contractor claims arrive as CSV text
  secured.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string', bodyLimit: 5 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  /** The tracks of several vehicles, two reads at a time: a day of 1 Hz per vehicle is a heavy query, and twenty at once would make each outlast the store's timeout. */
  const tracksOf = async (list: DeviceDef[], from: number, to: number): Promise<Track[]> => {
    const out = new Array<Track>(list.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length) {
        const i = next++;
        out[i] = await trackOf(list[i]!, from, to, TRACK_MATCH_FIELDS);
      }
    };
    await Promise.all([worker(), worker()]);
    return out;
  };

  secured.get<{ Params: DeviceParams; Querystring: Static<typeof TrackQuery> }>(
    '/api/v1/devices/:id/track',
    { schema: { summary: "A vehicle's path with per-point time: GeoJSON (a LineString with a parallel timestamps array, or parts by blade state and data gaps), GPX, CSV or KML; simplified in metres, never dropping blade changes", tags: ['tracks'], params: DeviceParams, querystring: TrackQuery, response: errors(400, 401, 403, 404, 503) } },
    async (req, reply) => {
      const d = ctx.visibleDevice(req, req.params.id);
      const { from, to } = window(req.query);
      const format = req.query.format ?? 'geojson';
      let track = await trackOf(d, from, to, format === 'geojson' ? TRACK_GEOJSON_FIELDS : undefined);
      if (req.query.simplify) {
        const tol = req.query.simplify;
        track = tracksCall(() => simplifyTrack(track, tol));
      }
      const file = tracksCall(() => exportTrack(track, format, { split: req.query.split ?? false, name: d.name ?? d.id }));
      const stamp = new Date(from).toISOString().slice(0, 16).replace(/[:T]/g, '');
      return reply.header('content-type', file.contentType).header('content-disposition', `inline; filename="${d.id}-${stamp}.${file.extension}"`).send(file.body);
    },
  );

  secured.get<{ Params: DeviceParams; Querystring: Static<typeof TripsQuery> }>(
    '/api/v1/devices/:id/trips',
    { schema: { summary: "A vehicle's trips, stops and data gaps", tags: ['tracks'], params: DeviceParams, querystring: TripsQuery, response: errors(400, 401, 403, 404, 503) } },
    async (req) => {
      const d = ctx.visibleDevice(req, req.params.id);
      const { from, to } = window(req.query);
      const track = await trackOf(d, from, to);
      const q = req.query;
      return { device: d.id, from, to, ...tracksCall(() => tripsAndStops(track, { ...(q.stopSpeed !== undefined ? { stopSpeedMps: q.stopSpeed } : {}), ...(q.minStop !== undefined ? { minStopS: q.minStop } : {}), ...(q.maxGap !== undefined ? { maxGapS: q.maxGap } : {}) })) };
    },
  );

  secured.get<{ Querystring: Static<typeof ShiftQuery> }>(
    '/api/v1/reports/shifts',
    { schema: { summary: 'Shift reports per vehicle: km driven, with the blade down and deadheading; hours working, idle, in transit; salt spread; speeds (JSON or CSV)', tags: ['tracks'], querystring: ShiftQuery, response: errors(400, 401, 403, 404, 503) } },
    async (req, reply) => {
      const { from, to } = window(req.query);
      const list = plowsOf(req, req.query.devices);
      const reports = (await tracksOf(list, from, to)).map((t) => tracksCall(() => shiftReport(t, { from, to })));
      if (req.query.format === 'csv') return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="shifts.csv"').send(shiftReportCsv(reports));
      return { from, to, reports };
    },
  );

  secured.get<{ Querystring: Static<typeof CoverageQuery> }>(
    '/api/v1/roads/coverage',
    { schema: { summary: 'Road segments as GeoJSON with the last pass, passes per direction and the vehicles that served them (blade down only)', tags: ['roads'], querystring: CoverageQuery, response: errors(400, 401, 403, 404, 503) } },
    async (req, reply) => {
      const { from, to } = window(req.query);
      const network = networkOf(req.query.segmentLength);
      const tracks = await tracksOf(plowsOf(req, req.query.devices), from, to);
      const result = tracksCall(() => roadCoverage(network, tracks, { from, to }));
      const fc = coverageGeoJSON(result);
      return reply.header('content-type', 'application/geo+json').send({ ...fc, from: new Date(from).toISOString(), to: new Date(to).toISOString(), unmatched: result.unmatched.length, unmatchedSamples: result.unmatched.slice(0, 1000) });
    },
  );

  secured.get<{ Querystring: Static<typeof StormQuery> }>(
    '/api/v1/roads/storm',
    { schema: { summary: 'Storm compliance from `from` (the storm start): share of each class serviced within its service level, worst breaches, never-serviced segments, time to first pass (JSON, CSV, or GeoJSON of the unserviced)', tags: ['roads'], querystring: StormQuery, response: errors(400, 401, 403, 404, 503) } },
    async (req, reply) => {
      const { from, to } = window(req.query);
      const stormEnd = req.query.stormEnd !== undefined ? window({ from: String(from), to: req.query.stormEnd }).to : to;
      const levels = req.query.levels ? Object.fromEntries(req.query.levels.split(',').map((kv) => kv.split(':').map(Number) as [number, number])) : undefined;
      const tracks = await tracksOf(plowsOf(req, req.query.devices), from, to);
      const report = tracksCall(() => stormReport(roadCoverage(networkOf(), tracks, { from, to }), { stormStart: from, stormEnd, ...(levels ? { levels } : {}) }));
      if (req.query.format === 'csv') return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="storm.csv"').send(stormReportCsv(report));
      if (req.query.format === 'geojson') return reply.header('content-type', 'application/geo+json').send(unservicedGeoJSON(report));
      return report;
    },
  );

  secured.post<{ Querystring: Static<typeof ReconcileQuery>; Body: string }>(
    '/api/v1/roads/reconcile',
    { schema: { summary: "A contractor's claimed work lines (CSV: vehicle,start,end,claimed_hours,claimed_km,route) against what the GPS shows: each line matches, differs (by how much), or has no GPS evidence", tags: ['roads'], querystring: ReconcileQuery, consumes: ['text/csv'], response: errors(400, 401, 403, 404, 503) } },
    async (req) => {
      if (typeof req.body !== 'string') throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', 'send the claims as text/csv');
      const body = req.body;
      const claims = tracksCall(() => parseClaims(body, req.query.offset ? { defaultOffset: req.query.offset } : {}));
      const tracks = new Map<string, Track>();
      for (const id of new Set(claims.map((c) => c.vehicle))) {
        const d = ctx.visibleDevice(req, id);
        const from = Math.min(...claims.filter((c) => c.vehicle === id).map((c) => c.start));
        const to = Math.max(...claims.filter((c) => c.vehicle === id).map((c) => c.end));
        if (to - from > api.maxRangeDays * 86_400_000) throw new GatewayError('HATAKE_ERR_GATEWAY_BAD_REQUEST', `the claims of ${id} span more than ${api.maxRangeDays} days: send them in parts`);
        tracks.set(id, await trackOf(d, from, to, TRACK_MATCH_FIELDS));
      }
      return { lines: tracksCall(() => reconcile(claims, tracks, networkOf())) };
    },
  );
}
