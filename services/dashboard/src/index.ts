/**
 * The dashboard's build, seen from Node: where the built files are (the
 * gateway serves them), whether they are older than their sources, and how to
 * build them (Vite, in a child process). The browser code is in `src/web/`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package folder (this file is `src/index.ts`, or `dist/src/index.js` when compiled). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** The dashboard package folder. */
export const DASHBOARD_ROOT: string = packageRoot();
/** Where `vite build` writes the dashboard: the folder the gateway serves at `/`. */
export const DASHBOARD_DIST: string = join(DASHBOARD_ROOT, 'dist', 'web');
/** The command that builds it. */
export const DASHBOARD_BUILD_COMMAND = 'pnpm --filter @hatake/dashboard build';

/** What the build's output depends on, besides `src/web/**`. */
const INPUTS = ['index.html', 'vite.config.ts', 'package.json'];

export interface DashboardStatus {
  /** `dist/web/index.html` exists. */
  readonly built: boolean;
  /** Built before its newest source changed (or not built). */
  readonly stale: boolean;
  /** mtime of the newest source, ms. */
  readonly newestSource: number;
  /** mtime of the built index.html, ms (absent when not built). */
  readonly builtAt?: number;
}

async function newestIn(dir: string): Promise<number> {
  let newest = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const t = e.isDirectory() ? await newestIn(p) : (await stat(p)).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

/** Whether the dashboard is built and newer than its sources (a few dozen stat calls). */
export async function dashboardStatus(root: string = DASHBOARD_ROOT): Promise<DashboardStatus> {
  const sources = [await newestIn(join(root, 'src', 'web')), ...(await Promise.all(INPUTS.map(async (f) => (await stat(join(root, f)).catch(() => undefined))?.mtimeMs ?? 0)))];
  const newestSource = Math.max(...sources);
  const index = await stat(join(root, 'dist', 'web', 'index.html')).catch(() => undefined);
  if (!index) return { built: false, stale: true, newestSource };
  return { built: true, stale: index.mtimeMs < newestSource, newestSource, builtAt: index.mtimeMs };
}

/**
 * Builds the dashboard with Vite in a child process; rejects with its output when the build fails. It builds
 * into a folder of its own and then swaps it in, so a gateway serving `dist/web` never sends a half-written
 * build, and two builds at once (two test files, `pnpm start` beside a test) do not undo each other.
 */
export async function buildDashboard(opts: { root?: string; onOutput?: (text: string) => void } = {}): Promise<void> {
  const root = opts.root ?? DASHBOARD_ROOT;
  const target = join(root, 'dist', 'web');
  const tmp = `${target}.build-${process.pid}-${Date.now()}`;
  // vite's own command-line entry, from this package's dependencies (no pnpm needed on PATH)
  const viteBin = join(dirname(createRequire(join(root, 'package.json')).resolve('vite/package.json')), 'bin', 'vite.js');
  // Vite refuses a second build of a project while one runs (it would empty the other's output folder): each
  // build here writes a folder of its own, so the lock is not needed
  const child = spawn(process.execPath, [viteBin, 'build', '--logLevel', 'warn', '--outDir', tmp, '--emptyOutDir', '--bypass-lock'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (d: Buffer): void => {
    output += d.toString();
    opts.onOutput?.(d.toString());
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) {
    await rm(tmp, { recursive: true, force: true });
    throw new Error(`the dashboard build failed (exit ${String(code)}):\n${output.trim()}`);
  }
  const old = `${target}.old-${process.pid}-${Date.now()}`;
  await rename(target, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(tmp, target).catch(async (err: NodeJS.ErrnoException) => {
    // another build swapped its own (identical) output in meanwhile
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
  });
  await Promise.all([rm(old, { recursive: true, force: true }), rm(tmp, { recursive: true, force: true })]);
}

/** Builds the dashboard when it is missing or older than its sources; says whether it built. */
export async function ensureDashboardBuilt(opts: { root?: string; onOutput?: (text: string) => void } = {}): Promise<{ built: boolean; reason?: 'missing' | 'stale' }> {
  const status = await dashboardStatus(opts.root);
  if (!status.stale) return { built: false };
  await buildDashboard(opts);
  return { built: true, reason: status.built ? 'stale' : 'missing' };
}
