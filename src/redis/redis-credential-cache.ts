import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import {
  credentialDigest,
  NOTHING_RECALLED,
  RECALL_UNAVAILABLE,
  recalledDigest,
  type CredentialCache,
  type RecalledCredential,
} from '../service/credential-cache.js';
import type { UserId } from '../service/ports.js';
import { GuardedConnector } from './redis-connect.js';
import type { RedisKeys } from './redis-keys.js';

/** Options of the Redis verified-credential cache. */
export interface RedisCredentialCacheOptions {
  /** Its own connection to this Redis … */
  readonly url?: string;
  /**
   * … or one it borrows (and leaves open on close): the attempt limits', whose auto-pipelining sends a
   * login's cache lookup in the same write as its limit checks. Its command timeout then applies.
   */
  readonly client?: Redis;
  readonly keys: RedisKeys;
  /** The HMAC key every node shares (`credentialCacheKey(SESSION_SECRET)`); never sent to Redis. */
  readonly key: Buffer;
  /** AUTH_CACHE_TTL_S in ms; 0 turns the cache off. */
  readonly ttlMs: number;
  readonly logger: Logger;
  /** rediss://: the same CA and client certificate as the bus and presence. */
  readonly tls?: ConnectionOptions;
  /**
   * A lookup or store that takes longer gives up (the login pays bcrypt instead); own connection only.
   * @default 500
   */
  readonly commandTimeoutMs?: number;
}

/**
 * The verified-credential cache shared by every node through Redis: one key per user holding the HMAC of
 * its last verified credential, expiring after the TTL (`SET … PX`), so the cache is bounded by the number
 * of users who logged in within the TTL. Not the bus's connection: a lookup must not queue behind it; in a
 * node it borrows the attempt limits' (open-redis.ts), so a login's lookup and limit checks go out in one
 * pipeline. Redis away or slow is a miss, never a failed login (logged once per outage).
 */
export class RedisCredentialCache implements CredentialCache {
  private readonly client: Redis;
  private readonly owned: boolean;
  private outage = false;

  constructor(private readonly options: RedisCredentialCacheOptions) {
    if (options.client !== undefined) {
      this.client = options.client;
      this.owned = false;
    } else if (options.url !== undefined) {
      this.client = new Redis(options.url, {
        lazyConnect: true,
        ...(options.tls === undefined ? {} : { tls: options.tls }),
        Connector: GuardedConnector,
        // Answer now or not at all: no queueing while disconnected, no retry that would double the wait.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: options.commandTimeoutMs ?? 500,
      });
      this.owned = true;
      this.client.on('error', () => {});
    } else {
      throw new Error('RedisCredentialCache: give url or client');
    }
    this.client.on('ready', () => (this.outage = false));
  }

  /** Connects its own connection (a borrowed one is its owner's to connect). */
  async connect(): Promise<void> {
    if (this.owned) await this.client.connect();
  }

  async recall(userId: UserId): Promise<RecalledCredential> {
    if (this.options.ttlMs <= 0) return NOTHING_RECALLED;
    let stored: Buffer | null;
    try {
      stored = await this.client.getBuffer(this.options.keys.verifiedCredential(userId));
    } catch (error) {
      this.unavailable(error);
      return RECALL_UNAVAILABLE;
    }
    this.outage = false;
    return stored === null ? NOTHING_RECALLED : recalledDigest(this.options.key, userId, stored);
  }

  async remember(userId: UserId, passwordHash: string, password: string): Promise<void> {
    // During an outage the lookup before this one already waited for Redis; do not wait twice per login.
    if (this.options.ttlMs <= 0 || this.outage) return;
    const digest = credentialDigest(this.options.key, userId, passwordHash, password);
    try {
      await this.client.set(this.options.keys.verifiedCredential(userId), digest, 'PX', this.options.ttlMs);
    } catch (error) {
      this.unavailable(error);
    }
  }

  close(): Promise<void> {
    if (this.owned) this.client.disconnect();
    return Promise.resolve();
  }

  private unavailable(error: unknown): void {
    if (this.outage) return;
    this.outage = true;
    this.options.logger.warn(
      { err: error },
      'verified-credential cache unavailable (Redis); logins pay bcrypt meanwhile',
    );
  }
}
