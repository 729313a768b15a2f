import type { Config } from '../config.js';
import { StartupError } from '../errors.js';
import type { Logger } from '../logger.js';
import { systemClock, type Clock } from '../util/clock.js';
import { noTelemetry, type Telemetry } from '../service/telemetry.js';
import { RedisBus } from './redis-bus.js';
import { RedisKeys } from './redis-keys.js';
import { RedisPresence } from './redis-presence.js';

/** Connects the bus and presence to REDIS_URL; an unreachable Redis stops start-up, naming REDIS_URL. */
export async function openRedis(
  config: Config,
  logger: Logger,
  clock: Clock = systemClock,
  telemetry: Telemetry = noTelemetry,
): Promise<{ bus: RedisBus; presence: RedisPresence }> {
  const url = config.REDIS_URL!;
  const keys = new RedisKeys(config.REDIS_PREFIX);
  const bus = new RedisBus({ url, keys, nodeId: config.NODE_ID, logger, telemetry });
  const presence = new RedisPresence({
    url,
    keys,
    nodeId: config.NODE_ID,
    ttlMs: config.PRESENCE_TTL_MS,
    logger,
    clock,
  });
  try {
    await withTimeout(Promise.all([bus.connect(), presence.connect()]), 5000);
  } catch (error) {
    await Promise.allSettled([bus.close(), presence.close()]);
    const reason = (error as { code?: string; message?: string }).code ?? (error as Error).message;
    throw new StartupError(`REDIS_URL: cannot reach Redis at ${redact(url)} (${reason})`);
  }
  return { bus, presence };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
