#!/usr/bin/env node
// `pnpm test`: every check on a fresh machine, ending with one plain line
// "N passed, N failed" (read by CI).
//
// 1. the real programs the tests run (Debian packages: Mosquitto's clients and broker, InfluxDB, Chromium)
//    are there, or installed when we are root;
// 2. typecheck (tsc -b) and lint (eslint);
// 3. Vitest over every workspace, counted from its JSON report.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const extraArgs = process.argv.slice(2);

/** Debian packages and a program each provides. */
const SYSTEM = [
  { pkg: 'mosquitto-clients', bin: 'mosquitto_sub' },
  { pkg: 'mosquitto', bin: 'mosquitto' },
  { pkg: 'influxdb', bin: 'influxd' },
  { pkg: 'chromium', bin: 'chromium' },
];

function which(bin) {
  return ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/bin', '/sbin'].some((d) => existsSync(join(d, bin)));
}

function step(title, cmd, args, opts = {}) {
  process.stdout.write(`\n── ${title}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, ...opts });
  return r.status === 0;
}

const missing = SYSTEM.filter((s) => !which(s.bin));
if (missing.length > 0) {
  const pkgs = missing.map((m) => m.pkg);
  if (process.getuid?.() === 0 && which('apt-get')) {
    step(`installing ${pkgs.join(', ')} from Debian`, 'sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkgs.join(' ')}`]);
  }
  const still = SYSTEM.filter((s) => !which(s.bin));
  if (still.length > 0) {
    process.stdout.write(`\nThe tests run real programs that are missing: ${still.map((s) => s.bin).join(', ')}.\nInstall them with: sudo apt-get install -y ${still.map((s) => s.pkg).join(' ')}\n0 passed, 1 failed\n`);
    process.exit(1);
  }
}

const failures = [];
if (!step('typecheck (tsc -b)', 'pnpm', ['exec', 'tsc', '-b', ...['packages', 'services', 'simulators'].flatMap((g) => listDirs(g)), 'test'])) failures.push('typecheck');
if (!step('lint (eslint)', 'pnpm', ['exec', 'eslint', '.'])) failures.push('lint');

const report = join(mkdtempSync(join(tmpdir(), 'hatake-vitest-')), 'report.json');
step('tests (vitest, every workspace)', 'pnpm', ['exec', 'vitest', 'run', '--config', 'test/vitest.config.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extraArgs]);

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests;
  skipped = r.numPendingTests + (r.numTodoTests ?? 0);
  // a file that fails to load has no test results but is a failure
  failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
} else {
  failed += 1;
  failures.push('vitest produced no report');
}
if (failures.length > 0) process.stdout.write(`\nfailed checks: ${failures.join(', ')}\n`);
if (skipped > 0) process.stdout.write(`${skipped} skipped\n`);
process.stdout.write(`\n${passed} passed, ${failed + failures.length} failed\n`);
process.exit(failed + failures.length > 0 ? 1 : 0);

function listDirs(group) {
  return spawnSync('sh', ['-c', `ls -d ${group}/*/ 2>/dev/null`], { cwd: root, encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map((d) => d.replace(/\/$/, ''));
}
