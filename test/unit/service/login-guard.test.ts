import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryAttemptLimits } from '../../../src/embedded/memory-attempt-limits.js';
import { LoginGuard } from '../../../src/service/login-guard.js';

const POLICY = {
  loginsPerIpPerMin: 100,
  registrationsPerIpPerHour: 2,
  freeFailures: 2,
  backoffMaxS: 4,
  accountFailuresBeforeDelay: 5,
  accountDelayMs: 1000,
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LoginGuard', () => {
  it('backs off per (account, address): 1 s, 2 s, 4 s … capped, and a success clears it', async () => {
    const guard = new LoginGuard(new MemoryAttemptLimits(), POLICY, () => Promise.resolve());
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await guard.failed('ip1', 'id:1');
      waits.push(
        await guard.beforePassword('ip1', 'id:1').then(
          () => 0,
          (error: { retryAfterMs: number }) => error.retryAfterMs,
        ),
      );
      vi.advanceTimersByTime(10_000);
    }
    expect(waits).toEqual([0, 1000, 2000, 4000, 4000]);
    // Another address and another account are free.
    await expect(guard.beforePassword('ip2', 'id:1')).resolves.toBeUndefined();
    await guard.failed('ip1', 'id:1');
    await guard.succeeded('ip1', 'id:1');
    await expect(guard.beforePassword('ip1', 'id:1')).resolves.toBeUndefined();
  });

  it('slows, never refuses, every attempt on an account attacked from many addresses', async () => {
    const slept: number[] = [];
    const guard = new LoginGuard(new MemoryAttemptLimits(), POLICY, (ms) => {
      slept.push(ms);
      return Promise.resolve();
    });
    for (let i = 0; i < 5; i++) await guard.failed(`attacker${i}`, 'id:7');
    await expect(guard.beforePassword('owner', 'id:7')).resolves.toBeUndefined();
    expect(slept).toEqual([1000]);
  });

  it('limits registrations per address', async () => {
    const guard = new LoginGuard(new MemoryAttemptLimits(), POLICY);
    await guard.beforeRegister('ip');
    await guard.beforeRegister('ip');
    await expect(guard.beforeRegister('ip')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await expect(guard.beforeRegister('other')).resolves.toBeUndefined();
  });
});
