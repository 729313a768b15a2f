import type { DeviceId, UserId } from '../service/ports.js';

/**
 * `inbox_device.active_at` of a device created by a logout alone (it never opened a session): outside
 * every retention window, and its acks are ignored.
 */
export const NEVER_ACTIVE = Number.MIN_SAFE_INTEGER;

/**
 * The pruner counts a device as active for a minute longer than a session opening does, so that a device
 * found active when its session opens (and not moved to the floor) is never left out of a floor computed
 * on another node at the same moment, whose clock may be a little ahead.
 */
export const PRUNE_GRACE_MS = 60_000;

/**
 * A JSON array of `[userId, device, seq]` triples as a table (`user_id`, `device`, `seq`) to join against,
 * like `userSeqPairs` (mysql-message-rows.ts). The device column has inbox_device's binary collation, so
 * the join is an exact, index-backed comparison.
 */
export function userDeviceSeqTriples(json: string): string {
  return `JSON_TABLE(${json}, '$[*]' COLUMNS (user_id INT PATH '$[0]',
    device VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin PATH '$[1]', seq BIGINT PATH '$[2]'))`;
}

/** Orders `[userId, device, …]` rows by user id, then device: the order device writers lock rows in. */
export const byUserThenDevice = (
  a: readonly [UserId, DeviceId, ...unknown[]],
  b: readonly [UserId, DeviceId, ...unknown[]],
): number => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

/** Deadlock victims among device writes are retried this many times (InnoDB rolled them back whole). */
const DEADLOCK_RETRIES = 3;

/**
 * Runs `write` again when InnoDB picked it as a deadlock victim. Device writes lock rows in the same order
 * as appends, so this is for the rare gap-lock collision (say an ack for a device whose row is still being
 * inserted), not a steady state.
 */
export async function retryDeadlocks<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const deadlock = (error as { code?: string } | null)?.code === 'ER_LOCK_DEADLOCK';
      if (!deadlock || attempt >= DEADLOCK_RETRIES) throw error;
    }
  }
}
