/**
 * The `prescription` section: defaults, the sample deployment's values,
 * environment overrides and range checks.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, buildConfig, loadConfig } from '@hatake/config';

const repoConfig = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/hatake.yaml');
const MIB = 1024 * 1024;

describe('prescription settings', () => {
  it('default to a loopback service with bounded uploads and queue', async () => {
    const c = await buildConfig({}, { baseDir: '/tmp' });
    expect(c.prescription).toEqual({
      host: '127.0.0.1',
      port: 8090,
      dataDir: 'prescriptions',
      maxFileBytes: 200 * MIB,
      maxUploadBytes: 500 * MIB,
      maxBoundaryBytes: 5 * MIB,
      maxConcurrentJobs: 1,
      maxQueuedJobs: 10,
      jobTimeoutMinutes: 30,
      jobTtlHours: 72,
      jobMemoryMb: 2048,
    });
    expect(Object.isFrozen(c.prescription)).toBe(true);
  });

  it('are in the sample deployment', async () => {
    const c = await loadConfig({ file: repoConfig, requireCredentials: false });
    expect(c.prescription).toMatchObject({ host: '127.0.0.1', port: 8090, maxFileBytes: 200 * MIB, maxUploadBytes: 500 * MIB, maxConcurrentJobs: 1, maxQueuedJobs: 10, jobTtlHours: 72 });
  });

  it('take environment overrides, and refuse values out of range, all at once', async () => {
    const c = await buildConfig({}, { baseDir: '/tmp', env: { HATAKE_PRESCRIPTION__PORT: '0', HATAKE_PRESCRIPTION__MAX_CONCURRENT_JOBS: '2', HATAKE_PRESCRIPTION__MAX_CELLS: '1000000' } });
    expect(c.prescription).toMatchObject({ port: 0, maxConcurrentJobs: 2, maxCells: 1_000_000 });
    const err = await buildConfig({ prescription: { maxConcurrentJobs: 0, maxQueuedJobs: -1, jobTtlHours: 0, speed: 3 } }, { baseDir: '/tmp' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const paths = (err as ConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['/prescription/jobTtlHours', '/prescription/maxConcurrentJobs', '/prescription/maxQueuedJobs', '/prescription/speed']);
  });
});
