import { describe, expect, it } from 'vitest';
import { collect, run, startProcess, testDeployment, waitFor } from '@hatake/testkit';
import { verifySecret } from '@hatake/auth';

describe('testkit', () => {
  it('builds a deployment whose secrets match its hashes, all on loopback port 0', async () => {
    const { config, secrets } = await testDeployment();
    const t1 = config.devices.find((d) => d.id === 't1')!;
    expect(await verifySecret(secrets['t1']!, t1.passwordHash!)).toBe(true);
    expect(config.broker.mqtt).toEqual({ host: '127.0.0.1', port: 0 });
    expect(config.users.map((u) => u.roles[0])).toEqual(['admin', 'operator', 'operator', 'agronomist', 'road_crew', 'viewer']);
  });

  it('waits for a condition, and names what it waited for when it times out', async () => {
    let n = 0;
    expect(await waitFor('n to reach 3', () => (++n >= 3 ? n : undefined), { intervalMs: 1 })).toBe(3);
    await expect(waitFor('the impossible', () => undefined, { timeoutMs: 30 })).rejects.toThrow('timed out waiting for the impossible');
    await expect(collect<number>((push) => (push(1), () => undefined), 2, 'numbers', 30)).rejects.toThrow('timed out waiting for 2 numbers (got 1)');
  });

  it('runs programs and reports their exit and output', async () => {
    const r = await run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    const p = await startProcess('sh', ['-c', 'echo ready; sleep 30'], /ready/);
    const stopped = await p.stop();
    expect(stopped.signal).toBe('SIGTERM');
    await expect(startProcess('sh', ['-c', 'echo nope; exit 1'], /ready/)).rejects.toThrow(/exited with 1 before it was ready/);
  });
});
