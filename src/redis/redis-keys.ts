import type { UserId } from '../service/ports.js';

/**
 * Every Redis key and channel name Parley uses, built here and nowhere else. As in the ancestor design,
 * messages for a user travel on a channel keyed by that user's id; the prefix lets several clusters (or
 * test runs) share one Redis.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** Pub/sub channel of one user. */
  userChannel(userId: UserId): string {
    return `${this.prefix}user:${userId}`;
  }

  /** Pattern-free parse of a user channel back to the id (undefined for foreign channels). */
  userOfChannel(channel: string): UserId | undefined {
    const head = `${this.prefix}user:`;
    if (!channel.startsWith(head)) return undefined;
    const id = Number(channel.slice(head.length));
    return Number.isSafeInteger(id) ? id : undefined;
  }

  /**
   * Presence of a user, a hash: one lease per device (`d:<device>` = deadline, node, session, client
   * instance, attempt, attach time), the hidden flag `h` and last seen `s` (see presence-scripts.ts).
   * Not `presence:<user>`, the string lease of releases before devices, so the two never collide.
   */
  presence(userId: UserId): string {
    return `${this.prefix}presence:user:${userId}`;
  }

  /** Sorted set of online users by their latest lease deadline, which the presence sweep scans. */
  get presenceExpiry(): string {
    return `${this.prefix}presence:expiry`;
  }

  /** Liveness lease of a node. */
  node(nodeId: string): string {
    return `${this.prefix}node:${nodeId}`;
  }

  /** Sorted set of node ids by lease expiry, to list the live nodes without SCAN. */
  get nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** The verified-credential cache's entry of a user (an HMAC, expiring with AUTH_CACHE_TTL_S). */
  verifiedCredential(userId: UserId): string {
    return `${this.prefix}authcache:user:${userId}`;
  }

  /** Key prefix of one attempt-limit window (rate-limiter-flexible adds `:<key>`). */
  limit(name: string): string {
    return `${this.prefix}limit:${name}`;
  }
}
