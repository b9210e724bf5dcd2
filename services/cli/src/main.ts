#!/usr/bin/env -S tsx --conditions=@hatake/source
/**
 * `pnpm start` (the demo) and `pnpm hatake <command>`.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_SCRYPT_COST, hashSecret } from '@hatake/auth';
import { ENV_CONFIG_FILE, ensureDemoCredentials, loadConfig } from '@hatake/config';
import { createLogger, installShutdown } from '@hatake/runtime';
import { prepareDashboard } from './dashboard.ts';
import { demoBanner, startDemo } from './demo.ts';
import { prescriptionCommand } from './prescription.ts';
import { tracksCommand } from './tracks.ts';

const USAGE = `hatake <command>

Commands:
  start                  start the demo: broker, ingest, gateway with the dashboard, and simulated fleet on embedded defaults
  credentials init       generate demo passwords for every principal without one
  credentials hash       read a password on stdin, print its scrypt hash (for production configs)
  prescription …         variable-rate fertilizer prescription from GeoTIFF layers (see: hatake prescription --help)
  tracks …               plow tracks, road coverage, shift and storm reports, claims reconciliation to files (see: hatake tracks --help)

Options:
  --config FILE          configuration (default: $HATAKE_CONFIG or config/hatake.yaml)
  --verbose              log at info level (default: warnings only, on stderr)
  --help`;

const defaultConfig = fileURLToPath(new URL('../../../config/hatake.yaml', import.meta.url));

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'prescription') return prescriptionCommand(argv.slice(1));
  if (argv[0] === 'tracks') return tracksCommand(argv.slice(1), { env: process.env, defaultConfig });
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean' } } });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const configFile = values.config ?? process.env[ENV_CONFIG_FILE] ?? defaultConfig;
  const [command, sub] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const logger = createLogger({ name: 'hatake', level: values.verbose ? 'info' : 'warn' }, process.stderr);

  if (command === 'start') {
    await prepareDashboard((line) => process.stderr.write(`${line}\n`));
    const demo = await startDemo({ configFile, env: process.env, logger, tokensFor: ['admin', 'op-kitamura', 'agronomist', 'viewer'] });
    process.stdout.write(demoBanner(demo));
    const status = setInterval(() => {
      const s = demo.fleet.stats();
      process.stdout.write(`  fleet: ${s.connected}/${s.devices} connected, ${s.samples} samples in ${s.messages} messages, ${s.events} events\n`);
    }, 30_000);
    status.unref();
    installShutdown({
      logger,
      stop: async () => {
        clearInterval(status);
        process.stdout.write('\nstopping…\n');
        await demo.stop();
        process.stdout.write('stopped.\n');
      },
    });
    return 0;
  }
  if (command === 'credentials' && sub === 'init') {
    const config = await loadConfig({ file: configFile, env: process.env, requireCredentials: false });
    const r = await ensureDemoCredentials(config);
    process.stdout.write(`${r.created.length} new password(s)${r.created.length ? `: ${r.created.join(', ')}` : ''}\nhashes:    ${r.credentialsPath}\npasswords: ${r.secretsPath}\n`);
    return 0;
  }
  if (command === 'credentials' && sub === 'hash') {
    const secret = await readStdin();
    if (secret.length < 12) {
      process.stderr.write('refusing to hash a password shorter than 12 characters\n');
      return 2;
    }
    process.stdout.write(`${await hashSecret(secret, DEFAULT_SCRYPT_COST)}\n`);
    return 0;
  }
  process.stderr.write(`unknown command: ${positionals.join(' ')}\n\n${USAGE}\n`);
  return 2;
}

const args = process.argv.slice(2);
main(args[0] === '--' ? args.slice(1) : args).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    // a broken configuration is the user's to fix: usage-class exit code
    process.exit(String((err as { code?: unknown }).code).startsWith('HATAKE_ERR_CONFIG') ? 2 : 1);
  },
);
