/** `pnpm --filter @hatake/plow start -- --only p-iwa-1`: simulated snow plows. */
import { fileURLToPath } from 'node:url';
import { runSimulatorCli } from '@hatake/simkit';
import { createPlowModel } from './factory.ts';

const code = await runSimulatorCli(process.argv.slice(2), { plow: createPlowModel }, {
  name: 'plow-sim',
  defaultConfig: fileURLToPath(new URL('../../../config/hatake.yaml', import.meta.url)),
  env: process.env,
});
if (code !== 0) process.exit(code);
