/**
 * Telemetry: `hatake/v1/{kind}/{deviceId}/telemetry`, QoS 0 or 1.
 *
 * A message carries one sample (`{ v, t, seq, ... }`) or a batch
 * (`{ v, samples: [{ t, seq, ... }, ...] }`).
 */
import Type, { type Static } from 'typebox';
import { PROTOCOL_MAX_BATCH, num, sampleBase, version } from './common.ts';

export const TRACTOR_MODES = ['manual', 'auto', 'paused', 'stopped', 'estop'] as const;
export type TractorMode = (typeof TRACTOR_MODES)[number];
export const IMPLEMENT_STATES = ['raised', 'lowered'] as const;
export const BLADE_STATES = ['up', 'down'] as const;
export const SPREAD_MATERIALS = ['none', 'salt', 'sand', 'brine', 'salt_sand'] as const;

/** Tractor-specific sample fields. */
export const tractorFields = {
  mode: Type.Enum(TRACTOR_MODES, { description: 'operating mode' }),
  rpm: num(0, 5000, { description: 'engine speed', unit: 'rpm' }),
  fuel: num(0, 100, { description: 'fuel level', unit: '%' }),
  implement: Type.Enum(IMPLEMENT_STATES, { description: 'implement (three-point hitch) position' }),
  sections: Type.Optional(
    Type.Array(Type.Boolean(), { minItems: 1, maxItems: 64, description: 'implement section states, left to right, true = on' }),
  ),
  rate: num(0, 5000, { description: 'applied rate of the implement', unit: 'kg/ha' }),
  rssi: Type.Optional(num(-150, 0, { description: 'cellular (local 5G) link received signal strength', unit: 'dBm' })),
  rtt: Type.Optional(num(0, 60_000, { description: 'link round-trip time to the supervisor', unit: 'ms' })),
} as const;

/** Snow-plow-specific sample fields. */
export const plowFields = {
  blade: Type.Enum(BLADE_STATES, { description: 'plow blade position; down means clearing' }),
  spread: num(0, 200, { description: 'spreader application rate (0 when off)', unit: 'g/m²' }),
  material: Type.Enum(SPREAD_MATERIALS, { description: 'material in the spreader' }),
  width: num(0.5, 12, { description: 'effective plow width', unit: 'm' }),
} as const;

/** Field-sensor-specific sample fields. Each is optional (a station has the instruments it has), but a sample has at least one. */
export const sensorFields = {
  soilMoisture: Type.Optional(num(0, 100, { description: 'volumetric soil water content', unit: '%' })),
  soilTemp: Type.Optional(num(-40, 60, { description: 'soil temperature at 10 cm', unit: '°C' })),
  airTemp: Type.Optional(num(-60, 60, { description: 'air temperature at 1.5 m', unit: '°C' })),
  humidity: Type.Optional(num(0, 100, { description: 'relative humidity', unit: '%' })),
  rain: Type.Optional(num(0, 500, { description: 'precipitation since the previous sample', unit: 'mm' })),
  wind: Type.Optional(num(0, 75, { description: 'mean wind speed', unit: 'm/s' })),
  solar: Type.Optional(num(0, 1500, { description: 'global solar radiation', unit: 'W/m²' })),
  battery: Type.Optional(num(0, 30, { description: 'battery voltage', unit: 'V' })),
} as const;

/** Sensor measurement field names, for the "at least one" rule. */
export const SENSOR_MEASUREMENTS = Object.keys(sensorFields) as (keyof typeof sensorFields)[];

export const TractorSample = Type.Object({ ...sampleBase, ...tractorFields }, { additionalProperties: false });
export const PlowSample = Type.Object({ ...sampleBase, ...plowFields }, { additionalProperties: false });
export const SensorSample = Type.Object({ ...sampleBase, ...sensorFields }, { additionalProperties: false });

export type TractorSample = Static<typeof TractorSample>;
export type PlowSample = Static<typeof PlowSample>;
export type SensorSample = Static<typeof SensorSample>;

function single<P extends Parameters<typeof Type.Object>[0]>(fields: P) {
  return Type.Object({ v: version, ...sampleBase, ...fields }, { additionalProperties: false });
}
function batch<S extends ReturnType<typeof Type.Object>>(sample: S) {
  return Type.Object(
    { v: version, samples: Type.Array(sample, { minItems: 1, maxItems: PROTOCOL_MAX_BATCH, description: 'samples in device-time order' }) },
    { additionalProperties: false },
  );
}

export const TractorTelemetrySingle = single(tractorFields);
export const TractorTelemetryBatch = batch(TractorSample);
export const PlowTelemetrySingle = single(plowFields);
export const PlowTelemetryBatch = batch(PlowSample);
export const SensorTelemetrySingle = single(sensorFields);
export const SensorTelemetryBatch = batch(SensorSample);

export const TractorTelemetry = Type.Union([TractorTelemetrySingle, TractorTelemetryBatch]);
export const PlowTelemetry = Type.Union([PlowTelemetrySingle, PlowTelemetryBatch]);
export const SensorTelemetry = Type.Union([SensorTelemetrySingle, SensorTelemetryBatch]);

export type TractorTelemetry = Static<typeof TractorTelemetry>;
export type PlowTelemetry = Static<typeof PlowTelemetry>;
export type SensorTelemetry = Static<typeof SensorTelemetry>;

