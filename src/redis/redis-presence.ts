import { Redis } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../logger.js';
import { connectClients, GuardedConnector } from './redis-connect.js';
import type { Presence, SessionOrigin, UserId } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import type { RedisKeys } from './redis-keys.js';

export interface RedisPresenceOptions {
  readonly url: string;
  /** TLS settings for a rediss:// URL (CA, client certificate). @default what the URL implies */
  readonly tls?: ConnectionOptions | undefined;
  readonly keys: RedisKeys;
  readonly nodeId: string;
  /** A lease not refreshed within this time expires: the user reads as offline. @default 15000 */
  readonly ttlMs: number;
  readonly logger: Logger;
  /** Attach times in leases and node lease deadlines; compared across nodes, so wall-clock time. */
  readonly clock: Clock;
}

// A lease is `<node>/<session>/<cid>/<attempt>/<attached-at ms>`; "mine" means it starts with `<node>/<session>/` (ARGV[1]).
// Deletes the lease only if it still names this session (a newer login elsewhere may own it now).
const RELEASE_IF_MINE = `local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
// Claims the lease (ARGV[1], for ARGV[2] ms) unless it names a newer connection attempt of the same client
// instance: cid ARGV[3] (URI-encoded, '' = the caller gave none) with an attempt above ARGV[4]; then 0.
const CLAIM_UNLESS_NEWER_ATTEMPT = `local v = redis.call('GET', KEYS[1])
if v and ARGV[3] ~= '' then
  local cid, attempt = string.match(v, '/([^/]+)/(%d+)/%d+$')
  if cid == ARGV[3] and tonumber(attempt) > tonumber(ARGV[4]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1`;
// Renews the lease (ARGV[2], for ARGV[3] ms) unless a newer session holds it (then 0). Ours, free (lost
// with a Redis restart) or an *older* session's (attach time, the last field, before ours in ARGV[4]):
// after a Redis restart a node still holding a stale session (it was cut off and missed the takeover)
// may renew first, and must not make the live session look superseded.
const RENEW_UNLESS_NEWER = `local v = redis.call('GET', KEYS[1])
if v == false or string.sub(v, 1, #ARGV[1]) == ARGV[1]
  or (tonumber(string.match(v, '/(%d+)$')) or 0) < tonumber(ARGV[4]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0`;

/** The lease scripts, as defined on the connection with `defineCommand`. */
interface LeaseScripts {
  parleyReleaseIfMine(key: string, owner: string): Promise<unknown>;
  parleyClaimUnlessNewerAttempt(
    key: string,
    lease: string,
    ttlMs: number,
    cid: string,
    attempt: number,
  ): Promise<number>;
}

/** The same scripts queued on a pipeline (results come from `exec`). */
interface PipelinedLeaseScripts {
  parleyReleaseIfMine(key: string, owner: string): void;
  parleyRenewUnlessNewer(key: string, owner: string, lease: string, ttlMs: number, attachedAt: number): void;
}

/**
 * Presence as leases in Redis: `presence:<user>` = `<node>/<session>` with a TTL, refreshed (re-SET, so a
 * lease lost with a Redis restart is re-asserted) every ttl/3 for every session on this node, plus a
 * node lease. When a node dies its leases simply expire: no other node resets anyone, and nothing is
 * marked offline at start-up. While Redis is away, lookups fall back to this node's own sessions.
 */
export class RedisPresence implements Presence {
  private readonly redis: Redis;
  /** This node's sessions: user → session id and the full lease value. */
  private readonly local = new Map<UserId, { sessionId: string; lease: string; attachedAt: number }>();
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt: number;
  private superseded: ((userId: UserId, sessionId: string) => void) | undefined;

  constructor(private readonly options: RedisPresenceOptions) {
    this.startedAt = options.clock.now();
    this.redis = new Redis(options.url, {
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      Connector: GuardedConnector,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectionName: `parley-presence-${options.nodeId}`,
      retryStrategy: (times: number) => Math.min(100 * 2 ** times, 2000),
    });
    // Scripts run by SHA (EVALSHA, loaded on first use): the heartbeat renews every local lease.
    this.redis.defineCommand('parleyClaimUnlessNewerAttempt', {
      numberOfKeys: 1,
      lua: CLAIM_UNLESS_NEWER_ATTEMPT,
    });
    this.redis.defineCommand('parleyReleaseIfMine', { numberOfKeys: 1, lua: RELEASE_IF_MINE });
    this.redis.defineCommand('parleyRenewUnlessNewer', { numberOfKeys: 1, lua: RENEW_UNLESS_NEWER });
    this.redis.on('error', (error) =>
      options.logger.debug({ err: error }, 'redis presence connection error'),
    );
    this.redis.on('ready', () => void this.heartbeat());
    this.timer = setInterval(() => void this.heartbeat(), Math.max(250, Math.floor(options.ttlMs / 3)));
    this.timer.unref();
  }

  onSuperseded(handler: (userId: UserId, sessionId: string) => void): void {
    this.superseded = handler;
  }

  async connect(): Promise<void> {
    await connectClients(this.redis);
  }

  async attach(userId: UserId, sessionId: string, origin?: SessionOrigin): Promise<boolean> {
    const attachedAt = this.options.clock.now();
    const cid = origin ? encodeURIComponent(origin.cid) : '';
    const lease = `${this.owner(sessionId)}${cid || '-'}/${origin?.attempt ?? 0}/${attachedAt}`;
    try {
      const claimed = await (this.redis as unknown as LeaseScripts).parleyClaimUnlessNewerAttempt(
        this.options.keys.presence(userId),
        lease,
        this.options.ttlMs,
        cid,
        origin?.attempt ?? 0,
      );
      if (claimed === 0) return false;
    } catch (error) {
      this.options.logger.debug(
        { err: error, userId },
        'presence attach not written; the heartbeat will retry',
      );
    }
    // Only once claimed: the heartbeat renews what `local` holds.
    this.local.set(userId, { sessionId, lease, attachedAt });
    return true;
  }

  async detach(userId: UserId, sessionId: string): Promise<void> {
    if (this.local.get(userId)?.sessionId === sessionId) this.local.delete(userId);
    try {
      await (this.redis as unknown as LeaseScripts).parleyReleaseIfMine(
        this.options.keys.presence(userId),
        this.owner(sessionId),
      );
    } catch (error) {
      this.options.logger.debug({ err: error, userId }, 'presence detach not written; the lease will expire');
    }
  }

  async onlineAmong(userIds: readonly UserId[]): Promise<Set<UserId>> {
    if (userIds.length === 0) return new Set();
    try {
      const values = await this.redis.mget(...userIds.map((id) => this.options.keys.presence(id)));
      return new Set(userIds.filter((_, i) => values[i] !== null));
    } catch {
      return new Set(userIds.filter((id) => this.local.has(id)));
    }
  }

  /** What every live node last reported in its lease (id, start time, sessions), for the cluster view. */
  async nodeInfos(): Promise<{ nodeId: string; startedAt: number; sessions: number }[]> {
    const ids = await this.liveNodes();
    if (ids.length === 0) return [];
    const values = await this.redis.mget(...ids.map((id) => this.options.keys.node(id)));
    return values.flatMap((value) =>
      value ? [JSON.parse(value) as { nodeId: string; startedAt: number; sessions: number }] : [],
    );
  }

  /** Live nodes (their leases), for the cluster view. */
  async liveNodes(): Promise<string[]> {
    await this.redis.zremrangebyscore(this.options.keys.nodes, 0, this.options.clock.now());
    return this.redis.zrange(this.options.keys.nodes, 0, -1);
  }

  get localCount(): number {
    return this.local.size;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    try {
      const pipeline = this.redis.pipeline();
      for (const [userId, { sessionId }] of this.local)
        (pipeline as unknown as PipelinedLeaseScripts).parleyReleaseIfMine(
          this.options.keys.presence(userId),
          this.owner(sessionId),
        );
      pipeline.del(this.options.keys.node(this.options.nodeId));
      pipeline.zrem(this.options.keys.nodes, this.options.nodeId);
      await pipeline.exec();
    } catch {
      // Leases expire on their own.
    }
    this.local.clear();
    this.redis.disconnect();
  }

  /** The lease prefix that says "this node's session". */
  private owner(sessionId: string): string {
    return `${encodeURIComponent(this.options.nodeId)}/${sessionId}/`;
  }

  /** Re-asserts every local lease and the node lease, in pipelines of 1000. */
  private async heartbeat(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    const { keys, ttlMs, nodeId } = this.options;
    try {
      const entries = [...this.local];
      for (let i = 0; i < entries.length; i += 1000) {
        const batch = entries.slice(i, i + 1000);
        const pipeline = this.redis.pipeline();
        for (const [userId, { sessionId, lease, attachedAt }] of batch)
          (pipeline as unknown as PipelinedLeaseScripts).parleyRenewUnlessNewer(
            keys.presence(userId),
            this.owner(sessionId),
            lease,
            ttlMs,
            attachedAt,
          );
        const results = (await pipeline.exec()) ?? [];
        // A lease held by another session: that user logged in again elsewhere while we did not hear it.
        results.forEach(([error, renewed], j) => {
          const [userId, { sessionId }] = batch[j]!;
          if (!error && renewed === 0 && this.local.get(userId)?.sessionId === sessionId) {
            this.local.delete(userId);
            this.superseded?.(userId, sessionId);
          }
        });
      }
      await this.redis
        .pipeline()
        .set(
          keys.node(nodeId),
          JSON.stringify({ nodeId, startedAt: this.startedAt, sessions: this.local.size }),
          'PX',
          ttlMs,
        )
        .zadd(keys.nodes, this.options.clock.now() + ttlMs, nodeId)
        .exec();
    } catch (error) {
      this.options.logger.debug({ err: error }, 'presence heartbeat failed');
    }
  }
}
