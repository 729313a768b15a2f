import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { Logger } from '../logger.js';
import type { AttemptLimits } from '../service/attempt-limits.js';
import { limiterWindow, type AttemptWindow } from '../util/limiter-window.js';
import { GuardedConnector } from './redis-connect.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * Attempt limits shared by every node through Redis, so a limit per address or per account holds
 * cluster-wide. Its own connection: limiter calls must not queue behind the bus or presence. While Redis
 * is unreachable the limits let attempts through (logged once per outage) rather than refuse everyone.
 */
export class RedisAttemptLimits implements AttemptLimits {
  private readonly client: Redis;
  private outage = false;

  constructor(
    url: string,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
    /** rediss://: the same CA and client certificate as the bus and presence. */
    tls?: ConnectionOptions,
  ) {
    this.client = new Redis(url, {
      lazyConnect: true,
      ...(tls === undefined ? {} : { tls }),
      Connector: GuardedConnector,
      // A limiter call must answer now or not at all: no queueing while disconnected.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // A hung Redis must not hold logins: a limiter call that takes longer lets the attempt through.
      commandTimeout: 500,
    });
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
    return limiterWindow(limiter, points, (error) => {
      if (this.outage) return;
      this.outage = true;
      this.logger.warn({ err: error }, 'attempt limits unavailable (Redis); letting attempts through');
    });
  }

  async close(): Promise<void> {
    this.client.disconnect();
    return Promise.resolve();
  }
}
