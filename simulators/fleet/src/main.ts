/** `pnpm --filter @hatake/fleet start`: every device of the configuration, in one process. */
import { fileURLToPath } from 'node:url';
import { runSimulatorCli } from '@hatake/simkit';
import { ALL_MODELS } from './index.ts';

const code = await runSimulatorCli(process.argv.slice(2), ALL_MODELS, {
  name: 'fleet',
  defaultConfig: fileURLToPath(new URL('../../../config/hatake.yaml', import.meta.url)),
  env: process.env,
});
if (code !== 0) process.exit(code);
