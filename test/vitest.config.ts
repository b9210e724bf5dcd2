/**
 * One Vitest run over every workspace: each folder under packages/, services/
 * and simulators/ is a project (its tests in `<workspace>/test`), plus the
 * cross-package tests in this folder. Workspaces resolve each other through
 * the `@hatake/source` export condition, so tests always see source.
 */
import { readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

const root = resolve(import.meta.dirname, '..');
const conditions = ['@hatake/source'];

function workspaces(): { name: string; dir: string }[] {
  const out: { name: string; dir: string }[] = [];
  for (const group of ['packages', 'services', 'simulators']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      if (existsSync(join(base, name, 'test'))) out.push({ name: `${group}/${name}`, dir: join(base, name) });
    }
  }
  return out;
}

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    root,
    projects: [
      ...workspaces().map(({ name, dir }) => ({
        extends: true as const,
        test: { name, root: dir, include: ['test/**/*.test.ts'] },
      })),
      { extends: true as const, test: { name: 'e2e', root: import.meta.dirname, include: ['e2e/**/*.test.ts'] } },
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Servers under test bind loopback ports; workers in parallel per project keep the suite short on 2 cores.
    pool: 'forks',
  },
});
