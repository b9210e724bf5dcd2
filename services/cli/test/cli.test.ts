/**
 * The `hatake` command line as a person meets it: usage errors, hashing a
 * production password, generating demo credentials.
 */
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { verifySecret } from '@hatake/auth';
import { run } from '@hatake/testkit';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const hatake = (args: string[], opts: { input?: string } = {}) =>
  run('node', ['--conditions=@hatake/source', '--import', 'tsx', main, ...args], { timeoutMs: 30_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });

describe('hatake', () => {
  it('explains its usage, and refuses an unknown command with exit code 2', async () => {
    const help = await hatake(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('credentials hash');
    const bad = await hatake(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown command: frobnicate');
    const badOption = await hatake(['start', '--colour']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/Unknown option '--colour'/);
  });

  it('hashes a password from stdin, refusing short ones', async () => {
    const ok = await hatake(['credentials', 'hash'], { input: 'a sufficiently long password\n' });
    expect(ok.code).toBe(0);
    const hash = ok.stdout.trim();
    expect(hash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    expect(await verifySecret('a sufficiently long password', hash)).toBe(true);
    const short = await hatake(['credentials', 'hash'], { input: 'short\n' });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('shorter than 12 characters');
  });

  it('generates demo credentials once, privately', async () => {
    const data = await mkdtemp(join(tmpdir(), 'hatake-cli-'));
    const env = { HATAKE_DEPLOYMENT__DATA_DIR: data };
    const first = await run('node', ['--conditions=@hatake/source', '--import', 'tsx', main, 'credentials', 'init'], { timeoutMs: 60_000, env });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^\d+ new password\(s\): /);
    expect((await stat(join(data, 'credentials.json'))).mode & 0o777).toBe(0o600);
    const secrets = JSON.parse(await readFile(join(data, 'demo-secrets.json'), 'utf8')) as { devices: Record<string, string> };
    expect(Object.keys(secrets.devices)).toContain('t-kita-1');
    const second = await run('node', ['--conditions=@hatake/source', '--import', 'tsx', main, 'credentials', 'init'], { timeoutMs: 60_000, env });
    expect(second.stdout).toMatch(/^0 new password\(s\)/);
  });

  it('says which configuration is broken and exits 2', async () => {
    const r = await run('node', ['--conditions=@hatake/source', '--import', 'tsx', main, 'credentials', 'init', '--config', '/nonexistent.yaml'], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read /nonexistent.yaml: no such file');
  });
});
