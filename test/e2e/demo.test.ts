/**
 * The README's first command, as a person runs it: `pnpm start` prints the
 * URLs, demo credentials and tokens; `mosquitto_sub` with those credentials
 * watches tractors, plows and sensors publish; the REST API and the live
 * stream answer with the printed token; Ctrl-C stops it cleanly, with what was
 * received written to the store; the banner's prescription example runs.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Decoder, parseTopic } from '@hatake/protocol';
import { demoTestEnv, run, waitFor } from '@hatake/testkit';

const root = resolve(import.meta.dirname, '..', '..');

describe('pnpm start', () => {
  it('starts the broker and the simulated fleet, prints working credentials, and stops on Ctrl-C', async () => {
    const data = await mkdtemp(join(tmpdir(), 'hatake-demo-'));
    const child = spawn('pnpm', ['start'], {
      cwd: root,
      env: {
        ...process.env,
        ...demoTestEnv(data),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      await new Promise<void>((resolveReady, reject) => {
        const timer = setTimeout(() => reject(new Error(`demo did not start:\n${out}\n${err}`)), 60_000);
        const check = (): void => {
          if (out.includes('Ctrl-C stops everything')) {
            clearTimeout(timer);
            resolveReady();
          }
        };
        child.stdout.on('data', check);
        child.on('close', () => reject(new Error(`demo exited early:\n${out}\n${err}`)));
      });
      const port = /MQTT\s+mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      const ingestPassword = /service\s+ingest\s+(\S+)/.exec(out)?.[1];
      const userPassword = /user\s+admin\s+(\S+)/.exec(out)?.[1];
      expect(port).toBeDefined();
      expect(ingestPassword).toBeDefined();
      expect(userPassword).toBeDefined();
      // generated at first start, private
      expect((await stat(join(data, 'demo-secrets.json'))).mode & 0o777).toBe(0o600);

      const sub = await run(
        'mosquitto_sub',
        ['-h', '127.0.0.1', '-p', port!, '-V', 'mqttv311', '-i', 'ingest:e2e', '-u', 'ingest', '-P', ingestPassword!, '-t', 'hatake/v1/+/+/telemetry', '-v', '-C', '150', '-W', '30'],
        { timeoutMs: 40_000 },
      );
      expect(sub.code).toBe(0);
      const decoder = new Decoder();
      const messages = sub.stdout
        .trim()
        .split('\n')
        .map((line) => {
          const space = line.indexOf(' ');
          return { topic: line.slice(0, space), payload: line.slice(space + 1) };
        });
      expect(messages).toHaveLength(150);
      const kinds = new Set(messages.map((m) => parseTopic(m.topic)).flatMap((p) => (p.ok && p.topic.type === 'device' ? [p.topic.kind] : [])));
      expect(kinds).toEqual(new Set(['tractor', 'plow', 'sensor']));
      expect(messages.filter((m) => !decoder.decode(m.topic, Buffer.from(m.payload)).ok)).toEqual([]);

      // the REST API with the printed token: every device with a position, and its history
      const api = /REST API\s+(http:\/\/127\.0\.0\.1:\d+)\/api\/v1/.exec(out)?.[1];
      const token = /Session tokens[^\n]*\n\s+admin\s+(\S+)/.exec(out)?.[1];
      expect(api).toBeDefined();
      expect(token).toBeDefined();
      // the dashboard, printed first, built by `pnpm start` when it was missing, served without sign-in
      expect(/hatake demo[^\n]*\n\n\s+Dashboard\s+(\S+)/.exec(out)?.[1]).toBe(`${api}/`);
      const page = await fetch(`${api}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="app"');
      const auth = { authorization: `Bearer ${token}` };
      const devices = (await (await fetch(`${api}/api/v1/devices`, { headers: auth })).json()) as { devices: { id: string; position?: unknown }[] };
      expect(devices.devices).toHaveLength(13);
      const history = (await (await fetch(`${api}/api/v1/devices/t-kita-1/telemetry`, { headers: auth })).json()) as { count: number };
      expect(history.count).toBeGreaterThan(0);
      // the live stream with the printed token
      const { WebSocket } = await import('ws');
      const ws = new WebSocket(`${api!.replace('http', 'ws')}/ws`, ['hatake.v1', `bearer.${token}`]);
      const live = await new Promise<Record<string, unknown>>((resolve, reject) => {
        ws.on('message', (d) => {
          const m = JSON.parse(String(d)) as Record<string, unknown>;
          if (m['type'] === 'telemetry' && m['kind'] === 'tractor') resolve(m);
        });
        ws.once('error', reject);
      });
      ws.close();
      expect((live['samples'] as unknown[]).length).toBeGreaterThan(0);

      // a wrong password is refused
      const refused = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port!, '-V', 'mqttv311', '-i', 'ingest:x', '-u', 'ingest', '-P', 'wrong', '-t', '#', '-C', '1', '-W', '5']);
      expect(refused.code).not.toBe(0);
      // the banner's prescription example, as an agronomist would paste it (here through fetch)
      const rxUrl = /Prescriptions\s+(http:\/\/\S+)/.exec(out)?.[1];
      const agronomist = /agronomist\s+(eyJ\S+)/.exec(out)?.[1];
      expect(rxUrl).toBeDefined();
      expect(agronomist).toBeDefined();
      const samples = join(root, 'packages/vrt/test/fixtures/in');
      const form = new FormData();
      form.append('farm', 'kitamura');
      form.append('workingWidth', '12');
      for (const l of ['yield', 'moisture']) form.append(l, new Blob([await readFile(join(samples, `${l}.tif`))]), `${l}.tif`);
      form.append('field', new Blob([await readFile(join(samples, 'field.geojson'))]), 'field.geojson');
      const created = await fetch(rxUrl!, { method: 'POST', headers: { authorization: `Bearer ${agronomist}` }, body: form });
      expect(created.status).toBe(202);
      const { id } = (await created.json()) as { id: string };
      const job = await waitFor('the prescription job', async () => {
        const j = (await (await fetch(`${rxUrl}/${id}`, { headers: { authorization: `Bearer ${agronomist}` } })).json()) as { status: string; files?: { name: string }[] };
        return j.status === 'done' || j.status === 'failed' ? j : undefined;
      }, { timeoutMs: 60_000, intervalMs: 100 });
      expect(job.status).toBe('done');
      expect(job.files!.map((f) => f.name)).toContain('TASKDATA.zip');
      expect(refused.stderr).toMatch(/bad user name or password/i);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('stopped.');
    // what was received was written before leaving: the embedded store holds it
    const { EmbeddedStore } = await import('@hatake/store');
    const { silentLogger } = await import('@hatake/runtime');
    const store = new EmbeddedStore(join(data, 'hatake.duckdb'), { logger: silentLogger() });
    await store.start();
    const latest = await store.latest();
    await store.stop();
    expect(latest.filter((l) => l.sample !== undefined).length).toBe(13);
    expect(latest.filter((l) => l.state?.online === false).length).toBe(13);
  });
});
