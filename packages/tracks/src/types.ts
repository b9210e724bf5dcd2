/**
 * The shapes shared across track review: a vehicle's samples as a track, and
 * the road network.
 */

/** Blade position of a plow; tractors and plows without a blade report 'none'. */
export type Blade = 'up' | 'down' | 'none';

/** One sample of a vehicle's track, in time order. Position fields are absent without a fix. */
export interface TrackPoint {
  /** Device time, ms since the epoch. */
  readonly t: number;
  readonly lon?: number | undefined;
  readonly lat?: number | undefined;
  /** Ground speed, m/s. */
  readonly speed?: number | undefined;
  /** Course over ground, degrees clockwise from north. */
  readonly heading?: number | undefined;
  /** GNSS fix quality as the wire protocol names it ('none', 'gps', 'dgps', 'rtk_float', 'rtk_fixed', …). */
  readonly fix?: string | undefined;
  readonly blade: Blade;
  /** Spreader rate, g/m² (0 when off). */
  readonly spread?: number | undefined;
  /** Material in the spreader ('none', 'salt', 'sand', 'brine', 'salt_sand'). */
  readonly material?: string | undefined;
  /** Effective plow width, m. */
  readonly width?: number | undefined;
}

/** A vehicle's track: its id, kind, and samples sorted by time. */
export interface Track {
  readonly device: string;
  readonly kind: 'plow' | 'tractor';
  readonly points: readonly TrackPoint[];
}

/** A road of the network as configured: a LineString with id, name and priority class (1 = highest). */
export interface Road {
  readonly id: string;
  readonly name: string;
  readonly class: number;
  /** [lon, lat] positions, WGS84. */
  readonly coordinates: readonly (readonly [number, number])[];
}
