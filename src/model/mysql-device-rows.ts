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
