/**
 * hatake's services as processes of their own for the benchmarks, as
 * production runs them: each gets its configuration (a test deployment, its
 * password, the broker URL) in a JSON file and prints `<name> ready <address>`.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from '@hatake/testkit';

/** Node's arguments for a child: TypeScript sources; a CPU profile per process with `HATAKE_BENCH_PROF=<dir>`. */
export const NODE_ARGS = ['--conditions=@hatake/source', '--import', 'tsx', ...(process.env['HATAKE_BENCH_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['HATAKE_BENCH_PROF']}`] : [])];

/**
 * The V8 flags a service's `pnpm start` gives it (ingest and gateway: a
 * larger young generation), read from its package.json so the benchmark runs
 * it as production does.
 */
export function v8Flags(service: string): string[] {
  const pkg = JSON.parse(readFileSync(new URL(`../../services/${service}/package.json`, import.meta.url), 'utf8')) as { scripts?: { start?: string } };
  return (pkg.scripts?.start ?? '').split(/\s+/).filter((a) => /^--max-(semi|old)-space-size=\d+$/.test(a));
}

const BINS = {
  broker: '../bench/bin/broker-process.ts',
  ingest: '../e2e/bin/ingest-process.ts',
  gateway: '../bench/bin/gateway-process.ts',
  fleet: '../bench/bin/fleet-process.ts',
} as const;

export interface ServiceProcess {
  readonly pid: number;
  /** What it printed after `ready`: the broker's MQTT URL, ingest's ops URL, the gateway's HTTP and WebSocket URLs, the fleet's size. */
  readonly address: string;
  stop(signal?: NodeJS.Signals): Promise<unknown>;
}

/** Starts a service in a process of its own; `dir` (private to the run) holds its configuration file. */
export async function startService(name: keyof typeof BINS, dir: string, settings: Record<string, unknown>): Promise<ServiceProcess> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(settings), { mode: 0o600 });
  const child = await startProcess(process.execPath, [...NODE_ARGS, ...(name === 'fleet' ? [] : v8Flags(name)), fileURLToPath(new URL(BINS[name], import.meta.url)), file], new RegExp(`${name} ready .+`), { timeoutMs: 30_000 });
  return { pid: child.pid, address: new RegExp(`${name} ready (.+)`).exec(child.output())![1]!.trim(), stop: (signal) => child.stop(signal) };
}
