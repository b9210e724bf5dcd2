export * from './climate.ts';
export * from './sensor.ts';
export * from './factory.ts';
