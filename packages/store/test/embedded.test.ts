import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore, type TelemetryStore } from '@hatake/store';
import { storeContract } from './contract.ts';

const open: TelemetryStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.stop()));
});

storeContract('embedded (DuckDB)', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'hatake-duckdb-')), 'hatake.duckdb');
  const store = new EmbeddedStore(file, { logger: silentLogger() });
  await store.start();
  open.push(store);
  return {
    store,
    async reopen() {
      await store.stop();
      open.splice(open.indexOf(store), 1);
      const again = new EmbeddedStore(file, { logger: silentLogger() });
      await again.start();
      open.push(again);
      return again;
    },
  };
});

describe('embedded store', () => {
  it('refuses to be used before start', async () => {
    const store = new EmbeddedStore(':memory:', { logger: silentLogger() });
    await expect(store.samples({ kind: 'tractor', device: 't1', from: 0, to: 1, limit: 1 })).rejects.toMatchObject({ code: 'HATAKE_ERR_STORE_CLOSED' });
    expect(await store.health()).toBe('embedded store is closed');
  });

  it('says which file it cannot open', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hatake-duckdb-'));
    const notADirectory = join(dir, 'file');
    await writeFile(notADirectory, 'x');
    const path = join(notADirectory, 'hatake.duckdb');
    const store = new EmbeddedStore(path, { logger: silentLogger() });
    await expect(store.start()).rejects.toMatchObject({ code: 'HATAKE_ERR_STORE_SETUP', message: expect.stringContaining(path) });
  });
});
