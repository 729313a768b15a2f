import type { Socket } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { RedisAttemptLimits } from '../../src/redis/redis-attempt-limits.js';
import { RedisCredentialCache } from '../../src/redis/redis-credential-cache.js';
import { RedisKeys } from '../../src/redis/redis-keys.js';
import { credentialCacheKey, lookupCredential } from '../../src/service/credential-cache.js';
import { LoginGuard } from '../../src/service/login-guard.js';
import { attemptLimitsContract } from '../contract/attempt-limits-contract.js';
import { tcpProxy } from '../helpers/tcp-proxy.js';

const logger = createLogger('silent');
const prefix = () => `t${Math.random().toString(36).slice(2, 8)}:`;

async function limits(url: string, keys: RedisKeys, commandTimeoutMs?: number): Promise<RedisAttemptLimits> {
  const made = new RedisAttemptLimits(url, keys, logger, undefined, commandTimeoutMs);
  await made.connect();
  return made;
}

// Two nodes' limits on their own connections, one key prefix; windows pass in real time.
attemptLimitsContract('redis', async () => {
  const keys = new RedisKeys(prefix());
  const [a, b] = [await limits(inject('redisUrl'), keys), await limits(inject('redisUrl'), keys)];
  return {
    a,
    b,
    elapse: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)),
    close: async () => {
      await Promise.all([a.close(), b.close()]);
    },
  };
});

const POLICY = {
  loginsPerIpPerMin: 100,
  registrationsPerIpPerHour: 10,
  freeFailures: 2,
  backoffMaxS: 4,
  accountFailuresBeforeDelay: 5,
  accountDelayMs: 0,
};

describe('Redis attempt limits beyond the contract', () => {
  it('sends a login’s checks and its credential-cache lookup to Redis in one write', async () => {
    const keys = new RedisKeys(prefix());
    const attempts = await limits(inject('redisUrl'), keys);
    const cache = new RedisCredentialCache({
      client: attempts.client,
      keys,
      key: credentialCacheKey('a-shared-secret-of-enough-length'),
      ttlMs: 60_000,
      logger,
    });
    const guard = new LoginGuard(attempts, POLICY);
    await cache.remember(1, 'hash', 'pw');
    // Scripts are loaded on first use (EVALSHA falls back to EVAL once): warm them up first.
    await guard.beforePassword('ip', 'id:1', true);

    const stream = (attempts.client as unknown as { stream: Socket }).stream;
    const write = stream.write.bind(stream);
    let writes = 0;
    stream.write = ((...args: Parameters<Socket['write']>) => (writes++, write(...args))) as Socket['write'];
    const [attempt, recalled] = await Promise.all([
      guard.beforePassword('ip', 'id:1', true),
      cache.recall(1),
    ]);
    stream.write = write;
    expect(writes).toBe(1);
    expect(attempt).toEqual({ recorded: false });
    expect(recalled.check('hash', 'pw')).toBe('hit');
    await attempts.close();
  });

  it('lets attempts through, and the cache answers unavailable, while Redis is away; counts again once back', async () => {
    const proxy = await tcpProxy(Number(new URL(inject('redisUrl')).port));
    const keys = new RedisKeys(prefix());
    const attempts = await limits(`redis://127.0.0.1:${proxy.port}`, keys);
    const cache = new RedisCredentialCache({
      client: attempts.client,
      keys,
      key: credentialCacheKey('a-shared-secret-of-enough-length'),
      ttlMs: 60_000,
      logger,
    });
    const window = attempts.window('w', 1, 60);
    await window.consume('k');
    expect(await window.consume('k')).toMatchObject({ allowed: false });
    proxy.refuse(true);
    proxy.cut();
    await new Promise((resolve) => attempts.client.once('close', resolve));
    expect(await window.consume('k')).toEqual({ allowed: true, consumed: 0, msBeforeReset: 0 });
    expect(await window.peek('k')).toBeUndefined();
    expect(await lookupCredential(cache, 1, 'hash', 'pw')).toBe('unavailable');
    // ioredis reconnects once Redis is reachable again; the count kept there is back.
    proxy.refuse(false);
    let state = await window.peek('k');
    for (let i = 0; i < 100 && state === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      state = await window.peek('k');
    }
    expect(state).toMatchObject({ allowed: false, consumed: 2 });
    expect(await lookupCredential(cache, 1, 'hash', 'pw')).toBe('miss');
    await attempts.close();
    proxy.close();
  });

  it('gives up on a Redis that hangs within the command timeout and lets the attempt through', async () => {
    const proxy = await tcpProxy(Number(new URL(inject('redisUrl')).port));
    const keys = new RedisKeys(prefix());
    const attempts = await limits(`redis://127.0.0.1:${proxy.port}`, keys, 200);
    const guard = new LoginGuard(attempts, POLICY);
    await guard.failed('ip', 'id:1');
    proxy.freeze();
    const started = performance.now();
    await expect(guard.beforePassword('ip', 'id:1', true)).resolves.toEqual({ recorded: false });
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(2000);
    await attempts.close();
    proxy.close();
  });
});
