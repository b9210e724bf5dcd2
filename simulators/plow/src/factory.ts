import { SimError, type ModelFactory } from '@hatake/simkit';
import { PlowModel } from './plow.ts';

/** Builds the model of a configured plow (its route, assigned roads, blade and spreader). */
export const createPlowModel: ModelFactory<'plow'> = (device, config, rng) => {
  if (!device.route || !device.plow) throw new SimError('HATAKE_ERR_SIM_DEVICE_CONFIG', `plow ${device.id} has no route in the configuration`);
  return new PlowModel({ roads: config.roads, route: device.route, assigned: device.assigned ?? [], spec: device.plow, ...(device.home ? { home: device.home } : {}) }, rng);
};
