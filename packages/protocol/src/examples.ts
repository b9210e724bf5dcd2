/**
 * Valid example messages, one per schema: the README's snippets and the
 * starting point of every test that needs a good message to break.
 */
import type { Command, CommandAck } from './schemas/command.ts';
import type { DeviceEvent } from './schemas/event.ts';
import type { Heartbeat } from './schemas/service.ts';
import type { DeviceState } from './schemas/state.ts';
import type { PlowSample, SensorSample, TractorSample } from './schemas/telemetry.ts';

const T0 = Date.UTC(2026, 10, 23, 1, 0, 0); // 10:00 JST

/** A tractor sample on a field at Kitamura, Iwamizawa. */
export function exampleTractorSample(overrides: Partial<TractorSample> = {}): TractorSample {
  return {
    t: T0,
    seq: 0,
    fix: 'rtk_fixed',
    lat: 43.2312,
    lon: 141.7023,
    alt: 41.2,
    hdop: 0.7,
    sats: 19,
    speed: 2.4,
    heading: 87.5,
    mode: 'auto',
    rpm: 2100,
    fuel: 76.5,
    implement: 'lowered',
    sections: [true, true, true, true, true, true, true, true],
    rate: 40,
    rssi: -71,
    rtt: 23,
    ...overrides,
  };
}

/** A plow sample on a road in Iwamizawa. */
export function examplePlowSample(overrides: Partial<PlowSample> = {}): PlowSample {
  return {
    t: T0,
    seq: 0,
    fix: 'rtk_fixed',
    lat: 43.1963,
    lon: 141.7757,
    alt: 18.4,
    hdop: 0.8,
    speed: 8.3,
    heading: 181,
    blade: 'down',
    spread: 20,
    material: 'sand',
    width: 3.2,
    ...overrides,
  };
}

/** A field-sensor sample. */
export function exampleSensorSample(overrides: Partial<SensorSample> = {}): SensorSample {
  return {
    t: T0,
    seq: 0,
    fix: 'gps',
    lat: 43.2331,
    lon: 141.7047,
    alt: 40.1,
    hdop: 1.1,
    speed: 0,
    heading: 0,
    soilMoisture: 31.5,
    soilTemp: 6.2,
    airTemp: 4.8,
    humidity: 81,
    rain: 0,
    wind: 3.1,
    solar: 212,
    battery: 3.92,
    ...overrides,
  };
}

/** A retained online state. */
export function exampleState(overrides: Partial<DeviceState> = {}): DeviceState {
  return { v: 1, online: true, t: T0, mode: 'auto', firmware: 'sim-1.0.0', ...overrides };
}

/** A last will: offline, no time (written at connect time). */
export function exampleWill(): DeviceState {
  return { v: 1, online: false, reason: 'connection_lost' };
}

/** An alarm event. */
export function exampleEvent(overrides: Partial<DeviceEvent> = {}): DeviceEvent {
  return { v: 1, t: T0, type: 'low_fuel', severity: 'warning', message: 'fuel below 10 %', lat: 43.2312, lon: 141.7023, data: { fuel: 9.5 }, ...overrides };
}

/** A pause command valid for 30 s. */
export function exampleCommand(overrides: Partial<Command> = {}): Command {
  return { v: 1, id: 'c-0001', type: 'pause', issuer: 'op-kitamura', issuedAt: T0, expiresAt: T0 + 30_000, ...overrides };
}

/** An acceptance of {@link exampleCommand}. */
export function exampleAck(overrides: Partial<CommandAck> = {}): CommandAck {
  return { v: 1, id: 'c-0001', t: T0 + 40, status: 'accepted', ...overrides };
}

/** A supervisor heartbeat. */
export function exampleHeartbeat(overrides: Partial<Heartbeat> = {}): Heartbeat {
  return { v: 1, t: T0, seq: 1, source: 'gateway', interval: 1000, watchers: 1, ...overrides };
}

/** Example time origin, exported so tests can reason about skew. */
export const EXAMPLE_T0 = T0;
