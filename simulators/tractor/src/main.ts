/** `pnpm --filter @hatake/tractor start -- --only t-kita-1`: simulated robot tractors. */
import { fileURLToPath } from 'node:url';
import { runSimulatorCli } from '@hatake/simkit';
import { createTractorModel } from './factory.ts';

const code = await runSimulatorCli(process.argv.slice(2), { tractor: createTractorModel }, {
  name: 'tractor-sim',
  defaultConfig: fileURLToPath(new URL('../../../config/hatake.yaml', import.meta.url)),
  env: process.env,
});
if (code !== 0) process.exit(code);
