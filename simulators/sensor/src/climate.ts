/**
 * A small weather generator for Iwamizawa (43.2° N, 141.8° E, JST): monthly
 * normal temperatures with a daily cycle and slow anomalies, clouds, rain
 * spells, wind, humidity from a slowly varying dew point, and clear-sky solar
 * radiation from the sun's elevation. Deterministic from its random stream.
 */
import type { Rng } from '@hatake/simkit';

/** Monthly mean air temperature, °C (JMA normals for Iwamizawa, rounded). */
const MONTHLY_MEAN_C = [-6.0, -5.4, -1.2, 5.4, 11.9, 16.3, 20.2, 21.3, 17.0, 10.3, 3.4, -2.9];
/** Half the mean daily range, °C. */
const MONTHLY_HALF_RANGE_C = [3.5, 4.0, 4.5, 5.5, 5.5, 5.0, 4.5, 4.5, 5.0, 5.0, 4.0, 3.5];
const JST_OFFSET_H = 9;

export interface WeatherNow {
  readonly airTemp: number;
  readonly humidity: number;
  readonly rainMm: number;
  readonly wind: number;
  readonly solar: number;
  /** Air temperature smoothed over the last day (drives soil temperature and snow). */
  readonly meanTemp: number;
  readonly hourJst: number;
  readonly month: number;
}

function dayOfYear(d: Date): number {
  return Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 0)) / 86_400_000);
}

/** Monthly normal interpolated to the day (values sit mid-month). */
function seasonal(table: readonly number[], doy: number): number {
  const pos = ((doy - 15.5) / 30.44 + 12) % 12;
  const i = Math.floor(pos);
  const f = pos - i;
  return table[i]! * (1 - f) + table[(i + 1) % 12]! * f;
}

/** Clear-sky global horizontal irradiance, W/m², from the sun's elevation. */
export function clearSkySolar(timeMs: number, latDeg: number, lonDeg: number): number {
  const d = new Date(timeMs);
  const doy = dayOfYear(d);
  const decl = ((23.44 * Math.PI) / 180) * Math.sin((2 * Math.PI * (284 + doy)) / 365);
  const utcHours = d.getUTCHours() + d.getUTCMinutes() / 60 + d.getUTCSeconds() / 3600;
  const solarHour = utcHours + lonDeg / 15;
  const hourAngle = ((15 * (solarHour - 12)) * Math.PI) / 180;
  const lat = (latDeg * Math.PI) / 180;
  const sinElev = Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(hourAngle);
  if (sinElev <= 0) return 0;
  return 1098 * sinElev * Math.exp(-0.057 / sinElev);
}

/** Ornstein–Uhlenbeck step towards `mean` with time constant `tauH` and stationary spread `sd`. */
function ou(x: number, mean: number, sd: number, tauH: number, dtH: number, rng: Rng): number {
  const phi = Math.exp(-dtH / tauH);
  return mean + (x - mean) * phi + sd * Math.sqrt(1 - phi * phi) * rng.normal();
}

export class Climate {
  private readonly rng: Rng;
  private readonly lat: number;
  private readonly lon: number;
  private anomaly: number;
  private cloud: number;
  private raining = false;
  private intensity = 0;
  private wind: number;
  private depression: number;
  private meanTemp: number | undefined;

  constructor(rng: Rng, lat: number, lon: number) {
    this.rng = rng;
    this.lat = lat;
    this.lon = lon;
    this.anomaly = rng.normal(0, 2);
    this.cloud = rng.uniform(0.2, 0.8);
    this.wind = rng.uniform(1.5, 4);
    this.depression = rng.uniform(2, 6);
  }

  /** Advances the weather by `dtS` seconds to `timeMs` and reads it. */
  step(dtS: number, timeMs: number): WeatherNow {
    const rng = this.rng;
    const dtH = dtS / 3600;
    const d = new Date(timeMs);
    const doy = dayOfYear(d);
    const hourJst = (d.getUTCHours() + JST_OFFSET_H + d.getUTCMinutes() / 60) % 24;
    this.anomaly = ou(this.anomaly, 0, 2.5, 48, dtH, rng);
    this.cloud = Math.min(1, Math.max(0, ou(this.cloud, 0.55, 0.3, 6, dtH, rng)));
    if (this.raining) {
      if (rng.chance(1 - Math.exp(-0.25 * dtH))) this.raining = false;
    } else if (rng.chance(1 - Math.exp(-0.02 * (1 + 2 * this.cloud) * dtH))) {
      this.raining = true;
      this.intensity = Math.exp(rng.normal(Math.log(1.2), 0.7));
    }
    const base = seasonal(MONTHLY_MEAN_C, doy) + this.anomaly;
    const half = seasonal(MONTHLY_HALF_RANGE_C, doy) * (1 - 0.5 * this.cloud);
    const airTemp = base + half * Math.cos((2 * Math.PI * (hourJst - 14.5)) / 24) + rng.normal(0, 0.1);
    this.meanTemp = this.meanTemp === undefined ? airTemp : this.meanTemp + (airTemp - this.meanTemp) * (1 - Math.exp(-dtH / 24));
    this.depression = Math.max(0.3, ou(this.depression, this.raining ? 1 : 4, 1.5, 6, dtH, rng));
    const dew = base - this.depression - half * 0.3;
    const sat = (t: number): number => Math.exp((17.62 * t) / (243.12 + t));
    const humidity = Math.min(100, Math.max(15, (100 * sat(Math.min(dew, airTemp))) / sat(airTemp)));
    this.wind = Math.max(0, ou(this.wind, 2.8 + 1.4 * Math.cos((2 * Math.PI * (hourJst - 14)) / 24), 1.3, 2, dtH, rng));
    const wind = Math.max(0, this.wind + Math.abs(rng.normal(0, 0.4)));
    const solar = clearSkySolar(timeMs, this.lat, this.lon) * (1 - 0.75 * this.cloud ** 3.4) * (this.raining ? 0.35 : 1);
    return {
      airTemp,
      humidity,
      rainMm: this.raining ? this.intensity * dtH * Math.max(0.2, 1 + rng.normal(0, 0.3)) : 0,
      wind,
      solar: Math.max(0, solar + (solar > 0 ? rng.normal(0, 8) : 0)),
      meanTemp: this.meanTemp,
      hourJst,
      month: d.getUTCMonth() + 1,
    };
  }
}
