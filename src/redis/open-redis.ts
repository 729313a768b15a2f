import type { ConnectionOptions } from 'node:tls';
import type { Config } from '../config.js';
import { StartupError } from '../errors.js';
import type { Logger } from '../logger.js';
import { systemClock, type Clock } from '../util/clock.js';
import { certificateErrorCode, readPemFiles, TlsFileError } from '../util/tls-files.js';
import { credentialCacheKey } from '../service/credential-cache.js';
import { noTelemetry, type Telemetry } from '../service/telemetry.js';
import { RedisAttemptLimits } from './redis-attempt-limits.js';
import { RedisBus } from './redis-bus.js';
import { RedisCredentialCache } from './redis-credential-cache.js';
import { RedisKeys } from './redis-keys.js';
import { RedisPresence } from './redis-presence.js';

/**
 * Connects the bus, presence, attempt limits and verified-credential cache to REDIS_URL; an unreachable Redis stops start-up, naming REDIS_URL. */
export async function openRedis(
  config: Config,
  logger: Logger,
  clock: Clock = systemClock,
  telemetry: Telemetry = noTelemetry,
): Promise<{
  bus: RedisBus;
  presence: RedisPresence;
  attempts: RedisAttemptLimits;
  credentials: RedisCredentialCache;
}> {
  const url = config.REDIS_URL!;
  const tls = redisTls(config);
  const keys = new RedisKeys(config.REDIS_PREFIX);
  const bus = new RedisBus({ url, tls, keys, nodeId: config.NODE_ID, logger, telemetry });
  const presence = new RedisPresence({
    url,
    tls,
    keys,
    nodeId: config.NODE_ID,
    ttlMs: config.PRESENCE_TTL_MS,
    logger,
    clock,
  });
  const attempts = new RedisAttemptLimits(url, keys, logger, tls);
  // One connection for a login's checks: the cache lookup rides in the limits' pipeline.
  const credentials = new RedisCredentialCache({
    client: attempts.client,
    keys,
    key: credentialCacheKey(config.SESSION_SECRET),
    ttlMs: config.AUTH_CACHE_TTL_S * 1000,
    logger,
  });
  // The limits' connection too: with a certificate that does not verify it would let every login through.
  // All settle before judging, so a certificate error is named whichever connection reported first.
  const settled = await withTimeout(
    Promise.allSettled([bus.connect(), presence.connect(), attempts.connect(), credentials.connect()]),
    5000,
  ).catch((error: unknown) => [{ status: 'rejected' as const, reason: error }]);
  const errors = settled.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as unknown] : [],
  );
  if (errors.length > 0) {
    await Promise.allSettled([bus.close(), presence.close(), attempts.close(), credentials.close()]);
    const error = errors.find((e) => certificateErrorCode(e) !== undefined) ?? errors[0];
    const certificate = certificateErrorCode(error);
    if (certificate !== undefined) {
      throw new StartupError(
        config.REDIS_TLS_CA === undefined
          ? `REDIS_TLS_CA: the certificate of Redis at ${redact(url)} did not verify against the system's CAs (${certificate}); set REDIS_TLS_CA to the CA that signed it`
          : `REDIS_TLS_CA: the certificate of Redis at ${redact(url)} is not signed by the CA in ${config.REDIS_TLS_CA}, or not for that host (${certificate})`,
      );
    }
    const reason = (error as { code?: string; message?: string }).code ?? (error as Error).message;
    throw new StartupError(`REDIS_URL: cannot reach Redis at ${redact(url)} (${reason})`);
  }
  return { bus, presence, attempts, credentials };
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

/** TLS options for a rediss:// URL (CA and client certificate files read now); undefined for redis://. */
function redisTls(config: Config): ConnectionOptions | undefined {
  if (!config.REDIS_URL?.startsWith('rediss://')) return undefined;
  let pem;
  try {
    pem = readPemFiles({
      REDIS_TLS_CA: config.REDIS_TLS_CA,
      REDIS_TLS_CERT: config.REDIS_TLS_CERT,
      REDIS_TLS_KEY: config.REDIS_TLS_KEY,
    });
  } catch (error) {
    if (error instanceof TlsFileError) throw new StartupError(error.message);
    throw error;
  }
  return {
    ...(pem.REDIS_TLS_CA === undefined ? {} : { ca: pem.REDIS_TLS_CA }),
    ...(pem.REDIS_TLS_CERT === undefined ? {} : { cert: pem.REDIS_TLS_CERT, key: pem.REDIS_TLS_KEY }),
    minVersion: 'TLSv1.2',
  };
}
