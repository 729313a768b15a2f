import { describe, expect, it } from 'vitest';
import { credentialCacheKey, credentialDigest } from '../../../src/service/credential-cache.js';

describe('credentialCacheKey', () => {
  it('derives the same 32-byte key from the same secret, never the secret itself', () => {
    const secret = 'a-shared-secret-of-enough-length';
    const key = credentialCacheKey(secret);
    expect(key).toHaveLength(32);
    expect(key.equals(credentialCacheKey(secret))).toBe(true);
    expect(key.equals(credentialCacheKey(`${secret}!`))).toBe(false);
    expect(key.toString('latin1')).not.toContain(secret.slice(0, 16));
    // Not a plain HMAC of the data under the raw secret either.
    const raw = Buffer.from(secret);
    expect(credentialDigest(key, 1, 'h', 'p').equals(credentialDigest(raw, 1, 'h', 'p'))).toBe(false);
  });

  it('gives digests that depend on every part and do not contain the password', () => {
    const key = credentialCacheKey('a-shared-secret-of-enough-length');
    const base = credentialDigest(key, 1, 'h', 'password');
    expect(base).toHaveLength(32);
    expect(base.toString('latin1')).not.toContain('password');
    for (const other of [
      credentialDigest(key, 2, 'h', 'password'),
      credentialDigest(key, 1, 'h2', 'password'),
      credentialDigest(key, 1, 'h', 'password2'),
      // The separator keeps (id, hash) from running into the password.
      credentialDigest(key, 1, 'hp', 'assword'),
    ])
      expect(other.equals(base)).toBe(false);
  });
});
