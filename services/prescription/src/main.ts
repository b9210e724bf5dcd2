/**
 * `pnpm --filter @hatake/prescription start`: the prescription service alone.
 * It accepts the gateway's session tokens, so it needs the gateway's key in
 * `HATAKE_GATEWAY__AUTH__TOKEN_SECRET` (the same value as every gateway).
 */
import { fileURLToPath } from 'node:url';
import { ENV_CONFIG_FILE, loadConfig } from '@hatake/config';
import { createLogger, installShutdown } from '@hatake/runtime';
import { PrescriptionError } from './errors.ts';
import { buildPrescriptionService } from './service.ts';

const defaultConfig = fileURLToPath(new URL('../../../config/hatake.yaml', import.meta.url));
const config = await loadConfig({ file: process.env[ENV_CONFIG_FILE] ?? defaultConfig, env: process.env }).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
if (config.gateway.auth.tokenSecret === undefined) {
  process.stderr.write('the prescription service checks the gateway\'s session tokens: set HATAKE_GATEWAY__AUTH__TOKEN_SECRET, the same as the gateway\'s\n');
  process.exit(2);
}
const logger = createLogger({ name: 'prescription', level: config.log.level });
const service = buildPrescriptionService(config, { logger });
const { url } = await service.start().catch((err: unknown) => {
  // a typed error (jobs directory in use) says what to do: no stack trace
  if (err instanceof PrescriptionError) process.stderr.write(`${err.message}\n`);
  else logger.fatal({ err }, 'cannot start');
  process.exit(2);
});
logger.info({ api: `${url}/api/v1/prescriptions`, openapi: `${url}/api/v1/openapi.json` }, 'ready');
installShutdown({ logger, stop: () => service.stop() });
