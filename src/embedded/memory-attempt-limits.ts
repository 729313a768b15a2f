import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { AttemptLimits } from '../service/attempt-limits.js';
import { limiterWindow, type AttemptWindow } from '../util/limiter-window.js';

/** Attempt limits kept in this process (embedded and single-node modes). */
export class MemoryAttemptLimits implements AttemptLimits {
  window(name: string, points: number, durationS: number): AttemptWindow {
    return limiterWindow(new RateLimiterMemory({ keyPrefix: name, points, duration: durationS }), points);
  }
}
