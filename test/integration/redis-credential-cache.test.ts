import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { RedisCredentialCache } from '../../src/redis/redis-credential-cache.js';
import { RedisKeys } from '../../src/redis/redis-keys.js';
import { credentialCacheKey, lookupCredential } from '../../src/service/credential-cache.js';
import { credentialCacheContract } from '../contract/credential-cache-contract.js';
import { tcpProxy } from '../helpers/tcp-proxy.js';

const logger = createLogger('silent');
const prefix = () => `t${Math.random().toString(36).slice(2, 8)}:`;
const SECRET = 'a-shared-secret-of-enough-length';

async function node(
  url: string,
  keys: RedisKeys,
  ttlMs: number,
  secret = SECRET,
  commandTimeoutMs?: number,
): Promise<RedisCredentialCache> {
  const cache = new RedisCredentialCache({
    url,
    keys,
    key: credentialCacheKey(secret),
    ttlMs,
    logger,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }),
  });
  await cache.connect();
  return cache;
}

// Two nodes' caches on their own connections, one key prefix; expiry waits out a short real TTL.
const EXPIRY_TTL_MS = 300;
credentialCacheContract(
  'redis',
  async (ttlMs) => {
    const keys = new RedisKeys(prefix());
    const [a, b] = [await node(inject('redisUrl'), keys, ttlMs), await node(inject('redisUrl'), keys, ttlMs)];
    return {
      a,
      b,
      expire: () => new Promise((resolve) => setTimeout(resolve, ttlMs + 50)),
      close: async () => {
        await Promise.all([a.close(), b.close()]);
      },
    };
  },
  EXPIRY_TTL_MS,
);

describe('Redis credential cache beyond the contract', () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(inject('redisUrl'));
  });
  afterAll(() => {
    raw.disconnect();
  });

  it('holds one key per user, with the TTL set, and no password in it', async () => {
    const keys = new RedisKeys(prefix());
    const cache = await node(inject('redisUrl'), keys, 60_000);
    await cache.remember(7, 'hash-a', 'hunter2-password');
    await cache.remember(7, 'hash-a', 'hunter2-password');
    await cache.remember(8, 'hash-b', 'other');
    expect((await raw.keys(`${keys.prefix}*`)).sort()).toEqual([
      keys.verifiedCredential(7),
      keys.verifiedCredential(8),
    ]);
    const ttl = await raw.pttl(keys.verifiedCredential(7));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const value = await raw.getBuffer(keys.verifiedCredential(7));
    expect(value).toHaveLength(32);
    expect(value!.toString('latin1')).not.toContain('hunter2');
    await cache.close();
  });

  it('misses on a node with another session secret: the entries are useless without it', async () => {
    const keys = new RedisKeys(prefix());
    const ours = await node(inject('redisUrl'), keys, 60_000);
    const theirs = await node(inject('redisUrl'), keys, 60_000, 'another-secret-of-enough-length');
    await ours.remember(1, 'hash-a', 'secret');
    expect(await lookupCredential(theirs, 1, 'hash-a', 'secret')).toBe('miss');
    expect(await lookupCredential(ours, 1, 'hash-a', 'secret')).toBe('hit');
    await Promise.all([ours.close(), theirs.close()]);
  });

  it('answers unavailable, never throws, while Redis is away, and hits again once it is back', async () => {
    const proxy = await tcpProxy(Number(new URL(inject('redisUrl')).port));
    const keys = new RedisKeys(prefix());
    const cache = await node(`redis://127.0.0.1:${proxy.port}`, keys, 60_000);
    await cache.remember(1, 'hash-a', 'secret');
    expect(await lookupCredential(cache, 1, 'hash-a', 'secret')).toBe('hit');
    proxy.cut();
    // Closed connection: refused at once (no offline queue), remember swallows the error.
    expect(await lookupCredential(cache, 1, 'hash-a', 'secret')).toBe('unavailable');
    await expect(cache.remember(2, 'hash-b', 'other')).resolves.toBeUndefined();
    // ioredis reconnects through the proxy (new connections pass).
    let found = await lookupCredential(cache, 1, 'hash-a', 'secret');
    for (let i = 0; i < 100 && found !== 'hit'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      found = await lookupCredential(cache, 1, 'hash-a', 'secret');
    }
    expect(found).toBe('hit');
    await cache.close();
    proxy.close();
  });

  it('gives up on a Redis that hangs within the command timeout', async () => {
    const proxy = await tcpProxy(Number(new URL(inject('redisUrl')).port));
    const keys = new RedisKeys(prefix());
    const cache = await node(`redis://127.0.0.1:${proxy.port}`, keys, 60_000, SECRET, 200);
    await cache.remember(1, 'hash-a', 'secret');
    proxy.freeze();
    const started = performance.now();
    expect(await lookupCredential(cache, 1, 'hash-a', 'secret')).toBe('unavailable');
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(2000);
    await expect(cache.remember(1, 'hash-a', 'secret')).resolves.toBeUndefined();
    await cache.close();
    proxy.close();
  });
});
