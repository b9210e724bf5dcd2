/**
 * Roles and farm scopes: what each user may see and do.
 *
 * | role | sees | may command |
 * | --- | --- | --- |
 * | admin | every device | every machine |
 * | operator | the devices of its farms | its farms' tractors |
 * | agronomist | the devices of its farms | nothing |
 * | viewer | the devices of its farms | nothing |
 * | road_crew | plows (devices without a farm) | nothing |
 *
 * A user's `farms` scope lists farm ids, or `*` for all farms.
 */
export const ROLES = ['admin', 'operator', 'agronomist', 'road_crew', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** The parts of a user that decide access. */
export interface AccessSubject {
  readonly username: string;
  readonly roles: readonly Role[];
  readonly farms: readonly string[];
}

/** The parts of a device that decide access. */
export interface AccessObject {
  readonly kind: 'tractor' | 'plow' | 'sensor';
  readonly farm?: string;
}

const FARM_ROLES: readonly Role[] = ['operator', 'agronomist', 'viewer'];

function inScope(user: AccessSubject, farm: string): boolean {
  return user.farms.includes('*') || user.farms.includes(farm);
}

/**
 * What a user may see, as farms rather than devices (for queries over many
 * devices): undefined for everything (admin); otherwise the farms (`'*'`: any)
 * and whether the devices without a farm (plows) are included.
 */
export function visibilityScope(user: AccessSubject): { readonly farms: readonly string[] | '*'; readonly farmless: boolean } | undefined {
  if (user.roles.includes('admin')) return undefined;
  const farmRole = user.roles.some((r) => FARM_ROLES.includes(r));
  return { farms: !farmRole ? [] : user.farms.includes('*') ? '*' : user.farms, farmless: user.roles.includes('road_crew') };
}

/** True when `user` may see `device`'s data. */
export function canSee(user: AccessSubject, device: AccessObject): boolean {
  const scope = visibilityScope(user);
  if (!scope) return true;
  if (device.farm === undefined) return scope.farmless;
  return scope.farms === '*' || scope.farms.includes(device.farm);
}

/** True when `user` may send commands to `device` (checked again for leases by the gateway). */
export function canCommand(user: AccessSubject, device: AccessObject): boolean {
  if (user.roles.includes('admin')) return true;
  return device.kind === 'tractor' && device.farm !== undefined && user.roles.includes('operator') && inScope(user, device.farm);
}

/** True when `user` may see something of `farm` at all. */
export function canSeeFarm(user: AccessSubject, farm: string): boolean {
  return user.roles.includes('admin') || (user.roles.some((r) => FARM_ROLES.includes(r)) && inScope(user, farm));
}
