import { describe, expect, it } from 'vitest';
import { TokenIssuer, canCommand, canSee, canSeeFarm, type AccessSubject } from '@hatake/auth';

const user = (roles: AccessSubject['roles'], farms: string[]): AccessSubject => ({ username: 'u', roles, farms });
const tractorA = { kind: 'tractor' as const, farm: 'a' };
const sensorB = { kind: 'sensor' as const, farm: 'b' };
const plow = { kind: 'plow' as const };

describe('access', () => {
  it.each([
    ['admin', user(['admin'], []), [true, true, true], [true, true, true]],
    ['operator of a', user(['operator'], ['a']), [true, false, false], [true, false, false]],
    ['viewer of a', user(['viewer'], ['a']), [true, false, false], [false, false, false]],
    ['agronomist of all farms', user(['agronomist'], ['*']), [true, true, false], [false, false, false]],
    ['road crew', user(['road_crew'], []), [false, false, true], [false, false, false]],
    ['operator of b (sensors only there)', user(['operator'], ['b']), [false, true, false], [false, false, false]],
  ] as const)('%s', (_name, u, sees, commands) => {
    expect([tractorA, sensorB, plow].map((d) => canSee(u, d))).toEqual(sees);
    expect([tractorA, sensorB, plow].map((d) => canCommand(u, d))).toEqual(commands);
  });

  it('scopes farms', () => {
    expect(canSeeFarm(user(['viewer'], ['a']), 'a')).toBe(true);
    expect(canSeeFarm(user(['viewer'], ['a']), 'b')).toBe(false);
    expect(canSeeFarm(user(['road_crew'], ['*']), 'a')).toBe(false);
  });
});

describe('session tokens', () => {
  it('name their user, and expire', async () => {
    const issuer = new TokenIssuer({ secret: 'x'.repeat(32), ttlSeconds: 60 });
    const { token, expiresAt } = await issuer.issue('op-north', 1_000_000_000_000);
    expect(expiresAt).toBe(1_000_000_060_000);
    expect(await issuer.verify(token, 1_000_000_030_000)).toEqual({ username: 'op-north', expiresAt: 1_000_000_060_000 });
    await expect(issuer.verify(token, 1_000_000_061_000)).rejects.toMatchObject({ code: 'HATAKE_ERR_AUTH_TOKEN', message: 'token expired' });
  });

  it('give their user as the configuration has it, and are refused once that user is gone', async () => {
    const issuer = new TokenIssuer({ secret: 'x'.repeat(32), ttlSeconds: 60 });
    const { token } = await issuer.issue('op-north', 1_000_000_000_000);
    const users = new Map([['op-north', { username: 'op-north', name: 'North operator' }]]);
    const find = (u: string): { username: string; name: string } | undefined => users.get(u);
    expect(await issuer.verifyUser(token, find, 1_000_000_030_000)).toEqual({ user: { username: 'op-north', name: 'North operator' }, expiresAt: 1_000_000_060_000 });
    await expect(issuer.verifyUser(token, find, 1_000_000_061_000)).rejects.toMatchObject({ code: 'HATAKE_ERR_AUTH_TOKEN', message: 'token expired' });
    users.delete('op-north');
    await expect(issuer.verifyUser(token, find, 1_000_000_030_000)).rejects.toMatchObject({ code: 'HATAKE_ERR_AUTH_TOKEN', message: 'the user of this token no longer exists' });
  });

  it('are refused when signed with another key, tampered with, or garbage', async () => {
    const a = new TokenIssuer({ secret: 'a'.repeat(32), ttlSeconds: 60 });
    const b = new TokenIssuer({ secret: 'b'.repeat(32), ttlSeconds: 60 });
    const { token } = await a.issue('admin');
    await expect(b.verify(token)).rejects.toMatchObject({ code: 'HATAKE_ERR_AUTH_TOKEN', message: 'token signature is not ours' });
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin', iss: 'hatake', aud: 'hatake-gateway', exp: 9_999_999_999 })).toString('base64url')}.${s}`;
    await expect(a.verify(forged)).rejects.toMatchObject({ code: 'HATAKE_ERR_AUTH_TOKEN' });
    for (const junk of ['', 'abc', 'a.b.c', 'x'.repeat(5000)]) await expect(a.verify(junk)).rejects.toMatchObject({ code: 'HATAKE_ERR_AUTH_TOKEN' });
    // an unsigned token ("alg": "none") is never accepted
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"admin"}').toString('base64url')}.`;
    await expect(a.verify(none)).rejects.toMatchObject({ code: 'HATAKE_ERR_AUTH_TOKEN' });
  });
});

describe('failed-login blocks', () => {
  it('survive a flood of fresh keys that fills the table', async () => {
    const { FailureTracker } = await import('@hatake/auth');
    const f = new FailureTracker({ maxAttempts: 2, windowMs: 60_000, blockMs: 60_000, maxEntries: 100 });
    f.begin('ip|admin', 0);
    f.begin('ip|admin', 1);
    expect(f.blocked('ip|admin', 2)).toBe(true);
    for (let i = 0; i < 10_000; i++) f.begin(`ip|ghost${i}`, 3);
    expect(f.blocked('ip|admin', 4)).toBe(true);
  });
});
