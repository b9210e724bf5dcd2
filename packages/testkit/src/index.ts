export * from './deployment.ts';
export * from './processes.ts';
export * from './wait.ts';
export * from './readme.ts';
export * from './influxd.ts';
export * from './mosquitto.ts';
export * from './plow.ts';
