import { describe, expect, it } from 'vitest';
import { SecretVerifier, TEST_SCRYPT_COST, generateSecret, hashSecret, isSecretHash, verifySecret } from '@hatake/auth';

describe('secret hashes', () => {
  it('verify the right secret and refuse a wrong one', async () => {
    const hash = await hashSecret('correct horse', TEST_SCRYPT_COST);
    expect(isSecretHash(hash)).toBe(true);
    expect(hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
    expect(hash).not.toContain('correct horse');
    await expect(verifySecret('correct horse', hash)).resolves.toBe(true);
    await expect(verifySecret('correct hors', hash)).resolves.toBe(false);
    await expect(verifySecret('', hash)).resolves.toBe(false);
  });

  it('salt every hash', async () => {
    const [a, b] = await Promise.all([hashSecret('same', TEST_SCRYPT_COST), hashSecret('same', TEST_SCRYPT_COST)]);
    expect(a).not.toBe(b);
  });

  it('treat malformed hashes and oversized secrets as a mismatch, without throwing', async () => {
    const hash = await hashSecret('x', TEST_SCRYPT_COST);
    for (const bad of ['', 'plain', '$scrypt$ln=99,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', hash.replace('ln=10', 'ln=5')]) {
      await expect(verifySecret('x', bad)).resolves.toBe(false);
    }
    await expect(verifySecret('x'.repeat(2000), hash)).resolves.toBe(false);
  });

  it('refuse a cost outside the sane range when hashing', async () => {
    await expect(hashSecret('x', { ln: 4, r: 8, p: 1 })).rejects.toMatchObject({ code: 'HATAKE_ERR_AUTH_COST' });
  });

  it('remember successes only', async () => {
    const hash = await hashSecret('s3cret', TEST_SCRYPT_COST);
    const v = new SecretVerifier(2);
    expect(await v.verify('wrong', hash)).toBe(false);
    expect(await v.verify('wrong', hash)).toBe(false);
    expect(v.hits).toBe(0);
    expect(await v.verify('s3cret', hash)).toBe(true);
    expect(await v.verify('s3cret', hash)).toBe(true);
    expect(v.hits).toBe(1);
    // a remembered success does not leak to another hash with a different secret
    const other = await hashSecret('other', TEST_SCRYPT_COST);
    expect(await v.verify('s3cret', other)).toBe(false);
  });

  it('generate URL-safe random secrets', () => {
    const a = generateSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(generateSecret()).not.toBe(a);
  });
});
