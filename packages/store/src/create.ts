import { resolve } from 'node:path';
import type { Config } from '@hatake/config';
import type { Logger } from '@hatake/runtime';
import { EmbeddedStore } from './embedded/store.ts';
import { InfluxStore } from './influx/store.ts';
import type { TelemetryStore } from './port.ts';

/** The store the configuration asks for (not yet started). An embedded file named `:memory:` keeps nothing on disk. */
export function createStore(config: Config, deps: { logger: Logger }): TelemetryStore {
  return config.store.adapter === 'influx'
    ? new InfluxStore(config.store.influx, deps)
    : new EmbeddedStore(config.store.embedded.file === ':memory:' ? ':memory:' : resolve(config.deployment.dataDir, config.store.embedded.file), deps);
}
