import { Redis } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../logger.js';
import { connectClients, GuardedConnector } from './redis-connect.js';
import type {
  AttachOutcome,
  DeviceId,
  Presence,
  PresenceAttach,
  PresenceChange,
  PresenceView,
  SessionOrigin,
  UserId,
} from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import type { RedisKeys } from './redis-keys.js';
import { PRESENCE_COMMANDS, VIEWS, type PresenceScripts } from './presence-scripts.js';

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
  /** How often this node looks for users whose leases all expired. @default ttlMs / 3 (at least 250) */
  readonly sweepIntervalMs?: number | undefined;
  /** Users one sweep round claims at most (a tick runs up to 10 rounds while they come back full). @default 500 */
  readonly sweepBatch?: number | undefined;
  /** A user's record (last seen, hidden) is kept this long after its last write. @default 30 days */
  readonly retentionMs?: number | undefined;
}

/** This node's lease of one device. */
interface LocalLease {
  readonly sessionId: string;
  readonly origin: SessionOrigin | undefined;
  /** The lease value without its deadline: `<node>/<session>/<cid>/<attempt>/<attached-at>`. */
  readonly lease: string;
  readonly attachedAt: number;
  /** Whether the lease reached Redis once (a claim or a renewal succeeded). */
  written: boolean;
}

/** This node's knowledge of one user: their devices here and their presence setting. */
interface LocalUser {
  readonly devices: Map<DeviceId, LocalLease>;
  hidden: boolean;
}

/** Keys per VIEWS script call; several calls go in one pipeline (one round trip). */
const VIEWS_CHUNK = 500;
/** Leases renewed per heartbeat pipeline. */
const RENEW_CHUNK = 1000;
/** Sweep rounds per tick at most, so one tick stays bounded after a big node died. */
const SWEEP_ROUNDS = 10;
const DAY_MS = 24 * 60 * 60 * 1000;

type Scripts = PresenceScripts<Promise<unknown>>;
type PipelinedScripts = PresenceScripts<unknown> & {
  parleyPresenceViews(keyCount: number, ...keys: string[]): unknown;
};

/**
 * Presence as leases in Redis, one per (user, device) with a deadline, in one hash per user (see
 * presence-scripts.ts), renewed every ttl/3 for every session on this node (re-written, so leases lost
 * with a Redis restart are re-asserted), plus a node lease. Every check-and-write is one Lua script, so
 * a change of a user (first device in, last device out, hidden, shown) is seen by exactly one node, which
 * reports it through `onChange`. When a node dies its leases simply expire; every node sweeps the users
 * whose leases all expired, and the one whose script removes a user reports them offline. While Redis is
 * away, lookups fall back to this node's own sessions.
 */
export class RedisPresence implements Presence {
  private readonly redis: Redis;
  private readonly local = new Map<UserId, LocalUser>();
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly startedAt: number;
  private readonly retentionMs: number;
  private readonly sweepBatch: number;
  private sweeping: Promise<number> | undefined;
  private closed = false;
  private superseded: ((userId: UserId, device: DeviceId, sessionId: string) => void) | undefined;
  private changed: ((change: PresenceChange) => void) | undefined;

  constructor(private readonly options: RedisPresenceOptions) {
    this.startedAt = options.clock.now();
    this.retentionMs = options.retentionMs ?? 30 * DAY_MS;
    this.sweepBatch = Math.max(1, options.sweepBatch ?? 500);
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
    for (const [name, numberOfKeys, lua] of PRESENCE_COMMANDS)
      this.redis.defineCommand(name, { numberOfKeys, lua });
    this.redis.defineCommand('parleyPresenceViews', { lua: VIEWS });
    this.redis.on('error', (error) =>
      options.logger.debug({ err: error }, 'redis presence connection error'),
    );
    this.redis.on('ready', () => void this.heartbeat());
    const third = Math.max(250, Math.floor(options.ttlMs / 3));
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), third);
    this.heartbeatTimer.unref();
    this.sweepTimer = setInterval(() => void this.sweep(), options.sweepIntervalMs ?? third);
    this.sweepTimer.unref();
  }

  onSuperseded(handler: (userId: UserId, device: DeviceId, sessionId: string) => void): void {
    this.superseded = handler;
  }

  onChange(handler: (change: PresenceChange) => void): void {
    this.changed = handler;
  }

  async connect(): Promise<void> {
    await connectClients(this.redis);
  }

  async attach(
    userId: UserId,
    device: DeviceId,
    sessionId: string,
    { origin, hidden, maxDevices }: PresenceAttach,
  ): Promise<AttachOutcome> {
    const attachedAt = this.options.clock.now();
    const cid = origin ? encodeURIComponent(origin.cid) : '';
    const lease = `${this.owner(sessionId)}${cid || '-'}/${origin?.attempt ?? 0}/${attachedAt}`;
    let written = false;
    try {
      const [outcome, report] = (await (this.redis as unknown as Scripts).parleyPresenceClaim(
        this.options.keys.presence(userId),
        this.options.keys.presenceExpiry,
        deviceField(device),
        lease,
        this.options.ttlMs,
        cid,
        origin?.attempt ?? 0,
        maxDevices,
        hidden ? '1' : '0',
        userId,
        this.retentionMs,
      )) as [number, number];
      if (outcome === 0) return 'stale';
      if (outcome === -1) return 'too-many-devices';
      written = true;
      if (report === 1) this.report(userId, { state: 'online', lastSeen: null });
    } catch (error) {
      // Redis is away: judge by this node's own sessions; the heartbeat writes the lease (and reports the
      // user online if they were not) when Redis returns.
      const refused = this.refusedLocally(userId, device, origin, maxDevices);
      if (refused) return refused;
      this.options.logger.debug(
        { err: error, userId },
        'presence attach not written; the heartbeat will retry',
      );
    }
    // Only once claimed: the heartbeat renews what `local` holds.
    const user = this.local.get(userId) ?? { devices: new Map<DeviceId, LocalLease>(), hidden };
    if (user.devices.size === 0) user.hidden = hidden;
    user.devices.set(device, { sessionId, origin, lease, attachedAt, written });
    this.local.set(userId, user);
    return 'attached';
  }

  async detach(userId: UserId, device: DeviceId, sessionId: string): Promise<void> {
    this.forget(userId, device, sessionId);
    try {
      const result = (await (this.redis as unknown as Scripts).parleyPresenceRelease(
        this.options.keys.presence(userId),
        this.options.keys.presenceExpiry,
        deviceField(device),
        this.owner(sessionId),
        userId,
        this.retentionMs,
      )) as number;
      if (result > 1) this.report(userId, { state: 'offline', lastSeen: result });
    } catch (error) {
      this.options.logger.debug({ err: error, userId }, 'presence detach not written; the lease will expire');
    }
  }

  async onlineAmong(userIds: readonly UserId[]): Promise<Set<UserId>> {
    const views = await this.viewsOf(userIds);
    return new Set(userIds.filter((id) => views.get(id)?.state === 'online'));
  }

  async viewsOf(userIds: readonly UserId[]): Promise<Map<UserId, PresenceView>> {
    const ids = [...new Set(userIds)];
    const views = new Map<UserId, PresenceView>();
    if (ids.length === 0) return views;
    try {
      const pipeline = this.redis.pipeline();
      for (let i = 0; i < ids.length; i += VIEWS_CHUNK) {
        const keys = ids.slice(i, i + VIEWS_CHUNK).map((id) => this.options.keys.presence(id));
        (pipeline as unknown as PipelinedScripts).parleyPresenceViews(keys.length, ...keys);
      }
      const results = (await pipeline.exec()) ?? [];
      const codes: number[] = [];
      for (const [error, chunk] of results) {
        if (error) throw error;
        codes.push(...(chunk as number[]));
      }
      ids.forEach((id, i) => {
        const code = codes[i] ?? 0;
        views.set(id, code === -1 ? ONLINE : { state: 'offline', lastSeen: code > 0 ? code : null });
      });
    } catch {
      // Redis is away: this node's own users are all it knows.
      for (const id of ids) {
        const user = this.local.get(id);
        views.set(id, user && user.devices.size > 0 && !user.hidden ? ONLINE : UNKNOWN);
      }
    }
    return views;
  }

  async setHidden(userId: UserId, hidden: boolean): Promise<void> {
    const user = this.local.get(userId);
    if (user) user.hidden = hidden;
    try {
      const result = (await (this.redis as unknown as Scripts).parleyPresenceSetHidden(
        this.options.keys.presence(userId),
        hidden ? '1' : '0',
        this.retentionMs,
      )) as number;
      if (result === 1) this.report(userId, UNKNOWN);
      else if (result === 2) this.report(userId, ONLINE);
    } catch (error) {
      this.options.logger.debug({ err: error, userId }, 'presence setting not written to Redis');
    }
  }

  /**
   * Claims and reports, at most `sweepBatch` users a round, the users whose leases all expired (their
   * node died or was cut off). Every node sweeps; a user is removed and reported by exactly one. Returns
   * how many this call reported. Runs on a timer; concurrent calls share one run.
   */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepRounds().finally(() => (this.sweeping = undefined));
    return this.sweeping;
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

  /** Device leases held by this node's sessions. */
  get localCount(): number {
    let count = 0;
    for (const user of this.local.values()) count += user.devices.size;
    return count;
  }

  /** Releases every lease of this node (reporting the users it takes offline) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    const leases = this.leases();
    this.local.clear();
    try {
      const pipeline = this.redis.pipeline();
      for (const [userId, device, { sessionId }] of leases)
        (pipeline as unknown as PipelinedScripts).parleyPresenceRelease(
          this.options.keys.presence(userId),
          this.options.keys.presenceExpiry,
          deviceField(device),
          this.owner(sessionId),
          userId,
          this.retentionMs,
        );
      pipeline.del(this.options.keys.node(this.options.nodeId));
      pipeline.zrem(this.options.keys.nodes, this.options.nodeId);
      const results = (await pipeline.exec()) ?? [];
      leases.forEach(([userId], i) => {
        const [error, result] = results[i] ?? [null, 0];
        if (!error && typeof result === 'number' && result > 1)
          this.report(userId, { state: 'offline', lastSeen: result });
      });
    } catch {
      // Leases expire on their own, and another node's sweep reports their users.
    }
    this.redis.disconnect();
  }

  /**
   * Stops as a crashed node would: timers stopped and the connection dropped, nothing released. Its
   * leases expire and other nodes' sweeps report the users offline (for tests and drills).
   */
  abandon(): void {
    this.closed = true;
    this.stopTimers();
    this.local.clear();
    this.redis.disconnect();
  }

  private stopTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.sweepTimer);
  }

  /** The lease prefix that says "this node's session". */
  private owner(sessionId: string): string {
    return `${encodeURIComponent(this.options.nodeId)}/${sessionId}/`;
  }

  private forget(userId: UserId, device: DeviceId, sessionId: string): void {
    const user = this.local.get(userId);
    if (user?.devices.get(device)?.sessionId !== sessionId) return;
    user.devices.delete(device);
    if (user.devices.size === 0) this.local.delete(userId);
  }

  /** The same checks as the claim script, against this node's sessions only (Redis is away). */
  private refusedLocally(
    userId: UserId,
    device: DeviceId,
    origin: SessionOrigin | undefined,
    maxDevices: number,
  ): AttachOutcome | undefined {
    const devices = this.local.get(userId)?.devices;
    if (!devices) return undefined;
    const holder = devices.get(device)?.origin;
    if (origin && holder && holder.cid === origin.cid && holder.attempt > origin.attempt) return 'stale';
    const others = devices.size - (devices.has(device) ? 1 : 0);
    return others >= maxDevices ? 'too-many-devices' : undefined;
  }

  private leases(): [UserId, DeviceId, LocalLease][] {
    const all: [UserId, DeviceId, LocalLease][] = [];
    for (const [userId, user] of this.local)
      for (const [device, lease] of user.devices) all.push([userId, device, lease]);
    return all;
  }

  private report(userId: UserId, view: PresenceView): void {
    try {
      this.changed?.({ userId, view });
    } catch (error) {
      this.options.logger.error({ err: error, userId }, 'presence change handler failed');
    }
  }

  /** Re-asserts every local lease and the node lease, in pipelines of RENEW_CHUNK. */
  private async heartbeat(): Promise<void> {
    if (this.redis.status !== 'ready' || this.closed) return;
    const { keys, ttlMs, nodeId } = this.options;
    try {
      const leases = this.leases();
      for (let i = 0; i < leases.length; i += RENEW_CHUNK) {
        // Only the leases still held: one released while an earlier chunk was out must not be re-written
        // (its release already ran in Redis; the renewal would bring the device back as a ghost).
        const batch = leases
          .slice(i, i + RENEW_CHUNK)
          .filter(([userId, device, lease]) => this.local.get(userId)?.devices.get(device) === lease);
        if (batch.length === 0) continue;
        const pipeline = this.redis.pipeline();
        for (const [userId, device, lease] of batch)
          (pipeline as unknown as PipelinedScripts).parleyPresenceRenew(
            keys.presence(userId),
            keys.presenceExpiry,
            deviceField(device),
            this.owner(lease.sessionId),
            lease.lease,
            ttlMs,
            lease.attachedAt,
            this.local.get(userId)?.hidden ? '1' : '0',
            userId,
            this.retentionMs,
            lease.written ? '1' : '0',
          );
        const results = (await pipeline.exec()) ?? [];
        results.forEach(([error, renewed], j) => {
          const [userId, device, lease] = batch[j]!;
          // Only if the session still holds the device here (it may have detached meanwhile).
          if (error || this.local.get(userId)?.devices.get(device) !== lease) return;
          if (renewed === 0) {
            // Another session holds the device: it logged in again elsewhere while we did not hear it.
            this.forget(userId, device, lease.sessionId);
            this.superseded?.(userId, device, lease.sessionId);
            return;
          }
          lease.written = true;
          if (renewed === 2) this.report(userId, ONLINE);
        });
      }
      await this.redis
        .pipeline()
        .set(
          keys.node(nodeId),
          JSON.stringify({ nodeId, startedAt: this.startedAt, sessions: this.localCount }),
          'PX',
          ttlMs,
        )
        .zadd(keys.nodes, this.options.clock.now() + ttlMs, nodeId)
        .exec();
    } catch (error) {
      this.options.logger.debug({ err: error }, 'presence heartbeat failed');
    }
  }

  private async sweepRounds(): Promise<number> {
    if (this.redis.status !== 'ready' || this.closed) return 0;
    const { keys, ttlMs } = this.options;
    let reported = 0;
    try {
      for (let round = 0; round < SWEEP_ROUNDS; round++) {
        const candidates = (await (this.redis as unknown as Scripts).parleyPresenceSweepCandidates(
          keys.presenceExpiry,
          this.sweepBatch,
        )) as string[];
        if (candidates.length === 0) break;
        const pipeline = this.redis.pipeline();
        const users = candidates.map(Number);
        users.forEach((userId, i) => {
          // Not a user id (written by something else): dropped, so it cannot block every round.
          if (!Number.isSafeInteger(userId)) pipeline.zrem(keys.presenceExpiry, candidates[i]!);
          else
            (pipeline as unknown as PipelinedScripts).parleyPresenceSweepUser(
              keys.presence(userId),
              keys.presenceExpiry,
              userId,
              ttlMs,
              this.retentionMs,
            );
        });
        const results = (await pipeline.exec()) ?? [];
        results.forEach(([error, seen], i) => {
          if (error || typeof seen !== 'number' || seen <= 0 || !Number.isSafeInteger(users[i])) return;
          reported++;
          this.report(users[i]!, { state: 'offline', lastSeen: seen });
        });
        if (candidates.length < this.sweepBatch) break;
      }
    } catch (error) {
      this.options.logger.debug({ err: error }, 'presence sweep failed');
    }
    return reported;
  }
}

const ONLINE: PresenceView = { state: 'online', lastSeen: null };
const UNKNOWN: PresenceView = { state: 'offline', lastSeen: null };

/** The hash field of a device's lease (prefixed: the hash also holds the user's `h` and `s`). */
function deviceField(device: DeviceId): string {
  return `d:${device}`;
}
