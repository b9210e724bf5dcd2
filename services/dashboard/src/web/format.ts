/** How values read on screen (no DOM: unit-tested). */

/** An age in words: `0.4 s`, `12 s`, `3 min`, `2 h`. */
export function age(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** m/s as km/h with one decimal. */
export function speedKmh(v: unknown): string {
  return typeof v === 'number' ? `${(v * 3.6).toFixed(1)} km/h` : '—';
}

/** A latency in ms: `37 ms`, `1.2 s`. */
export function latency(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const FIX: Record<string, string> = { none: 'no fix', gps: 'GPS', dgps: 'DGPS', rtk_float: 'RTK float', rtk_fixed: 'RTK fixed' };

/** A GNSS fix with its HDOP and satellites when known. */
export function fix(sample: Readonly<Record<string, unknown>> | undefined): string {
  if (!sample) return '—';
  const f = typeof sample['fix'] === 'string' ? (FIX[sample['fix']] ?? sample['fix']) : '—';
  const extra = [typeof sample['hdop'] === 'number' ? `HDOP ${sample['hdop'].toFixed(1)}` : '', typeof sample['sats'] === 'number' ? `${sample['sats']} sats` : ''].filter(Boolean).join(', ');
  return extra ? `${f} (${extra})` : f;
}

/** A number with a unit, or a dash. */
export function unit(v: unknown, u: string, digits = 0): string {
  return typeof v === 'number' ? `${v.toFixed(digits)} ${u}`.trim() : '—';
}

/** A command's type as a person says it. */
export function commandName(type: string): string {
  return ({ estop: 'E-stop', return_home: 'Return home', set_speed: 'Set speed', start_mission: 'Start mission' } as Record<string, string>)[type] ?? type.charAt(0).toUpperCase() + type.slice(1);
}

/** A command as a person says it, with its parameters: `Set speed 3.6 km/h`, `Start mission spring-1`. */
export function commandLabel(c: { type: string; params?: { speed?: number; missionId?: string } }): string {
  const p = c.params;
  if (c.type === 'set_speed' && typeof p?.speed === 'number') return `${commandName(c.type)} ${speedKmh(p.speed)}`;
  if (c.type === 'start_mission' && typeof p?.missionId === 'string') return `${commandName(c.type)} ${p.missionId}`;
  return commandName(c.type);
}

/** km/h as typed by an operator → m/s with two decimals, or undefined when it is not a speed within `[min, max]` m/s. */
export function kmhToMps(text: string, bounds: { min: number; max: number }): number | undefined {
  const t = text.trim().replace(',', '.');
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(t)) return undefined;
  const mps = Math.round((Number(t) / 3.6) * 100) / 100;
  return mps >= bounds.min && mps <= bounds.max ? mps : undefined;
}

/** A command's state with its latency: `accepted · 24 ms`, `rejected: already running`. */
export function commandStatus(c: { status: string; reason?: string; ackLatencyMs?: number; doneLatencyMs?: number }): string {
  const ms = c.status === 'completed' || c.status === 'failed' ? c.doneLatencyMs : c.ackLatencyMs;
  const status = c.status.replace('_', ' ');
  if (c.reason && c.status !== 'accepted' && c.status !== 'completed') return `${status}${ms !== undefined ? ` · ${latency(ms)}` : ''}: ${c.reason}`;
  return ms !== undefined ? `${status} · ${latency(ms)}` : status;
}
