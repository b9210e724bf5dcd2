import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Counter, Registry, buildOpsServer, createLogger, silentLogger } from '@hatake/runtime';

describe('logger', () => {
  it('redacts secrets wherever they appear and keeps errors under err', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger({ name: 'test', level: 'info' }, sink);
    logger.child({ component: 'auth' }).info({ password: 'hunter2', user: { passwordHash: '$scrypt$x', token: 'abc' }, req: { headers: { authorization: 'Bearer t' } } }, 'login');
    logger.error({ err: new Error('boom') }, 'failed');
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ service: 'test', component: 'auth', msg: 'login', password: '[redacted]', user: { passwordHash: '[redacted]', token: '[redacted]' } });
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).not.toContain('Bearer');
    expect(JSON.parse(lines[1]!)).toMatchObject({ msg: 'failed', err: { message: 'boom', type: 'Error' } });
  });
});

describe('ops server', () => {
  it('serves metrics and health, and reports failing checks with 503', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'hatake_test_total', help: 'test', registers: [registry] });
    c.inc(3);
    let broken: string | undefined;
    const ops = buildOpsServer({ host: '127.0.0.1', port: 0, registry, logger: silentLogger(), checks: [{ name: 'thing', check: () => broken }] });
    const { port, host } = await ops.start();
    expect(host).toBe('127.0.0.1');
    try {
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('hatake_test_total 3');
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ status: 'ok' });
      broken = 'not connected to the broker';
      const bad = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(bad.status).toBe(503);
      expect(await bad.json()).toEqual({ status: 'unhealthy', failing: { thing: 'not connected to the broker' } });
    } finally {
      await ops.stop();
    }
  });
});
