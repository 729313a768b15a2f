import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** Where a key stands in its window. */
export interface AttemptState {
  /** False once the window's points are spent (or the key was blocked). */
  readonly allowed: boolean;
  /** Points consumed in the current window. */
  readonly consumed: number;
  /** Until the window (or block) ends. */
  readonly msBeforeReset: number;
}

/** One limit: `points` per window per key. */
export interface AttemptWindow {
  /** Spends one point (more with `points`) and says where the key stands. */
  consume(key: string, points?: number): Promise<AttemptState>;
  /** Where the key stands, without spending (undefined: nothing recorded). */
  peek(key: string): Promise<AttemptState | undefined>;
  /** Refuses the key for `seconds` from now. */
  block(key: string, seconds: number): Promise<void>;
  /** Forgets the key. */
  reset(key: string): Promise<void>;
}

/**
 * An AttemptWindow over a rate-limiter-flexible limiter (memory or Redis). A failure of the limiter's
 * store (Redis down) lets the attempt through — limits must not lock everyone out during an outage —
 * and is reported once per outage through `onStoreError`.
 */
export function limiterWindow(
  limiter: RateLimiterAbstract,
  points: number,
  onStoreError: (error: unknown) => void = () => {},
  /** A cheaper read of the store than the limiter's `get` (Redis: one script instead of a transaction). */
  read?: (key: string) => Promise<AttemptState | undefined>,
): AttemptWindow {
  const state = (res: RateLimiterRes): AttemptState => ({
    allowed: res.consumedPoints <= points,
    consumed: res.consumedPoints,
    msBeforeReset: res.msBeforeNext,
  });
  const open: AttemptState = { allowed: true, consumed: 0, msBeforeReset: 0 };
  return {
    async consume(key, spend = 1) {
      try {
        return state(await limiter.consume(key, spend));
      } catch (error) {
        if (error instanceof RateLimiterRes) return state(error);
        onStoreError(error);
        return open;
      }
    },
    async peek(key) {
      try {
        if (read) return await read(key);
        const res = await limiter.get(key);
        return res ? state(res) : undefined;
      } catch (error) {
        onStoreError(error);
        return undefined;
      }
    },
    async block(key, seconds) {
      try {
        await limiter.block(key, seconds);
      } catch (error) {
        onStoreError(error);
      }
    },
    async reset(key) {
      try {
        await limiter.delete(key);
      } catch (error) {
        onStoreError(error);
      }
    },
  };
}
