import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lookupCredential, type CredentialCache } from '../../src/service/credential-cache.js';

/** Two nodes' caches of one cluster (the same object for a process-local cache) and a way to let time pass. */
export interface CredentialCacheCluster {
  readonly a: CredentialCache;
  readonly b: CredentialCache;
  /** Lets the TTL pass: advances an injected clock, or waits out a short real TTL. */
  expire(): Promise<void>;
  close(): Promise<void>;
}

/** The behaviour every CredentialCache must have; `make(ttlMs)` builds a fresh, empty cluster. */
export function credentialCacheContract(
  name: string,
  make: (ttlMs: number) => Promise<CredentialCacheCluster>,
  /** The TTL of the expiry test: short for a real store, whose clock cannot be moved. */
  expiryTtlMs = 1000,
): void {
  describe(`CredentialCache contract: ${name}`, () => {
    let cluster: CredentialCacheCluster;
    beforeEach(async () => {
      cluster = await make(60_000);
    });
    afterEach(async () => {
      await cluster.close();
    });

    it('misses what was never remembered', async () => {
      expect(await lookupCredential(cluster.a, 1, 'hash-a', 'secret')).toBe('miss');
    });

    it('hits a remembered credential, on the node that verified it and on another', async () => {
      await cluster.a.remember(1, 'hash-a', 'secret');
      expect(await lookupCredential(cluster.a, 1, 'hash-a', 'secret')).toBe('hit');
      expect(await lookupCredential(cluster.b, 1, 'hash-a', 'secret')).toBe('hit');
    });

    it('misses a wrong password, another user, and a changed password (a new stored hash)', async () => {
      await cluster.a.remember(1, 'hash-a', 'secret');
      expect(await lookupCredential(cluster.b, 1, 'hash-a', 'Secret')).toBe('miss');
      expect(await lookupCredential(cluster.b, 1, 'hash-a', 'secret ')).toBe('miss');
      expect(await lookupCredential(cluster.b, 1, 'hash-a', '')).toBe('miss');
      expect(await lookupCredential(cluster.b, 2, 'hash-a', 'secret')).toBe('miss');
      expect(await lookupCredential(cluster.b, 1, 'hash-b', 'secret')).toBe('miss');
    });

    it('keeps one entry per user: the latest verified credential', async () => {
      await cluster.a.remember(1, 'hash-a', 'old');
      await cluster.b.remember(1, 'hash-b', 'new');
      expect(await lookupCredential(cluster.a, 1, 'hash-a', 'old')).toBe('miss');
      expect(await lookupCredential(cluster.a, 1, 'hash-b', 'new')).toBe('hit');
    });

    it('keeps users apart', async () => {
      await cluster.a.remember(1, 'hash-1', 'one');
      await cluster.a.remember(2, 'hash-2', 'two');
      expect(await lookupCredential(cluster.b, 1, 'hash-1', 'one')).toBe('hit');
      expect(await lookupCredential(cluster.b, 2, 'hash-2', 'two')).toBe('hit');
      expect(await lookupCredential(cluster.b, 2, 'hash-1', 'one')).toBe('miss');
    });

    it('forgets a credential once the TTL has passed', async () => {
      const short = await make(expiryTtlMs);
      try {
        await short.a.remember(1, 'hash-a', 'secret');
        expect(await lookupCredential(short.b, 1, 'hash-a', 'secret')).toBe('hit');
        await short.expire();
        expect(await lookupCredential(short.a, 1, 'hash-a', 'secret')).toBe('miss');
        expect(await lookupCredential(short.b, 1, 'hash-a', 'secret')).toBe('miss');
      } finally {
        await short.close();
      }
    });

    it('remembers nothing at TTL 0 (the cache is off)', async () => {
      const off = await make(0);
      try {
        await off.a.remember(1, 'hash-a', 'secret');
        expect(await lookupCredential(off.b, 1, 'hash-a', 'secret')).toBe('miss');
      } finally {
        await off.close();
      }
    });
  });
}
