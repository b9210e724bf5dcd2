/**
 * A track as a file: GeoJSON, GPX 1.1, CSV or KML 2.2, whole or split into
 * parts (runs of one blade state without a data gap, see `partRanges`).
 *
 * Written straight into a growing byte buffer with hand-rolled number and
 * time formatting: a day at 1 Hz is 86,400 samples, and `JSON.stringify`,
 * `toISOString` and string concatenation each cost more than the whole budget.
 */
import { TracksError } from './errors.ts';
import { stepDistanceM } from './project.ts';
import { checkMaxGapS, partRanges } from './track.ts';
import type { Blade, Track, TrackPoint } from './types.ts';

/** A run of positioned samples of one blade state without a data gap. */
export interface TrackPart {
  readonly blade: Blade;
  /** Time of the first and last sample, ms. */
  readonly from: number;
  readonly to: number;
  readonly points: readonly TrackPoint[];
}

/** Options of {@link splitTrack}. */
export interface SplitOptions {
  /** A longer step between samples is a data gap, s (default 60). */
  readonly maxGapS?: number;
}

/** The file formats of {@link exportTrack}. */
export const EXPORT_FORMATS = ['geojson', 'gpx', 'csv', 'kml'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Options of {@link exportTrack}. */
export interface ExportOptions {
  /** One line/segment/placemark per part instead of one for the whole track (not for CSV, which is one row per sample). */
  readonly split?: boolean;
  /** A longer step between samples is a data gap, s (default 60). */
  readonly maxGapS?: number;
  /** Name of the track in the file (default: the device id). */
  readonly name?: string;
}

/** A file ready to send: body, MIME type and file extension (no dot). */
export interface ExportedFile {
  readonly body: string;
  readonly contentType: string;
  readonly extension: string;
}

/** The track's parts: split at blade changes (sharing the first sample of the new state) and at data gaps. */
export function splitTrack(track: Track, opts: SplitOptions = {}): TrackPart[] {
  const ranges = partRanges(track.points, checkMaxGapS(opts.maxGapS));
  const out: TrackPart[] = [];
  for (let k = 0; k < ranges.length; k += 2) {
    const s = ranges[k] as number;
    const e = ranges[k + 1] as number;
    const first = track.points[s] as TrackPoint;
    out.push({ blade: first.blade, from: first.t, to: (track.points[e] as TrackPoint).t, points: track.points.slice(s, e + 1) });
  }
  return out;
}

const CONTENT: Record<ExportFormat, { contentType: string; extension: string }> = {
  geojson: { contentType: 'application/geo+json', extension: 'geojson' },
  gpx: { contentType: 'application/gpx+xml', extension: 'gpx' },
  csv: { contentType: 'text/csv; charset=utf-8; header=present', extension: 'csv' },
  kml: { contentType: 'application/vnd.google-earth.kml+xml', extension: 'kml' },
};

/** Coordinates are written with 7 decimals (≈ 1 cm). */
const COORD_DP = 7;
/** The namespace of hatake's GPX extensions (blade, spreader). */
export const GPX_EXTENSION_NS = 'urn:hatake:track:1';

/** The track as a file in `format` (README "Exports" describes each). */
export function exportTrack(track: Track, format: ExportFormat, opts: ExportOptions = {}): ExportedFile {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `format must be one of ${EXPORT_FORMATS.join(', ')}, got ${String(format)}`);
  }
  const maxGapS = checkMaxGapS(opts.maxGapS);
  const name = opts.name ?? track.device;
  // one range [0, n-1] over positioned samples when not split: a view, not a copy
  const ranges = opts.split === true ? partRanges(track.points, maxGapS) : wholeRange(track.points);
  const sink = new Sink();
  if (format === 'geojson') writeGeoJson(sink, track, name, ranges, opts.split === true);
  else if (format === 'gpx') writeGpx(sink, track, name, ranges, opts.split === true);
  else if (format === 'kml') writeKml(sink, track, name, ranges, opts.split === true);
  else writeCsv(sink, track);
  return { body: sink.done(), ...CONTENT[format] };
}

/** Positioned samples when not split: [first, last] of them, or nothing. Positionless ones inside are skipped by the writers. */
function wholeRange(points: readonly TrackPoint[]): Int32Array {
  let s = -1;
  let e = -1;
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as TrackPoint;
    if (p.lon === undefined || p.lat === undefined) continue;
    if (s < 0) s = i;
    e = i;
  }
  return s < 0 ? new Int32Array(0) : Int32Array.of(s, e);
}

function pos(p: TrackPoint): boolean {
  return p.lon !== undefined && p.lat !== undefined;
}

function rangeLengthM(points: readonly TrackPoint[], s: number, e: number): number {
  let sum = 0;
  let prev: TrackPoint | undefined;
  for (let i = s; i <= e; i++) {
    const p = points[i] as TrackPoint;
    if (!pos(p)) continue;
    if (prev !== undefined) sum += stepDistanceM(prev.lon as number, prev.lat as number, p.lon as number, p.lat as number);
    prev = p;
  }
  return sum;
}

function countPositioned(points: readonly TrackPoint[], s: number, e: number): number {
  let c = 0;
  for (let i = s; i <= e; i++) if (pos(points[i] as TrackPoint)) c++;
  return c;
}

// ---------------------------------------------------------------- GeoJSON

function writeGeoJson(w: Sink, track: Track, name: string, ranges: Int32Array, split: boolean): void {
  const pts = track.points;
  if (!split) {
    const s = ranges[0] ?? 0;
    const e = ranges[1] ?? -1;
    w.ascii('{"type":"Feature","geometry":');
    geoJsonGeometry(w, pts, s, e);
    w.ascii('"properties":{"device":').text(JSON.stringify(track.device));
    w.ascii(',"kind":').text(JSON.stringify(track.kind)).ascii(',"name":').text(JSON.stringify(name));
    geoJsonSpan(w, pts, s, e);
    w.ascii('}}');
    return;
  }
  w.ascii('{"type":"FeatureCollection","features":[');
  for (let k = 0; k < ranges.length; k += 2) {
    const s = ranges[k] as number;
    const e = ranges[k + 1] as number;
    if (k > 0) w.byte(44);
    w.ascii('{"type":"Feature","geometry":');
    geoJsonGeometry(w, pts, s, e);
    w.ascii('"properties":{"device":').text(JSON.stringify(track.device)).ascii(',"part":').int(k / 2);
    w.ascii(',"blade":"').ascii((pts[s] as TrackPoint).blade).byte(34);
    geoJsonSpan(w, pts, s, e);
    w.ascii('}}');
  }
  w.ascii(']}');
}

/** `null,` / Point / LineString of the positioned samples in [s, e], with the trailing comma. */
function geoJsonGeometry(w: Sink, pts: readonly TrackPoint[], s: number, e: number): void {
  const count = countPositioned(pts, s, e);
  if (count === 0) {
    w.ascii('null,');
    return;
  }
  w.ascii(count === 1 ? '{"type":"Point","coordinates":' : '{"type":"LineString","coordinates":[');
  let first = true;
  for (let i = s; i <= e; i++) {
    const p = pts[i] as TrackPoint;
    if (!pos(p)) continue;
    if (!first) w.byte(44);
    first = false;
    w.byte(91).fixed(p.lon as number, COORD_DP).byte(44).fixed(p.lat as number, COORD_DP).byte(93);
  }
  w.ascii(count === 1 ? '},' : ']},');
}

/** from, to (ISO), lengthM and the timestamps (ms) of the positioned samples in [s, e]. */
function geoJsonSpan(w: Sink, pts: readonly TrackPoint[], s: number, e: number): void {
  if (e < s) {
    w.ascii(',"from":null,"to":null,"lengthM":0,"timestamps":[]');
    return;
  }
  w.ascii(',"from":"').iso((pts[s] as TrackPoint).t).ascii('","to":"').iso((pts[e] as TrackPoint).t);
  w.ascii('","lengthM":').fixed(rangeLengthM(pts, s, e), 2).ascii(',"timestamps":[');
  let first = true;
  for (let i = s; i <= e; i++) {
    const p = pts[i] as TrackPoint;
    if (!pos(p)) continue;
    if (!first) w.byte(44);
    first = false;
    w.fixed(p.t, 0);
  }
  w.byte(93);
}

// ---------------------------------------------------------------- GPX

function writeGpx(w: Sink, track: Track, name: string, ranges: Int32Array, split: boolean): void {
  const pts = track.points;
  w.ascii('<?xml version="1.0" encoding="UTF-8"?>\n');
  w.ascii('<gpx version="1.1" creator="hatake" xmlns="http://www.topografix.com/GPX/1/1"');
  w.ascii(' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"');
  w.ascii(' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2"');
  w.ascii(' xmlns:hatake="').ascii(GPX_EXTENSION_NS).byte(34);
  w.ascii(' xsi:schemaLocation="http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd');
  w.ascii(' http://www.garmin.com/xmlschemas/TrackPointExtension/v2 http://www.garmin.com/xmlschemas/TrackPointExtensionv2.xsd">\n');
  w.ascii('<metadata><name>').xml(name).ascii('</name>');
  const first = pts.find(pos);
  if (first !== undefined) w.ascii('<time>').iso(first.t).ascii('</time>');
  w.ascii('</metadata>\n<trk><name>').xml(name).ascii('</name><type>').xml(track.kind).ascii('</type>\n');
  for (let k = 0; k < ranges.length; k += 2) {
    const s = ranges[k] as number;
    const e = ranges[k + 1] as number;
    w.ascii('<trkseg>\n');
    for (let i = s; i <= e; i++) {
      const p = pts[i] as TrackPoint;
      if (!pos(p)) continue;
      w.ascii('<trkpt lat="').fixed(p.lat as number, COORD_DP).ascii('" lon="').fixed(p.lon as number, COORD_DP);
      w.ascii('"><time>').iso(p.t).ascii('</time><extensions>');
      if (p.speed !== undefined || p.heading !== undefined) {
        w.ascii('<gpxtpx:TrackPointExtension>');
        if (p.speed !== undefined) w.ascii('<gpxtpx:speed>').fixed(p.speed, 2).ascii('</gpxtpx:speed>');
        if (p.heading !== undefined) w.ascii('<gpxtpx:course>').fixed(p.heading, 1).ascii('</gpxtpx:course>');
        w.ascii('</gpxtpx:TrackPointExtension>');
      }
      w.ascii('<hatake:blade>').ascii(p.blade).ascii('</hatake:blade>');
      if (p.spread !== undefined) w.ascii('<hatake:spread>').fixed(p.spread, 2).ascii('</hatake:spread>');
      if (p.material !== undefined) w.ascii('<hatake:material>').xml(p.material).ascii('</hatake:material>');
      w.ascii('</extensions></trkpt>\n');
    }
    if (split) w.ascii('<extensions><hatake:blade>').ascii((pts[s] as TrackPoint).blade).ascii('</hatake:blade></extensions>\n');
    w.ascii('</trkseg>\n');
  }
  w.ascii('</trk>\n</gpx>\n');
}

// ---------------------------------------------------------------- KML

/** Line colours (KML aabbggrr): blade down blue, up grey, no blade orange. */
const KML_STYLES: Record<Blade, { color: string; width: number }> = {
  down: { color: 'ffff6600', width: 4 },
  up: { color: 'ff999999', width: 2 },
  none: { color: 'ff008cff', width: 3 },
};

function writeKml(w: Sink, track: Track, name: string, ranges: Int32Array, split: boolean): void {
  w.ascii('<?xml version="1.0" encoding="UTF-8"?>\n');
  w.ascii('<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">\n<Document><name>').xml(name).ascii('</name>\n');
  for (const blade of ['down', 'up', 'none'] as const) {
    const st = KML_STYLES[blade];
    w.ascii('<Style id="blade-').ascii(blade).ascii('"><LineStyle><color>').ascii(st.color).ascii('</color><width>').int(st.width);
    w.ascii('</width></LineStyle><IconStyle><color>').ascii(st.color).ascii('</color></IconStyle></Style>\n');
  }
  w.ascii('<Style id="track"><LineStyle><color>').ascii(KML_STYLES.down.color).ascii('</color><width>3</width></LineStyle></Style>\n');
  // Folder 1: what a map shows — a LineString (Point for a lone fix) per part, styled by blade
  w.ascii('<Folder><name>').xml(name).ascii('</name>\n');
  for (let k = 0; k < ranges.length; k += 2) kmlPlacemark(w, track, name, ranges[k] as number, ranges[k + 1] as number, split, k / 2, false);
  w.ascii('</Folder>\n');
  // Folder 2 (hidden): the same parts as gx:Track with a <when> per sample, for the time slider and round trips
  w.ascii('<Folder><name>').xml(name).ascii(' (timed)</name><visibility>0</visibility>\n');
  for (let k = 0; k < ranges.length; k += 2) kmlPlacemark(w, track, name, ranges[k] as number, ranges[k + 1] as number, split, k / 2, true);
  w.ascii('</Folder>\n</Document>\n</kml>\n');
}

function kmlPlacemark(w: Sink, track: Track, name: string, s: number, e: number, split: boolean, part: number, timed: boolean): void {
  const pts = track.points;
  const blade = (pts[s] as TrackPoint).blade;
  const count = countPositioned(pts, s, e);
  w.ascii('<Placemark>');
  if (timed) w.ascii('<visibility>0</visibility>');
  w.ascii('<name>').xml(name);
  if (split) w.ascii(' #').int(part + 1).ascii(' blade ').ascii(blade);
  w.ascii('</name><TimeSpan><begin>').iso((pts[s] as TrackPoint).t).ascii('</begin><end>').iso((pts[e] as TrackPoint).t).ascii('</end></TimeSpan>');
  w.ascii(split ? '<styleUrl>#blade-' : '<styleUrl>#track').ascii(split ? blade : '').ascii('</styleUrl>');
  w.ascii('<ExtendedData><Data name="device"><value>').xml(track.device).ascii('</value></Data>');
  if (split) w.ascii('<Data name="part"><value>').int(part).ascii('</value></Data><Data name="blade"><value>').ascii(blade).ascii('</value></Data>');
  w.ascii('<Data name="lengthM"><value>').fixed(rangeLengthM(pts, s, e), 2).ascii('</value></Data></ExtendedData>\n');
  if (timed) {
    w.ascii('<gx:Track>');
    for (let i = s; i <= e; i++) if (pos(pts[i] as TrackPoint)) w.ascii('<when>').iso((pts[i] as TrackPoint).t).ascii('</when>');
    w.byte(10);
    for (let i = s; i <= e; i++) {
      const p = pts[i] as TrackPoint;
      if (!pos(p)) continue;
      w.ascii('<gx:coord>').fixed(p.lon as number, COORD_DP).byte(32).fixed(p.lat as number, COORD_DP).ascii(' 0</gx:coord>');
    }
    w.ascii('</gx:Track>');
  } else {
    w.ascii(count === 1 ? '<Point><coordinates>' : '<LineString><tessellate>1</tessellate><coordinates>');
    let first = true;
    for (let i = s; i <= e; i++) {
      const p = pts[i] as TrackPoint;
      if (!pos(p)) continue;
      if (!first) w.byte(32);
      first = false;
      w.fixed(p.lon as number, COORD_DP).byte(44).fixed(p.lat as number, COORD_DP);
    }
    w.ascii(count === 1 ? '</coordinates></Point>' : '</coordinates></LineString>');
  }
  w.ascii('</Placemark>\n');
}

// ---------------------------------------------------------------- CSV

/** The CSV header (README "Exports" gives units). */
export const TRACK_CSV_COLUMNS = ['time', 'device', 'lat', 'lon', 'speed_kmh', 'heading_deg', 'blade', 'spread_g_m2', 'material', 'fix'] as const;

function writeCsv(w: Sink, track: Track): void {
  w.ascii(TRACK_CSV_COLUMNS.join(',')).ascii('\r\n');
  const device = csvField(track.device);
  for (const p of track.points) {
    w.iso(p.t).byte(44).text(device).byte(44);
    if (pos(p)) w.fixed(p.lat as number, COORD_DP).byte(44).fixed(p.lon as number, COORD_DP);
    else w.byte(44);
    w.byte(44);
    if (p.speed !== undefined) w.fixed(p.speed * 3.6, 2);
    w.byte(44);
    if (p.heading !== undefined) w.fixed(p.heading, 1);
    w.byte(44).ascii(p.blade).byte(44);
    if (p.spread !== undefined) w.fixed(p.spread, 2);
    w.byte(44);
    if (p.material !== undefined) w.csv(p.material);
    w.byte(44);
    if (p.fix !== undefined) w.csv(p.fix);
    w.ascii('\r\n');
  }
}

/** RFC 4180: quoted (quotes doubled) when it holds a comma, quote, CR or LF. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function xmlEscape(s: string): string {
  // XML 1.0 forbids most C0 controls even as references: they are dropped
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/[&<>"']/g, (c) => XML_ENTITIES[c] ?? c);
}
const XML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

// ---------------------------------------------------------------- byte sink

const encoder = new TextEncoder();
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9] as const;

/** A growing UTF-8 buffer with allocation-free number and time writers. */
class Sink {
  private buf = new Uint8Array(1 << 16);
  private at = 0;
  private day = NaN;
  private readonly dayPrefix = new Uint8Array(16);
  private dayPrefixLen = 0;
  private readonly escaped = new Map<string, string>();

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    grown.set(this.buf.subarray(0, this.at));
    this.buf = grown;
  }

  byte(b: number): this {
    this.room(1);
    this.buf[this.at++] = b;
    return this;
  }

  /** A string known to be ASCII (constants, blade states). */
  ascii(s: string): this {
    this.room(s.length);
    const b = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) b[at++] = s.charCodeAt(i);
    this.at = at;
    return this;
  }

  /** Any string, UTF-8 encoded. */
  text(s: string): this {
    this.room(s.length * 3);
    this.at += encoder.encodeInto(s, this.buf.subarray(this.at)).written;
    return this;
  }

  /** `s` escaped by `escape`, cached: few distinct values repeat per sample (a sink writes one format, so one cache). */
  private escapedBy(s: string, escape: (s: string) => string): string {
    let e = this.escaped.get(s);
    if (e === undefined) {
      e = escape(s);
      this.escaped.set(s, e);
    }
    return e;
  }

  /** XML character data / attribute value. */
  xml(s: string): this {
    return this.text(this.escapedBy(s, xmlEscape));
  }

  /** A CSV field (RFC 4180 quoting). */
  csv(s: string): this {
    return this.text(this.escapedBy(s, csvField));
  }

  /** A non-negative integer below 2^53. */
  int(n: number): this {
    if (n >= 1e9) {
      // two int32 halves: digit loops on small integers stay in fast integer arithmetic
      const high = Math.floor(n / 1e9);
      this.int(high);
      return this.digits(n - high * 1e9, 9);
    }
    let digits = 1;
    for (let m = n; m >= 10; m = (m / 10) | 0) digits++;
    return this.digits(n, digits);
  }

  /** `n` (0 ≤ n < 1e9) as exactly `count` digits, zero-padded. */
  private digits(n: number, count: number): this {
    this.room(count);
    const b = this.buf;
    let k = this.at + count;
    this.at = k;
    let m = n;
    while (count-- > 0) {
      const q = (m / 10) | 0;
      b[--k] = 48 + (m - q * 10);
      m = q;
    }
    return this;
  }

  /** A number rounded to `dp` (≤ 9) decimals, trailing zeros dropped; non-finite as 0. */
  fixed(v: number, dp: number): this {
    if (!Number.isFinite(v)) return this.byte(48);
    const scale = POW10[dp] ?? 1;
    if (Math.abs(v) * scale >= Number.MAX_SAFE_INTEGER) return this.ascii(String(v)); // never for real telemetry
    const n = Math.round(Math.abs(v) * scale);
    if (v < 0 && n !== 0) this.byte(45);
    const ip = Math.floor(n / scale);
    let fp = n - ip * scale;
    this.int(ip);
    if (fp === 0) return this;
    let digits = dp;
    while (fp % 10 === 0) {
      fp /= 10;
      digits--;
    }
    return this.byte(46).digits(fp, digits);
  }

  /** ISO 8601 UTC time of epoch ms: `YYYY-MM-DDTHH:MM:SSZ`, with `.sss` only when the milliseconds are not 0. */
  iso(t: number): this {
    const ms = Math.round(t);
    const day = Math.floor(ms / 86_400_000);
    if (day !== this.day) {
      const s = new Date(day * 86_400_000).toISOString();
      const prefix = s.slice(0, s.indexOf('T') + 1);
      this.dayPrefix.set(encoder.encode(prefix));
      this.dayPrefixLen = prefix.length;
      this.day = day;
    }
    let r = ms - day * 86_400_000;
    const milli = r % 1000;
    r = (r - milli) / 1000;
    const sec = r % 60;
    r = (r - sec) / 60;
    const min = r % 60;
    const hour = (r - min) / 60;
    this.room(this.dayPrefixLen + 14);
    const b = this.buf;
    b.set(this.dayPrefix.subarray(0, this.dayPrefixLen), this.at);
    let at = this.at + this.dayPrefixLen;
    b[at++] = 48 + Math.floor(hour / 10);
    b[at++] = 48 + (hour % 10);
    b[at++] = 58;
    b[at++] = 48 + Math.floor(min / 10);
    b[at++] = 48 + (min % 10);
    b[at++] = 58;
    b[at++] = 48 + Math.floor(sec / 10);
    b[at++] = 48 + (sec % 10);
    if (milli !== 0) {
      b[at++] = 46;
      b[at++] = 48 + Math.floor(milli / 100);
      b[at++] = 48 + (Math.floor(milli / 10) % 10);
      b[at++] = 48 + (milli % 10);
    }
    b[at++] = 90;
    this.at = at;
    return this;
  }

  done(): string {
    return new TextDecoder().decode(this.buf.subarray(0, this.at));
  }
}
