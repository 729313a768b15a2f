import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryAttemptLimits } from '../../../src/embedded/memory-attempt-limits.js';
import type { AttemptLimits } from '../../../src/service/attempt-limits.js';
import { LoginGuard } from '../../../src/service/login-guard.js';
import type { AttemptWindow } from '../../../src/util/limiter-window.js';

/** Memory limits that count the resets asked of them. */
class CountingLimits implements AttemptLimits {
  resets = 0;
  private readonly inner = new MemoryAttemptLimits();
  window(name: string, points: number, durationS: number): AttemptWindow {
    const window = this.inner.window(name, points, durationS);
    return { ...window, reset: (key) => (this.resets++, window.reset(key)) };
  }
}

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
    await expect(guard.beforePassword('ip2', 'id:1')).resolves.toEqual({ recorded: false });
    await guard.failed('ip1', 'id:1');
    await guard.succeeded('ip1', 'id:1');
    await expect(guard.beforePassword('ip1', 'id:1')).resolves.toEqual({ recorded: false });
  });

  it('slows, never refuses, every attempt on an account attacked from many addresses', async () => {
    const slept: number[] = [];
    const guard = new LoginGuard(new MemoryAttemptLimits(), POLICY, (ms) => {
      slept.push(ms);
      return Promise.resolve();
    });
    for (let i = 0; i < 5; i++) await guard.failed(`attacker${i}`, 'id:7');
    await expect(guard.beforePassword('owner', 'id:7')).resolves.toEqual({ recorded: false });
    expect(slept).toEqual([1000]);
  });

  it('says whether the (account, address) has a record, and a success clears only a recorded one', async () => {
    const limits = new CountingLimits();
    const guard = new LoginGuard(limits, POLICY, () => Promise.resolve());
    const clean = await guard.beforePassword('ip1', 'id:1');
    expect(clean).toEqual({ recorded: false });
    await guard.succeeded('ip1', 'id:1', clean);
    expect(limits.resets).toBe(0);

    await guard.failed('ip1', 'id:1');
    // A failure elsewhere is no record of this address.
    await guard.failed('ip2', 'id:1');
    const afterFailure = await guard.beforePassword('ip1', 'id:1');
    expect(afterFailure).toEqual({ recorded: true });
    await guard.succeeded('ip1', 'id:1', afterFailure);
    expect(limits.resets).toBe(2);
    expect(await guard.beforePassword('ip1', 'id:1')).toEqual({ recorded: false });
    expect(await guard.beforePassword('ip2', 'id:1')).toEqual({ recorded: true });
  });

  it('counts the address rate with the account checks when asked, refusing over it before any backoff', async () => {
    const guard = new LoginGuard(
      new MemoryAttemptLimits(),
      { ...POLICY, loginsPerIpPerMin: 3, freeFailures: 0 },
      () => Promise.resolve(),
    );
    await guard.failed('ip1', 'id:1');
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(
        await guard.beforePassword('ip1', 'id:2', true).then(
          () => 'ok',
          (error: Error) => error.message,
        ),
      );
    expect(outcomes.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
    expect(outcomes[3]).toMatch(/too many logins from your address/);
    // Over the rate and in backoff: the rate is named.
    await expect(guard.beforePassword('ip1', 'id:1', true)).rejects.toThrow(
      /too many logins from your address/,
    );
    // Without counting, only the account's backoff applies.
    await expect(guard.beforePassword('ip1', 'id:1')).rejects.toThrow(/too many wrong passwords/);
    await expect(guard.beforePassword('ip1', 'id:2')).resolves.toEqual({ recorded: false });
  });

  it('limits registrations per address', async () => {
    const guard = new LoginGuard(new MemoryAttemptLimits(), POLICY);
    await guard.beforeRegister('ip');
    await guard.beforeRegister('ip');
    await expect(guard.beforeRegister('ip')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await expect(guard.beforeRegister('other')).resolves.toBeUndefined();
  });
});
