import { afterEach, beforeEach, vi } from 'vitest';
import { MemoryAttemptLimits } from '../../../src/embedded/memory-attempt-limits.js';
import { attemptLimitsContract } from '../../contract/attempt-limits-contract.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

// One process: both "nodes" are the same limits; time passes on fake timers (rate-limiter-flexible reads
// Date.now and expires keys with setTimeout).
attemptLimitsContract('memory', () => {
  const limits = new MemoryAttemptLimits();
  return Promise.resolve({
    a: limits,
    b: limits,
    elapse: (seconds) => {
      vi.advanceTimersByTime(seconds * 1000);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  });
});
