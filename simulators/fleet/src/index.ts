/**
 * The whole simulated fleet: tractors, plows and field stations.
 */
import type { Config } from '@hatake/config';
import { buildFleet as buildWith, type Fleet, type FleetOptions, type ModelFactories } from '@hatake/simkit';
import { createPlowModel } from '@hatake/plow';
import { createSensorModel } from '@hatake/sensor';
import { createTractorModel } from '@hatake/tractor';

/** Every kind hatake simulates. */
export const ALL_MODELS: ModelFactories = { tractor: createTractorModel, plow: createPlowModel, sensor: createSensorModel };

/** Builds a fleet of every configured device (or a selection; see {@link FleetOptions}). Not yet connected. */
export function buildFleet(config: Config, opts: FleetOptions): Fleet {
  return buildWith(config, opts, ALL_MODELS);
}

export type { Fleet, FleetOptions } from '@hatake/simkit';
