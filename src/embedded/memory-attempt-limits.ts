import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { AttemptLimits } from '../service/attempt-limits.js';
import { limiterWindow, type AttemptWindow } from '../util/limiter-window.js';

/**
 * Attempt limits kept in this process (embedded and single-node modes). Asking twice for the same window
 * gives the same counts, as Redis's keys do.
 */
export class MemoryAttemptLimits implements AttemptLimits {
  private readonly windows = new Map<string, AttemptWindow>();

  window(name: string, points: number, durationS: number): AttemptWindow {
    const id = `${name}\u0000${points}\u0000${durationS}`;
    let window = this.windows.get(id);
    if (!window) {
      window = limiterWindow(new RateLimiterMemory({ keyPrefix: name, points, duration: durationS }), points);
      this.windows.set(id, window);
    }
    return window;
  }
}
