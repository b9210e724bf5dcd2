export * from './port.ts';
export * from './errors.ts';
export * from './fields.ts';
export { InfluxStore } from './influx/store.ts';
export { EmbeddedStore } from './embedded/store.ts';
export { literal as influxLiteral, ident as influxIdent } from './influx/v1.ts';
export * from './create.ts';
/** The line the influx adapter writes for a sample (benchmarks serialize with it). */
export { sampleLine } from './records.ts';
