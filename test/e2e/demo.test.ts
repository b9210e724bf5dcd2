/**
 * The README's first command, as a person runs it: `pnpm start` prints the
 * URLs and demo credentials, and `mosquitto_sub` with those credentials
 * watches tractors, plows and sensors publish. Ctrl-C stops it cleanly.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Decoder, parseTopic } from '@hatake/protocol';
import { run } from '@hatake/testkit';

const root = resolve(import.meta.dirname, '..', '..');

describe('pnpm start', () => {
  it('starts the broker and the simulated fleet, prints working credentials, and stops on Ctrl-C', async () => {
    const data = await mkdtemp(join(tmpdir(), 'hatake-demo-'));
    const child = spawn('pnpm', ['start'], {
      cwd: root,
      env: {
        ...process.env,
        HATAKE_DEPLOYMENT__DATA_DIR: data,
        HATAKE_CREDENTIALS_FILE: join(data, 'credentials.json'),
        HATAKE_BROKER__MQTT__PORT: '0',
        HATAKE_BROKER__WS__PORT: '0',
        HATAKE_BROKER__HTTP__PORT: '0',
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

      // a wrong password is refused
      const refused = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port!, '-V', 'mqttv311', '-i', 'ingest:x', '-u', 'ingest', '-P', 'wrong', '-t', '#', '-C', '1', '-W', '5']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/bad user name or password/i);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('stopped.');
  });
});
