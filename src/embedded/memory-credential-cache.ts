import { randomBytes } from 'node:crypto';
import {
  credentialDigest,
  NOTHING_RECALLED,
  recalledDigest,
  type CredentialCache,
  type CredentialCacheLimits,
  type RecalledCredential,
} from '../service/credential-cache.js';
import type { UserId } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import { evictOldest } from '../util/evict-oldest.js';

/**
 * The cache in this process's memory (embedded mode, a single node). Its key is made at random per process
 * and never leaves it; an entry per user, at most `max` (oldest dropped first).
 */
export class MemoryCredentialCache implements CredentialCache {
  private readonly entries = new Map<UserId, { readonly digest: Buffer; readonly expiresAt: number }>();

  constructor(
    private readonly limits: CredentialCacheLimits,
    private readonly clock: Clock,
    private readonly key: Buffer = randomBytes(32),
  ) {}

  recall(userId: UserId): Promise<RecalledCredential> {
    if (this.limits.ttlMs <= 0) return Promise.resolve(NOTHING_RECALLED);
    const entry = this.entries.get(userId);
    if (entry === undefined) return Promise.resolve(NOTHING_RECALLED);
    if (entry.expiresAt <= this.clock.now()) {
      this.entries.delete(userId);
      return Promise.resolve(NOTHING_RECALLED);
    }
    return Promise.resolve(recalledDigest(this.key, userId, entry.digest));
  }

  remember(userId: UserId, passwordHash: string, password: string): Promise<void> {
    if (this.limits.ttlMs <= 0) return Promise.resolve();
    const digest = credentialDigest(this.key, userId, passwordHash, password);
    this.entries.delete(userId);
    this.entries.set(userId, { digest, expiresAt: this.clock.now() + this.limits.ttlMs });
    evictOldest(this.entries, this.limits.max);
    return Promise.resolve();
  }

  /** Entries held (expired ones included until looked up or evicted). */
  get size(): number {
    return this.entries.size;
  }
}
