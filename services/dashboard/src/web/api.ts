/**
 * REST calls to the gateway that serves the dashboard, with the session
 * token; every error carries the gateway's code and message.
 */
import type { AlarmView, ArmedView, CommandParams, CommandView, DeviceView, LeaseView, MapView, Session } from './types.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** An API URL next to the page (the dashboard is served by the gateway, at any path). */
export function apiUrl(path: string, base: string = document.baseURI): string {
  return new URL(`api/v1/${path}`, base).href;
}

/** The live stream's URL next to the page. */
export function wsUrl(base: string = document.baseURI): string {
  const u = new URL('ws', base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

async function call<T>(method: string, path: string, token: string | undefined, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path), {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the gateway cannot be reached');
  }
  const json = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? `HTTP ${res.status}`);
  return json as T;
}

/** Signs in with the gateway's users. */
export function login(username: string, password: string): Promise<Session> {
  return call<Session>('POST', 'auth/login', undefined, { username, password });
}

/** The gateway's REST API for one session; a 401 ends the session. */
export class Api {
  private readonly token: string;
  private readonly onUnauthorized: () => void;

  constructor(token: string, onUnauthorized: () => void) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await call<T>(method, path, this.token, body);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.onUnauthorized();
      throw err;
    }
  }

  devices(): Promise<DeviceView[]> {
    return this.request<{ devices: DeviceView[] }>('GET', 'devices').then((r) => r.devices);
  }

  map(): Promise<MapView> {
    return this.request<MapView>('GET', 'map');
  }

  alarms(): Promise<AlarmView[]> {
    return this.request<{ alarms: AlarmView[] }>('GET', 'alarms?state=active').then((r) => r.alarms);
  }

  acknowledge(id: string): Promise<AlarmView> {
    return this.request<AlarmView>('POST', `alarms/${encodeURIComponent(id)}/ack`);
  }

  /** A command, or the first step of an armed one (`{ armed }`); a confirmation (`confirm`: the arm's id) runs what was armed. */
  command(device: string, type: string, opts: { confirm?: string; params?: CommandParams } = {}): Promise<CommandView | { armed: ArmedView }> {
    return this.request('POST', `devices/${encodeURIComponent(device)}/commands`, { type, ...(opts.params !== undefined ? { params: opts.params } : {}), ...(opts.confirm !== undefined ? { confirm: opts.confirm } : {}) });
  }

  estopAll(): Promise<CommandView[]> {
    return this.request<{ commands: CommandView[] }>('POST', 'estop', {}).then((r) => r.commands);
  }

  lease(device: string): Promise<LeaseView> {
    return this.request<LeaseView>('GET', `devices/${encodeURIComponent(device)}/lease`);
  }

  leaseAction(device: string, action: 'take' | 'release' | 'takeover', reason?: string): Promise<LeaseView> {
    return this.request<LeaseView>('POST', `devices/${encodeURIComponent(device)}/lease`, { action, ...(reason !== undefined ? { reason } : {}) });
  }
}
