import { describe, expect, it } from 'vitest';
import { CredentialCache } from '../../../src/service/credential-cache.js';

function cache(ttlMs = 1000, max = 100) {
  const clock = { t: 0, now: () => clock.t };
  return { cache: new CredentialCache({ ttlMs, max }, clock), clock };
}

describe('CredentialCache', () => {
  it('accepts a verified password again within the TTL, and nothing else', () => {
    const { cache: c, clock } = cache();
    c.remember(1, 'hash-a', 'secret');
    expect(c.has(1, 'hash-a', 'secret')).toBe(true);
    expect(c.has(1, 'hash-a', 'Secret')).toBe(false);
    expect(c.has(2, 'hash-a', 'secret')).toBe(false);
    // A changed password (a new stored hash) never matches the old entry.
    expect(c.has(1, 'hash-b', 'secret')).toBe(false);
    clock.t = 1000;
    expect(c.has(1, 'hash-a', 'secret')).toBe(false);
    expect(c.size).toBe(0);
  });

  it('is bounded, and off at TTL 0', () => {
    const { cache: c } = cache(1000, 10);
    for (let i = 0; i < 50; i++) c.remember(i, 'h', 'p');
    expect(c.size).toBeLessThanOrEqual(10);
    expect(c.has(49, 'h', 'p')).toBe(true);
    expect(c.has(0, 'h', 'p')).toBe(false);
    const { cache: off } = cache(0);
    off.remember(1, 'h', 'p');
    expect(off.has(1, 'h', 'p')).toBe(false);
  });
});
