/**
 * A local metric projection: transverse Mercator on WGS84 with scale 1 on a
 * central meridian through the data and y = 0 at its latitude, so x/y are
 * metres east/north of the centre. Within 50 km of the centre, distances and
 * areas are true to 3e-5 (scale k = 1 + x²/2R²), angles exactly (conformal).
 *
 * The same projection as proj4's `+proj=tmerc +k=1 +lon_0 +lat_0
 * +ellps=WGS84` (the tests compare them), written out here because a day of
 * 1 Hz samples must project in a few milliseconds and proj4 allocates per
 * point (~0.5 µs a point). Forward: within 2° of the central meridian the
 * classic series in Δλ (Snyder 1987, eqs. 8-9/8-10, Helmert's meridian arc),
 * 3 transcendental calls a point and within 3 µm of the exact answer; beyond,
 * and for the inverse, Krüger's series to n⁴ (Karney 2011, "Transverse
 * Mercator with an accuracy of a few nanometers", eqs. 35–36).
 */
import { TracksError } from './errors.ts';

/** A metric projection centred on (lon0, lat0): x east, y north, metres. */
export interface LocalProjection {
  readonly lon0: number;
  readonly lat0: number;
  /** WGS84 degrees → metres from the centre. */
  toXY(lon: number, lat: number): [number, number];
  /** Metres from the centre → WGS84 degrees. */
  toLonLat(x: number, y: number): [number, number];
  /** Many points at once into typed arrays (the fast path for whole tracks and networks). */
  toXYArrays(lons: ArrayLike<number>, lats: ArrayLike<number>): { x: Float64Array; y: Float64Array };
}

// WGS84
const A_AXIS = 6378137;
const F = 1 / 298.257223563;
const E2 = F * (2 - F);
const E = Math.sqrt(E2);
const N = F / (2 - F);
const N2 = N * N;
const N3 = N2 * N;
const N4 = N3 * N;
/** Rectifying radius: 2π·R_A is the meridian's length. */
const RA = (A_AXIS / (1 + N)) * (1 + N2 / 4 + N4 / 64);
const ALPHA = [
  N / 2 - (2 / 3) * N2 + (5 / 16) * N3 + (41 / 180) * N4,
  (13 / 48) * N2 - (3 / 5) * N3 + (557 / 1440) * N4,
  (61 / 240) * N3 - (103 / 140) * N4,
  (49561 / 161280) * N4,
] as const;
const BETA = [
  N / 2 - (2 / 3) * N2 + (37 / 96) * N3 - (1 / 360) * N4,
  (1 / 48) * N2 + (1 / 15) * N3 - (437 / 1440) * N4,
  (17 / 480) * N3 - (37 / 840) * N4,
  (4397 / 161280) * N4,
] as const;
const [A1, A2, A3, A4] = ALPHA;
/** Second eccentricity squared. */
const EP2 = E2 / (1 - E2);
/** Helmert's series for the meridian arc: M(φ) = H0·φ + Σ H2j·sin 2jφ. */
const H0 = RA;
const H2 = (-1.5 * (N - N3 / 8) * A_AXIS) / (1 + N);
const H4 = ((15 / 16) * (N2 - N4 / 4) * A_AXIS) / (1 + N);
const H6 = (-(35 / 48) * N3 * A_AXIS) / (1 + N);
const H8 = ((315 / 512) * N4 * A_AXIS) / (1 + N);
/** The series forward is used within this of the central meridian (radians) and below this latitude (degrees). */
const SERIES_MAX_DLAMBDA = 2 * (Math.PI / 180);
const SERIES_MAX_LAT = 85;

/** Meridian arc from the equator to φ, metres, given sin φ and cos φ. */
function meridianArc(phi: number, s: number, c: number): number {
  const s2 = 2 * s * c;
  const c2 = c * c - s * s;
  const s4 = 2 * s2 * c2;
  const c4 = c2 * c2 - s2 * s2;
  const s6 = s4 * c2 + c4 * s2;
  const s8 = 2 * s4 * c4;
  return H0 * phi + H2 * s2 + H4 * s4 + H6 * s6 + H8 * s8;
}
const [B1, B2, B3, B4] = BETA;
const RAD = Math.PI / 180;

/** tan of the conformal latitude from tan φ (Karney 2011 eq. 7). */
function tauPrime(tau: number): number {
  const s = Math.sqrt(1 + tau * tau);
  const sig = Math.sinh(E * Math.atanh((E * tau) / s));
  return tau * Math.sqrt(1 + sig * sig) - sig * s;
}

/** tan φ from tan of the conformal latitude, by Newton (Karney 2011 eqs. 19–21). */
function tauFromTauPrime(tp: number): number {
  let tau = tp;
  for (let i = 0; i < 8; i++) {
    const tpi = tauPrime(tau);
    const s = Math.sqrt(1 + tau * tau);
    const d = ((tp - tpi) / Math.sqrt(1 + tpi * tpi)) * ((1 + (1 - E2) * tau * tau) / ((1 - E2) * s));
    tau += d;
    if (Math.abs(d) < 1e-14 * Math.max(1, Math.abs(tau))) break;
  }
  return tau;
}

/**
 * ζ = ζ' + Σ αj sin 2jζ' for ζ' = xi + i·eta, returned through `out` as
 * [ξ, η]. Multiple angles by recurrence: 4 transcendental calls, not 16.
 */
function krueger(xi: number, eta: number, c1: number, c2: number, c3: number, c4: number, sign: number, out: Float64Array): void {
  const s = Math.sin(2 * xi);
  const c = Math.cos(2 * xi);
  const e = Math.exp(2 * eta);
  const sh = (e - 1 / e) / 2;
  const ch = (e + 1 / e) / 2;
  // sin/cos(2jξ), sinh/cosh(2jη) for j = 2..4
  const s2 = 2 * s * c;
  const cc2 = c * c - s * s;
  const s3 = s2 * c + cc2 * s;
  const cc3 = cc2 * c - s2 * s;
  const s4 = 2 * s2 * cc2;
  const cc4 = cc2 * cc2 - s2 * s2;
  const sh2 = 2 * sh * ch;
  const ch2 = ch * ch + sh * sh;
  const sh3 = sh2 * ch + ch2 * sh;
  const ch3 = ch2 * ch + sh2 * sh;
  const sh4 = 2 * sh2 * ch2;
  const ch4 = ch2 * ch2 + sh2 * sh2;
  out[0] = xi + sign * (c1 * s * ch + c2 * s2 * ch2 + c3 * s3 * ch3 + c4 * s4 * ch4);
  out[1] = eta + sign * (c1 * c * sh + c2 * cc2 * sh2 + c3 * cc3 * sh3 + c4 * cc4 * sh4);
}

/** The local projection centred on (lon0, lat0), degrees; the coverage and simplify code share it. */
export function localProjection(lon0: number, lat0: number): LocalProjection {
  if (!Number.isFinite(lon0) || !Number.isFinite(lat0) || Math.abs(lat0) >= 89 || Math.abs(lon0) > 180) {
    throw new TracksError('HATAKE_ERR_TRACKS_OPTIONS', `projection centre must be a lon in [-180, 180] and a lat in (-89, 89), got ${lon0}, ${lat0}`);
  }
  const lam0 = lon0 * RAD;
  const tmp = new Float64Array(2);
  // y of the centre latitude on the central meridian (η = 0)
  krueger(Math.atan(tauPrime(Math.tan(lat0 * RAD))), 0, A1, A2, A3, A4, 1, tmp);
  const y0 = RA * (tmp[0] ?? 0);

  const m0 = meridianArc(lat0 * RAD, Math.sin(lat0 * RAD), Math.cos(lat0 * RAD));

  function forward(lon: number, lat: number, out: Float64Array): void {
    let lam = lon * RAD - lam0;
    if (lam > Math.PI) lam -= 2 * Math.PI;
    else if (lam < -Math.PI) lam += 2 * Math.PI;
    if (lam <= SERIES_MAX_DLAMBDA && lam >= -SERIES_MAX_DLAMBDA && lat < SERIES_MAX_LAT && lat > -SERIES_MAX_LAT) {
      const phi = lat * RAD;
      const s = Math.sin(phi);
      const c = Math.cos(phi);
      const nu = A_AXIS / Math.sqrt(1 - E2 * s * s);
      const t = s / c;
      const tt = t * t;
      const cc = EP2 * c * c;
      const a = lam * c;
      const a2 = a * a;
      out[0] = nu * a * (1 + (a2 / 6) * (1 - tt + cc + (a2 / 20) * (5 - 18 * tt + tt * tt + 72 * cc - 58 * EP2)));
      out[1] =
        meridianArc(phi, s, c) - m0 + nu * t * a2 * (0.5 + (a2 / 24) * (5 - tt + 9 * cc + 4 * cc * cc + (a2 / 30) * (61 - 58 * tt + tt * tt + 600 * cc - 330 * EP2)));
      return;
    }
    const tp = tauPrime(Math.tan(lat * RAD));
    const cl = Math.cos(lam);
    const xip = Math.atan2(tp, cl);
    const etap = Math.asinh(Math.sin(lam) / Math.sqrt(tp * tp + cl * cl));
    krueger(xip, etap, A1, A2, A3, A4, 1, out);
    const xi = out[0] ?? 0;
    out[0] = RA * (out[1] ?? 0);
    out[1] = RA * xi - y0;
  }

  return {
    lon0,
    lat0,
    toXY(lon: number, lat: number): [number, number] {
      forward(lon, lat, tmp);
      return [tmp[0] ?? 0, tmp[1] ?? 0];
    },
    toLonLat(x: number, y: number): [number, number] {
      krueger((y + y0) / RA, x / RA, B1, B2, B3, B4, -1, tmp);
      const xip = tmp[0] ?? 0;
      const etap = tmp[1] ?? 0;
      const sh = Math.sinh(etap);
      const cx = Math.cos(xip);
      const tp = Math.sin(xip) / Math.sqrt(sh * sh + cx * cx);
      const lat = Math.atan(tauFromTauPrime(tp)) / RAD;
      let lon = lon0 + Math.atan2(sh, cx) / RAD;
      if (lon > 180) lon -= 360;
      else if (lon < -180) lon += 360;
      return [lon, lat];
    },
    toXYArrays(lons: ArrayLike<number>, lats: ArrayLike<number>): { x: Float64Array; y: Float64Array } {
      const n = Math.min(lons.length, lats.length);
      const x = new Float64Array(n);
      const y = new Float64Array(n);
      const out = new Float64Array(2);
      for (let i = 0; i < n; i++) {
        forward(lons[i] as number, lats[i] as number, out);
        x[i] = out[0] as number;
        y[i] = out[1] as number;
      }
      return { x, y };
    },
  };
}

/** The projection centred on the middle of the bounding box of [lon, lat] pairs (flat arrays); (0, 0) when empty. */
export function projectionForExtent(lons: ArrayLike<number>, lats: ArrayLike<number>): LocalProjection {
  let minLon = Infinity;
  let maxLon = -Infinity;
  let minLat = Infinity;
  let maxLat = -Infinity;
  const n = Math.min(lons.length, lats.length);
  for (let i = 0; i < n; i++) {
    const lo = lons[i] as number;
    const la = lats[i] as number;
    if (lo < minLon) minLon = lo;
    if (lo > maxLon) maxLon = lo;
    if (la < minLat) minLat = la;
    if (la > maxLat) maxLat = la;
  }
  return n === 0 ? localProjection(0, 0) : localProjection((minLon + maxLon) / 2, (minLat + maxLat) / 2);
}

/**
 * Ground distance in metres between two nearby WGS84 points: the ellipsoid's
 * meridian and prime-vertical radii at the mean latitude. Within 1e-6 of the
 * geodesic for steps under 10 km, which is what consecutive samples are.
 */
export function stepDistanceM(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const phi = ((lat1 + lat2) / 2) * RAD;
  const s = Math.sin(phi);
  const w = 1 - E2 * s * s;
  const nu = A_AXIS / Math.sqrt(w); // prime vertical radius
  const rho = (nu * (1 - E2)) / w; // meridian radius
  let dl = lon2 - lon1;
  if (dl > 180) dl -= 360;
  else if (dl < -180) dl += 360;
  const dx = dl * RAD * nu * Math.cos(phi);
  const dy = (lat2 - lat1) * RAD * rho;
  return Math.sqrt(dx * dx + dy * dy);
}
