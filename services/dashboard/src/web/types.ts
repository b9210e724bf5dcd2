/**
 * The gateway's shapes as the dashboard reads them (REST replies and live
 * messages; see services/gateway/README.md). Written out here rather than
 * imported: the browser bundle carries no server code.
 */
import type { FeatureCollection, LineString, MultiPolygon, Polygon } from 'geojson';

export type DeviceKind = 'tractor' | 'plow' | 'sensor';

export interface User {
  readonly username: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly farms: readonly string[];
}

export interface Session {
  readonly token: string;
  readonly expiresAt: number;
  readonly user: User;
}

export type Sample = Readonly<Record<string, unknown>> & { readonly t: number };

export interface DeviceView {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly name: string;
  readonly farm?: string;
  readonly field?: string;
  readonly online: boolean;
  readonly lastSeen?: number;
  readonly state?: { readonly t: number; readonly online: boolean; readonly mode?: string; readonly firmware?: string; readonly reason?: string };
  readonly last?: Sample;
}

/** A command's parameters (`set_speed`: `speed` in m/s; `start_mission`: `missionId`). */
export interface CommandParams {
  readonly speed?: number;
  readonly missionId?: string;
}

/** What the gateway streams for a command after each change. */
export interface CommandView {
  readonly id: string;
  readonly device: string;
  readonly type: string;
  readonly params?: CommandParams;
  readonly issuer: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly status: string;
  readonly reason?: string;
  readonly ackLatencyMs?: number;
  readonly doneLatencyMs?: number;
  readonly history: readonly { readonly status: string; readonly t: number; readonly reason?: string }[];
}

export interface ArmedView {
  readonly id: string;
  readonly device: string;
  readonly type: string;
  readonly expiresAt: number;
}

export interface LeaseView {
  readonly device: string;
  readonly holder: string | null;
  readonly since?: number;
  readonly renewedAt?: number;
  readonly lapsesAt?: number;
}

export interface AlarmView {
  readonly id: string;
  readonly type: string;
  readonly device: string;
  readonly kind: DeviceKind;
  readonly farm?: string;
  readonly message: string;
  readonly raisedAt: number;
  readonly acknowledgedAt?: number;
  readonly acknowledgedBy?: string;
  readonly clearedAt?: number;
  readonly clearedBy?: string;
}

/** `GET /api/v1/map`: what the base map draws. */
export interface MapView {
  readonly fields: FeatureCollection<Polygon | MultiPolygon, { id: string; name: string; farm: string; areaHa: number }>;
  readonly roads: FeatureCollection<LineString, { id: string; name: string; class: number }>;
  readonly tiles: { readonly url: string; readonly attribution: string; readonly maxZoom: number } | null;
  /** The prescription service's URL for the browser, or null (no Prescriptions view). */
  readonly prescriptionUrl?: string | null;
}

/** Server → client messages of the live stream the dashboard uses. */
export type LiveMessage =
  | { type: 'hello'; user: User; serverTime: number; devices: { id: string; kind: DeviceKind; name: string; farm?: string }[]; states: Record<string, { state: { online?: boolean; mode?: string }; receivedAt: number }> }
  | { type: 'telemetry'; device: string; kind: DeviceKind; samples: Sample[]; replay?: string }
  | { type: 'state'; device: string; state: { online?: boolean; mode?: string }; receivedAt: number }
  | { type: 'event'; device: string; event: { t: number; type: string; severity: string; message?: string } }
  | { type: 'command'; command: CommandView }
  | { type: 'lease'; lease: LeaseView; why: string }
  | { type: 'alarm'; phase: 'raised' | 'acknowledged' | 'cleared'; alarm: AlarmView }
  | { type: 'pong'; t: number }
  | { type: 'subscribed' }
  | { type: 'dropped' }
  | { type: 'error'; code: string; message: string };

/** Commands that set a machine moving by itself: the gateway arms them first, then a confirmation issues them. */
export const ARMED_TYPES: ReadonlySet<string> = new Set(['resume', 'start_mission', 'return_home']);

/** `set_speed`'s bounds in the gateway's command schema, m/s (a machine may refuse part of the range: the simulated tractors take 0.5–3.5). */
export const SPEED_PARAM = { min: 0, max: 15 } as const;

/** The gateway's id pattern: what a `start_mission`'s `missionId` must match. */
export const MISSION_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';

/** Final command states (nothing more happens to the command). */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['rejected', 'completed', 'failed', 'expired']);

/** True when `user` may command `device` (the gateway checks again: operators of its farm, and admins; tractors only). */
export function mayCommand(user: User, device: { kind: DeviceKind; farm?: string }): boolean {
  if (device.kind !== 'tractor') return false;
  if (user.roles.includes('admin')) return true;
  return user.roles.includes('operator') && device.farm !== undefined && (user.farms.includes('*') || user.farms.includes(device.farm));
}
