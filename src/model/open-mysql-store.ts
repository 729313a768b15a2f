import { join } from 'node:path';
import { StartupError } from '../errors.js';
import { type Config, deviceRetentionMs } from '../config.js';
import type { Logger } from '../logger.js';
import { PACKAGE_ROOT } from '../package-info.js';
import type { ChatStore } from '../service/ports.js';
import type { Clock } from '../util/clock.js';
import { loadMigrations, migrate, migrationStatus } from './migrator.js';
import { Database } from './mysql-database.js';
import { createMysqlStore } from './mysql-store.js';
import { certificateErrorCode, readPemFiles } from '../util/tls-files.js';

/** The migration files shipped with Parley. */
export const MIGRATIONS_DIR = join(PACKAGE_ROOT, 'sql');

/** Opens the pool from config, checks the connection and the schema (or migrates with MIGRATE=auto). */
export async function openMysqlStore(config: Config, clock: Clock, logger: Logger): Promise<ChatStore> {
  const url = config.MYSQL_URL!;
  let db: Database;
  try {
    const pem = readPemFiles({
      MYSQL_TLS_CA: config.MYSQL_TLS_CA,
      MYSQL_TLS_CERT: config.MYSQL_TLS_CERT,
      MYSQL_TLS_KEY: config.MYSQL_TLS_KEY,
    });
    const given = pem.MYSQL_TLS_CA ?? pem.MYSQL_TLS_CERT;
    db = new Database({
      url,
      tls:
        given === undefined
          ? undefined
          : { ca: pem.MYSQL_TLS_CA, cert: pem.MYSQL_TLS_CERT, key: pem.MYSQL_TLS_KEY },
      poolSize: config.MYSQL_POOL_SIZE,
      acquireTimeoutMs: config.MYSQL_ACQUIRE_TIMEOUT_MS,
      connectTimeoutMs: config.MYSQL_CONNECT_TIMEOUT_MS,
      logger,
      clock,
    });
  } catch (error) {
    throw new StartupError(error instanceof Error ? error.message : String(error));
  }
  try {
    await db.probe();
    const migrations = await loadMigrations(MIGRATIONS_DIR);
    if (config.MIGRATE === 'auto') {
      const applied = await migrate(db, migrations);
      if (applied.length > 0) logger.info({ applied: applied.map((m) => m.name) }, 'migrations applied');
    } else {
      const { pending } = await migrationStatus(db, migrations);
      if (pending.length > 0) {
        throw new StartupError(
          `MYSQL_URL: the database needs ${pending.length} migration(s) (${pending.map((m) => m.name).join(', ')}); run \`npm run migrate\` or start with MIGRATE=auto`,
        );
      }
    }
  } catch (error) {
    await db.close().catch(() => undefined);
    if (error instanceof StartupError) throw error;
    const certificate = certificateErrorCode(error);
    if (certificate !== undefined) {
      throw new StartupError(
        config.MYSQL_TLS_CA === undefined
          ? `MYSQL_TLS_CA: the certificate of the database at ${redact(url)} did not verify against the system's CAs (${certificate}); set MYSQL_TLS_CA to the CA that signed it`
          : `MYSQL_TLS_CA: the certificate of the database at ${redact(url)} is not signed by the CA in ${config.MYSQL_TLS_CA}, or not for that host (${certificate})`,
      );
    }
    const detail = (error as { cause?: unknown }).cause ?? error;
    const { code, message } = (detail ?? {}) as { code?: string; message?: string };
    const reason = code ?? message ?? String(detail);
    throw new StartupError(`MYSQL_URL: cannot use the database at ${redact(url)} (${reason})`);
  }
  // A full append queue makes callers wait as long as they would for a pooled connection.
  return createMysqlStore(
    db,
    clock,
    {
      maxQueued: config.MYSQL_APPEND_QUEUE_MAX,
      queueWaitMs: config.MYSQL_ACQUIRE_TIMEOUT_MS,
      ackFlushMs: config.ACK_FLUSH_MS,
    },
    deviceRetentionMs(config),
  );
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
