/**
 * A fleet: the simulated devices of a configuration (or N synthetic ones for
 * load) in one process, each with its own seeded stream, credentials and
 * faults.
 */
import type { Config, DeviceDef } from '@hatake/config';
import type { DeviceKind } from '@hatake/protocol';
import type { Logger } from '@hatake/runtime';
import { SimDevice, emptyStats, type SimDeviceStats } from './device.ts';
import { SimError } from './errors.ts';
import type { Faults } from './faults.ts';
import type { DeviceModel } from './model.ts';
import { Rng } from './rng.ts';

export type ModelFactory<K extends DeviceKind> = (device: DeviceDef, config: Config, rng: Rng) => DeviceModel<K>;
export type ModelFactories = { readonly [K in DeviceKind]?: ModelFactory<K> };

/** Device passwords as the devices themselves know them. */
export interface DeviceSecrets {
  readonly devices: Readonly<Record<string, string>>;
  readonly groups: Readonly<Record<string, string>>;
}

export interface FleetOptions {
  readonly secrets: DeviceSecrets;
  readonly logger: Logger;
  /** Broker URL (default: the configuration's `mqtt.url`). */
  readonly url?: string;
  readonly only?: readonly string[];
  readonly kinds?: readonly DeviceKind[];
  /** Run this many members of the configured device groups instead of the named devices. */
  readonly synthetic?: number;
  readonly seed?: number;
  readonly batch?: number;
  readonly qos?: 0 | 1;
  readonly faults?: Faults;
  /** Devices that get the faults (default: all). */
  readonly faultDevices?: readonly string[];
  /** Simulated seconds per real second for sensors (default: the configuration's `simulation.sensorSpeedup`). */
  readonly sensorSpeedup?: number;
  /** How many devices connect at once when starting. */
  readonly connectConcurrency?: number;
}

/** Which devices a fleet runs. */
export function selectDevices(config: Config, opts: Pick<FleetOptions, 'only' | 'kinds' | 'synthetic'>): DeviceDef[] {
  const kindOk = (d: DeviceDef): boolean => !opts.kinds || opts.kinds.includes(d.kind);
  if (opts.synthetic !== undefined) {
    const groups = config.deviceGroups.filter((g) => !opts.kinds || opts.kinds.includes(g.kind));
    const members = groups.map((g) => config.devices.filter((d) => d.group === g.prefix));
    const out: DeviceDef[] = [];
    for (let i = 0; out.length < opts.synthetic && members.some((m) => i < m.length); i++) {
      for (const m of members) if (i < m.length && out.length < opts.synthetic) out.push(m[i]!);
    }
    if (out.length < opts.synthetic) throw new SimError('HATAKE_ERR_SIM_NO_DEVICES', `asked for ${opts.synthetic} synthetic devices; the configured groups have ${out.length}`);
    return out;
  }
  const named = config.devices.filter((d) => d.group === undefined && kindOk(d) && (!opts.only || opts.only.includes(d.id)));
  const unknown = (opts.only ?? []).filter((id) => !config.devices.some((d) => d.id === id));
  if (unknown.length > 0) throw new SimError('HATAKE_ERR_SIM_NO_DEVICES', `unknown device(s): ${unknown.join(', ')}`);
  if (named.length === 0) throw new SimError('HATAKE_ERR_SIM_NO_DEVICES', 'no device matches the selection');
  return named;
}

export class Fleet {
  readonly devices: readonly SimDevice<DeviceKind>[];
  private readonly concurrency: number;

  constructor(devices: readonly SimDevice<DeviceKind>[], concurrency: number) {
    this.devices = devices;
    this.concurrency = concurrency;
  }

  /** Starts every device, `concurrency` connections at a time. */
  async start(): Promise<void> {
    for (let i = 0; i < this.devices.length; i += this.concurrency) {
      await Promise.all(this.devices.slice(i, i + this.concurrency).map((d) => d.start()));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.stop()));
  }

  /** Totals over the fleet. */
  stats(): SimDeviceStats & { devices: number; connected: number } {
    const total: SimDeviceStats & { devices: number; connected: number } = { devices: this.devices.length, connected: 0, ...emptyStats() };
    for (const d of this.devices) {
      if (d.connected) total.connected++;
      for (const k of Object.keys(d.stats) as (keyof SimDeviceStats)[]) total[k] += d.stats[k];
    }
    return total;
  }
}

/** Builds the fleet (not yet connected). */
export function buildFleet(config: Config, opts: FleetOptions, factories: ModelFactories): Fleet {
  const selected = selectDevices(config, opts);
  const missing = selected.filter((d) => (d.group !== undefined ? opts.secrets.groups[d.group] : opts.secrets.devices[d.id]) === undefined);
  if (missing.length > 0) {
    throw new SimError('HATAKE_ERR_SIM_NO_SECRET', `no password for ${missing.length} device(s): ${missing.slice(0, 10).map((d) => d.group ?? d.id).join(', ')}${missing.length > 10 ? ', …' : ''}`);
  }
  const seed = opts.seed ?? config.simulation.seed;
  const devices = selected.map((d) => {
    const factory = factories[d.kind] as ModelFactory<DeviceKind> | undefined;
    if (!factory) throw new SimError('HATAKE_ERR_SIM_NO_MODEL', `this runner does not simulate ${d.kind}s (device ${d.id})`);
    const faulty = opts.faults && (!opts.faultDevices || opts.faultDevices.includes(d.id));
    return new SimDevice({
      id: d.id,
      kind: d.kind,
      password: (d.group !== undefined ? opts.secrets.groups[d.group] : opts.secrets.devices[d.id])!,
      mqtt: { url: opts.url ?? config.mqtt.url, protocolVersion: config.mqtt.protocolVersion as 4 | 5, keepaliveSeconds: config.mqtt.keepaliveSeconds, reconnectMs: config.mqtt.reconnectMs },
      model: factory(d, config, new Rng(seed, d.id)),
      rng: new Rng(seed, `${d.id}/runtime`),
      reconnectRng: new Rng(seed, `${d.id}/reconnect`),
      logger: opts.logger,
      ...(faulty ? { faults: opts.faults } : {}),
      batch: opts.batch ?? 1,
      qos: opts.qos ?? 1,
      speedup: d.kind === 'sensor' ? (opts.sensorSpeedup ?? config.simulation.sensorSpeedup) : 1,
      oversizeBytes: config.limits.maxPayloadBytes + 16 * 1024,
      maxBatch: Math.min(500, config.limits.maxBatchSamples),
    });
  });
  return new Fleet(devices, opts.connectConcurrency ?? 50);
}
