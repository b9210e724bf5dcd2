import { findField } from '@hatake/config';
import type { ModelFactory } from '@hatake/simkit';
import { TractorModel } from './tractor.ts';

/** Builds the model of a configured tractor (its field, implement and home). */
export const createTractorModel: ModelFactory<'tractor'> = (device, config, rng) => {
  const field = device.farm !== undefined && device.field !== undefined ? findField(config, device.farm, device.field) : undefined;
  if (!field || !device.tractor) throw new RangeError(`tractor ${device.id} has no field or implement in the configuration`);
  return new TractorModel({ field: field.boundary, spec: device.tractor, ...(device.home ? { home: device.home } : {}) }, rng);
};
