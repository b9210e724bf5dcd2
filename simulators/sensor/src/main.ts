/** `pnpm --filter @hatake/sensor start -- --only s-kita-1`: simulated field stations. */
import { fileURLToPath } from 'node:url';
import { runSimulatorCli } from '@hatake/simkit';
import { createSensorModel } from './factory.ts';

const code = await runSimulatorCli(process.argv.slice(2), { sensor: createSensorModel }, {
  name: 'sensor-sim',
  defaultConfig: fileURLToPath(new URL('../../../config/hatake.yaml', import.meta.url)),
  env: process.env,
});
if (code !== 0) process.exit(code);
