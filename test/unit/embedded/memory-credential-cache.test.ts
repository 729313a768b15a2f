import { describe, expect, it } from 'vitest';
import { MemoryCredentialCache } from '../../../src/embedded/memory-credential-cache.js';
import { lookupCredential } from '../../../src/service/credential-cache.js';
import { credentialCacheContract } from '../../contract/credential-cache-contract.js';

function cache(ttlMs = 1000, max = 100) {
  const clock = { t: 0, now: () => clock.t };
  return { cache: new MemoryCredentialCache({ ttlMs, max }, clock), clock };
}

// One process: both "nodes" are the same cache; time passes on an injected clock.
credentialCacheContract('memory', (ttlMs) => {
  const { cache: c, clock } = cache(ttlMs);
  return Promise.resolve({
    a: c,
    b: c,
    expire: () => {
      clock.t += ttlMs;
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  });
});

describe('MemoryCredentialCache', () => {
  it('still hits one ms before the TTL ends', async () => {
    const { cache: c, clock } = cache(1000);
    await c.remember(1, 'h', 'p');
    clock.t = 999;
    expect(await lookupCredential(c, 1, 'h', 'p')).toBe('hit');
    clock.t = 1000;
    expect(await lookupCredential(c, 1, 'h', 'p')).toBe('miss');
    expect(c.size).toBe(0);
  });

  it('is bounded, dropping the users verified longest ago', async () => {
    const { cache: c } = cache(1000, 10);
    for (let i = 0; i < 50; i++) await c.remember(i, 'h', 'p');
    expect(c.size).toBeLessThanOrEqual(10);
    expect(await lookupCredential(c, 49, 'h', 'p')).toBe('hit');
    expect(await lookupCredential(c, 0, 'h', 'p')).toBe('miss');
  });

  it('uses a key of its own per process unless given one', async () => {
    const first = cache().cache;
    const second = cache().cache;
    await first.remember(1, 'h', 'p');
    expect(await lookupCredential(second, 1, 'h', 'p')).toBe('miss');
  });
});
