/**
 * Pieces every vehicle model reports the same way: rounding as a device
 * would, the queue of events since the last step, and the position block of a
 * sample read through the GNSS receiver.
 */
import type { GnssReading } from './gnss.ts';
import type { ModelEvent } from './model.ts';
import type { Rng } from './rng.ts';

/** Rounds to `digits` decimals, as a device serialising a float would. */
export function roundTo(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Events raised since the model was last asked. */
export class EventQueue {
  private events: ModelEvent[] = [];

  push(e: ModelEvent): void {
    this.events.push(e);
  }

  /** Returns and forgets the queued events. */
  drain(): ModelEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }
}

export interface PositionFields {
  readonly lat?: number;
  readonly lon?: number;
  readonly alt?: number;
  readonly hdop?: number;
  readonly sats?: number;
  readonly speed?: number;
  readonly heading?: number;
}

/**
 * The position block of a sample: nothing without a fix; otherwise the
 * receiver's position with ground speed and course over ground, noisy while
 * moving (`speedSd` m/s, `headingSd` degrees), exact at rest.
 */
export function positionFields(reading: GnssReading, motion: { readonly speed: number; readonly heading: number }, rng: Rng, noise: { readonly speedSd: number; readonly headingSd: number }): PositionFields {
  if (reading.fix === 'none') return {};
  const moving = motion.speed > 0.05;
  return {
    lat: reading.lat!,
    lon: reading.lon!,
    alt: reading.alt!,
    hdop: reading.hdop!,
    sats: reading.sats!,
    speed: roundTo(Math.max(0, motion.speed + (moving ? rng.normal(0, noise.speedSd) : 0)), 2),
    heading: roundTo((motion.heading + (moving ? rng.normal(0, noise.headingSd) : 0) + 360) % 360, 1) % 360,
  };
}
