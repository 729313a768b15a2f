import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { UserId } from './ports.js';

/** Bounds of the verified-credential cache (AUTH_CACHE_TTL_S, AUTH_CACHE_MAX). */
export interface CredentialCacheLimits {
  /** How long a verified password is remembered; 0 turns the cache off. */
  readonly ttlMs: number;
  /** Entries (users) kept at most in a process; a Redis cache holds one key per user instead. */
  readonly max: number;
}

/** What a lookup found: the password was verified within the TTL, it was not, or the cache could not say. */
export type CredentialLookup = 'hit' | 'miss' | 'unavailable';

/**
 * The verified-credential cache, a port: remembers recently verified passwords so a repeat login (a
 * client reconnecting with its password, a test or load run) skips bcrypt — the way mail servers' auth
 * caches work. One entry per user: an HMAC of (user id, stored bcrypt hash, password) under a secret key,
 * so no password can be read back from it, and a changed password (a new stored hash) never matches. Only
 * successful checks are remembered. In process (`MemoryCredentialCache`, embedded/) for a single node; in
 * Redis for a cluster (`RedisCredentialCache`), so a repeat login hits on whichever node the balancer
 * picks. Neither method throws: a cache that cannot answer says `unavailable`, and the caller pays bcrypt.
 */
export interface CredentialCache {
  /**
   * The user's entry, fetched before the stored hash is known (so the fetch can share a round trip with
   * the login's other reads); `check` then compares without further I/O.
   */
  recall(userId: UserId): Promise<RecalledCredential>;
  /** Records a successful bcrypt check (best effort). */
  remember(userId: UserId, passwordHash: string, password: string): Promise<void>;
}

/** A user's entry as `recall` found it. */
export interface RecalledCredential {
  /** Whether this password was verified for this user (and stored hash) within the TTL. */
  check(passwordHash: string, password: string): CredentialLookup;
}

/** Whether this password was verified for this user (and stored hash) within the TTL: recall, then check. */
export async function lookupCredential(
  cache: CredentialCache,
  userId: UserId,
  passwordHash: string,
  password: string,
): Promise<CredentialLookup> {
  return (await cache.recall(userId)).check(passwordHash, password);
}

/** The recalled entry of a user with none (or of a cache that is off). */
export const NOTHING_RECALLED: RecalledCredential = { check: () => 'miss' };
/** The recalled entry when the cache could not answer. */
export const RECALL_UNAVAILABLE: RecalledCredential = { check: () => 'unavailable' };

/** An entry holding `stored` (a digest) for `userId` under `key`; compared in constant time. */
export function recalledDigest(key: Buffer, userId: UserId, stored: Buffer): RecalledCredential {
  return {
    check: (passwordHash, password) =>
      sameDigest(stored, credentialDigest(key, userId, passwordHash, password)) ? 'hit' : 'miss',
  };
}

/**
 * The cache's HMAC key for a cluster: derived from SESSION_SECRET with HKDF under a purpose label, so every
 * node shares it while the session secret itself is never used for two purposes (nor sent to Redis).
 */
export function credentialCacheKey(sessionSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', sessionSecret, '', 'parley verified-credential cache v1', 32));
}

/** The entry of one verified credential: HMAC-SHA256(key, user id ‖ stored hash ‖ password), 32 bytes. */
export function credentialDigest(
  key: Buffer,
  userId: UserId,
  passwordHash: string,
  password: string,
): Buffer {
  return createHmac('sha256', key).update(`${userId}\u0000${passwordHash}\u0000`).update(password).digest();
}

/** Constant-time comparison of two digests (a stored one may be missing or malformed). */
export function sameDigest(stored: Buffer | undefined, expected: Buffer): boolean {
  return stored !== undefined && stored.length === expected.length && timingSafeEqual(stored, expected);
}
