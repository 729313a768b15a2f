import { createHmac, randomBytes } from 'node:crypto';
import { evictOldest } from '../util/evict-oldest.js';
import type { Clock } from '../util/clock.js';

/** Bounds of the verified-credential cache (AUTH_CACHE_TTL_S, AUTH_CACHE_MAX). */
export interface CredentialCacheLimits {
  /** How long a verified password is remembered; 0 turns the cache off. */
  readonly ttlMs: number;
  /** Entries kept at most (oldest dropped first). */
  readonly max: number;
}

/**
 * Remembers recently verified passwords so a repeat login (a client reconnecting with its password, a
 * test or load run) skips bcrypt — the way mail servers' auth caches work. Entries are HMACs under a key
 * made at random per process and never stored: no password can be read back from them (though the key is
 * in the same heap, so a heap dump allows testing guesses at HMAC speed — protect dumps). The stored hash is part of the key, so a changed password never
 * matches an old entry; only successful checks are remembered. Trade-off (docs/OPERATIONS.md, Security):
 * for `ttlMs` after a successful login, the same password is accepted at the cost of a HMAC instead of
 * bcrypt's — guessing is still held back by the per-address limits and backoff, which run before it.
 */
export class CredentialCache {
  private readonly secret = randomBytes(32);
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly limits: CredentialCacheLimits,
    private readonly clock: Clock,
  ) {}

  /** Whether this password was verified for this user (and stored hash) within the TTL. */
  has(userId: number, passwordHash: string, password: string): boolean {
    if (this.limits.ttlMs <= 0) return false;
    const key = this.key(userId, passwordHash, password);
    const expires = this.entries.get(key);
    if (expires === undefined) return false;
    if (expires > this.clock.now()) return true;
    this.entries.delete(key);
    return false;
  }

  /** Records a successful bcrypt check. */
  remember(userId: number, passwordHash: string, password: string): void {
    if (this.limits.ttlMs <= 0) return;
    const key = this.key(userId, passwordHash, password);
    this.entries.delete(key);
    this.entries.set(key, this.clock.now() + this.limits.ttlMs);
    evictOldest(this.entries, this.limits.max);
  }

  get size(): number {
    return this.entries.size;
  }

  private key(userId: number, passwordHash: string, password: string): string {
    return createHmac('sha256', this.secret)
      .update(`${userId}\u0000${passwordHash}\u0000`)
      .update(password)
      .digest('base64url');
  }
}
