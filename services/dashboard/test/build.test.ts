/**
 * The build check `pnpm start` and the gateway rely on: missing, stale and
 * current builds are told apart by file times, on a copy of the layout.
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DASHBOARD_DIST, DASHBOARD_ROOT, dashboardStatus } from '@hatake/dashboard';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('dashboardStatus', () => {
  it('tells a missing, a stale and a current build apart', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hatake-dash-'));
    dirs.push(root);
    await mkdir(join(root, 'src', 'web', 'deep'), { recursive: true });
    for (const f of ['index.html', 'vite.config.ts', 'package.json', 'src/web/main.ts', 'src/web/deep/x.ts']) await writeFile(join(root, f), '');
    const old = new Date('2026-01-01T00:00:00Z');
    for (const f of ['index.html', 'vite.config.ts', 'package.json', 'src/web/main.ts']) await utimes(join(root, f), old, old);
    await utimes(join(root, 'src/web/deep/x.ts'), new Date('2026-01-02T00:00:00Z'), new Date('2026-01-02T00:00:00Z'));
    expect(await dashboardStatus(root)).toMatchObject({ built: false, stale: true });
    await mkdir(join(root, 'dist', 'web'), { recursive: true });
    await writeFile(join(root, 'dist', 'web', 'index.html'), '');
    await utimes(join(root, 'dist', 'web', 'index.html'), old, old);
    // a source deep in src/web is newer than the build
    expect(await dashboardStatus(root)).toMatchObject({ built: true, stale: true });
    const later = new Date('2026-01-03T00:00:00Z');
    await utimes(join(root, 'dist', 'web', 'index.html'), later, later);
    expect(await dashboardStatus(root)).toMatchObject({ built: true, stale: false });
  });

  it('points at this package', () => {
    expect(DASHBOARD_DIST).toBe(join(DASHBOARD_ROOT, 'dist', 'web'));
    expect(DASHBOARD_ROOT.endsWith(join('services', 'dashboard'))).toBe(true);
  });
});
