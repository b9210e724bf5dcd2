import { findField } from '@hatake/config';
import { SimError, type ModelFactory } from '@hatake/simkit';
import { TractorModel } from './tractor.ts';

/** Builds the model of a configured tractor (its field, implement and home). */
export const createTractorModel: ModelFactory<'tractor'> = (device, config, rng) => {
  const field = device.farm !== undefined && device.field !== undefined ? findField(config, device.farm, device.field) : undefined;
  if (!field || !device.tractor) throw new SimError('HATAKE_ERR_SIM_DEVICE_CONFIG', `tractor ${device.id} has no field or implement in the configuration`);
  return new TractorModel({ field: field.boundary, spec: device.tractor, ...(device.home ? { home: device.home } : {}) }, rng);
};
