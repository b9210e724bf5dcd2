export * from './logger.ts';
export * from './ops-server.ts';
export * from './shutdown.ts';
export { Registry, Counter, Gauge, Histogram } from 'prom-client';
export * from './mqtt-service.ts';
export * from './reconnect.ts';
export * from './within.ts';
export * from './round-writes.ts';
export * from './http.ts';
