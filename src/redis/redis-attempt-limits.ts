import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { Logger } from '../logger.js';
import type { AttemptLimits } from '../service/attempt-limits.js';
import { limiterWindow, type AttemptState, type AttemptWindow } from '../util/limiter-window.js';
import { GuardedConnector } from './redis-connect.js';
import type { RedisKeys } from './redis-keys.js';

/** A window's count and time left in one command (rate-limiter-flexible's `get` takes MULTI GET PTTL EXEC). */
const PEEK_SCRIPT = `local v = redis.call('get', KEYS[1])
if not v then return false end
return {v, redis.call('pttl', KEYS[1])}`;

/** The client with the peek script defined on it. */
type LimitsClient = Redis & { parleyLimitPeek(key: string): Promise<[string, number] | null> };

/**
 * Attempt limits shared by every node through Redis, so a limit per address or per account holds
 * cluster-wide. Its own connection (which the verified-credential cache shares, `client`): limiter calls
 * must not queue behind the bus or presence. Commands issued in one event-loop turn go out as one
 * pipeline (ioredis's auto-pipelining), so a login's checks — the address rate, the account's record and
 * the credential cache — cost one round trip. While Redis is unreachable the limits let attempts through
 * (logged once per outage) rather than refuse everyone.
 */
export class RedisAttemptLimits implements AttemptLimits {
  /** The connection; the credential cache borrows it so a login's lookups share its pipelines. */
  readonly client: Redis;
  private outage = false;

  constructor(
    url: string,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
    /** rediss://: the same CA and client certificate as the bus and presence. */
    tls?: ConnectionOptions,
    /**
     * A call that takes longer lets the attempt through.
     * @default 500
     */
    commandTimeoutMs = 500,
  ) {
    this.client = new Redis(url, {
      lazyConnect: true,
      ...(tls === undefined ? {} : { tls }),
      Connector: GuardedConnector,
      // A limiter call must answer now or not at all: no queueing while disconnected.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // A hung Redis must not hold logins: a limiter call that takes longer lets the attempt through.
      commandTimeout: commandTimeoutMs,
      enableAutoPipelining: true,
    });
    this.client.defineCommand('parleyLimitPeek', { numberOfKeys: 1, lua: PEEK_SCRIPT });
    this.client.on('error', () => {});
    this.client.on('ready', () => (this.outage = false));
  }

  connect(): Promise<void> {
    return this.client.connect();
  }

  window(name: string, points: number, durationS: number): AttemptWindow {
    const limiter = new RateLimiterRedis({
      storeClient: this.client,
      keyPrefix: this.keys.limit(name),
      points,
      duration: durationS,
    });
    const client = this.client as LimitsClient;
    const peek = async (key: string): Promise<AttemptState | undefined> => {
      const found = await client.parleyLimitPeek(limiter.getKey(key));
      if (found === null) return undefined;
      const consumed = Number(found[0]);
      return { allowed: consumed <= points, consumed, msBeforeReset: Number(found[1]) };
    };
    return limiterWindow(
      limiter,
      points,
      (error) => {
        if (this.outage) return;
        this.outage = true;
        this.logger.warn({ err: error }, 'attempt limits unavailable (Redis); letting attempts through');
      },
      peek,
    );
  }

  async close(): Promise<void> {
    this.client.disconnect();
    return Promise.resolve();
  }
}
