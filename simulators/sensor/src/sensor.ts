/**
 * A field station: weather from {@link Climate}, soil from simple physics
 * (a 10 cm bucket wetted by rain, drained above field capacity, dried by
 * evaporation; soil temperature lagging the air and held near 0 °C under
 * winter snow), a solar-charged battery, and a fixed, surveyed position.
 * One sample per simulated minute.
 */
import { EventQueue, roundTo, type DeviceModel, type LonLat, type ModelEvent, type Rng, type SampleBody } from '@hatake/simkit';
import { Climate } from './climate.ts';

export interface SensorParams {
  readonly location: LonLat;
  /** Metres above the ellipsoid. */
  readonly altitude?: number;
}

const FIELD_CAPACITY = 36;
const SATURATION = 48;
const WILTING = 8;
const SNOW_MONTHS = new Set([12, 1, 2, 3]);

export class SensorModel implements DeviceModel<'sensor'> {
  readonly kind = 'sensor' as const;
  readonly periodMs = 60_000;
  private readonly rng: Rng;
  private readonly climate: Climate;
  private readonly location: LonLat;
  private readonly altitude: number;
  private moisture: number;
  private soilTemp: number | undefined;
  private charge: number;
  private dropoutLeft = 0;
  private lowBattery = false;
  private readonly events = new EventQueue();
  private readonly sats: number;

  constructor(params: SensorParams, rng: Rng) {
    this.rng = rng;
    this.location = params.location;
    this.altitude = params.altitude ?? 40;
    this.climate = new Climate(rng.fork('climate'), params.location[1], params.location[0]);
    this.moisture = rng.uniform(24, 34);
    this.charge = rng.uniform(0.6, 0.95);
    this.sats = rng.int(9, 14);
  }

  drainEvents(): ModelEvent[] {
    return this.events.drain();
  }

  gnssDropout(seconds: number): void {
    this.dropoutLeft = Math.max(this.dropoutLeft, seconds);
  }

  step(dtS: number, simTimeMs: number): SampleBody<'sensor'> {
    const w = this.climate.step(dtS, simTimeMs);
    const dtH = dtS / 3600;
    const frozen = SNOW_MONTHS.has(w.month) && w.meanTemp < 0;
    // soil temperature at 10 cm: lags the air by hours; under snow it stays near freezing
    const target = frozen ? Math.max(-1, w.meanTemp * 0.1) : w.airTemp * 0.6 + w.meanTemp * 0.4;
    this.soilTemp = this.soilTemp === undefined ? target : this.soilTemp + (target - this.soilTemp) * (1 - Math.exp(-dtH / 8));
    // soil water: rain in, drainage above field capacity, evaporation out
    if (!frozen) {
      this.moisture += w.rainMm * 0.9;
      if (this.moisture > FIELD_CAPACITY) this.moisture -= (this.moisture - FIELD_CAPACITY) * (1 - Math.exp(-dtH / 12));
      this.moisture -= 0.0009 * w.solar * Math.max(0.1, Math.min(1, w.airTemp / 20)) * dtH * 0.6;
    }
    this.moisture = Math.min(SATURATION, Math.max(WILTING, this.moisture));
    // battery: small panel charges by day, the logger drains steadily
    this.charge = Math.min(1, Math.max(0, this.charge + (w.solar / 1000) * 0.05 * dtH - 0.004 * dtH));
    const battery = 3.45 + 0.72 * this.charge + this.rng.normal(0, 0.004);
    if (battery < 3.6 && !this.lowBattery) {
      this.lowBattery = true;
      this.events.push({ type: 'low_battery', severity: 'warning', message: `battery at ${battery.toFixed(2)} V`, data: { battery: roundTo(battery, 2) } });
    } else if (battery > 3.75) this.lowBattery = false;

    let position = {};
    if (this.dropoutLeft > 0) this.dropoutLeft = Math.max(0, this.dropoutLeft - dtS);
    else position = { lat: this.location[1], lon: this.location[0], alt: this.altitude, hdop: 0.9, sats: this.sats, speed: 0, heading: 0 };
    return {
      fix: this.dropoutLeft > 0 || Object.keys(position).length === 0 ? 'none' : 'gps',
      ...position,
      soilMoisture: roundTo(this.moisture + this.rng.normal(0, 0.1), 1),
      soilTemp: roundTo(this.soilTemp, 2),
      airTemp: roundTo(w.airTemp, 2),
      humidity: roundTo(w.humidity, 1),
      rain: roundTo(w.rainMm, 2),
      wind: roundTo(w.wind, 1),
      solar: roundTo(w.solar, 0),
      battery: roundTo(battery, 3),
    };
  }
}
