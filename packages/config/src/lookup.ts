/**
 * Lookups over a loaded configuration, indexed once per config object.
 */
import type { FieldDef, RoadDef } from './geo.ts';
import type { Config, DeviceDef, ServiceDef, UserDef } from './load.ts';

interface Index {
  readonly devices: ReadonlyMap<string, DeviceDef>;
  readonly services: ReadonlyMap<string, ServiceDef>;
  readonly users: ReadonlyMap<string, UserDef>;
  readonly fields: ReadonlyMap<string, FieldDef>;
  readonly roads: ReadonlyMap<string, RoadDef>;
}

const indexes = new WeakMap<Config, Index>();

function indexOf(config: Config): Index {
  let index = indexes.get(config);
  if (!index) {
    index = {
      devices: new Map(config.devices.map((d) => [d.id, d])),
      services: new Map(config.services.map((s) => [s.username, s])),
      users: new Map(config.users.map((u) => [u.username, u])),
      fields: new Map(config.farms.flatMap((f) => f.fields.map((field) => [`${f.id}/${field.id}`, field] as const))),
      roads: new Map(config.roads.map((r) => [r.id, r])),
    };
    indexes.set(config, index);
  }
  return index;
}

/** The device with this id, if configured. */
export function findDevice(config: Config, id: string): DeviceDef | undefined {
  return indexOf(config).devices.get(id);
}
/** The service account with this username, if configured. */
export function findService(config: Config, username: string): ServiceDef | undefined {
  return indexOf(config).services.get(username);
}
/** The user with this username, if configured. */
export function findUser(config: Config, username: string): UserDef | undefined {
  return indexOf(config).users.get(username);
}
/** A field by farm and field id. */
export function findField(config: Config, farm: string, field: string): FieldDef | undefined {
  return indexOf(config).fields.get(`${farm}/${field}`);
}
/** A road by id. */
export function findRoad(config: Config, id: string): RoadDef | undefined {
  return indexOf(config).roads.get(id);
}

/** The configured device a message from `kind`/`id` comes from, or why it does not belong to this deployment. */
export function deviceOfMessage(config: Config, kind: DeviceDef['kind'], id: string): { readonly device: DeviceDef } | { readonly reason: string } {
  const device = findDevice(config, id);
  if (!device) return { reason: `device ${id} is not in the configuration` };
  if (device.kind !== kind) return { reason: `device ${id} is a ${device.kind}, not a ${kind}` };
  return { device };
}
