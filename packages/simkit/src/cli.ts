/**
 * The command line every simulator shares (`pnpm --filter @hatake/fleet start -- --help`).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_SECRETS_FILE, ENV_CONFIG_FILE, loadConfig, readDemoSecrets } from '@hatake/config';
import { DEVICE_KINDS, type DeviceKind } from '@hatake/protocol';
import { createLogger, installShutdown } from '@hatake/runtime';
import { parseFaults } from './faults.ts';
import { buildFleet, type ModelFactories } from './fleet.ts';

export const SIMULATOR_USAGE = `Options:
  --config FILE         hatake configuration (default: $HATAKE_CONFIG or config/hatake.yaml)
  --secrets FILE        device passwords (default: <dataDir>/${DEMO_SECRETS_FILE}, written by \`pnpm start\`)
  --url URL             broker URL (default: mqtt.url of the configuration)
  --only ID[,ID...]     run only these devices
  --kinds KIND[,KIND]   run only these kinds (tractor, plow, sensor)
  --synthetic N         run N members of the configured device groups instead (load)
  --seed N              random seed (default: simulation.seed)
  --batch N             samples per telemetry message (default 1)
  --qos 0|1             telemetry QoS (default 1)
  --faults SPEC         gnss-dropout[=EVERY/DUR],link-drop[=EVERY/DUR],clock-skew[=S],malformed[=P],oversized[=P],wrong-credentials,
                        ignore-commands,ack-delay[=S],drift[=M/S] (see @hatake/simkit's README)
  --fault-devices IDS   only these devices get the faults
  --speedup N           sensor time acceleration (default: simulation.sensorSpeedup)
  --duration SECONDS    stop after this long (default: until Ctrl-C)
  --help`;

/** Runs simulators from the command line until Ctrl-C (or --duration). Returns the process exit code. */
export async function runSimulatorCli(argv: readonly string[], factories: ModelFactories, opts: { name: string; defaultConfig: string; env: NodeJS.ProcessEnv }): Promise<number> {
  let values;
  try {
    values = parseArgs({
      // `pnpm start -- --only x` passes the `--` through; it separates pnpm's options, not ours
      args: argv[0] === '--' ? argv.slice(1) : [...argv],
      options: {
        config: { type: 'string' },
        secrets: { type: 'string' },
        url: { type: 'string' },
        only: { type: 'string' },
        kinds: { type: 'string' },
        synthetic: { type: 'string' },
        seed: { type: 'string' },
        batch: { type: 'string' },
        qos: { type: 'string' },
        faults: { type: 'string' },
        'fault-devices': { type: 'string' },
        speedup: { type: 'string' },
        duration: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${SIMULATOR_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${opts.name}: simulated hardware that speaks only MQTT.\n\n${SIMULATOR_USAGE}\n`);
    return 0;
  }
  const problems: string[] = [];
  const int = (name: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) problems.push(`--${name} ${v}: expected an integer from ${min} to ${max}`);
    return n;
  };
  const list = (v: string | undefined): string[] | undefined => v?.split(',').map((s) => s.trim()).filter(Boolean);
  const kinds = list(values.kinds);
  for (const k of kinds ?? []) if (!(DEVICE_KINDS as readonly string[]).includes(k)) problems.push(`--kinds: unknown kind ${k}`);
  const synthetic = int('synthetic', values.synthetic, 1, 100_000);
  const seed = int('seed', values.seed, 0, 2 ** 31 - 1);
  const batch = int('batch', values.batch, 1, 10_000);
  const qos = int('qos', values.qos, 0, 1);
  const duration = int('duration', values.duration, 1, 365 * 86400);
  const speedup = values.speedup === undefined ? undefined : Number(values.speedup);
  if (speedup !== undefined && !(speedup >= 1 && speedup <= 3600)) problems.push(`--speedup ${values.speedup}: expected 1 to 3600`);
  let faults;
  try {
    faults = values.faults ? parseFaults(values.faults) : undefined;
  } catch (err) {
    problems.push(`--faults: ${(err as Error).message}`);
  }
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n`);
    return 2;
  }

  let config;
  try {
    config = await loadConfig({ file: values.config ?? opts.env[ENV_CONFIG_FILE] ?? opts.defaultConfig, env: opts.env, requireCredentials: false });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const secretsPath = resolve(values.secrets ?? join(config.deployment.dataDir, DEMO_SECRETS_FILE));
  const secrets = await readDemoSecrets(secretsPath).catch(() => undefined);
  if (!secrets) {
    process.stderr.write(`no device passwords at ${secretsPath}: start the demo once (\`pnpm start\`) or run \`pnpm hatake credentials init\`\n`);
    return 2;
  }
  const logger = createLogger({ name: opts.name, level: config.log.level });
  let fleet;
  try {
    fleet = buildFleet(
      config,
      {
        secrets,
        logger,
        ...(values.url ? { url: values.url } : {}),
        ...(values.only ? { only: list(values.only)! } : {}),
        ...(kinds ? { kinds: kinds as DeviceKind[] } : {}),
        ...(synthetic !== undefined ? { synthetic } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(batch !== undefined ? { batch } : {}),
        ...(qos !== undefined ? { qos: qos as 0 | 1 } : {}),
        ...(faults ? { faults } : {}),
        ...(values['fault-devices'] ? { faultDevices: list(values['fault-devices'])! } : {}),
        ...(speedup !== undefined ? { sensorSpeedup: speedup } : {}),
      },
      factories,
    );
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  await fleet.start();
  logger.info({ devices: fleet.devices.length, url: values.url ?? config.mqtt.url }, 'fleet running');
  const report = setInterval(() => logger.info(fleet.stats(), 'fleet'), 30_000);
  report.unref();
  const stop = async (): Promise<void> => {
    clearInterval(report);
    await fleet.stop();
    logger.info(fleet.stats(), 'fleet stopped');
  };
  if (duration !== undefined) {
    setTimeout(() => void stop(), duration * 1000);
  } else {
    installShutdown({ logger, stop });
  }
  return 0;
}
