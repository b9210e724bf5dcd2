/**
 * A scripted plow morning on the test deployment's roads, for track-review
 * tests: p1 at 10 m/s and 1 Hz drives road ra east with the blade down, rb
 * north with it up, rc east with it down, then stops.
 */
import { examplePlowSample, type PlowSample } from '@hatake/protocol';

/** A storm night's noon in Iwamizawa (03:00 UTC), when the scripted morning starts. */
export const PLOW_MORNING_T0 = Date.UTC(2026, 0, 15, 3, 0, 0);

/** The morning's samples as store records of p1, one per second from `t0`. */
export function plowMorning(t0 = PLOW_MORNING_T0): { kind: 'plow'; device: string; sample: PlowSample }[] {
  const legs = [
    { from: [141.77, 43.19], to: [141.775, 43.19], heading: 90, blade: 'down' as const },
    { from: [141.775, 43.19], to: [141.775, 43.194], heading: 0, blade: 'up' as const },
    { from: [141.775, 43.194], to: [141.78, 43.194], heading: 90, blade: 'down' as const },
  ];
  const out: { kind: 'plow'; device: string; sample: PlowSample }[] = [];
  let seq = 0;
  for (const leg of legs) {
    const dx = (leg.to[0]! - leg.from[0]!) * 111_320 * Math.cos((43.19 * Math.PI) / 180);
    const dy = (leg.to[1]! - leg.from[1]!) * 111_132;
    const steps = Math.round(Math.hypot(dx, dy) / 10);
    for (let i = 0; i < steps; i++) {
      const f = i / steps;
      out.push({ kind: 'plow', device: 'p1', sample: examplePlowSample({ seq, t: t0 + seq * 1000, lon: leg.from[0]! + (leg.to[0]! - leg.from[0]!) * f, lat: leg.from[1]! + (leg.to[1]! - leg.from[1]!) * f, speed: 10, heading: leg.heading, blade: leg.blade, spread: leg.blade === 'down' ? 20 : 0, material: leg.blade === 'down' ? 'salt' : 'none', width: 3 }) });
      seq++;
    }
  }
  const last = out[out.length - 1]!.sample;
  out.push({ kind: 'plow', device: 'p1', sample: examplePlowSample({ ...last, seq, t: last.t + 1000, lon: 141.78, speed: 0 }) });
  return out;
}
