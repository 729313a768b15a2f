import type { AttemptWindow } from '../util/limiter-window.js';

/**
 * The port for counting attempts per key in a time window — cluster-wide through Redis when there is one
 * (`src/redis/redis-attempt-limits.ts`), in the process otherwise (`src/embedded/memory-attempt-limits.ts`);
 * both are rate-limiter-flexible underneath (`util/limiter-window.ts`).
 */
export interface AttemptLimits {
  /** A window of `points` per `durationS` per key; `name` keeps windows' keys apart. */
  window(name: string, points: number, durationS: number): AttemptWindow;
}
