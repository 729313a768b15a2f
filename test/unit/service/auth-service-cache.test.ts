import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../src/embedded/memory-store.js';
import { MemoryAttemptLimits } from '../../../src/embedded/memory-attempt-limits.js';
import { AuthService } from '../../../src/service/auth-service.js';
import { MemoryCredentialCache } from '../../../src/embedded/memory-credential-cache.js';
import { RECALL_UNAVAILABLE, type CredentialCache } from '../../../src/service/credential-cache.js';
import { LoginGuard } from '../../../src/service/login-guard.js';
import { PasswordAdmission } from '../../../src/service/password-admission.js';
import { createBcryptHasher } from '../../../src/service/password-hasher.js';
import type { PasswordHasher } from '../../../src/service/ports.js';
import { SessionTokens } from '../../../src/service/session-tokens.js';
import { systemClock } from '../../../src/util/clock.js';

/** An AuthService over the memory store whose bcrypt checks are counted. */
function auth(cache: CredentialCache) {
  const store = createMemoryStore(systemClock, 100);
  const bcrypt = createBcryptHasher(4);
  const hasher: PasswordHasher & { verifies: number } = {
    verifies: 0,
    hash: (password) => bcrypt.hash(password),
    verify: (password, hash) => (hasher.verifies++, bcrypt.verify(password, hash)),
  };
  const service = new AuthService(
    store.users,
    hasher,
    new SessionTokens('a-secret-of-enough-length', 60_000, systemClock),
    new LoginGuard(new MemoryAttemptLimits(), {
      loginsPerIpPerMin: 1000,
      registrationsPerIpPerHour: 1000,
      freeFailures: 1000,
      backoffMaxS: 1,
      accountFailuresBeforeDelay: 1000,
      accountDelayMs: 0,
    }),
    new PasswordAdmission({ concurrency: 2, queue: 100, perIp: 100 }),
    cache,
    store.messages,
  );
  return { service, hasher };
}

describe('AuthService with the verified-credential cache', () => {
  it('skips bcrypt on a hit and counts hits and misses', async () => {
    const { service, hasher } = auth(new MemoryCredentialCache({ ttlMs: 60_000, max: 10 }, systemClock));
    const user = await service.register('alice', 'pw-alice', '10.0.0.1');
    await service.login({ id: user.id }, 'pw-alice', '10.0.0.1');
    await service.login({ name: 'alice' }, 'pw-alice', '10.0.0.2');
    expect(hasher.verifies).toBe(1);
    await expect(service.login({ id: user.id }, 'wrong', '10.0.0.1')).rejects.toMatchObject({
      code: 'AUTH_BAD_CREDENTIALS',
    });
    expect(hasher.verifies).toBe(2);
    expect(service.cacheCounts).toEqual({ hit: 1, miss: 2, unavailable: 0 });
  });

  it('pays bcrypt, and still logs in, when the cache cannot answer', async () => {
    const remembered: number[] = [];
    const down: CredentialCache = {
      recall: () => Promise.resolve(RECALL_UNAVAILABLE),
      remember: (userId) => (remembered.push(userId), Promise.resolve()),
    };
    const { service, hasher } = auth(down);
    const user = await service.register('bob', 'pw-bob', '10.0.0.1');
    expect(await service.login({ id: user.id }, 'pw-bob', '10.0.0.1')).toMatchObject({ id: user.id });
    await expect(service.login({ id: user.id }, 'nope', '10.0.0.1')).rejects.toMatchObject({
      code: 'AUTH_BAD_CREDENTIALS',
    });
    expect(hasher.verifies).toBe(2);
    // Only the successful check is offered to the cache.
    expect(remembered).toEqual([user.id]);
    expect(service.cacheCounts).toEqual({ hit: 0, miss: 0, unavailable: 2 });
  });
});
