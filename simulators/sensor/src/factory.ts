import { SimError, type ModelFactory } from '@hatake/simkit';
import { SensorModel } from './sensor.ts';

/** Builds the model of a configured field station (its surveyed location). */
export const createSensorModel: ModelFactory<'sensor'> = (device, _config, rng) => {
  if (!device.location) throw new SimError('HATAKE_ERR_SIM_DEVICE_CONFIG', `sensor ${device.id} has no location (set location, or a field to stand in)`);
  return new SensorModel({ location: device.location }, rng);
};
